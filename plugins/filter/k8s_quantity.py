# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: k8s_quantity
short_description: Turn a Kubernetes quantity such as C(500Mi) or C(250m) into a number
version_added: 1.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Binary suffixes (C(Ki), C(Mi), C(Gi), ...), decimal suffixes (C(m), C(k), C(M), C(G), ...) and exponents
    (C(1e3)) as the Kubernetes API accepts them.
  - Memory quantities become bytes, CPU quantities become cores (C(250m) is C(0.25)).
options:
  _input:
    description: The quantity (a string, or a number which is returned as it is).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Memory limit in bytes
  ansible.builtin.debug:
    msg: "{{ '500Mi' | kubeops.runbook.k8s_quantity }}"   # 524288000

- name: CPU request in cores
  ansible.builtin.debug:
    msg: "{{ '250m' | kubeops.runbook.k8s_quantity }}"    # 0.25
"""

RETURN = r"""
_value:
  description: The value, an integer when it is integral, else a float.
  type: float
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._quantity import QuantityError, quantity_number


def k8s_quantity(value: object) -> int | float:
    try:
        return quantity_number(value)
    except QuantityError as exc:
        raise AnsibleFilterError(f"k8s_quantity: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"k8s_quantity": k8s_quantity}
