"""_k8s_capacity: requests per node, headroom per pool, usage from metrics.k8s.io (captured lab nodes and pods)."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from kubernetes.client import rest

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s as K
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_capacity as C
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_checks as checks

FIX = Path(__file__).parent / "fixtures" / "k8s"


def load(name: str) -> list[dict]:
    return json.loads((FIX / name).read_text())["items"]


HEALTHY_NODES, HEALTHY_PODS = load("healthy_nodes.json"), load("healthy_pods.json")
OVER_NODES, OVER_PODS = load("capacity/over_nodes.json"), load("capacity/over_pods.json")


def by_target(findings: list[dict], fid: str) -> dict[str, dict]:
    return {f["target"]: f for f in findings if f["id"] == fid}


def test_healthy_lab_is_ok():
    found = C.cluster_findings(["capacity"], {"nodes": HEALTHY_NODES, "pods": HEALTHY_PODS}, {})
    assert {(f["id"], f["target"], f["status"]) for f in found} == {
        ("capacity.requests", "node1", "ok"), ("capacity.requests", "node2", "ok"), ("capacity.pool", "pool:all", "ok")}


def test_node1_over_its_requests_and_the_pool_cannot_lose_a_node():
    """The lab with a 900-cpu pod pinned to node1 and a 150-cpu one on node2 (two 1000-cpu kwok nodes)."""
    found = C.cluster_findings(["capacity"], {"nodes": OVER_NODES, "pods": OVER_PODS}, {"node_hosts": {"node1": "n1"}})
    requests = by_target(found, "capacity.requests")
    node1 = requests["node1"]
    assert node1["status"] == "warning" and node1["host"] == "n1"
    assert node1["summary"].startswith("cpu 90.4% requested (904 of 1000), memory 0.7% requested")
    assert node1["details"]["cpu"] == {"requested": 904, "allocatable": 1000, "percent": 90.4}
    assert node1["details"]["pods"]["count"] == 14
    assert requests["node2"]["status"] == "ok"
    [pool] = [f for f in found if f["id"] == "capacity.pool"]
    assert pool["target"] == "pool:all" and pool["status"] == "warning"
    assert "cannot lose its largest node node1: cpu 1054.5 requested, 1000 left without it" in pool["summary"]
    assert pool["details"]["cpu"] == {"requested": 1054.5, "allocatable": 2000, "without_largest": 1000}


def test_thresholds_are_options():
    found = C.request_findings(OVER_NODES, OVER_PODS, warning=50, critical=90)
    assert by_target(found, "capacity.requests")["node1"]["status"] == "critical"
    assert by_target(C.request_findings(OVER_NODES, OVER_PODS, warning=None, critical=None),
                     "capacity.requests")["node1"]["status"] == "ok"


@pytest.mark.parametrize("options, message", [
    ({"capacity_requests_warning": 96, "capacity_requests_critical": 95}, "capacity_requests_warning 96 is above"),
    ({"capacity_usage_critical": 0}, "capacity_usage_critical must be a percentage above 0"),
    ({"capacity_requests_warning": 120}, "capacity_requests_warning must be a percentage above 0 and at most 100, got 120"),
])
def test_bad_thresholds_are_one_line_errors(options, message):
    with pytest.raises(checks.CheckError, match=message):
        checks.inspect_cluster(object(), {"checks": ["capacity"], **options}, lister=mock.Mock())


def test_finished_and_unbound_pods_hold_nothing():
    pods = copy.deepcopy(OVER_PODS)
    big = next(p for p in pods if p["metadata"]["name"] == "big")
    for phase in ("Succeeded", "Failed"):
        big["status"]["phase"] = phase
        assert by_target(C.request_findings(OVER_NODES, pods), "capacity.requests")["node1"]["status"] == "ok"
    big["status"]["phase"] = "Pending"
    del big["spec"]["nodeName"]
    assert by_target(C.request_findings(OVER_NODES, pods), "capacity.requests")["node1"]["status"] == "ok"
    big["spec"]["nodeName"] = "node1"      # bound, its containers not started yet: it holds its requests
    assert by_target(C.request_findings(OVER_NODES, pods), "capacity.requests")["node1"]["status"] == "warning"


def test_pod_requests_count_init_containers_sidecars_and_overhead():
    pod = copy.deepcopy(next(p for p in OVER_PODS if p["metadata"]["name"] == "big"))
    assert C.pod_requests(pod) == {"cpu": Decimal(900), "memory": Decimal(64 * 2 ** 20)}
    pod["spec"]["initContainers"] = [
        {"name": "migrate", "resources": {"requests": {"cpu": "950", "memory": "1Mi"}}},
        {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "10", "memory": "16Mi"}}},
    ]
    pod["spec"]["overhead"] = {"cpu": "250m"}
    # cpu: max(900 + 10 sidecar, 950 init) + 0.25 overhead; memory: 64Mi + 16Mi
    assert C.pod_requests(pod) == {"cpu": Decimal("950.25"), "memory": Decimal(80 * 2 ** 20)}


def test_too_many_pods_for_the_node():
    nodes = copy.deepcopy(OVER_NODES)
    nodes[1]["status"]["allocatable"]["pods"] = "3"
    node2 = by_target(C.request_findings(nodes, OVER_PODS), "capacity.requests")["node2"]
    assert node2["status"] == "critical" and "pods 3 of 3 (100%)" in node2["summary"]


def test_cordoned_nodes_do_not_count_as_capacity_but_their_pods_do():
    nodes = copy.deepcopy(HEALTHY_NODES)
    nodes[1]["spec"]["unschedulable"] = True
    [pool] = C.pool_findings(nodes, HEALTHY_PODS)
    assert pool["status"] == "warning", pool      # one schedulable node left: losing it leaves nothing
    assert pool["details"]["cordoned"] == ["node2"] and pool["details"]["nodes"] == ["node1"]
    assert "cordoned and not counted: node2" in pool["summary"]
    requested = sum(C.pod_requests(p)["cpu"] for p in HEALTHY_PODS if C.holds_resources(p))
    assert pool["details"]["cpu"]["requested"] == float(requested)


def test_pools_by_label_and_the_default_pool_leaves_control_plane_nodes_out():
    nodes = copy.deepcopy(OVER_NODES)
    nodes[0]["metadata"]["labels"]["pool"] = "a"
    nodes[1]["metadata"]["labels"]["pool"] = "b"
    pools = by_target(C.pool_findings(nodes, OVER_PODS, "pool"), "capacity.pool")
    assert sorted(pools) == ["pool:pool=a", "pool:pool=b"]
    # a pool of one node with requests on it can never lose that node
    assert pools["pool:pool=a"]["status"] == "warning" and pools["pool:pool=a"]["details"]["cpu"]["without_largest"] == 0
    assert list(by_target(C.pool_findings(nodes, OVER_PODS, "node-role.kubernetes.io/worker"), "capacity.pool")) == [
        "pool:node-role.kubernetes.io/worker="]
    assert C.pool_findings(nodes, OVER_PODS, "no-such-label") == []
    nodes[0]["spec"]["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    [pool] = C.pool_findings(nodes, OVER_PODS)
    assert pool["details"]["nodes"] == ["node2"]


# -- usage from metrics.k8s.io --------------------------------------------------------------------------------
# NodeMetrics as metrics-server serves them (the lab has no metrics-server: the shape of the v1beta1 API)
METRICS = [{"metadata": {"name": "node1"}, "timestamp": "2026-12-06T16:00:00Z", "window": "20s",
            "usage": {"cpu": "880000000000n", "memory": "104857600Ki"}},
           {"metadata": {"name": "node2"}, "timestamp": "2026-12-06T16:00:00Z", "window": "20s",
            "usage": {"cpu": "970", "memory": "1Gi"}}]


def test_usage_against_allocatable():
    found = by_target(C.cluster_findings(["node_usage"], {"nodes": OVER_NODES}, {}, metrics_lister=lambda: METRICS),
                      "capacity.usage")
    assert found["node1"]["status"] == "warning" and found["node1"]["summary"].startswith("cpu 88% used (880 of 1000)")
    assert found["node2"]["status"] == "critical"
    only_node1 = by_target(C.usage_findings(OVER_NODES, METRICS[:1]), "capacity.usage")
    assert only_node1["node2"]["status"] == "unknown"


class FakeResponse:
    def __init__(self, body: dict, status: int = 200):
        self.status, self.reason = status, "OK"
        self.data = json.dumps(body).encode()
        self.headers = {"content-type": "application/json"}

    def getheaders(self):
        return self.headers

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


def _client():
    return K.build_client({"host": "https://198.18.0.11:6443", "validate_certs": False, "api_key": "t0ken"})


@pytest.mark.parametrize("answer, status, summary", [
    (404, "ok", "usage not measured: metrics.k8s.io is not served by this cluster (no metrics-server)"),
    (503, "unknown", "check could not run: metrics.k8s.io: Kubernetes API answered HTTP 503 Service Unavailable"),
    (403, "unknown", "check could not run: metrics.k8s.io: Kubernetes API refused the credentials (HTTP 403"),
    (200, "warning", "cpu 88% used"),
])
def test_metrics_api_answers(answer, status, summary):
    """One LIST of NodeMetrics; a group that is not registered (404) is said to be unmeasured, a registered one that
    fails (503: metrics-server down) or refuses is an unknown finding, never a failure of the inspection."""
    calls = []

    def request(self, method, url, query_params=None, headers=None, body=None, post_params=None,
                _preload_content=True, _request_timeout=None):
        calls.append(url)
        if answer != 200:
            raise rest.ApiException(status=answer, reason={404: "Not Found", 503: "Service Unavailable",
                                                           403: "Forbidden"}[answer])
        return FakeResponse({"kind": "NodeMetricsList", "items": METRICS[:1]})

    requests: dict[str, int] = {}
    with mock.patch.object(rest.RESTClientObject, "request", request):
        found = C.cluster_findings(["node_usage"], {"nodes": OVER_NODES[:1]}, {}, api_client=_client(), requests=requests)
    assert calls == ["https://198.18.0.11:6443/apis/metrics.k8s.io/v1beta1/nodes"] and requests == {"node_metrics": 1}
    [usage] = found
    assert usage["status"] == status and usage["summary"].startswith(summary), usage
