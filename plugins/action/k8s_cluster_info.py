# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.k8s_cluster_info: runs the module and records its findings in kubeops_findings.

Without a ``restart_baseline`` argument it reads the last good restart baseline of the cluster from the inspection
history on the controller and records this run's snapshot in the fact ``kubeops_baselines`` (the report stores it).
"""
from __future__ import annotations

import os

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import UNKNOWN, finding
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase, one_line

BASELINE = "pod_restarts"
BASELINES_FACT = "kubeops_baselines"
KUBECTL_SKEW = "host.kubectl_skew"


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.k8s_cluster_info"
    SCOPE = "cluster"
    FAILURE_ID = "control_plane_services.api"

    _history_problem: str | None = None
    _from_history = False

    def failure_targets(self, args, label):
        targets = [(self.FAILURE_ID, str(args.get("host") or "kubernetes"))]
        if args.get("kubectl"):
            targets.append((KUBECTL_SKEW, "kubectl"))
        return targets

    def failure_findings(self, args, label, error, reason):
        return self._kubectl_on_host(super().failure_findings(args, label, error, reason))

    def validated(self, items, label):
        return self._kubectl_on_host(super().validated(items, label))

    def _kubectl_on_host(self, findings: list[dict]) -> list[dict]:
        """The kubectl version skew is about the kubectl of the host the module ran on (as host_hygiene_info's)."""
        return [dict(f, host=self._checked) if f.get("id") == KUBECTL_SKEW else f for f in findings]

    def module_args(self, args, task_vars):
        checks = args.get("checks")
        if args.get("restart_baseline") is None and (checks is None or "pods" in checks):
            self._from_history = True
            args["restart_baseline"] = self._last_baseline(task_vars)
        return args

    def _last_baseline(self, task_vars: dict) -> dict:
        path, cluster = _history.location(lambda name: self.var(task_vars, name))
        if not os.path.exists(path):
            return {}   # no run recorded yet (and a read must not create the report directory's history)
        try:
            with _history.History(path) as history:
                stored = history.baseline(cluster, BASELINE)
        except _history.HistoryError as exc:
            self._history_problem = one_line(exc)
            return {}
        return stored["data"] if stored else {}

    def more_findings(self, outcome, task_vars):
        if not self._history_problem:
            return []
        return [finding("pods.restarts", "baseline", UNKNOWN,
                        f"restart growth not checked: the last baseline cannot be read: {self._history_problem}",
                        details={"error": self._history_problem})]

    def more_facts(self, outcome, task_vars, owner):
        snapshot = outcome.get("restart_snapshot")
        if not self._from_history or not isinstance(snapshot, dict):
            return {}   # the pods could not be listed: the report keeps the last good baseline
        return {BASELINES_FACT: {BASELINE: snapshot}}
