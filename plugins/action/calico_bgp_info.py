# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.calico_bgp_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils import _calico
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.calico_bgp_info"
    SCOPE = "peers"
    FAILURE_ID = "calico.bird"

    def module_args(self, args, task_vars):
        # The inventory name of the host it runs on names the BIRD finding and the peers' findings about it.
        args.setdefault("host_name", self._task.delegate_to or task_vars.get("inventory_hostname"))
        return args

    def failure_targets(self, args, label):
        return _calico.failure_targets(args, label)
