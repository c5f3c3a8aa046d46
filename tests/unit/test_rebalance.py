"""The performance incident's plan and its application (plugins/module_utils/_rebalance.py)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _rebalance as R

FIX = Path(__file__).parent / "fixtures" / "k8s"


def wl(name, replicas, load, min_replicas=1, max_replicas=None, ns="product"):
    return R.Workload(ns, name, "Deployment", replicas, min_replicas, max_replicas, load)


def moves(result):
    return [(c["name"], c["before"], c["after"]) for c in result["changes"]]


def test_known_loads_shrink_the_quietest_then_grow_the_busiest():
    result = R.plan([wl("gateway", 2, 0.95, min_replicas=2, max_replicas=6), wl("calc", 2, 0.10),
                     wl("ihs", 2, 0.20), wl("report", 2, 0.60)], budget=8, target=0.7)
    # gateway's work (2 x 95%) needs 3 replicas to be at or below 70% (63%); calc at 1 replica is at 20%
    assert moves(result) == [("calc", 2, 1), ("gateway", 2, 3)]
    assert result["total_before"] == result["total_after"] == result["peak"] == 8
    assert result["unmet"] == []
    assert "63%" in result["increases"][0]["why"] and "product/calc" in result["increases"][0]["why"]


def test_two_busy_workloads_decreases_first_sorted_by_load_then_increases_busiest_first():
    result = R.plan([wl("gateway", 2, 0.95, min_replicas=2), wl("webui", 1, 1.40), wl("calc", 2, 0.10),
                     wl("ihs", 2, 0.20)], budget=7)
    assert moves(result) == [("calc", 2, 1), ("ihs", 2, 1), ("webui", 1, 2), ("gateway", 2, 3)]
    assert [c["delta"] for c in result["changes"]] == [-1, -1, 1, 1]


def test_unused_budget_is_used_before_taking_from_anyone():
    result = R.plan([wl("gateway", 2, 0.95), wl("calc", 2, 0.10)], budget=5)
    assert moves(result) == [("gateway", 2, 3)] and result["peak"] == 5


def test_floors_ceilings_and_unmet():
    result = R.plan([wl("gateway", 2, 2.0, max_replicas=3), wl("calc", 1, 0.10)], budget=3)
    # calc is at its floor, the budget is used up: gateway stays hot, and says why
    assert moves(result) == [] and result["unmet"][0]["name"] == "gateway"
    capped = R.plan([wl("gateway", 2, 2.0, max_replicas=3), wl("calc", 4, 0.05)], budget=6)
    assert moves(capped) == [("calc", 4, 3), ("gateway", 2, 3)]
    assert capped["unmet"][0]["why"] == "at its ceiling"


def test_over_budget_sheds_least_loaded_first_and_refuses_below_floors():
    result = R.plan([wl("a", 3, 0.3), wl("b", 3, 0.1)], budget=4)
    assert moves(result) == [("b", 3, 1)] and result["peak"] == 6 and result["total_after"] == 4
    with pytest.raises(R.RebalanceRefused, match="budget 3 is below the sum of the floors \\(4\\)"):
        R.plan([wl("a", 2, 0.3, min_replicas=2), wl("b", 2, 0.1, min_replicas=2)], budget=3)


def test_idempotent_second_plan_is_empty():
    first = R.plan([wl("gateway", 2, 0.95, min_replicas=2), wl("calc", 2, 0.10)], budget=4)
    after = {c["name"]: c["after"] for c in first["changes"]}
    # the same work on the new replica counts: loads per replica change accordingly
    second = R.plan([wl("gateway", after["gateway"], 0.95 * 2 / after["gateway"], min_replicas=2),
                     wl("calc", after["calc"], 0.10 * 2 / after["calc"])], budget=4)
    assert second["changes"] == []


@pytest.mark.parametrize("workloads,budget,match", [
    ([], 3, "at least one workload"),
    ([wl("a", 1, 0.5), wl("a", 1, 0.5)], 3, "product/a is listed twice"),
    ([wl("a", 1, -0.1)], 3, "load must be a number 0 or more"),
    ([wl("a", 1, 0.5, min_replicas=3, max_replicas=2)], 3, "max_replicas 2 is below min_replicas 3"),
])
def test_bad_input(workloads, budget, match):
    with pytest.raises(R.RebalanceError, match=match):
        R.plan(workloads, budget)


def test_plan_lines_read_like_a_plan():
    lines = R.plan_lines(R.plan([wl("gateway", 2, 0.95), wl("calc", 2, 0.10)], budget=4))
    assert lines[0] == "budget 4 replicas: 4 now, 4 after, never more than 4 on the way"
    assert lines[1].startswith("1. shrink product/calc 2 -> 1: load 10%")
    assert lines[2].startswith("2. grow product/gateway 2 -> 3: load 95%")


# -- metrics ---------------------------------------------------------------------------------------------------
def test_loads_from_metrics_use_cpu_usage_over_requests():
    pods = json.loads((FIX / "healthy_pods.json").read_text())["items"]
    deployments = json.loads((FIX / "healthy_deployments.json").read_text())["items"]
    gateway = next(d for d in deployments if d["metadata"]["name"] == "oltp-gateway-1-3-0")
    mine = [p for p in pods if p["metadata"]["labels"].get("app") == "oltp-gateway-1-3-0"]
    # PodMetrics as metrics.k8s.io/v1beta1 serves them (usage in nanocores and millicores)
    metrics = [{"metadata": {"namespace": "product", "name": mine[0]["metadata"]["name"]},
                "containers": [{"name": "c", "usage": {"cpu": "200000000n", "memory": "300Mi"}}]},
               {"metadata": {"namespace": "product", "name": mine[1]["metadata"]["name"]},
                "containers": [{"name": "c", "usage": {"cpu": "250m", "memory": "300Mi"}}]}]
    loads = R.loads_from_metrics([gateway], pods, metrics)
    assert loads == {"product/oltp-gateway-1-3-0": pytest.approx((0.2 + 0.25) / 0.5)}
    with pytest.raises(R.RebalanceError, match="no metrics for the pods of product/oltp-gateway-1-3-0"):
        R.loads_from_metrics([gateway], pods, [])


@pytest.mark.parametrize("selector,text", [
    ({"matchLabels": {"app": "x", "tier": "web"}}, "app=x,tier=web"),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}, {"key": "canary", "operator": "DoesNotExist"}]},
     "app in (a,b),!canary"),
])
def test_selector_string(selector, text):
    assert R.selector_string(selector) == text


# -- applying: decreases first, the budget never exceeded at any moment ----------------------------------------
class FakeCluster:
    """Deployments whose scale-downs leave Terminating pods for a few polls; records the pod total after every call."""

    def __init__(self, replicas: dict[str, int], linger: int = 2):
        self.replicas = dict(replicas)
        self.pods = dict(replicas)
        self.terminating: dict[str, list[int]] = {k: [] for k in replicas}
        self.linger = linger
        self.totals: list[int] = [sum(replicas.values())]
        self.order: list[str] = []
        self.version = {k: "1" for k in replicas}

    def _tick(self):
        for k, timers in self.terminating.items():
            self.terminating[k] = [t - 1 for t in timers if t > 1]
        self.totals.append(sum(self.pods.values()) + sum(len(t) for t in self.terminating.values()))

    def read(self, kind, ns, name):
        return {"metadata": {"resourceVersion": self.version[name]},
                "spec": {"replicas": self.replicas[name], "selector": {"matchLabels": {"app": name}}}}

    def patch_replicas(self, kind, ns, name, replicas, resource_version):
        assert resource_version == self.version[name]
        self.order.append(f"{name}:{self.replicas[name]}->{replicas}")
        gone = self.pods[name] - replicas
        self.replicas[name] = self.pods[name] = replicas
        if gone > 0:
            self.terminating[name] += [self.linger] * gone
        self.version[name] = str(int(self.version[name]) + 1)
        self._tick()

    def count_pods(self, ns, selector):
        name = selector.split("=", 1)[1]
        self._tick()
        return self.pods[name] + len(self.terminating[name])

    def ready_pods(self, ns, selector):
        self._tick()
        return self.pods[selector.split("=", 1)[1]]


def test_applier_never_exceeds_the_budget_and_shrinks_first():
    workloads = [wl("gateway", 2, 0.95, min_replicas=2), wl("webui", 1, 1.40), wl("calc", 2, 0.10), wl("ihs", 2, 0.20)]
    plan = R.plan(workloads, budget=7)
    cluster = FakeCluster({"gateway": 2, "webui": 1, "calc": 2, "ihs": 2}, linger=3)
    ticks = iter(range(10 ** 6))
    done, audit = R.Applier(cluster, sleep=lambda s: None, clock=lambda: next(ticks)).apply(plan)
    assert cluster.order == ["calc:2->1", "ihs:2->1", "webui:1->2", "gateway:2->3"]
    assert max(cluster.totals) <= 7, cluster.totals
    assert [a["target"] for a in audit] == [f"product/Deployment/{n}" for n in ("calc", "ihs", "webui", "gateway")]
    assert len(done) == 4


def test_applier_stops_when_someone_else_scaled():
    plan = R.plan([wl("gateway", 2, 0.95), wl("calc", 2, 0.10)], budget=4)
    cluster = FakeCluster({"gateway": 2, "calc": 3})
    with pytest.raises(R.RebalanceRefused, match="product/calc has 3 replicas, not 2 as planned"):
        R.Applier(cluster, sleep=lambda s: None).apply(plan)
    assert cluster.order == []


class ScalerWithLoads(FakeCluster):
    def pod_metrics(self):
        return None

    def all_pods(self):
        return []


def test_rebalance_check_mode_returns_the_plan_and_changes_nothing():
    cluster = ScalerWithLoads({"gateway": 2, "calc": 2})
    specs = [{"namespace": "product", "name": "gateway", "load": 0.95}, {"namespace": "product", "name": "calc", "load": 0.1}]
    out = R.rebalance(cluster, copy.deepcopy(specs), None, 0.7, "auto", check_mode=True)
    assert out["changed"] and cluster.order == [] and out["load_from"] == {"product/gateway": "given", "product/calc": "given"}
    assert [a["after"] for a in out["audit"]] == [{"replicas": 1}, {"replicas": 3}]
    with pytest.raises(R.RebalanceError, match="no load given for product/calc and the cluster does not serve metrics.k8s.io"):
        R.rebalance(cluster, [specs[0], {"namespace": "product", "name": "calc"}], None, 0.7, "auto", check_mode=True)


# -- protected namespaces and partial failures (issue 16) ------------------------------------------------------
@pytest.mark.parametrize("namespace,kw", [("kube-system", {}), ("calico-system", {"protected_namespaces": ("calico-system",)})])
def test_a_workload_in_a_protected_namespace_is_refused_before_anything_is_read(namespace, kw):
    cluster = ScalerWithLoads({"coredns": 2, "calc": 2})
    specs = [{"namespace": namespace, "name": "coredns", "load": 0.95}, {"namespace": "product", "name": "calc", "load": 0.1}]
    with pytest.raises(R.RebalanceRefused, match=f"workload {namespace}/coredns is in the protected namespace {namespace}; "
                                                 "refusing \\(set allow_protected_namespace=true"):
        R.rebalance(cluster, specs, None, 0.7, "auto", check_mode=False, **kw)
    assert cluster.order == []
    out = R.rebalance(cluster, specs, None, 0.7, "auto", check_mode=True, allow_protected_namespace=True, **kw)
    assert out["changed"]


class BrokenCluster(ScalerWithLoads):
    """The API answers 503 to the n-th patch."""

    def __init__(self, replicas, fail_patch):
        super().__init__(replicas)
        self.fail_patch, self.patches = fail_patch, 0

    def patch_replicas(self, kind, ns, name, replicas, resource_version):
        self.patches += 1
        if self.patches == self.fail_patch:
            raise R.RebalanceError(f"scaling {kind} {ns}/{name} to {replicas}: Kubernetes API answered HTTP 503 "
                                   "Service Unavailable")
        super().patch_replicas(kind, ns, name, replicas, resource_version)


@pytest.mark.parametrize("fail_patch,changed,applied", [(1, False, []), (2, True, ["calc"])])
def test_a_failed_step_reports_changed_only_for_what_was_applied(fail_patch, changed, applied):
    cluster = BrokenCluster({"gateway": 2, "calc": 2}, fail_patch)
    specs = [{"namespace": "product", "name": "gateway", "load": 0.95}, {"namespace": "product", "name": "calc", "load": 0.1}]
    with pytest.raises(R.RebalanceApplyFailed, match="HTTP 503") as info:
        R.rebalance(cluster, specs, None, 0.7, "auto", check_mode=False,
                    applier=R.Applier(cluster, sleep=lambda s: None, clock=iter(range(10 ** 6)).__next__))
    out = info.value.result
    assert out["changed"] is changed and [s["name"] for s in out["applied"]] == applied
    assert [a["target"] for a in out["audit"]] == [f"product/Deployment/{n}" for n in applied]
