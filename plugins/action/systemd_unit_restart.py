# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeops.runbook.systemd_unit_restart: restart a unit with ansible.builtin.systemd_service, at most N times per
window per unit and host (counted from the controller's audit log), and audit the restart."""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import DEFAULT_AUDIT_LOG, AuditActionBase
from ansible_collections.kubeops.runbook.plugins.plugin_utils._restart_limit import (
    RestartLimitError, check_limit, unit_name,
)

ARGUMENT_SPEC: dict[str, t.Any] = {
    "name": {"type": "str", "required": True},
    "max_restarts": {"type": "int", "default": 3},
    "window_seconds": {"type": "int", "default": 3600},
    "only_if_not_active": {"type": "bool", "default": False},
}
STATE_KEYS = ("LoadState", "ActiveState", "SubState", "MainPID", "ExecMainStartTimestamp", "NRestarts", "Result")


def _state(result: dict) -> dict:
    status = result.get("status") or {}
    return {k: status.get(k) for k in STATE_KEYS if k in status}


class ActionModule(AuditActionBase):
    """Runs ansible.builtin.systemd_service on the target; the rate limit and the audit line stay on the controller."""

    MODULE = "kubeops.runbook.systemd_unit_restart"
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(AuditActionBase, self).run(tmp, task_vars)  # pylint: disable=bad-super-call  # ActionBase.run only
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "")
        audit_log = str(self._templar.template(task_vars.get("kubeops_audit_log", DEFAULT_AUDIT_LOG)))
        try:
            unit = unit_name(args["name"])
            recent = check_limit(audit_log, host, unit, args["max_restarts"], args["window_seconds"])
        except RestartLimitError as exc:
            raise AnsibleActionFail(str(exc)) from exc

        status = self._execute_module(module_name="ansible.builtin.systemd_service", module_args={"name": unit},
                                      task_vars=task_vars)
        if status.get("failed"):
            raise AnsibleActionFail(f"cannot read the state of {unit} on {host}: {status.get('msg', 'systemd_service failed')}")
        before = _state(status)
        result.update({"name": unit, "before": before, "after": before, "restarts_in_window": len(recent),
                       "max_restarts": args["max_restarts"], "changed": False})
        if before.get("LoadState") == "not-found":
            if args["only_if_not_active"]:
                result["msg"] = f"{unit} is not installed on {host}: nothing to restart"
                return result
            raise AnsibleActionFail(f"{unit} is not installed on {host}: nothing to restart")
        if args["only_if_not_active"] and before.get("ActiveState") == "active":
            result["msg"] = f"{unit} is active on {host}: not restarted"
            return result

        restarted = self._execute_module(module_name="ansible.builtin.systemd_service",
                                         module_args={"name": unit, "state": "restarted"}, task_vars=task_vars)
        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        after = before
        if not check_mode and not restarted.get("failed"):
            after = _state(self._execute_module(module_name="ansible.builtin.systemd_service",
                                                module_args={"name": unit}, task_vars=task_vars))
        outcome = "failed" if restarted.get("failed") else ("would restart" if check_mode else "restarted")
        entry = record("restart_unit", unit, before, after, outcome=outcome,
                       restarts_in_window=len(recent) + (0 if check_mode else 1), max_restarts=args["max_restarts"])
        # The attempt is audited whether it worked or not: a failed restart still touched the unit.
        self._write([entry], task_vars)
        result.update({"after": after, "changed": bool(restarted.get("changed", not restarted.get("failed"))),
                       "restarts_in_window": entry["restarts_in_window"], "audit": [entry]})
        if self._task.diff:
            result["diff"] = {"before": before, "after": after}
        if restarted.get("failed"):
            raise AnsibleActionFail(f"restarting {unit} on {host} failed: {restarted.get('msg', 'systemd_service failed')}",
                                    result=result)
        if not check_mode and after.get("ActiveState") not in ("active", "activating"):
            raise AnsibleActionFail(f"{unit} on {host} restarted but is {after.get('ActiveState')} "
                                    f"({after.get('SubState')}); look at journalctl -u {unit}", result=result)
        return result
