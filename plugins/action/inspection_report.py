# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.inspection_report: collect findings, compare with history, write the report."""
from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.module_utils import _history, _report

LEVELS = list(_report.FAIL_LEVELS)

ARGUMENT_SPEC: dict[str, t.Any] = {
    "cluster": {"type": "str", "required": True},
    "report_dir": {"type": "path", "default": "./reports"},
    "history_db": {"type": "path"},
    "targeted_hosts": {"type": "list", "elements": "str", "default": []},
    "reachable_hosts": {"type": "list", "elements": "str", "default": []},
    "collect_hostvars": {"type": "bool", "default": True},
    "findings": {"type": "list", "elements": "raw", "default": []},
    "started": {"type": "str"},
    "baselines": {"type": "dict"},
    "template_dir": {"type": "path"},
    "fail_on": {"type": "str", "default": "never", "choices": LEVELS},
    "notify_on": {"type": "str", "default": "critical", "choices": LEVELS},
    "notify_limit": {"type": "int", "default": 5},
    "report_mode": {"type": "raw", "default": "0640"},
}

DEFAULT_TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "roles", "report", "templates")


def _host_vars(task_vars: dict, host: str) -> t.Mapping:
    try:
        return task_vars["hostvars"][host]
    except (KeyError, TypeError):
        return {}


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
        if args["notify_limit"] < 0:
            raise AnsibleActionFail(f"notify_limit must be 0 or more, got {args['notify_limit']}")
        try:
            args["report_mode"] = _report.parse_mode(args["report_mode"])
        except _report.ReportError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        if not args["cluster"].strip():
            raise AnsibleActionFail("cluster must be a non-empty name, got an empty string")
        try:
            result.update(self._report(args, task_vars))
        except (_report.ReportError, _history.HistoryError) as exc:
            raise AnsibleActionFail(str(exc)) from exc
        return result

    def _report(self, args: dict, task_vars: dict) -> dict:
        report_dir = args["report_dir"]
        history_db = args["history_db"] or os.path.join(report_dir, "history.sqlite")
        targeted = list(args["targeted_hosts"])
        reachable = list(args["reachable_hosts"])

        findings_by_host: dict[str, t.Any] = {}
        failed: dict[str, str] = {}
        unreachable: dict[str, str] = {}
        if args["collect_hostvars"]:
            names = list((task_vars.get("groups") or {}).get("all") or []) + ["localhost"]
            for host in dict.fromkeys(names + targeted):
                hvars = _host_vars(task_vars, host)
                if not hasattr(hvars, "get"):
                    continue
                items = hvars.get("kubeops_findings")
                if items:
                    findings_by_host[host] = list(items)
                gather = hvars.get("kubeops_inspection_gather")
                if hvars.get("kubeops_inspection_failed"):
                    failed[host] = str(hvars.get("kubeops_inspection_failed"))
                elif isinstance(gather, t.Mapping) and gather.get("unreachable"):
                    unreachable[host] = str(gather.get("msg") or "")
                elif items or hvars.get("ansible_facts"):
                    # it answered at some point, then left the play: a task failed on it
                    failed[host] = "a task failed on this host"
        if args["findings"]:
            findings_by_host.setdefault("localhost", [])
            findings_by_host["localhost"] = list(findings_by_host["localhost"]) + list(args["findings"])

        findings = _report.collect(findings_by_host) + _report.reachability(targeted, reachable, failed, unreachable)
        moment = _report.utc_now()
        finished = _report.iso(moment)
        started = args["started"] or finished
        with _history.History(history_db) as history:
            previous = history.last_run(args["cluster"])
            report = _report.build_report(args["cluster"], started, finished, findings, previous, args["baselines"],
                                          inspected=(set(reachable) | {"localhost"}) if targeted else None)
            paths = _report.write_report(report, report_dir, args["template_dir"] or DEFAULT_TEMPLATE_DIR, moment,
                                         args["report_mode"])
            history.record(args["cluster"], started, finished, report["summary"]["status"],
                           _report.key_statuses(report["findings"]), paths["json"], _report.key_hosts(report["findings"]))

        status = report["summary"]["status"]
        return {
            "changed": True,
            "summary": report["summary"],
            "new_since_last": report["new_since_last"],
            "resolved_since_last": report["resolved_since_last"],
            "paths": {k: os.path.abspath(v) for k, v in paths.items()},
            "history_db": os.path.abspath(history_db),
            "findings_count": len(report["findings"]),
            "should_fail": _report.at_or_above(status, args["fail_on"]),
            "should_notify": _report.at_or_above(status, args["notify_on"]),
            "notify_text": _report.notify_text(report, os.path.abspath(paths["html"]), args["notify_limit"]),
        }
