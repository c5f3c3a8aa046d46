# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.mysql_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.mysql_info"
    FAILURE_ID = "middleware.mysql"

    def failure_targets(self, args, label):
        where = args.get("login_unix_socket") or (
            f"{args['login_host']}:{args.get('login_port') or 3306}" if args.get("login_host") else "local")
        return [(self.FAILURE_ID, f"mysql:{where}")]
