"""Cluster-level inspection on the lab: kubeops.runbook.cluster_inspection (+ the report role) and its modules.

Faults injected here are undone in `finally`/context managers: kubelet and bird and etcd are started again
(lab.unit_stopped), test objects are deleted, a patched restart count is put back.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import api as lab_api

PLAYBOOK = """
- name: Cluster inspection only
  hosts: kube_control_plane:kube_node:etcd:calico
  gather_facts: false
  tasks:
    - name: Inspect the cluster
      ansible.builtin.include_role:
        name: kubeops.runbook.cluster_inspection
      vars:
        cluster_inspection_namespaces: [product, developer-center, kube-system]
    - name: Mark the host as inspected
      ansible.builtin.set_fact:
        kubeops_inspection_done: true

- name: Write the report
  hosts: localhost
  gather_facts: false
  roles:
    - role: kubeops.runbook.report
"""

UNSATISFIABLE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: kubeops-itest-unsatisfiable, namespace: product}
spec:
  replicas: 1
  selector: {matchLabels: {app: kubeops-itest-unsatisfiable}}
  template:
    metadata: {labels: {app: kubeops-itest-unsatisfiable}}
    spec:
      containers:
      - name: app
        image: harbor.lab/product/itest:1.0
        resources: {requests: {cpu: "600", memory: 1Gi}, limits: {cpu: "600", memory: 1Gi}}
"""


def run_module(lab, host: str, module: str, args: dict | None = None, check: bool = False,
               extra_vars: dict | None = None) -> dict:
    """One module on one host through `ansible` with the builtin minimal callback (``host | STATUS => {json}``).

    ``lab.module()`` needs the ``json`` callback of ansible.posix, which is not part of ansible-core 2.19.
    """
    cmd = [str(lab.root / ".venv/bin/ansible"), host, "-i", str(lab.inventory), "-m", module, "-a", json.dumps(args or {})]
    if check:
        cmd.append("--check")
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    env = lab.env()
    env.update({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_NOCOLOR": "1"})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=lab.root, timeout=600, check=False)
    start = proc.stdout.find(f"{host} | ")
    _head, sep, body = proc.stdout[max(start, 0):].partition(" => ")
    if start < 0 or not sep:
        raise AssertionError(f"unexpected ansible output (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(body)


def inspect(lab, report_dir: Path, **extra) -> dict:
    playbook = report_dir.parent / "cluster_inspection.yml"
    playbook.write_text(PLAYBOOK)
    proc = lab.playbook(str(playbook), extra_vars={"inspection_report_dir": str(report_dir), **extra})
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return json.loads((report_dir / "latest.json").read_text())


def k8s(lab, **args) -> dict:
    args.setdefault("kubeconfig", str(lab.kubeconfig))
    return run_module(lab, "localhost", "kubeops.runbook.k8s_cluster_info", args,
                      extra_vars={"ansible_python_interpreter": sys.executable})


def find(findings: list[dict], fid: str, target: str | None = None, host: str | None = None) -> list[dict]:
    return [f for f in findings if f["id"] == fid and (target is None or f["target"] == target)
            and (host is None or f["host"] == host)]


def critical(findings: list[dict]) -> list[str]:
    return [f"{f['id']} {f['target']} @{f['host']}: {f['summary']}" for f in findings if f["status"] == "critical"]


def test_healthy_twice_no_critical(lab, tmp_path):
    report_dir = tmp_path / "reports"
    for _run in range(2):
        report = inspect(lab, report_dir)
        assert critical(report["findings"]) == []
        cats = {f["category"] for f in report["findings"]}
        assert {"nodes", "deployments", "pods", "services", "workload_policy", "calico", "etcd"} <= cats
        assert find(report["findings"], "control_plane_services.api")[0]["status"] == "ok"
        assert {f["target"] for f in find(report["findings"], "etcd.member")} == {"master1", "node1", "node2"}
    # the second run read the first one's baseline and stored the new one
    assert report["baselines"]["pod_restarts"]
    assert report["new_since_last"] == []


def restore_pod_ready(lab, node: str) -> None:
    """Give back the pods' Ready condition that the node lifecycle controller cleared while the node was NotReady
    (the lab does the part of a returning kubelet's job that kwok does not)."""
    lab_api.resync_pods(node)


def test_kubelet_stopped_on_node2(lab):
    try:
        _kubelet_stopped_on_node2(lab)
    finally:
        restore_pod_ready(lab, "node2")


def _kubelet_stopped_on_node2(lab):
    # NotReady comes from kube-controller-manager's node lifecycle controller (grace period 20 s in the lab)
    lab.wait(lambda: lab.ssh("master1", "systemctl is-active kube-controller-manager", check=False).stdout.strip() == "active",
             "kube-controller-manager active", timeout=120)
    with lab.unit_stopped("node2", "kubelet"):
        deadline = time.monotonic() + 120
        while True:
            result = k8s(lab, checks=["nodes"])
            node2 = find(result["findings"], "nodes.ready", "node2")
            if node2 and node2[0]["status"] == "critical" or time.monotonic() > deadline:
                break
            time.sleep(5)
        assert node2[0]["status"] == "critical", node2
        assert node2[0]["host"] == "node2" and "NotReady" in node2[0]["summary"]
        assert find(result["findings"], "nodes.ready", "node1")[0]["status"] == "ok"


def test_unsatisfiable_scale_is_critical(lab, tmp_path):
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(UNSATISFIABLE)
    lab.kubectl("apply", "-f", str(manifest))
    try:
        # 600 cpu per replica on two 1000-cpu nodes: 5 replicas can never all run
        lab.kubectl("scale", "-n", "product", "deployment/kubeops-itest-unsatisfiable", "--replicas=5")
        deadline = time.monotonic() + 60
        while True:
            result = k8s(lab, checks=["deployments"], namespaces=["product"])
            [dep] = find(result["findings"], "deployments.replicas", "product/kubeops-itest-unsatisfiable")
            if dep["details"]["available"] >= 2 or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert dep["status"] == "critical", dep
        assert dep["summary"] == "desired 5, current 5, up-to-date 5, available 2: 3 unavailable"
    finally:
        lab.kubectl("delete", "-f", str(manifest), "--wait=false", check=False)


def test_restart_increase_between_inspections(lab, tmp_path):
    report_dir = tmp_path / "reports"
    first = inspect(lab, report_dir)
    pod = json.loads(lab.kubectl("get", "pods", "-n", "product", "-l", "app=wcs-webui-1-3-0", "-o", "json").stdout)["items"][0]
    name = pod["metadata"]["name"]
    before = pod["status"]["containerStatuses"][0]["restartCount"]
    assert first["baselines"]["pod_restarts"][f"product/{name}"] == before

    def patch(count: int) -> None:
        # kwok pods have no real container to crash: raise the count the kubelet would report, through the
        # pod status subresource (kwok leaves a Running pod's status alone afterwards)
        lab.kubectl("patch", "pod", "-n", "product", name, "--subresource=status", "--type=json",
                    "-p", json.dumps([{"op": "replace", "path": "/status/containerStatuses/0/restartCount", "value": count}]))
    patch(before + 3)
    try:
        second = inspect(lab, report_dir)
    finally:
        patch(before)
    [item] = find(second["findings"], "pods.restarts", f"product/{name}")
    assert item["summary"] == f"restarts {before} → {before + 3} since last inspection"
    assert item["status"] == "warning" and item["details"]["delta"] == 3
    assert f"pods.restarts:product/{name}@{item['host']}" in second["new_since_last"]


def test_bird_stopped_on_node1(lab):
    peers = {"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"}
    with lab.unit_stopped("node1", "bird", settle=3):
        seen = run_module(lab, "master1", "kubeops.runbook.calico_bgp_info",
                          {"host_name": "master1", "local_address": "198.18.0.11", "peer_hosts": peers})
        mine = find(seen["findings"], "calico.bgp_peer", "198.18.0.21", "master1")
        assert mine and mine[0]["status"] == "critical", seen["findings"]
        assert find(seen["findings"], "calico.bgp_peer", "198.18.0.11", "node1")[0]["status"] == "critical"
        assert find(seen["findings"], "calico.bgp_peer", "198.18.0.22", "master1")[0]["status"] == "ok"
        own = run_module(lab, "node1", "kubeops.runbook.calico_bgp_info", {"host_name": "node1", "peer_hosts": peers})
        assert own["source"] == "birdcl"
        assert [(f["id"], f["status"]) for f in own["findings"]] == [("calico.bird", "critical")]


def test_etcd_stopped_on_node2_inspection_completes(lab, tmp_path):
    with lab.unit_stopped("node2", "etcd", settle=2):
        report = inspect(lab, tmp_path / "reports")
    findings = report["findings"]
    [node2] = find(findings, "etcd.member", "node2")
    assert node2["status"] == "critical" and node2["host"] == "node2", node2
    [quorum] = find(findings, "etcd.quorum", "cluster")
    members = quorum["details"]["members"]
    # 2 of 3: quorum held, no more failure tolerated (another member added by a parallel test would change that)
    assert quorum["status"] == ("warning" if members == 3 else quorum["status"]) and quorum["status"] != "ok", quorum
    # the apiserver is still checked, and the rest of the cluster inspection ran
    assert find(findings, "control_plane_services.api")[0]["status"] == "ok"
    assert find(findings, "nodes.ready", "node1")[0]["status"] == "ok"
    assert {f["host"] for f in find(findings, "calico.bird")} == {"master1", "node1", "node2"}


def test_bad_input_fails_cleanly(lab):
    result = run_module(lab, "localhost", "kubeops.runbook.k8s_cluster_info", {"kubeconfig": "/nonexistent/kubeconfig"},
                        extra_vars={"ansible_python_interpreter": sys.executable})
    assert "findings" not in result and result["msg"] == "kubeconfig /nonexistent/kubeconfig does not exist"
    result = run_module(lab, "master1", "kubeops.runbook.etcd_cluster_info", {"endpoints": ["198.18.0.11:2379"]})
    # the minimal callback prints FAILED! in the header and the result without its 'failed' key
    assert "members" not in result and result["msg"] == "endpoints: '198.18.0.11:2379' is not a URL like https://198.18.0.11:2379"
    assert "Traceback" not in json.dumps(result)


@pytest.mark.parametrize("check", [True, False])
def test_check_mode(lab, check):
    result = run_module(lab, "master1", "kubeops.runbook.etcd_cluster_info",
                        {"endpoints": ["https://198.18.0.11:2379"], "cacert": "/etc/etcd/ssl/ca.pem",
                         "cert": "/etc/etcd/ssl/etcd-client.pem", "key": "/etc/etcd/ssl/etcd-client-key.pem"}, check=check)
    assert result["changed"] is False and len(result["members"]) >= 3
    assert {"master1", "node1", "node2"} <= {m["name"] for m in result["members"]}
