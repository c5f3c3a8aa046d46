# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared action plugin base: run the module on the target, then append its audit records to the
controller's audit log (``kubeops_audit_log``; unset, ``$XDG_STATE_HOME/kubeops.runbook/audit.log``, that is
``~/.local/state/kubeops.runbook/audit.log``, whatever the working directory). PRIVATE to the collection.

Records are written whatever the outcome: a module that changed something and then failed returns ``failed``
together with the ``audit`` records of what it did change, and those reach the log like any other.
"""
from __future__ import annotations

import getpass
import os
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import AuditError, audit_line

DEFAULT_AUDIT_LOG = "~/.local/state/kubeops.runbook/audit.log"


def default_audit_log() -> str:
    """The audit log when ``kubeops_audit_log`` is unset: in the user's state directory, not the working directory
    (1.1.0 used ``./reports/audit.log``: every directory, and every AWX job, started an audit log of its own)."""
    state = os.environ.get("XDG_STATE_HOME") or ""
    if not os.path.isabs(state):
        return os.path.abspath(os.path.expanduser(DEFAULT_AUDIT_LOG))
    return os.path.join(state, "kubeops.runbook", "audit.log")


def audit_log_path(action: ActionBase, task_vars: dict) -> str:
    """The one audit log path every writer and reader uses: templated, ``~`` expanded, absolute."""
    value = task_vars.get("kubeops_audit_log")
    path = action._templar.template(value) if value not in (None, "") else ""
    if path in (None, ""):
        return default_audit_log()
    return os.path.abspath(os.path.expanduser(str(path)))


def write_audit(action: ActionBase, module: str, records: t.Sequence[dict], task_vars: dict) -> None:
    """Append one JSON line per record to the audit log (0640, created when missing)."""
    path = audit_log_path(action, task_vars)
    playbook = task_vars.get("ansible_play_name")
    playbook_dir = task_vars.get("playbook_dir")
    host = task_vars.get("inventory_hostname", "")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    try:
        lines = [audit_line(r, module=module, host=host, user=user,
                            playbook=f"{playbook_dir}: {playbook}" if playbook_dir else playbook,
                            check_mode=bool(action._task.check_mode or action._play_context.check_mode),
                            task=action._task.get_name()) for r in records]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
    except (AuditError, OSError) as exc:
        raise AnsibleActionFail(f"could not write the audit log kubeops_audit_log={path}: {exc}") from exc


class AuditActionBase(ActionBase):
    """Runs the module of the same name and writes one audit line per returned record, failed or not."""

    MODULE: str = ""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(self.run_module(task_vars))
        records = result.get("audit") or []
        if records:
            write_audit(self, self.MODULE, records, task_vars)
        return result

    def run_module(self, task_vars: dict) -> dict:
        """The module's result; an action that does its work another way overrides this."""
        return self._execute_module(module_name=self.MODULE, module_args=self._task.args, task_vars=task_vars)
