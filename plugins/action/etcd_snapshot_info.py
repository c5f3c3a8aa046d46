# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.etcd_snapshot_info: runs the etcd_backup role's helper read-only (``list``)."""
from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.plugin_utils._host_script import role_file, run_host_script

ARGUMENT_SPEC = {
    "dest": {"type": "path", "default": "/var/backups/etcd"},
    "verify_newest": {"type": "bool", "default": False},
    "verify_path": {"type": "path"},
    "etcdctl_path": {"type": "str", "default": "etcdctl"},
    "etcdutl_path": {"type": "str", "default": "etcdutl"},
    "timeout": {"type": "int", "default": 300},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        options = {"command": "list", **args}
        result.update(run_host_script(self, role_file("etcd_backup", "kubeops_etcd_backup.py"), options, task_vars))
        result["changed"] = False
        return result
