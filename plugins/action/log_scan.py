# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.log_scan: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils._logscan import LogScanError, default_name, log_name
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.log_scan"

    def failure_targets(self, args, label):
        pairs = []
        for item in args.get("files") if isinstance(args.get("files"), list) else []:
            path = str(item.get("path") or "") if isinstance(item, dict) else str(item)
            try:
                name = log_name(item["name"]) if isinstance(item, dict) and item.get("name") else default_name(path)
            except LogScanError:
                name = default_name(path)
            pairs.append((f"logs.{name}", path or "log"))
        return pairs or [("logs.scan", label or "logs")]
