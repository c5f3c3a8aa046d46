# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.incident_record: gather every host's findings and timeline, write the record."""
from __future__ import annotations

import os
import typing as t

from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _incident_record
from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import audit_log_path
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import recorded_findings

ARGUMENT_SPEC: dict[str, t.Any] = {
    "cluster": {"type": "str", "required": True},
    "runbook": {"type": "str", "default": "incident_k8s_unreachable"},
    "title": {"type": "str", "default": "Incident: the platform cannot be reached"},
    "report_dir": {"type": "path", "default": "./reports"},
    "started": {"type": "str"},
    "audit_log": {"type": "path"},
    "template_dir": {"type": "path"},
    "findings": {"type": "list", "elements": "raw", "default": []},
    "prefix": {"type": "str", "default": "incident"},
}

DEFAULT_TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "roles", "incident_record", "templates")


class ActionModule(ActionBase):
    """Runs on the controller only; no module is sent to any host."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not args["cluster"].strip():
            raise AnsibleActionFail("cluster must be a non-empty name, got an empty string")
        hostvars = task_vars.get("hostvars") or {}
        names = list(dict.fromkeys(list((task_vars.get("groups") or {}).get("all") or []) + ["localhost"]))
        findings: dict[str, list] = {}
        entries: dict[str, list] = {}
        after: dict[str, list] = {}
        problems: list[str] = []
        targeted: list[str] = []
        unreachable: dict[str, str] = {}
        for host in names:
            try:
                hv = hostvars[host]
            except (KeyError, TypeError):
                continue
            if not hasattr(hv, "get"):
                continue
            recorded = recorded_findings(hv)
            if recorded:
                findings[host] = recorded
            if hv.get("kubeops_incident_after"):
                after[host] = list(hv.get("kubeops_incident_after"))
            if hv.get("kubeops_incident_timeline"):
                entries[host] = list(hv.get("kubeops_incident_timeline"))
            problems += [str(p) for p in hv.get("kubeops_incident_problems") or []]
            reach = hv.get("kubeops_incident_reach")
            if isinstance(reach, t.Mapping) and host != "localhost":
                targeted.append(host)
                if reach.get("unreachable"):
                    unreachable[host] = str(reach.get("msg") or "")
        if args["findings"]:
            findings["localhost"] = findings.get("localhost", []) + list(args["findings"])
        now, seen = _incident_record.observations(findings, after)
        collected = now + _report.reachability(_report.host_states(
            targeted, [h for h in targeted if h not in unreachable], unreachable=unreachable))
        moment = _report.utc_now()
        finished = _report.iso(moment)
        # The task itself runs with check_mode: false (the record is written under --check too): ask the command line.
        check_mode = bool(context.CLIARGS.get("check")) or any(
            e.get("check_mode") for es in entries.values() for e in es if isinstance(e, t.Mapping))
        # the log the remediations of this run wrote to, unless the task names another
        audit_log = (os.path.abspath(os.path.expanduser(args["audit_log"])) if args["audit_log"]
                     else audit_log_path(self, task_vars))
        try:
            record = _incident_record.build(args["runbook"], args["title"], args["cluster"], args["started"] or finished,
                                            finished, collected, _incident_record.timeline(entries),
                                            list(dict.fromkeys(problems)), check_mode, audit_log, seen)
            where = _incident_record.write(record, args["report_dir"], args["template_dir"] or DEFAULT_TEMPLATE_DIR, moment,
                                           prefix=args["prefix"])
        except _report.ReportError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        where = {k: os.path.abspath(v) for k, v in where.items()}
        result.update({
            "changed": True,
            "summary": record["summary"],
            "actions": record["actions"],
            "problems": record["problems"],
            "paths": where,
            "lines": _incident_record.summary_lines(record, where),
        })
        return result
