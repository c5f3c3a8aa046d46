"""Capacity and headroom on the lab: pods pinned to node1 whose CPU requests bring it to 90 % of its allocatable make
node1's capacity.requests a warning; with a pod on node2 too, a pool of node1 and node2 can no longer lose its largest
node. The module reads it all from the nodes and pods it lists anyway (one LIST each)."""
from __future__ import annotations

import json

import pytest

from test_cluster_inspection import find, k8s

NAMESPACE = "kubeops-itest-capacity"
POOL_LABEL = "kubeops.test/capacity-pool"


def _pod(name: str, node: str, cpu_millis: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "restartPolicy": "Always",
                     "containers": [{"name": "app", "image": "busybox",
                                     "resources": {"requests": {"cpu": f"{cpu_millis}m", "memory": "64Mi"}}}]}}


def _millis(cpu: str) -> int:
    """A node's allocatable CPU in millicores: "1k" (kwok's 1000 cores), "4", "3920m"."""
    scale = {"m": 1, "k": 1_000_000}.get(cpu[-1:], None)
    return int(cpu[:-1]) * scale if scale else int(float(cpu) * 1000)


@pytest.fixture
def node1_over_its_requests(lab, tmp_path):
    nodes = {n["metadata"]["name"]: n for n in json.loads(lab.kubectl("get", "nodes", "-o", "json").stdout)["items"]}
    node1, node2 = (_millis(nodes[n]["status"]["allocatable"]["cpu"]) for n in ("node1", "node2"))
    big = node1 * 90 // 100                               # node1 at ~90 %: above the 85 % warning, below 95 %
    small = max(node1, node2) - big + node2 * 5 // 100    # the pair then requests more than one node can hold
    manifest = tmp_path / "pods.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                    "items": [_pod("big", "node1", big), _pod("small", "node2", small)]}))
    lab.create_namespace(NAMESPACE)
    try:
        lab.kubectl("label", "node", "node1", "node2", f"{POOL_LABEL}=a", "--overwrite")
        lab.kubectl("apply", "-f", str(manifest))

        def bound() -> bool:
            pods = json.loads(lab.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
            return len(pods) == 2 and all(p["spec"].get("nodeName") for p in pods)
        lab.wait(bound, "both pods bound to their nodes", timeout=60, interval=1)
        yield
    finally:
        lab.kubectl("label", "node", "node1", "node2", f"{POOL_LABEL}-", check=False)
        lab.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s", check=False)


def test_a_node_over_its_requests_threshold_and_a_pool_that_cannot_lose_a_node(lab, node1_over_its_requests):
    result = k8s(lab, checks=["capacity"], capacity_pool_label=POOL_LABEL)
    findings = result["findings"]
    [node1] = find(findings, "capacity.requests", "node1")
    assert node1["status"] == "warning", node1
    assert node1["host"] == "node1" and "cpu 9" in node1["summary"], node1
    assert 85 <= node1["details"]["cpu"]["percent"] < 95, node1
    [node2] = find(findings, "capacity.requests", "node2")
    assert node2["status"] == "ok", node2
    [pool] = find(findings, "capacity.pool", f"pool:{POOL_LABEL}=a")
    assert pool["status"] == "warning" and "cannot lose its largest node" in pool["summary"], pool
    assert pool["details"]["nodes"] == ["node1", "node2"], pool
    # the lab serves no metrics.k8s.io: usage is said to be unmeasured, not a failure
    usage_result = k8s(lab, checks=["node_usage"])
    usage = usage_result["findings"]
    assert [(f["id"], f["target"], f["status"]) for f in usage if f["id"] == "capacity.usage"] == [
        ("capacity.usage", "cluster", "ok")], usage
    assert usage_result["api_requests"] == {"nodes": 1, "node_metrics": 1}
    assert result["api_requests"] == {"nodes": 1, "pods": 1}


# -- the disk check on a kubelet host: thresholds before the kubelet's eviction ones ---------------------------
KUBELET_CONFIG = "/tmp/kubeops-itest-kubelet-config.yaml"


def _root_disk(lab, **options) -> dict:
    from test_cluster_inspection import run_module
    result = run_module(lab, "node1", "kubeops.runbook.host_inspection_info",
                        {"checks": [{"check": "disk_usage_info", "options": {"paths": ["/"], **options}}]})
    [root] = [f for f in result["findings"] if f["id"] == "disk.space" and f["target"] == "/"]
    return root


def test_disk_thresholds_come_before_the_kubelets_eviction_thresholds(lab):
    """node1's kubelet is kwok: its unit's --config is a kwok Stage file, so the configured thresholds stay and the
    finding says why. Given a KubeletConfiguration whose nodefs.available keeps 10 % more than is free today, the
    warning moves below today's usage (the kubelet would evict at the critical level, still above it)."""
    plain = _root_disk(lab)
    assert plain["status"] == "ok" and plain["details"]["warning"] == 80, plain
    assert "not a KubeletConfiguration" in plain["details"]["kubelet"]["note"], plain
    used = plain["details"]["used_percent"]
    free_kept = int(100 - used - 10)                      # the kubelet would evict ~10 % above today's usage
    config = ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
              f"evictionHard:\n  nodefs.available: \"{free_kept}%\"\n")
    lab.ssh("node1", f"cat > {KUBELET_CONFIG} <<'EOF'\n{config}EOF\n")
    try:
        root = _root_disk(lab, kubelet_config=KUBELET_CONFIG, kubelet_eviction_margin=20)
    finally:
        lab.ssh("node1", f"rm -f {KUBELET_CONFIG}", check=False)
    assert root["status"] == "warning", root
    assert root["details"]["critical"] == 100 - free_kept and root["details"]["warning"] == 100 - free_kept - 20, root
    assert root["details"]["kubelet"]["signals"] == {"nodefs.available": {"hard": f"{free_kept}%", "soft": None}}
    assert f"the kubelet evicts pods below {free_kept}% free (nodefs.available)" in root["summary"], root
