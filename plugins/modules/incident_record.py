# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/incident_record.py, which runs on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: incident_record
short_description: Write the record of an incident runbook - findings and a timeline of every action
version_added: 1.1.0
description:
  - Runs on the controller (action plugin) at the end of an incident runbook. Collects from every inventory host and
    C(localhost) the findings of the run (C(kubeops_findings)), the timeline entries of its steps
    (C(kubeops_incident_timeline)), the re-reads a step made after changing something (C(kubeops_incident_after))
    and the problems that stopped it (C(kubeops_incident_problems)), and writes C(incident-<UTC time>.json), C(.md) and
    a self-contained C(.html) into O(report_dir), each to a temporary file renamed into place, mode 0640.
  - The record's status and counts are those of the state the run left - the last look at each check - while
    C(seen) lists every finding that was not ok when a step observed it, with its status now.
  - The timeline lists every step in time order with its outcome (V(looked), V(unchanged), V(would change),
    V(changed), V(refused), V(failed)) and every action with the state before and after; under C(--check) these are
    the actions a real run would take.
  - Hosts that did not answer (C(kubeops_incident_reach)) get a critical C(host.reachable) finding.
  - The inspection history is not touched - an incident run is not a daily inspection.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: partial
    details:
      - The record is written in check mode as well (run the task with C(check_mode=false)); it then says that
        nothing was changed and shows what would have been done.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run writes a new timestamped record.
options:
  cluster:
    description: Name of the cluster in the record.
    type: str
    required: true
  runbook:
    description: Which runbook wrote the record.
    type: str
    default: incident_k8s_unreachable
  title:
    description: Title of the record.
    type: str
    default: "Incident: the platform cannot be reached"
  report_dir:
    description: Directory for the record on the controller, created when missing.
    type: path
    default: ./reports
  started:
    description: When the run started (ISO 8601, UTC). Defaults to the time the record is written.
    type: str
  audit_log:
    description:
      - The audit log the run's actions were written to, named in the record.
      - Default C(kubeops_audit_log), else the collection's default audit log (C(~/.local/state/kubeops.runbook/audit.log),
        or under C($XDG_STATE_HOME)).
    type: path
  template_dir:
    description: Directory holding C(incident_record.html.j2) and C(incident_record.md.j2); defaults to the C(incident_record) role's templates.
    type: path
  findings:
    description: More findings to include (counted as coming from C(localhost)).
    type: list
    elements: raw
    default: []
  prefix:
    description:
      - First part of the file names, C(<prefix>-<UTC time>.json); the maintenance runbooks use V(maintenance).
      - A lowercase word (letters, digits, underscores).
    type: str
    default: incident
    version_added: 2.0.0
"""

EXAMPLES = r"""
- name: Write the incident record
  kubeops.runbook.incident_record:
    cluster: "{{ kubeops_cluster_name }}"
    report_dir: /var/lib/kubeops/reports
    started: "{{ kubeops_incident_started }}"
  check_mode: false
  register: record

- name: Show what the run did
  ansible.builtin.debug:
    msg: "{{ record.lines }}"
"""

RETURN = r"""
summary:
  description: Status of the state the run left and the number of findings per status.
  returned: success
  type: dict
  sample: {"status": "ok", "ok": 37, "warning": 0, "unknown": 0, "critical": 0}
actions:
  description: Number of actions on the timeline (taken, or under check mode that would be taken).
  returned: success
  type: int
  sample: 5
problems:
  description: The refusals and failures that stopped steps of the run.
  returned: success
  type: list
  elements: str
paths:
  description: Absolute paths of the files written (C(json), C(markdown), C(html)).
  returned: success
  type: dict
  sample: {"html": "/srv/reports/incident-20261130T173016Z.html"}
lines:
  description: What the run found and did in a few lines, and where the record is.
  returned: success
  type: list
  elements: str
"""
