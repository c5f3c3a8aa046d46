# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.host_inspection_info: the host's checks in one module call.

Passes the inventory name of the host, moves the checks' secret options into the module's ``no_log`` option
``secrets``, runs the module and records its findings in ``kubeops_findings`` (FindingsActionBase). The call is the
host's first contact of the inspection: a host that does not answer leaves the task unreachable (the report turns it
into a critical ``host.reachable`` finding); a module that cannot run at all makes every check ``unknown``. A host
that answered gets the fact ``kubeops_inspection_done`` (its inspection ran) and joins the inventory group
``kubeops_inspection_reached``, which the plays after it target.
"""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils import _host_inspection
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase

DONE_FACT = "kubeops_inspection_done"
REACHED_GROUP = "kubeops_inspection_reached"


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.host_inspection_info"
    # The module labels its findings (with the inventory name it is given; calico also labels the peers' hosts) and
    # leaves the cluster's unlabelled (etcd): the action relabels none (see validated).
    SCOPE = "peers"
    FAILURE_ID = "host.inspection"
    UNREACHABLE_IS_UNREACHABLE = True

    def module_args(self, args, task_vars):
        args.setdefault("host_name", self._task.delegate_to or task_vars.get("inventory_hostname"))
        checks = args.get("checks")
        if isinstance(checks, list):
            args["checks"], secrets = _host_inspection.split_secrets(checks)
            if secrets:
                args["secrets"] = {**secrets, **(args.get("secrets") or {})}
        return args

    def failure_findings(self, args, label, error, reason):
        checks = args.get("checks") if isinstance(args.get("checks"), list) else []
        findings = []
        for item in checks:
            item = item if isinstance(item, dict) else {}
            findings += _host_inspection.failure_findings(str(item.get("check")), item.get("options"), label, error,
                                                          reason)
        return findings or super().failure_findings(args, label, error, reason)

    def validated(self, items, label):
        return super().validated(items, None)

    def more_facts(self, outcome, task_vars, owner):
        return {DONE_FACT: True}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if not result.get("unreachable"):
            result["add_group"] = REACHED_GROUP
            result["parent_groups"] = ["all"]
        return result
