"""The audit action shim (plugins/plugin_utils/_audit_action.py): records are written whatever the outcome, a failure
after a change included; the etcd_snapshot action's records of a run that failed half-way."""
from __future__ import annotations

import json
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.action import etcd_snapshot as snapshot_action
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _audit_action as A


class Task:
    check_mode = False
    args: dict = {}

    @staticmethod
    def get_name():
        return "Take a verified etcd snapshot"


class Templar:
    @staticmethod
    def template(value):
        return value


def action(result: dict) -> A.AuditActionBase:
    class Shim(A.AuditActionBase):
        MODULE = "kubeops.runbook.etcd_snapshot"

        def run_module(self, task_vars):
            return dict(result)

    shim = Shim.__new__(Shim)
    shim._task = Task()
    shim._play_context = mock.Mock(check_mode=False)
    shim._templar = Templar()
    return shim


def run(shim, tmp_path) -> tuple[dict, list[dict]]:
    log = tmp_path / "audit.log"
    with mock.patch.object(ActionBase, "run", return_value={}):
        result = shim.run(task_vars={"kubeops_audit_log": str(log), "inventory_hostname": "master1",
                                     "ansible_play_name": "Take a verified etcd snapshot"})
    lines = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return result, lines


def test_records_of_a_failing_module_are_written(tmp_path):
    """etcd_snapshot stored a snapshot and deleted old ones, then the copy failed: failed AND audited."""
    failed = {"failed": True, "changed": True, "msg": "copy to /mnt/nfs failed: No space left on device",
              "path": "/var/backups/etcd/etcd-snapshot-20240501T090000Z.db", "deleted": ["/var/backups/etcd/old.db"],
              "recent_kept": False, "revision": 52, "copy_path": None}
    failed["audit"] = snapshot_action.audit_records(failed, "/var/backups/etcd")
    result, lines = run(action(failed), tmp_path)
    assert result["failed"] and result["changed"]
    assert len(lines) == 1
    line = lines[0]
    assert line["module"] == "kubeops.runbook.etcd_snapshot" and line["host"] == "master1" and line["check_mode"] is False
    assert line["after"]["created"] == [failed["path"]] and line["before"]["deleted"] == ["/var/backups/etcd/old.db"]
    assert line["failed"].startswith("copy to /mnt/nfs failed")


def test_nothing_changed_nothing_written(tmp_path):
    result, lines = run(action({"failed": True, "changed": False, "msg": "no verified snapshot", "audit": []}), tmp_path)
    assert result["failed"] and lines == []
    assert snapshot_action.audit_records({"changed": False, "failed": True, "msg": "x"}, "/d") == []


def test_unwritable_audit_log_fails_the_task(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    shim = action({"changed": True, "audit": [record("scale", "ns/Deployment/web", {"replicas": 2}, {"replicas": 3})]})
    with mock.patch.object(ActionBase, "run", return_value={}), pytest.raises(AnsibleActionFail, match="could not write"):
        shim.run(task_vars={"kubeops_audit_log": str(blocker / "audit.log")})
