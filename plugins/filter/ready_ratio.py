# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: ready_ratio
short_description: Turn a READY column value such as C(1/2) into numbers
version_added: 1.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Parses the C(READY) column of C(kubectl get pods) / C(kubectl get deployment) (C(ready/total)).
options:
  _input:
    description: A string C(<ready>/<total>).
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Fewer containers ready than expected?
  ansible.builtin.debug:
    msg: "{{ ('1/2' | kubeops.runbook.ready_ratio).all_ready }}"   # false
"""

RETURN = r"""
_value:
  description: The two numbers and whether they are equal.
  type: dict
  contains:
    ready: {description: Ready count., type: int}
    total: {description: Total count., type: int}
    all_ready: {description: Whether ready equals total., type: bool}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import CheckError
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import ready_ratio as _ready_ratio


def ready_ratio(value: object) -> dict:
    try:
        return _ready_ratio(value)
    except CheckError as exc:
        raise AnsibleFilterError(f"ready_ratio: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"ready_ratio": ready_ratio}
