# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.log_prune.

Runs the log_prune role's helper (``roles/log_prune/files/kubeops_prune.py``, the same file the pruning timer runs)
on the target, then appends an audit record of what it pruned (or, in check mode, would prune) to
``kubeops_audit_log``. The options are documented in plugins/modules/log_prune.py.
"""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import AuditActionBase
from ansible_collections.kubeops.runbook.plugins.plugin_utils._host_script import role_file, run_host_script

HELPER = ("log_prune", "kubeops_prune.py")
DEFAULT_ALLOWED_ROOTS = ["/var/log", "/data", "/opt", "/srv", "/home", "/mnt", "/tmp", "/var/tmp"]
ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "pattern": {"type": "str", "default": "tomcat_access.*.log"},
    "age_source": {"type": "str", "choices": ["name", "mtime"], "default": "name"},
    "date_format": {"type": "str", "default": "%Y-%m-%d"},
    "keep_days": {"type": "int", "default": 0},
    "mode": {"type": "str", "choices": ["delete", "compress"], "default": "delete"},
    "when_usage_over": {"type": "float"},
    "allowed_roots": {"type": "list", "elements": "path", "default": DEFAULT_ALLOWED_ROOTS},
    "list_limit": {"type": "int", "default": 20},
}


def audit_records(result: dict, args: dict) -> list[dict]:
    """One record of what the run pruned (would prune, in check mode); none when nothing went."""
    if not result.get("files_pruned"):
        return []
    pruned = result.get("pruned") or []
    return [record("prune", args["path"], {"files": result["files_pruned"], "first": [i["path"] for i in pruned]},
                   {"files": 0, "compressed": [i["compressed_to"] for i in pruned if "compressed_to" in i]},
                   pattern=args["pattern"], mode=args["mode"], keep_days=args["keep_days"], cutoff=result.get("cutoff"),
                   bytes_freed=result.get("bytes_freed"))]


def _listing(result: dict, key: str) -> str:
    lines = "".join(f"{item[key]}\n" for item in result.get("pruned") or [] if key in item)
    more = result.get("files_pruned", 0) - len(result.get("pruned") or [])
    return lines + (f"... and {more} more\n" if more > 0 and lines else "")


class ActionModule(AuditActionBase):
    MODULE = "kubeops.runbook.log_prune"
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = False

    def run_module(self, task_vars: dict) -> dict:
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        options = {**args, "check_mode": bool(self._task.check_mode)}
        result = run_host_script(self, role_file(*HELPER), options, task_vars)
        if result.get("failed"):
            return result
        result["audit"] = audit_records(result, args)
        if self._task.diff:
            header = f"{args['path']}/{args['pattern']}"
            result["diff"] = {"before": _listing(result, "path"), "after": _listing(result, "compressed_to"),
                              "before_header": header, "after_header": header}
        return result
