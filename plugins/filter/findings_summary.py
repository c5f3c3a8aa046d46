# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: findings_summary
short_description: Count findings per status and name the worst
version_added: 1.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - The C(summary) block of the inspection report, for any list of findings.
options:
  _input:
    description: Findings of the kubeops.runbook model.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: One line per run
  ansible.builtin.debug:
    msg: "{{ kubeops_findings | kubeops.runbook.findings_summary }}"
"""

RETURN = r"""
_value:
  description: Worst status and counts.
  type: dict
  contains:
    status: {description: Worst status present (C(ok) when there is none)., type: str}
    ok: {description: Number of ok findings., type: int}
    warning: {description: Number of warnings., type: int}
    unknown: {description: Number of unknown findings., type: int}
    critical: {description: Number of critical findings., type: int}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import FindingError, rank, summarize


def findings_summary(findings: list) -> dict:
    try:
        if not isinstance(findings, list):
            raise FindingError(f"expected a list of findings, got {type(findings).__name__}")
        for item in findings:
            rank(item.get("status") if isinstance(item, dict) else None)
        return summarize(findings)
    except FindingError as exc:
        raise AnsibleFilterError(f"findings_summary: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"findings_summary": findings_summary}
