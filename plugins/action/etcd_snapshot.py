# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.etcd_snapshot.

Runs the etcd_backup role's helper (``roles/etcd_backup/files/kubeops_etcd_backup.py``, the same file the backup
timer runs) on the target, then appends an audit record of every change to ``kubeops_audit_log`` - also when the
run failed after changing something (a snapshot stored and old ones deleted, then the copy failed).
"""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import ETCD_AUTH_SPEC, EtcdError, normalize_endpoints
from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import AuditActionBase
from ansible_collections.kubeops.runbook.plugins.plugin_utils._host_script import role_file, run_host_script

ARGUMENT_SPEC = {
    **ETCD_AUTH_SPEC,
    "dest": {"type": "path", "default": "/var/backups/etcd"},
    "copy_to": {"type": "path"},
    "keep_count": {"type": "int", "default": 24},
    "keep_days": {"type": "float", "default": 7},
    "timeout": {"type": "int", "default": 300},
    "etcdutl_path": {"type": "str", "default": "etcdutl"},
    "skip_if_newer_than": {"type": "int", "default": 0},
}
HELPER = ("etcd_backup", "kubeops_etcd_backup.py")


def audit_records(result: dict, dest: str) -> list[dict]:
    """One record of what the run changed (nothing: no record), whether it then failed or not."""
    if not result.get("changed"):
        return []
    created = [result["path"]] if result.get("path") and not result.get("recent_kept") else []
    before = {"deleted": result.get("deleted") or [], "removed_partial": result.get("removed_partial") or []}
    after = {"created": created, "revision": result.get("revision"), "copy_path": result.get("copy_path"),
             "copy_deleted": result.get("copy_deleted") or [], "adopted": result.get("adopted") or []}
    extra = {"failed": result["msg"]} if result.get("failed") else {}
    return [record("etcd_snapshot", dest, before, after, **extra)]


class ActionModule(AuditActionBase):
    MODULE = "kubeops.runbook.etcd_snapshot"
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = False

    def run_module(self, task_vars: dict) -> dict:
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            endpoints = normalize_endpoints(args["endpoints"])
        except EtcdError as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        options = {"command": "take", "dest": args["dest"], "endpoints": endpoints, "cacert": args["cacert"],
                   "cert": args["cert"], "key": args["key"], "etcdctl_path": args["etcdctl_path"],
                   "etcdutl_path": args["etcdutl_path"], "keep_count": args["keep_count"],
                   "keep_days": args["keep_days"] or None, "copy_to": args["copy_to"], "timeout": args["timeout"],
                   "dial_timeout": args["dial_timeout"], "skip_if_newer_than": args["skip_if_newer_than"],
                   "check_mode": bool(self._task.check_mode)}
        result = run_host_script(self, role_file(*HELPER), options, task_vars)
        result["audit"] = audit_records(result, args["dest"])
        if self._task.diff and "deleted" in result:
            created = [result["path"]] if result.get("changed") and result.get("path") and not result.get("recent_kept") else []
            result["diff"] = {"before": "".join(f"{d}\n" for d in result["deleted"]),
                              "after": "".join(f"{n}\n" for n in created)}
        return result
