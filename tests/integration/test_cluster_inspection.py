"""Cluster-level inspection on the lab: kubeops.runbook.cluster_inspection (+ the report role) and its modules.

Faults injected here are undone in `finally`/context managers: kubelet and bird and etcd are started again
(lab.unit_stopped), test objects are deleted, a patched restart count is put back.
"""
from __future__ import annotations

import json
import sqlite3
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

MODULE_DEFAULTS = """
- name: Connection options set once per play for the k8s and etcd action groups
  hosts: master1
  gather_facts: false
  module_defaults:
    group/kubeops.runbook.k8s:
      kubeconfig: "{{ kubeops_kubeconfig }}"
      restart_baseline: {}
    group/kubeops.runbook.etcd:
      endpoints: "{{ kubeops_etcd_endpoints }}"
      cacert: "{{ kubeops_etcd_cacert }}"
      cert: "{{ kubeops_etcd_cert }}"
      key: "{{ kubeops_etcd_key }}"
  tasks:
    - name: Kubernetes API with no connection argument
      kubeops.runbook.k8s_cluster_info:
        checks: [nodes]
      delegate_to: localhost
      delegate_facts: true
      run_once: true
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      register: k8s
    - name: etcd with no connection argument
      kubeops.runbook.etcd_cluster_info: {}
      register: etcd
    - name: Save what they saw
      ansible.builtin.copy:
        content: "{{ {'api': k8s.findings | selectattr('id', 'equalto', 'control_plane_services.api') | first,
                      'etcd_members': etcd.members | length} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      delegate_to: localhost
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
    args.setdefault("restart_baseline", {})   # not the controller's history: these runs are not inspections
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
    assert first["baselines"]["pod_restarts"]["pods"][f"product/{name}"]["restarts"] == before

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


def restart_patcher(lab, name: str):
    def patch(count: int) -> None:
        lab.kubectl("patch", "pod", "-n", "product", name, "--subresource=status", "--type=json",
                    "-p", json.dumps([{"op": "replace", "path": "/status/containerStatuses/0/restartCount", "value": count}]))
    return patch


def test_restart_growth_still_seen_after_a_run_without_the_api(lab, tmp_path):
    """Healthy run (baseline), restarts grow, a run that cannot reach the API, a healthy run: the growth is reported
    against the last good baseline, which the run without the API left alone."""
    report_dir = tmp_path / "reports"
    inspect(lab, report_dir)
    pod = json.loads(lab.kubectl("get", "pods", "-n", "product", "-l", "app=ihs-conclude-1-3-0", "-o", "json").stdout)["items"][0]
    name = pod["metadata"]["name"]
    before = pod["status"]["containerStatuses"][0]["restartCount"]
    patch = restart_patcher(lab, name)
    unreachable = tmp_path / "unreachable.kubeconfig"
    unreachable.write_text(lab.kubeconfig.read_text().replace("https://198.18.0.11:6443", "https://198.18.0.11:6449"))
    patch(before + 2)
    try:
        down = inspect(lab, report_dir, kubeops_kubeconfig=str(unreachable))
        after = inspect(lab, report_dir)
    finally:
        patch(before)
    [api] = find(down["findings"], "control_plane_services.api")
    assert api["status"] == "critical" and "6449" in api["summary"]
    assert "baselines" not in down                       # nothing stored: the last good baseline stays
    [item] = find(after["findings"], "pods.restarts", f"product/{name}")
    assert item["summary"] == f"restarts {before} → {before + 2} since last inspection"
    assert item["status"] == "warning"
    with sqlite3.connect(report_dir / "history.sqlite") as db:
        (taken,) = db.execute("SELECT taken FROM baselines WHERE cluster = 'lab' AND name = 'pod_restarts'").fetchone()
    assert taken == after["baselines"]["pod_restarts"]["taken"]


def test_bird_stopped_on_node1(lab):
    peers = {"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"}
    with lab.unit_stopped("node1", "bird", settle=3):
        seen = run_module(lab, "master1", "kubeops.runbook.calico_bgp_info",
                          {"local_address": "198.18.0.11", "peer_hosts": peers})
        mine = find(seen["findings"], "calico.bgp_peer", "198.18.0.21", "master1")
        assert mine and mine[0]["status"] == "critical", seen["findings"]
        assert find(seen["findings"], "calico.bgp_peer", "198.18.0.11", "node1")[0]["status"] == "critical"
        assert find(seen["findings"], "calico.bgp_peer", "198.18.0.22", "master1")[0]["status"] == "ok"
        own = run_module(lab, "node1", "kubeops.runbook.calico_bgp_info", {"peer_hosts": peers})
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


def test_bad_input_is_an_unknown_finding(lab):
    result = run_module(lab, "localhost", "kubeops.runbook.k8s_cluster_info", {"kubeconfig": "/nonexistent/kubeconfig",
                                                                               "restart_baseline": {}},
                        extra_vars={"ansible_python_interpreter": sys.executable})
    assert result["msg"] == "kubeconfig /nonexistent/kubeconfig does not exist"
    [item] = result["findings"]
    assert (item["id"], item["status"]) == ("control_plane_services.api", "unknown")
    assert item["summary"] == "check could not run: kubeconfig /nonexistent/kubeconfig does not exist"
    result = run_module(lab, "master1", "kubeops.runbook.etcd_cluster_info", {"endpoints": ["198.18.0.11:2379"]})
    assert "members" not in result and result["msg"] == "endpoints: '198.18.0.11:2379' is not a URL like https://198.18.0.11:2379"
    assert [(f["id"], f["target"], f["status"]) for f in result["findings"]] == [("etcd.quorum", "cluster", "unknown")]
    assert "Traceback" not in json.dumps(result)


def test_connection_set_once_with_module_defaults_of_the_action_group(lab, tmp_path):
    playbook = tmp_path / "defaults.yml"
    playbook.write_text(MODULE_DEFAULTS)
    proc = lab.playbook(str(playbook), extra_vars={"out": str(tmp_path / "out.json")})
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["api"]["status"] == "ok" and out["api"]["target"] == "https://198.18.0.11:6443"
    assert out["etcd_members"] >= 3


@pytest.mark.parametrize("check", [True, False])
def test_check_mode(lab, check):
    result = run_module(lab, "master1", "kubeops.runbook.etcd_cluster_info",
                        {"endpoints": ["https://198.18.0.11:2379"], "cacert": "/etc/etcd/ssl/ca.pem",
                         "cert": "/etc/etcd/ssl/etcd-client.pem", "key": "/etc/etcd/ssl/etcd-client-key.pem"}, check=check)
    assert result["changed"] is False and len(result["members"]) >= 3
    assert {"master1", "node1", "node2"} <= {m["name"] for m in result["members"]}
