# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: findings_by_status
short_description: Select findings at or worse than a status
version_added: 1.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Keeps the findings whose status is at least O(status) in the order C(ok) < C(warning) < C(unknown) < C(critical).
options:
  _input:
    description: Findings of the kubeops.runbook model.
    type: list
    elements: dict
    required: true
  status:
    description: The least bad status to keep.
    type: string
    choices: [ok, warning, unknown, critical]
    default: warning
"""

EXAMPLES = r"""
- name: Only what needs attention
  ansible.builtin.debug:
    msg: "{{ kubeops_findings | kubeops.runbook.findings_by_status('warning') }}"

- name: Fail on critical findings
  ansible.builtin.assert:
    that: (kubeops_findings | kubeops.runbook.findings_by_status('critical')) | length == 0
"""

RETURN = r"""
_value:
  description: The selected findings, in their original order.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import FindingError, rank


def findings_by_status(findings: list, status: str = "warning") -> list:
    try:
        floor = rank(status)
        if not isinstance(findings, list):
            raise FindingError(f"expected a list of findings, got {type(findings).__name__}")
        return [f for f in findings if rank(f.get("status") if isinstance(f, dict) else None) >= floor]
    except FindingError as exc:
        raise AnsibleFilterError(f"findings_by_status: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"findings_by_status": findings_by_status}
