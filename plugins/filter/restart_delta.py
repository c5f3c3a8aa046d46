# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: restart_delta
short_description: Pods whose restart count grew since a baseline
version_added: 1.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Compares current restart counts (C(namespace/pod) to count, the C(pod_restarts) that
    M(kubeops.runbook.k8s_cluster_info) returns) with those of an earlier inspection.
  - Pods missing from the baseline and counts that went down are not increases.
options:
  _input:
    description: Current counts, C(namespace/pod) to count.
    type: dict
    required: true
  baseline:
    description: Earlier counts, C(namespace/pod) to count.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Pods that restarted since the last report
  ansible.builtin.debug:
    msg: "{{ k8s.pod_restarts | kubeops.runbook.restart_delta(previous.baselines.pod_restarts) }}"
"""

RETURN = r"""
_value:
  description: One entry per pod whose count increased, sorted by pod.
  type: list
  elements: dict
  contains:
    pod: {description: C(namespace/pod)., type: str}
    old: {description: Baseline count., type: int}
    new: {description: Current count., type: int}
    delta: {description: Increase., type: int}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import CheckError
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import restart_delta as _restart_delta


def restart_delta(current: dict, baseline: dict | None) -> list[dict]:
    try:
        return _restart_delta(current, baseline)
    except CheckError as exc:
        raise AnsibleFilterError(f"restart_delta: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"restart_delta": restart_delta}
