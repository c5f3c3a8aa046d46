# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.etcd_backup_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_trends
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.etcd_backup_info"
    FAILURE_ID = "backups.etcd_snapshot"

    def failure_targets(self, args, label):
        return _etcd_trends.backup_failure_targets(args, label)
