# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.systemd_unit_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.systemd_unit_info"

    def failure_targets(self, args, label):
        category = args.get("category") if args.get("category") in ("control_plane_services", "node_services") \
            else "node_services"
        units = args.get("units") if isinstance(args.get("units"), list) else [args.get("units") or "systemd"]
        return [(f"{category}.unit", str(unit)) for unit in units]
