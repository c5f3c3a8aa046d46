# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.inspection_report: collect findings, derive reachability, compare with and
record into the history, write the report. Inputs and outputs are documented in plugins/modules/inspection_report.py."""
from __future__ import annotations

import datetime as _dt
import json
import os
import typing as t

import yaml

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.module_utils import _findings
from ansible_collections.kubeops.runbook.plugins.plugin_utils import (
    _causes, _exports, _flapping, _history, _report, _rules, _slices,
)
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import LOST_FACT, recorded_findings

LEVELS = list(_report.FAIL_LEVELS)
BASELINES_FACT = "kubeops_baselines"

ARGUMENT_SPEC: dict[str, t.Any] = {
    "cluster": {"type": "str"},
    "report_dir": {"type": "path"},
    "history_db": {"type": "path"},
    "targeted_hosts": {"type": "list", "elements": "str"},
    "reachable_hosts": {"type": "list", "elements": "str"},
    "collect_hostvars": {"type": "bool", "default": True},
    "findings": {"type": "list", "elements": "raw", "default": []},
    "started": {"type": "str"},
    "baselines": {"type": "dict"},
    "template_dir": {"type": "path"},
    "fail_on": {"type": "str", "default": "never", "choices": LEVELS},
    "notify_on": {"type": "str", "default": "critical", "choices": LEVELS},
    "notify_limit": {"type": "int", "default": 5},
    "trend_runs": {"type": "int", "default": _report.TREND_RUNS},
    "report_mode": {"type": "raw", "default": "0640"},
    "rules": {"type": "dict"},
    "rules_file": {"type": "path"},
    "slice_dir": {"type": "path"},
    "merge": {"type": "bool", "default": False},
    "expected_hosts": {"type": "list", "elements": "str"},
    "prometheus_textfile": {"type": "path"},
    "junit_file": {"type": "path"},
    "junit_fail_on": {"type": "str", "default": "critical", "choices": LEVELS},
    "stats_name": {"type": "str"},
    "flapping_runs": {"type": "int", "default": _flapping.RUNS},
    "flapping_changes": {"type": "int", "default": _flapping.CHANGES},
    "group_by_cause": {"type": "bool", "default": True},
}
# How many finding keys the job artifacts (set_stats) list as new and resolved; the counts are always complete.
STATS_KEYS = 100

DEFAULT_TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "roles", "report", "templates")


def _mapping(value: t.Any) -> t.Mapping:
    return value if hasattr(value, "get") else {}


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
        if not 2 <= args["trend_runs"] <= 365:
            raise AnsibleActionFail(f"trend_runs must be between 2 and 365, got {args['trend_runs']}")
        try:
            _flapping.check_options(args["flapping_runs"], args["flapping_changes"])
        except _flapping.FlappingError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        if args["cluster"] is not None and not args["cluster"].strip():
            raise AnsibleActionFail("cluster must be a non-empty name, got an empty string")
        if args["merge"] and not args["slice_dir"]:
            raise AnsibleActionFail("merge needs slice_dir, the directory the slices wrote their partials into")
        try:
            if args["prometheus_textfile"] and (args["merge"] or not args["slice_dir"]):   # a slice writes neither
                _exports.check_prometheus_path(args["prometheus_textfile"])
            args["rules"] = _rules.load(self._rules_document(args))
            result.update(self._report(args, task_vars))
            if args["stats_name"]:
                # what set_stats returns: Ansible records it as a custom stat of the run (AWX: the job's artifacts)
                result["ansible_stats"] = {"data": {args["stats_name"]: result["stats"]}, "per_host": False,
                                           "aggregate": False}
        except (_report.ReportError, _history.HistoryError, _rules.RulesError, _slices.SliceError) as exc:
            raise AnsibleActionFail(str(exc)) from exc
        return result

    @staticmethod
    def _rules_document(args: dict) -> t.Any:
        """The silences and routes: ``rules``, or the YAML file ``rules_file`` (not both)."""
        if args["rules"] and args["rules_file"]:
            raise _rules.RulesError("give rules or rules_file, not both")
        if not args["rules_file"]:
            return args["rules"]
        try:
            with open(args["rules_file"], encoding="utf-8") as handle:
                return yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _rules.RulesError(f"cannot read rules_file {args['rules_file']}: {first}") from exc

    # -- inputs from the run ------------------------------------------------------------------------------------
    def _var(self, task_vars: dict, name: str) -> t.Any:
        return self._templar.template(task_vars[name]) if name in task_vars else None

    def _hostvars(self, task_vars: dict, host: str) -> t.Mapping:
        """A host's variables. Other hosts' are read raw, once each: what the report reads of them (findings, the
        inspection's marks, registered results) is data the run stored, and templating a few thousand findings per
        host through hostvars took most of the report's time at 200 hosts."""
        cache = self.__dict__.setdefault("_hostvars_cache", {})
        if host in cache:
            return cache[host]
        hostvars = task_vars.get("hostvars")
        try:
            if hostvars is None or host not in hostvars:
                # not in this play's inventory (a merge job whose inventory lacks some slices' hosts): ansible-core
                # 2.19 answers raw_get of an unknown host with an undefined marker that fails outside a template
                raise KeyError(host)
            raw_get = getattr(hostvars, "raw_get", None)
            found = _mapping(raw_get(host) if raw_get is not None and host != "localhost" else hostvars[host])
        except (KeyError, TypeError):
            found = {}
        cache[host] = found
        return found

    def _addresses(self, task_vars: dict, hosts: t.Iterable[str]) -> dict[str, list[str]]:
        """{host: [its ansible_host]} of the targeted hosts whose ansible_host is set and is not a template: the
        addresses other hosts' findings (BGP peers, etcd URLs) name a host that is down by."""
        found = {}
        for host in hosts:
            address = self._hostvars(task_vars, host).get("ansible_host")
            if isinstance(address, str) and address and "{" not in address:
                found[host] = [address]
        return found

    def _reachability(self, targeted: list[str], task_vars: dict, findings_by_host: dict) -> dict[str, tuple[str, str]]:
        """host -> (state, reason): state is reachable | unreachable | failed | lost, from what the run left on it."""
        states: dict[str, tuple[str, str]] = {}
        for host in targeted:
            hvars = self._hostvars(task_vars, host)
            # the host's first contact of the run: the setup of 1.1.0 playbooks, or host_inspection's one call
            gather = _mapping(hvars.get("kubeops_inspection_gather") or hvars.get("host_inspection_result"))
            if hvars.get(LOST_FACT):
                states[host] = ("lost", str(hvars.get(LOST_FACT)))
            elif hvars.get("kubeops_inspection_failed"):
                states[host] = ("failed", str(hvars.get("kubeops_inspection_failed")))
            elif gather.get("unreachable"):
                states[host] = ("unreachable", str(gather.get("msg") or ""))
            elif hvars.get("kubeops_inspection_done") or _mapping(hvars.get("ansible_facts")).get("kubeops_inspection_done"):
                states[host] = ("reachable", "")
            elif findings_by_host.get(host) or hvars.get("ansible_facts"):
                # it answered at some point, then left the play: a task failed on it
                states[host] = ("failed", "a task failed on this host")
            else:
                states[host] = ("unreachable", "")
        return states

    def _report(self, args: dict, task_vars: dict) -> dict:
        local = self._hostvars(task_vars, "localhost")

        def var(name: str) -> t.Any:
            return self._var(task_vars, name) if name in task_vars else local.get(name)

        default_db, default_cluster = _history.location(var)
        cluster = args["cluster"] or default_cluster
        report_dir = args["report_dir"] or var("inspection_report_dir") or "./reports"
        history_db = args["history_db"] or (os.path.join(report_dir, "history.sqlite") if args["report_dir"] else default_db)

        findings_by_host: dict[str, list] = {}
        if args["collect_hostvars"]:
            names = list(_mapping(task_vars.get("groups")).get("all") or []) + ["localhost"]
            for host in dict.fromkeys(names + list(args["targeted_hosts"] or [])):
                items = recorded_findings(self._hostvars(task_vars, host))
                if items:
                    findings_by_host[host] = items
        if args["findings"]:
            findings_by_host["localhost"] = findings_by_host.get("localhost", []) + list(args["findings"])

        targeted = args["targeted_hosts"]
        if targeted is None:
            targeted = list(var("kubeops_inspection_targeted") or [])
        targeted = [str(h) for h in targeted]
        if args["reachable_hosts"] is not None:
            reachable = set(args["reachable_hosts"])
            states = {h: ("reachable", "") if h in reachable else ("unreachable", "") for h in targeted}
            states.update({h: s for h, s in self._reachability(targeted, task_vars, findings_by_host).items()
                           if h not in reachable and s[0] != "reachable"})
        else:
            states = self._reachability(targeted, task_vars, findings_by_host)
        inspected = {h for h, (state, _why) in states.items() if state in ("reachable", "lost")}

        collected = _report.collect(findings_by_host)
        baselines = args["baselines"] if args["baselines"] is not None else _mapping(
            _mapping(local.get("ansible_facts")).get(BASELINES_FACT) or local.get(BASELINES_FACT))
        moment = _report.utc_now()
        finished = _report.iso(moment)
        started = args["started"] or var("kubeops_inspection_started") or finished
        if args["slice_dir"] and not args["merge"]:
            # Only the slice's own hosts (and the controller's findings about them): with --limit, or a fact cache,
            # the other hosts' variables may hold findings of another run.
            own = {h: items for h, items in findings_by_host.items() if h in set(targeted) | {"localhost"}}
            return self._write_partial(args, cluster, started, finished, states, _report.collect(own), dict(baselines))
        merged: dict | None = None
        if args["merge"]:
            # The slices' partials, plus what this (merge) play found itself: the cluster-wide checks.
            partials = _slices.read_partials(args["slice_dir"], cluster)
            own = _slices.partial(cluster, finished, finished, {}, collected, dict(baselines))
            merged = _slices.merge([doc for _path, doc in partials] + [own], args["expected_hosts"])
            merged["paths"] = [path for path, _doc in partials]
            states = merged["states"]
            targeted = sorted(set(states) | {f["target"] for f in merged["missing"]})
            inspected = {h for h, (state, _why) in states.items() if state in ("reachable", "lost")}
            collected = merged["findings"] + merged["missing"]
            baselines = merged["baselines"]
            started = merged["started"] or started
        findings = collected + _report.reachability(states)
        findings += _slices.nothing_inspected(targeted, findings)
        with _history.History(history_db) as history:
            previous = history.last_run(cluster)
            report = _report.build_report(cluster, started, finished, findings, previous, dict(baselines) or None,
                                          inspected=(inspected | {"localhost"}) if targeted else None)
            report = _rules.apply_to_report(report, args["rules"], moment)
            # flapping: the last runs of the cluster in one query; the causes: one pass over the findings
            report = _flapping.mark(report, history.recent_runs(cluster, args["flapping_runs"] - 1),
                                    args["flapping_runs"], args["flapping_changes"])
            if args["group_by_cause"]:
                report = _causes.mark(report, self._addresses(task_vars, targeted))
            keys = _report.key_statuses(report["findings"])
            report["trends"] = history.trends(cluster, args["trend_runs"], current={
                "started": started, "finished": finished, "status": report["summary"]["status"], "findings": keys})
            paths = _report.write_report(report, report_dir, args["template_dir"] or DEFAULT_TEMPLATE_DIR, moment,
                                         args["report_mode"])
            run_id = history.record(cluster, started, finished, report["summary"]["status"], keys, paths["json"],
                                    _report.key_hosts(report["findings"]))
            for name, data in dict(baselines).items():
                if isinstance(data, t.Mapping):
                    history.save_baseline(cluster, str(name), str(data.get("taken") or finished), dict(data), run_id)

        if merged is not None:
            for path in merged["paths"]:      # merged into this run's report and history: done with
                os.unlink(path)
        paths.update(self._write_exports(args, report, paths))

        status = report["summary"]["status"]
        html = os.path.abspath(paths["html"])
        routes = {name: _report.notify_text(dict(report, findings=items, summary=_findings.summarize(items)), html,
                                            args["notify_limit"])
                  for name, items in _rules.route(report["findings"], args["rules"]["routes"]).items()}
        return {
            "changed": True,
            "msg": f"{status.upper()}: {report['summary']}; report {html}",
            "cluster": cluster,
            "summary": report["summary"],
            "new_since_last": report["new_since_last"],
            "resolved_since_last": report["resolved_since_last"],
            "reachability": {h: state for h, (state, _why) in sorted(states.items())},
            "baselines_recorded": sorted(str(n) for n, d in dict(baselines).items() if isinstance(d, t.Mapping)),
            "paths": {k: os.path.abspath(v) for k, v in paths.items()},
            "history_db": os.path.abspath(history_db),
            "findings_count": len(report["findings"]),
            "should_fail": _report.at_or_above(status, args["fail_on"]),
            "should_notify": _report.at_or_above(status, args["notify_on"]),
            "notify_text": _report.notify_text(report, html, args["notify_limit"]),
            "silences": report["silences"],
            "flapping": report["flapping"]["keys"],
            "causes": report.get("causes", []),
            "routes": routes,
            "slices": merged["slices"] - 1 if merged is not None else 0,
            "stats": {
                "cluster": cluster, "status": status, "summary": report["summary"], "started": started,
                "finished": finished, "findings": len(report["findings"]),
                "hosts": {"targeted": len(targeted), "inspected": len(inspected)},
                "new_since_last": len(report["new_since_last"]), "new": report["new_since_last"][:STATS_KEYS],
                "resolved_since_last": len(report["resolved_since_last"]),
                "resolved": report["resolved_since_last"][:STATS_KEYS],
                "flapping": len(report["flapping"]["keys"]),
                "causes": [{"key": c["key"], "what": c["what"], "consequences": c["consequences"]}
                           for c in report.get("causes", [])[:STATS_KEYS]],
                "report": {k: os.path.abspath(v) for k, v in paths.items()},
                "slices": merged["slices"] - 1 if merged is not None else 0,
            },
        }

    @staticmethod
    def _write_exports(args: dict, report: dict, paths: dict[str, str]) -> dict[str, str]:
        """The report for machines, after the report and the history are written: the Prometheus textfile and the
        JUnit file, where asked for."""
        written = {}
        html = os.path.abspath(paths["html"])
        try:
            if args["prometheus_textfile"]:
                written["prometheus"] = _exports.write_prometheus(report, args["prometheus_textfile"])
            if args["junit_file"]:
                written["junit"] = _exports.write_junit(report, args["junit_file"], args["junit_fail_on"],
                                                        args["report_mode"], {"report": html})
        except _report.ReportError as exc:
            raise _report.ReportError(f"{exc} (the report itself is written: {html})") from exc
        return written

    def _write_partial(self, args: dict, cluster: str, started: str, finished: str,
                       states: dict[str, tuple[str, str]], collected: list[dict], baselines: dict) -> dict:
        """A slice of a sliced run: its partial findings into slice_dir, for the merge step; no report, no history."""
        doc = _slices.partial(cluster, started, finished, states, collected, baselines)
        directory = args["slice_dir"]
        try:
            os.makedirs(directory, mode=_report.dir_mode(args["report_mode"]), exist_ok=True)
            path = os.path.join(directory, _slices.partial_name(doc))
            _report.atomic_write(path, json.dumps(doc, ensure_ascii=False, default=str), args["report_mode"])
        except OSError as exc:
            raise _slices.SliceError(f"cannot write the partial into {directory}: {exc}") from exc
        findings = collected + _report.reachability(states)
        findings += _slices.nothing_inspected(list(states), findings)
        summary = _rules.apply_to_report({"summary": _findings.summarize(findings), "findings": findings},
                                         args["rules"], _dt.datetime.now(_dt.timezone.utc))["summary"]
        return {
            "changed": True,
            "msg": f"slice of {len(states)} host(s) written to {path} for the merge step (no report yet)",
            "cluster": cluster,
            "partial": os.path.abspath(path),
            "summary": summary,
            "reachability": {h: state for h, (state, _why) in sorted(states.items())},
            "should_fail": False,
            "should_notify": False,
            "stats": {"cluster": cluster, "status": summary["status"], "summary": summary, "started": started,
                      "finished": finished, "findings": len(findings), "partial": os.path.abspath(path),
                      "hosts": {"targeted": len(states),
                                "inspected": sum(1 for state, _why in states.values() if state in ("reachable", "lost"))}},
        }
