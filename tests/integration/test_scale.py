"""scale_out.yml on the lab: workloads within bounds, and spare1 joined as a worker (then removed again)."""
from __future__ import annotations

import json
import time

import pytest

from test_etcd_backup import run_module

NS = f"kubeops-scale-test-{int(time.time()) % 100000}"


def delete_namespace(lab, namespace: str) -> None:
    """Delete a test namespace and wait until it is gone: kwok logs an error for each of its pods it is still playing a
    stage on while they go, and those lines must land in this module's time, not in the next test's log window.
    The wait stays under the 120 s that kubectl() allows a call."""
    lab.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--timeout=100s", check=False)


@pytest.fixture(scope="module")
def deployment(lab):
    lab.create_namespace(NS)
    lab.kubectl("-n", NS, "create", "deployment", "web", "--image=harbor.lab/product/oltp-gateway:1.3.0", "--replicas=2")
    lab.wait(lambda: lab.kubectl("-n", NS, "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}").stdout == "2",
             "web has 2 ready replicas", 120)
    try:
        yield "web"
    finally:
        delete_namespace(lab, NS)


def scale_args(lab, **kw):
    return {"kubeconfig": str(lab.kubeconfig), "namespace": NS, "name": "web", **kw}


def replicas(lab):
    return int(lab.kubectl("-n", NS, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout)


def test_scale_within_bounds_waits_for_rollout(lab, deployment, tmp_path):
    audit = tmp_path / "audit.log"
    wanted = {"namespace": NS, "name": "web", "replicas": 4, "min_replicas": 1, "max_replicas": 5}
    extra = {"kubeops_audit_log": str(audit), "scale_out_replicas": [wanted]}
    check = lab.playbook("playbooks/scale_out.yml", extra_vars=extra, check=True, extra_args=["--diff"])
    assert check.returncode == 0, check.stdout + check.stderr
    assert "+    replicas: 4" in check.stdout and replicas(lab) == 2
    proc = lab.playbook("playbooks/scale_out.yml", extra_vars=extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(lab.kubectl("-n", NS, "get", "deploy", "web", "-o", "json").stdout)["status"]
    assert replicas(lab) == 4 and status["readyReplicas"] == 4, status
    again = lab.playbook("playbooks/scale_out.yml", extra_vars=extra)
    assert "changed=0" in again.stdout.split("PLAY RECAP")[1].splitlines()[1]
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [(x["check_mode"], x["before"], x["after"]) for x in lines] == [
        (True, {"replicas": 2}, {"replicas": 4}), (False, {"replicas": 2}, {"replicas": 4})]
    assert lines[1]["target"] == f"{NS}/Deployment/web"


@pytest.mark.parametrize("args,message", [
    ({"replicas": 9, "max_replicas": 5}, "above max_replicas 5"),
    ({"replicas": 0, "min_replicas": 1}, "below min_replicas 1"),
    ({"replicas": 3, "only_if_current": 7}, "not 7 as only_if_current requires"),
])
def test_refused_beyond_bounds_or_guard(lab, deployment, args, message):
    before = replicas(lab)
    result = run_module(lab, "localhost", "kubeops.runbook.k8s_scale", scale_args(lab, **args))
    assert result.get("failed") and message in result["msg"], result
    assert replicas(lab) == before


def test_missing_workload_is_one_line(lab, deployment):
    result = run_module(lab, "localhost", "kubeops.runbook.k8s_scale", scale_args(lab, name="nope", replicas=1))
    assert result.get("failed") and result["msg"] == f"Deployment {NS}/nope not found"


@pytest.fixture(scope="module")
def spare1_worker(lab):
    """spare1 joined as a worker by scale_out.yml; removed again (units, credentials, Node) at the end.

    spare1 is a bare host: without iptables (an OS package) the role refuses to install kube-proxy, with a clear
    message; it then joins without kube-proxy."""
    extra = {"scale_out_worker": "spare1"}
    if lab.ssh("spare1", "command -v iptables", check=False).returncode != 0:
        refused = lab.playbook("playbooks/scale_out.yml", extra_vars=extra)
        assert refused.returncode != 0 and "lacks iptables which kube-proxy needs" in refused.stdout, refused.stdout
        extra["k8s_worker_proxy_enabled"] = False
    proc = lab.playbook("playbooks/scale_out.yml", extra_vars=extra)
    try:
        yield proc, extra
    finally:
        lab.playbook("playbooks/scale_out.yml", extra_vars={**extra, "k8s_worker_state": "absent"})
        lab.ssh("spare1", "rm -rf /etc/kubernetes /app/kubernetes; rmdir /app 2>/dev/null; systemctl daemon-reload", check=False)


@pytest.mark.mutates_lab
def test_worker_joins_ready_labeled_and_runs_pods(lab, spare1_worker):
    proc, extra = spare1_worker
    assert proc.returncode == 0, proc.stdout + proc.stderr
    node = json.loads(lab.kubectl("get", "node", "spare1", "-o", "json").stdout)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "True"
    assert "node-role.kubernetes.io/worker" in node["metadata"]["labels"]
    for unit in ("kubelet", "kube-proxy") if extra.get("k8s_worker_proxy_enabled", True) else ("kubelet",):
        assert lab.ssh("spare1", f"systemctl is-active {unit}").stdout.strip() == "active"
    lab.create_namespace(f"{NS}-pods")
    try:
        lab.kubectl("-n", f"{NS}-pods", "run", "on-spare1", "--image=harbor.lab/product/oltp-gateway:1.3.0",
                    "--overrides", json.dumps({"spec": {"nodeSelector": {"kubernetes.io/hostname": "spare1"}}}))
        lab.wait(lambda: lab.kubectl("-n", f"{NS}-pods", "get", "pod", "on-spare1", "-o", "jsonpath={.status.phase}").stdout
                 == "Running", "pod running on spare1", 120)
        assert lab.kubectl("-n", f"{NS}-pods", "get", "pod", "on-spare1", "-o", "jsonpath={.spec.nodeName}").stdout == "spare1"
    finally:
        delete_namespace(lab, f"{NS}-pods")


@pytest.mark.mutates_lab
def test_worker_again_changes_nothing(lab, spare1_worker):
    proc = lab.playbook("playbooks/scale_out.yml", extra_vars=spare1_worker[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = [ln for ln in proc.stdout.split("PLAY RECAP")[1].splitlines() if ln.startswith("spare1")][0]
    assert "changed=0" in recap, recap


def test_zero_and_protected_namespace_refused_on_the_lab(lab, deployment):
    before = replicas(lab)
    zero = run_module(lab, "localhost", "kubeops.runbook.k8s_scale", scale_args(lab, replicas=0))
    assert zero.get("failed") and "refusing without allow_zero" in zero["msg"], zero
    system = run_module(lab, "localhost", "kubeops.runbook.k8s_scale",
                        {"kubeconfig": str(lab.kubeconfig), "namespace": "kube-system", "name": "calico-kube-controllers",
                         "replicas": 2, "kind": "Deployment"})
    assert system.get("failed") and "protected namespace kube-system" in system["msg"], system
    assert replicas(lab) == before


def test_role_keeps_max_replicas_zero_as_a_bound(lab, deployment):
    """The review's reproducer: the scale role dropped max_replicas: 0 as 'empty' (default(omit, true)) and scaled."""
    before = replicas(lab)
    entry = {"namespace": NS, "name": "web", "replicas": before + 1, "max_replicas": 0}
    proc = lab.playbook("playbooks/scale_out.yml", extra_vars={"scale_out_replicas": [entry]})
    assert proc.returncode != 0
    assert f"replicas {before + 1} for Deployment {NS}/web is above max_replicas 0; refusing" in proc.stdout, proc.stdout[-3000:]
    assert replicas(lab) == before


def test_removing_two_workers_in_one_run_is_refused(lab):
    proc = lab.playbook("playbooks/scale_out.yml", extra_vars={"scale_out_worker": "spare1:node2", "k8s_worker_state": "absent"})
    assert proc.returncode != 0
    assert "worker removal refused before any change: this run would remove 2 hosts" in proc.stdout, proc.stdout[-3000:]
    node2 = json.loads(lab.kubectl("get", "node", "node2", "-o", "json").stdout)
    assert not node2["spec"].get("unschedulable")
    assert lab.ssh("node2", "systemctl is-active kubelet").stdout.strip() == "active"


def test_worker_removal_refused_when_no_node_matches_while_a_kubelet_runs(lab):
    """node1 named as no Node is called, labelled or addressed: 1.1.0 found no Node, skipped the drain and stopped the
    kubelet anyway. Refused before any change - in check mode first, then for real."""
    extra = {"scale_out_worker": "node1", "k8s_worker_state": "absent", "k8s_worker_name": "k8snode01.example.com",
             "k8s_worker_node_addresses": ["198.18.0.99"]}
    message = ("worker removal of k8snode01.example.com refused before any change: no Node is called k8snode01.example.com, "
               "has the hostname label k8snode01.example.com or the InternalIP 198.18.0.99, but a kubelet is installed there")
    for check in (True, False):
        proc = lab.playbook("playbooks/scale_out.yml", extra_vars=extra, check=check)
        assert proc.returncode != 0 and message in proc.stdout, proc.stdout[-3000:]
    node1 = json.loads(lab.kubectl("get", "node", "node1", "-o", "json").stdout)
    assert not node1["spec"].get("unschedulable")
    assert lab.host("node1").service("kubelet").is_running


def test_worker_removal_refused_on_a_control_plane_host_or_node(lab):
    master = lab.playbook("playbooks/scale_out.yml", extra_vars={"scale_out_worker": "master1", "k8s_worker_state": "absent"})
    assert master.returncode != 0
    assert "worker removal of master1 refused before any change: it is in group kube_control_plane" in master.stdout, master.stdout[-3000:]
    lab.kubectl("label", "node", "node2", "node-role.kubernetes.io/control-plane=")
    try:
        proc = lab.playbook("playbooks/scale_out.yml", extra_vars={"scale_out_worker": "node2", "k8s_worker_state": "absent"},
                            check=True)
        assert proc.returncode != 0
        assert ("worker removal of node2 refused before any change: its Node node2 (found by name) is a control-plane node"
                in proc.stdout), proc.stdout[-3000:]
    finally:
        lab.kubectl("label", "node", "node2", "node-role.kubernetes.io/control-plane-")
    node2 = json.loads(lab.kubectl("get", "node", "node2", "-o", "json").stdout)
    assert not node2["spec"].get("unschedulable") and lab.host("node2").service("kubelet").is_running


def pinned_with_pdb(lab, ns: str) -> None:
    """A Deployment pinned to spare1 and a PodDisruptionBudget that allows no disruption of it."""
    lab.create_namespace(ns)
    lab.kubectl("-n", ns, "create", "deployment", "pinned", "--image=harbor.lab/product/oltp-gateway:1.3.0")
    lab.kubectl("-n", ns, "patch", "deployment", "pinned", "-p",
                json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/hostname": "spare1"}}}}}))
    lab.wait(lambda: lab.kubectl("-n", ns, "get", "deploy", "pinned", "-o", "jsonpath={.status.readyReplicas}").stdout == "1",
             "pinned pod ready on spare1", 120)
    lab.kubectl("-n", ns, "create", "poddisruptionbudget", "keep", "--selector=app=pinned", "--min-available=1")


@pytest.mark.mutates_lab
def test_failed_drain_leaves_a_node_cordoned_before_the_run_cordoned(lab, spare1_worker):
    """Someone cordoned spare1 for maintenance; a removal whose drain a PDB blocks must not uncordon it (1.1.0 did)."""
    ns = f"{NS}-cordoned"
    extra = {**spare1_worker[1], "k8s_worker_state": "absent", "k8s_worker_drain_timeout": 15}
    try:
        pinned_with_pdb(lab, ns)
        lab.kubectl("cordon", "spare1")
        blocked = lab.playbook("playbooks/scale_out.yml", extra_vars=extra)
        assert blocked.returncode != 0
        assert "the node is left cordoned, as it was before this run" in blocked.stdout, blocked.stdout[-3000:]
        node = json.loads(lab.kubectl("get", "node", "spare1", "-o", "json").stdout)
        assert node["spec"].get("unschedulable") is True, node["spec"]
        assert lab.ssh("spare1", "systemctl is-active kubelet").stdout.strip() == "active"
    finally:
        lab.kubectl("uncordon", "spare1", check=False)
        delete_namespace(lab, ns)


@pytest.mark.mutates_lab
def test_worker_removal_drains_first_and_stops_when_a_pdb_blocks(lab, spare1_worker, tmp_path):
    """A Deployment pinned to spare1 with a PodDisruptionBudget that allows no disruption: the drain cannot evict it,
    so removal stops - node uncordoned, nothing else touched. Without the PDB the node is drained and deleted - here
    through an inventory alias of spare1 (a name no Node has: the Node is found by its InternalIP; 1.1.0 found none,
    skipped the drain and stopped the kubelet, leaving the Node and its pod)."""
    ns = f"{NS}-drain"
    audit = tmp_path / "audit.log"
    extra = {**spare1_worker[1], "k8s_worker_state": "absent", "k8s_worker_drain_timeout": 20, "kubeops_audit_log": str(audit)}
    alias = tmp_path / "alias.yml"
    alias.write_text("all:\n  hosts:\n    spare1-alias:\n      ansible_host: 198.18.0.41\n")
    try:
        pinned_with_pdb(lab, ns)
        blocked = lab.playbook("playbooks/scale_out.yml", extra_vars=extra)
        assert blocked.returncode != 0
        assert "worker removal of spare1 stopped: drain of Node spare1 did not finish within 20s" in blocked.stdout, blocked.stdout[-3000:]
        assert "the node is uncordoned again" in blocked.stdout
        node = json.loads(lab.kubectl("get", "node", "spare1", "-o", "json").stdout)
        assert not node["spec"].get("unschedulable"), node["spec"]
        assert lab.ssh("spare1", "systemctl is-active kubelet").stdout.strip() == "active"
        lab.kubectl("-n", ns, "delete", "poddisruptionbudget", "keep")
        removed = lab.playbook("playbooks/scale_out.yml", extra_vars={**extra, "scale_out_worker": "spare1-alias"},
                               extra_args=["-i", str(alias)])
        assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr
        assert lab.kubectl("get", "node", "spare1", check=False).returncode != 0
        assert lab.ssh("spare1", "systemctl is-active kubelet", check=False).stdout.strip() != "active"
        pods = json.loads(lab.kubectl("-n", ns, "get", "pods", "-o", "json").stdout)["items"]
        assert all(p["spec"].get("nodeName") in (None, "") for p in pods), pods     # evicted: the replacement waits
        lines = [json.loads(x) for x in audit.read_text().splitlines()]
        assert [x["action"] for x in lines] == ["k8s_worker drain failed", "k8s_worker drain", "k8s_worker absent"], lines
        assert (lines[1]["target"], lines[1]["found_by"], lines[1]["inventory_host"]) == ("spare1", "internal_ip", "spare1-alias")
    finally:
        delete_namespace(lab, ns)
