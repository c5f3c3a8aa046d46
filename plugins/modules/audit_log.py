# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/audit_log.py, which runs on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: audit_log
short_description: Append one record to the audit log of the collection
version_added: 2.0.0
description:
  - Appends one JSON line to the audit log on the controller (C(kubeops_audit_log), default C(~/.local/state/kubeops.runbook/audit.log)),
    in the same shape as the lines the remediation modules write (time, user, playbook, task, host, check mode,
    action, target, before, after).
  - For runbooks that change state with other modules (stopping units, moving data directories) and must still leave
    one line per change - and, when they fail half-way, a line saying what they left behind and how to bring it back.
  - Values under secret-looking keys and credentials in URLs are redacted, as in every audit line.
  - Runs on the controller only; the line is written in check mode too, marked C(check_mode=true).
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  action:
    description: What was done, for example C(etcd_restore stop kube-apiserver).
    type: str
    required: true
  target:
    description: What it was done to (a host, a unit, a member).
    type: str
    required: true
  before:
    description: State before.
    type: raw
  after:
    description: State after.
    type: raw
  details:
    description: More fields of the line (not C(action), C(target), C(before), C(after), C(time), C(user), C(host), C(module)).
    type: dict
    default: {}
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details: The line is written in check mode too, with C(check_mode=true).
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run appends a line.
"""

EXAMPLES = r"""
- name: Record what a failed run left behind
  kubeops.runbook.audit_log:
    action: etcd_restore failed
    target: "{{ kubeops_cluster_name }}"
    before: null
    after: {stopped: ["kube-apiserver@master1"]}
    details:
      recover: "systemctl start kube-apiserver on master1"
"""

RETURN = r"""
audit:
  description: The record written.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "etcd_restore failed", "target": "lab", "before": null, "after": {"stopped": []}}]
path:
  description: The audit log written to.
  returned: always
  type: str
  sample: /srv/ansible/reports/audit.log
"""
