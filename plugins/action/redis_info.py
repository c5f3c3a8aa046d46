# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.redis_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils._middleware_redis import is_local
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.redis_info"
    FAILURE_ID = "middleware.redis"

    def failure_targets(self, args, label):
        targets = [(self.FAILURE_ID, f"redis:{args.get('login_port') or 6379}")]
        if args.get("check_overcommit", True) and is_local(str(args.get("login_host") or "127.0.0.1")):
            targets.append(("middleware.redis_overcommit", "vm.overcommit_memory"))
        return targets
