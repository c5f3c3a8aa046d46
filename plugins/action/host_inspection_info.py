# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.host_inspection_info: the host's checks in one module call.

Passes the inventory name of the host; when the task gives no ``checks``, builds the host's checks from the
inspection's settings (plugin_utils/_host_checks.py: what the host_inspection role's tasks/inspect.yml runs; a
setting they need that is undefined fails the task, naming it). Moves the checks' secret options into the module's
``no_log`` option ``secrets``, runs the module and records its findings in ``kubeops_findings`` (FindingsActionBase). The call is the
host's first contact of the inspection: a host that does not answer leaves the task unreachable (the report turns it
into a critical ``host.reachable`` finding); a module that cannot run at all makes every check ``unknown``. A host
that answered gets the fact ``kubeops_inspection_done`` (its inspection ran) and joins the inventory group
``kubeops_inspection_reached``, which the plays after it target.
"""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.module_utils import _host_inspection
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _host_checks
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase, one_line

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
        if args.get("checks") is None:
            args["checks"] = self.host_checks(task_vars)
        checks = args.get("checks")
        if isinstance(checks, list):
            args["checks"], secrets = _host_inspection.split_secrets(checks)
            if secrets:
                args["secrets"] = {**secrets, **(args.get("secrets") or {})}
        return args

    def host_checks(self, task_vars):
        """The host's checks from the inspection's settings (the variables of the task's host)."""
        hostvars = task_vars.get("hostvars") or {}

        def read(name):
            if name not in task_vars:
                raise KeyError(name)
            return self._templar.template(task_vars[name])

        def address(host):
            variables = hostvars[host] if host in hostvars else {}
            return variables.get("ansible_host", "") if hasattr(variables, "get") else ""

        settings = _host_checks.Settings(read, address)
        return _host_checks.host_checks(settings, str(task_vars.get("inventory_hostname") or ""),
                                        task_vars.get("group_names") or [], task_vars.get("groups") or {},
                                        task_vars.get("ansible_play_hosts_all") or [])

    def run(self, tmp=None, task_vars=None):
        try:
            result = super().run(tmp, task_vars)
        except _host_checks.SettingsError as exc:
            host = (task_vars or {}).get("inventory_hostname")
            return {"failed": True, "changed": False,
                    "msg": one_line(f"cannot build the checks of {host}: {exc}")}
        if not result.get("unreachable"):
            result["add_group"] = REACHED_GROUP
            result["parent_groups"] = ["all"]
        return result

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
