# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.audit_log: append one audit record to kubeops_audit_log (nothing else)."""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import AuditError, record
from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import audit_log_path, write_audit

ARGUMENT_SPEC = {
    "action": {"type": "str", "required": True},
    "target": {"type": "str", "required": True},
    "before": {"type": "raw"},
    "after": {"type": "raw"},
    "details": {"type": "dict", "default": {}},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        reserved = sorted(set(args["details"]) & {"action", "target", "before", "after", "time", "user", "host", "module"})
        if reserved:
            raise AnsibleActionFail(f"details may not set {', '.join(reserved)}: they are fields of every audit line")
        try:
            entry = record(args["action"], args["target"], args["before"], args["after"], **args["details"])
        except AuditError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        write_audit(self, "kubeops.runbook.audit_log", [entry], task_vars)
        result.update(changed=False, audit=[entry], path=audit_log_path(self, task_vars))
        return result
