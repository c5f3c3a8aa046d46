"""Kubernetes checks (plugins/module_utils/_k8s_checks.py) on `kubectl get -A -o json` captured from the lab."""
from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_checks as C

FIX = Path(__file__).parent / "fixtures" / "k8s"


def items(name: str) -> list[dict]:
    return json.loads((FIX / name).read_text())["items"]


def by_target(findings: list[dict], fid: str) -> dict[str, dict]:
    return {f["target"]: f for f in findings if f["id"] == fid}


def statuses(findings):
    return sorted({f["status"] for f in findings})


# -- healthy lab: nothing but ok ------------------------------------------------------------------------------
def test_healthy_lab_is_all_ok():
    nodes, pods, deps = items("healthy_nodes.json"), items("healthy_pods.json"), items("healthy_deployments.json")
    findings = (C.node_findings(nodes) + C.deployment_findings(deps)
                + C.pod_findings(pods, baseline=C.pod_restart_counts(pods))
                + C.service_findings(items("healthy_services.json"), items("healthy_endpoints.json"))
                + C.workload_policy_findings(deps) + C.calico_node_pod_findings(nodes, pods))
    assert statuses(findings) == ["ok"]
    assert set(by_target(findings, "nodes.ready")) == {"node1", "node2"}
    assert len(by_target(findings, "deployments.replicas")) == len(deps)
    # pods: one aggregate ok per namespace, not one per pod
    assert set(by_target(findings, "pods.ready")) == {"developer-center/*", "kube-system/*", "product/*"}
    assert set(by_target(findings, "calico.node_pod")) == {"node1", "node2"}


# -- nodes ----------------------------------------------------------------------------------------------------
def test_kubelet_stopped_on_node2_is_critical_for_node2():
    findings = C.node_findings(items("node2_kubelet_stopped_nodes.json"), {"node2": "node2"})
    ready = by_target(findings, "nodes.ready")
    assert ready["node2"]["status"] == "critical" and ready["node2"]["host"] == "node2"
    assert ready["node2"]["summary"] == "NotReady (kubelet stopped posting status)"
    assert ready["node1"]["status"] == "ok"


@pytest.mark.parametrize("condition, unschedulable, fid, status", [
    ("MemoryPressure", False, "nodes.pressure", "warning"),
    ("DiskPressure", False, "nodes.pressure", "warning"),
    ("PIDPressure", False, "nodes.pressure", "warning"),
    (None, True, "nodes.unschedulable", "warning"),
])
def test_pressure_and_cordon(condition, unschedulable, fid, status):
    nodes = copy.deepcopy(items("healthy_nodes.json"))
    node = nodes[0]
    if condition:
        for cond in node["status"]["conditions"]:
            if cond["type"] == condition:
                cond["status"] = "True"
    if unschedulable:
        node["spec"]["unschedulable"] = True
    found = by_target(C.node_findings(nodes, {"node1": "k8snode01"}), fid)
    assert found["node1"]["status"] == status and found["node1"]["host"] == "k8snode01"
    assert "cluster" not in found  # no aggregate ok when a node is affected


# -- deployments ----------------------------------------------------------------------------------------------
def test_unsatisfiable_scale_is_critical_and_names_the_gap():
    """kubeops-fixture-unsatisfiable was scaled to 5 replicas of 600 cpu each on two 1000-cpu kwok nodes."""
    found = by_target(C.deployment_findings(items("faults_deployments.json"), ["product"]), "deployments.replicas")
    bad = found["product/kubeops-fixture-unsatisfiable"]
    assert bad["status"] == "critical"
    assert bad["summary"] == "desired 5, current 5, up-to-date 5, available 2: 3 unavailable"
    assert all(f["status"] == "ok" for t, f in found.items() if t != "product/kubeops-fixture-unsatisfiable")
    assert all(t.startswith("product/") for t in found)  # the namespace filter


@pytest.mark.parametrize("desired, current, updated, available, ratio, status, gap", [
    (2, 2, 2, 2, 0.5, "ok", None),
    (2, 2, 1, 2, 0.5, "warning", "1 not up-to-date"),
    (2, 2, 2, 1, 0.5, "warning", "1 unavailable"),
    (2, 2, 2, 1, 0.6, "critical", "1 unavailable"),
    (8, 8, 8, 0, 0.0, "critical", "8 unavailable"),
    (2, 3, 2, 2, 0.5, "warning", "1 surplus"),
    (3, 1, 1, 1, 0.5, "critical", "2 not created"),
    (0, 0, 0, 0, 0.5, "ok", None),
])
def test_deployment_rule(desired, current, updated, available, ratio, status, gap):
    dep = {"metadata": {"namespace": "product", "name": "oltp-gateway-1-3-0"}, "spec": {"replicas": desired},
           "status": {"replicas": current, "updatedReplicas": updated, "availableReplicas": available}}
    [item] = C.deployment_findings([dep], critical_ratio=ratio)
    assert item["status"] == status
    if gap:
        assert gap in item["summary"]


def test_progress_deadline_is_critical():
    dep = {"metadata": {"namespace": "product", "name": "x"}, "spec": {"replicas": 2},
           "status": {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2,
                      "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}}
    [item] = C.deployment_findings([dep])
    assert item["status"] == "critical" and "progress deadline" in item["summary"]


# -- pods -----------------------------------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 22, 6, 0, 0, tzinfo=dt.timezone.utc)


def test_restart_increase_from_a_real_status_patch():
    """oltp-gateway-...-89dr8's restartCount was raised 0 -> 4 through the pod status subresource."""
    pods = items("faults_pods.json")
    baseline = {k: 0 for k in C.pod_restart_counts(pods)}
    found = by_target(C.pod_findings(pods, baseline=baseline, now=NOW), "pods.restarts")
    [(target, item)] = found.items()
    assert target == "product/oltp-gateway-1-3-0-6bdc7d7b75-89dr8"
    assert item["summary"] == "restarts 0 → 4 since last inspection"
    assert item["status"] == "warning" and item["details"]["old"] == 0 and item["details"]["new"] == 4
    assert item["host"] == item["details"]["node"]


@pytest.mark.parametrize("old, warning, critical, status", [
    (3, 1, 5, "warning"), (0, 1, 4, "critical"), (4, 1, 5, None), (9, 1, 5, None), (2, 3, None, None), (0, 3, None, "warning"),
])
def test_restart_thresholds(old, warning, critical, status):
    pods = items("faults_pods.json")
    key = "product/oltp-gateway-1-3-0-6bdc7d7b75-89dr8"
    found = by_target(C.pod_findings(pods, baseline={key: old}, restart_warning=warning, restart_critical=critical, now=NOW),
                      "pods.restarts")
    assert (found[key]["status"] if key in found else None) == status


def test_pending_pods_past_the_threshold():
    pods = items("faults_pods.json")
    started = min(C.parse_time(p["metadata"]["creationTimestamp"]) for p in pods if p["status"]["phase"] == "Pending")
    soon = C.pod_findings(pods, pending_seconds=300, now=started + dt.timedelta(seconds=60))
    assert not by_target(soon, "pods.phase")
    late = by_target(C.pod_findings(pods, pending_seconds=300, now=started + dt.timedelta(seconds=3600)), "pods.phase")
    assert len(late) == 3 and {f["status"] for f in late.values()} == {"critical"}
    assert all("Insufficient cpu" in f["summary"] for f in late.values())


def _pod(phase="Running", ready=True, waiting=None, reason=None):
    status = {"phase": phase, "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0,
                                                     "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}]}
    if reason:
        status["reason"] = reason
    return {"metadata": {"namespace": "product", "name": "p"}, "spec": {"nodeName": "node1", "containers": [{"name": "app"}]},
            "status": status}


@pytest.mark.parametrize("pod, fid, status", [
    (_pod(waiting="CrashLoopBackOff", ready=False), "pods.waiting", "critical"),
    (_pod(waiting="ImagePullBackOff", ready=False, phase="Pending"), "pods.waiting", "critical"),
    (_pod(phase="Failed", reason="Evicted", ready=False), "pods.waiting", "critical"),
    (_pod(phase="Failed", ready=False), "pods.phase", "critical"),
    (_pod(ready=False), "pods.ready", "critical"),
    (_pod(phase="Succeeded", ready=False), None, None),
    (_pod(phase="Unknown"), "pods.phase", "critical"),
])
def test_pod_states(pod, fid, status):
    findings = C.pod_findings([pod], now=NOW)
    bad = [f for f in findings if f["status"] != "ok"]
    if fid is None:
        assert not bad and findings[0]["target"] == "product/*"
    else:
        assert any(f["id"] == fid and f["status"] == status for f in bad), bad


def test_partial_ready_is_a_warning_with_x_of_y():
    pods = copy.deepcopy(items("healthy_pods.json"))
    pod = next(p for p in pods if len(p["status"]["containerStatuses"]) == 3)
    pod["status"]["containerStatuses"][1]["ready"] = False
    found = by_target(C.pod_findings(pods, now=NOW), "pods.ready")
    key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    assert found[key]["status"] == "warning" and found[key]["summary"] == "READY 2/3"


def test_pod_ready_condition_cleared_by_the_node_controller():
    """Containers ready (READY 1/1) but the Ready condition False, as the node lifecycle controller leaves it."""
    pod = _pod()
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "NodeNotReady"}]
    [item] = [f for f in C.pod_findings([pod], now=NOW) if f["status"] != "ok"]
    assert item["id"] == "pods.ready" and item["status"] == "warning" and "NodeNotReady" in item["summary"]


# -- services -------------------------------------------------------------------------------------------------
def test_selector_service_without_endpoints_is_critical():
    found = C.service_findings(items("faults_services.json"), items("faults_endpoints.json"))
    bad = [f for f in found if f["status"] != "ok"]
    assert [f["target"] for f in bad] == ["product/kubeops-fixture-noendpoints"]
    assert bad[0]["status"] == "critical"
    # the selector-less default/kubernetes service is never judged
    assert not any(f["target"].startswith("default/") for f in found)


# -- workload policy ------------------------------------------------------------------------------------------
def test_workload_policy_on_the_fixture_deployment():
    found = [f for f in C.workload_policy_findings(items("faults_deployments.json")) if f["status"] != "ok"]
    ids = {f["id"]: f for f in found}
    assert set(ids) == {"workload_policy.requests_limits", "workload_policy.probes", "workload_policy.jvm_heap"}
    assert ids["workload_policy.requests_limits"]["summary"] == "memory request 1Gi != limit 2Gi"
    assert ids["workload_policy.jvm_heap"]["status"] == "critical"
    assert all(f["target"] == "product/kubeops-fixture-unsatisfiable/app" for f in found)


@pytest.mark.parametrize("env, args, limit, status", [
    ([{"name": "JAVA_OPTS", "value": "-Xms256m -Xmx384m"}], [], "512Mi", None),
    ([{"name": "JVM_OPTS", "value": "-Xmx480m"}], [], "512Mi", "warning"),
    ([], ["java", "-Xmx1g", "-jar", "app.jar"], "1Gi", "critical"),
    ([{"name": "JAVA_OPTS", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}], [], "512Mi", None),
])
def test_jvm_heap(env, args, limit, status):
    dep = {"metadata": {"namespace": "product", "name": "d"}, "spec": {"template": {"spec": {"containers": [{
        "name": "c", "env": env, "args": args, "livenessProbe": {"tcpSocket": {"port": 1}}, "readinessProbe": {"tcpSocket": {"port": 1}},
        "resources": {"requests": {"cpu": "1", "memory": limit}, "limits": {"cpu": "1000m", "memory": limit}}}]}}}}
    found = by_target(C.workload_policy_findings([dep]), "workload_policy.jvm_heap")
    assert (found["product/d/c"]["status"] if found else None) == status


# -- calico-node pods ------------------------------------------------------------------------------------------
def test_calico_node_pod_missing_or_not_ready():
    nodes, pods = items("healthy_nodes.json"), copy.deepcopy(items("healthy_pods.json"))
    calico = [p for p in pods if p["metadata"]["name"].startswith("calico-node-")]
    calico[0]["status"]["containerStatuses"][0]["ready"] = False
    pods.remove(calico[1])
    found = by_target(C.calico_node_pod_findings(nodes, pods), "calico.node_pod")
    assert {f["status"] for f in found.values()} == {"critical"}
    assert "no calico-node pod" in found[calico[1]["spec"]["nodeName"]]["summary"]
    assert C.calico_node_pod_findings(nodes, [p for p in pods if not p["metadata"]["name"].startswith("calico-node")]) == []


# -- helpers --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [("1/2", (1, 2, False)), ("3/3", (3, 3, True)), (" 0 / 1 ", (0, 1, False))])
def test_ready_ratio(text, expected):
    assert tuple(C.ready_ratio(text).values()) == expected


@pytest.mark.parametrize("bad", ["1-2", "", "a/b", None, 12, "1/2/3"])
def test_ready_ratio_bad(bad):
    with pytest.raises(C.CheckError):
        C.ready_ratio(bad)


def test_restart_delta_ignores_new_and_recreated_pods():
    assert C.restart_delta({"a/x": 5, "a/y": 1, "a/z": 2}, {"a/x": 3, "a/z": 7}) == [{"pod": "a/x", "old": 3, "new": 5, "delta": 2}]
    with pytest.raises(C.CheckError, match="not a number"):
        C.restart_delta({"a/x": 1}, {"a/x": "many"})
    with pytest.raises(C.CheckError, match="restart_baseline"):
        C.restart_delta({}, ["a/x"])


@pytest.mark.parametrize("kwargs", [{"pending_seconds": -1}, {"restart_warning": 0}])
def test_bad_thresholds(kwargs):
    with pytest.raises(C.CheckError):
        C.pod_findings([], **kwargs)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12) | st.integers() | st.none())
def test_ready_ratio_fuzz(value):
    try:
        result = C.ready_ratio(value)
    except C.CheckError:
        return
    assert result["ready"] >= 0 and result["total"] >= 0


# -- restart baseline: the same pod, a recreated pod, a legacy baseline ------------------------------------------
GATEWAY = "product/oltp-gateway-1-3-0-6bdc7d7b75-89dr8"


def snapshot_of(pods, taken=NOW):
    return C.restart_snapshot(pods, taken)


def test_snapshot_names_the_controller_and_the_time():
    pods = items("healthy_pods.json")
    snap = snapshot_of(pods)
    assert snap["taken"] == "2026-11-22T06:00:00Z"
    first = pods[0]
    entry = snap["pods"]["/".join((first["metadata"]["namespace"], first["metadata"]["name"]))]
    assert entry == {"uid": first["metadata"]["uid"], "restarts": 0, "created": first["metadata"]["creationTimestamp"],
                     "owner": "Deployment/app-base"}


def test_same_pod_compared_with_its_count():
    pods = items("faults_pods.json")
    base = snapshot_of(pods)
    base["pods"][GATEWAY]["restarts"] = 1
    grown = C.restart_growth(pods, base)
    assert grown == {GATEWAY: {"pod": GATEWAY, "old": 1, "new": 4, "delta": 3, "recreated": False,
                               "owner": "Deployment/oltp-gateway-1-3-0"}}


def test_recreated_pod_of_the_same_deployment_compared_from_zero():
    """The crashing pod was deleted and its Deployment made a new one (new name, new uid) after the last
    inspection: all its restarts are new, even though no pod of that name is in the baseline."""
    pods = copy.deepcopy(items("faults_pods.json"))
    base = snapshot_of(pods, taken=dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.timezone.utc))
    old_entry = base["pods"].pop(GATEWAY)
    base["pods"]["product/oltp-gateway-1-3-0-6bdc7d7b75-zzzzz"] = dict(old_entry, uid="gone", restarts=7)
    pod = next(p for p in pods if "/".join((p["metadata"]["namespace"], p["metadata"]["name"])) == GATEWAY)
    pod["metadata"]["creationTimestamp"] = "2026-11-22T05:30:00Z"
    found = by_target(C.pod_findings(pods, baseline=base, now=NOW), "pods.restarts")
    assert found[GATEWAY]["summary"] == ("restarts 0 → 4 since last inspection "
                                         "(pod created since, Deployment/oltp-gateway-1-3-0)")
    assert found[GATEWAY]["details"]["recreated"] is True


def test_statefulset_pod_recreated_under_its_name_is_compared_from_zero():
    pods = copy.deepcopy(items("faults_pods.json"))
    base = snapshot_of(pods, taken=dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.timezone.utc))
    base["pods"][GATEWAY].update(uid="the-pod-before", restarts=9)
    pod = next(p for p in pods if "/".join((p["metadata"]["namespace"], p["metadata"]["name"])) == GATEWAY)
    pod["metadata"]["creationTimestamp"] = "2026-11-22T05:10:00Z"
    assert C.restart_growth(pods, base)[GATEWAY]["old"] == 0   # not "9 -> 4, went down, ignore"


def test_pods_older_than_the_baseline_it_does_not_know_are_not_compared():
    pods = items("faults_pods.json")
    base = snapshot_of(pods)
    del base["pods"][GATEWAY]   # e.g. its namespace was not listed last time
    assert GATEWAY not in C.restart_growth(pods, base)


def test_legacy_baseline_of_counts_still_works():
    pods = items("faults_pods.json")
    assert C.restart_growth(pods, {GATEWAY: 2})[GATEWAY]["delta"] == 2
    assert C.restart_growth(pods, {}) == {}


@pytest.mark.parametrize("baseline, message", [
    (["x"], "restart_baseline must be a dict"),
    ({"taken": "yesterday", "pods": {}}, "taken must be a UTC time"),
    ({"taken": "2026-11-22T05:00:00Z", "pods": {GATEWAY: 3}}, "must be a dict with restarts"),
    ({GATEWAY: "many"}, "is not a number"),
])
def test_bad_baselines_name_the_problem(baseline, message):
    with pytest.raises(C.CheckError, match=message):
        C.restart_growth(items("faults_pods.json"), baseline)
