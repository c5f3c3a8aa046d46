"""The maintenance runbooks on the lab.

node_maintenance.yml: a deployment of four pods spread over node1 and node2 under a PodDisruptionBudget that allows one
unavailable, drained in waves of one (rolling: drain, uncordon, next wave) while a watcher counts its Ready pods - never
more than one down; calico-node untouched; each node off the load balancer (a task file that logs the calls) before its
cordon and back after its uncordon; both nodes schedulable at the end. A window in the past refuses before any change.
A budget that allows nothing stops the first wave after its timeout, naming the pod; that node stays cordoned, the next
is untouched, and uncordon brings it back.

etcd_maintenance.yml: the three members compacted and defragmented, the leader last, while a probe loop on the
apiserver records no failed request; refused (no snapshot, no defragmentation) while a member is down.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

NODE_PLAYBOOK = "playbooks/node_maintenance.yml"
ETCD_PLAYBOOK = "playbooks/etcd_maintenance.yml"
LB_HOOK = Path(__file__).parent / "tasks" / "lb_hook.yml"
WORK = Path(__file__).parent / "tasks" / "work.yml"
MARK = "/tmp/kubeops-maintenance-work"
NS = "kubeops-maintenance-test"
APP = "spread"
REPLICAS = 4
BACKUPS = "/var/backups/etcd-maintenance-test"


def kube(lab, *args: str) -> dict:
    return json.loads(lab.kubectl(*args, "-o", "json").stdout)


def nodes_cordoned(lab) -> dict[str, bool]:
    return {n["metadata"]["name"]: bool(n["spec"].get("unschedulable")) for n in kube(lab, "get", "nodes")["items"]}


def calico_node_pods(lab) -> dict[str, str]:
    pods = kube(lab, "get", "pods", "-n", "kube-system", "-l", "k8s-app=calico-node")["items"]
    return {p["metadata"]["uid"]: p["spec"]["nodeName"] for p in pods}


def ready_pods(pods: list[dict]) -> list[dict]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") == "Running"
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def record(directory: Path) -> dict:
    files = sorted(directory.glob("maintenance-*.json"))
    assert files, f"no maintenance record in {directory}"
    return json.loads(files[-1].read_text())


def node_vars(tmp_path: Path, **more) -> dict:
    return {"maintenance_lb_tasks": str(LB_HOOK), "lb_hook_log": str(tmp_path / "lb.log"),
            "kubeops_audit_log": str(tmp_path / "audit.log"), "maintenance_report_dir": str(tmp_path / "reports"),
            "maintenance_force_window": True, "maintenance_watch_namespaces": [NS], **more}


@pytest.fixture
def spread(lab):
    """Four pods of one deployment, two on each node, under a budget that allows one unavailable."""
    labels = {"app": APP}
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": APP, "namespace": NS},
         "spec": {"replicas": REPLICAS, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "containers": [{"name": APP, "image": "harbor.lab/kubeops/spread:1"}],
                      # two per node; a cordoned node does not count (Honor), so the evicted pods can go to the other
                      "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                     "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels},
                                                     "nodeTaintsPolicy": "Honor"}]}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": APP, "namespace": NS},
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}},
    ]}
    assert not any(nodes_cordoned(lab).values()), "a lab node is cordoned before the test"
    subprocess.run([str(lab.kubectl_bin), "--kubeconfig", str(lab.kubeconfig), "apply", "-f", "-"],
                   input=json.dumps(manifest), text=True, check=True, capture_output=True, timeout=60)

    def settled() -> bool:
        pods = ready_pods(kube(lab, "get", "pods", "-n", NS, "-l", f"app={APP}")["items"])
        budget = kube(lab, "get", "pdb", "-n", NS, APP).get("status") or {}
        return (len(pods) == REPLICAS and {p["spec"]["nodeName"] for p in pods} == {"node1", "node2"}
                and budget.get("disruptionsAllowed") == 1)

    try:
        lab.wait(settled, f"{REPLICAS} Ready pods of {APP} on both nodes, the budget allowing one disruption", 90)
        yield
    finally:
        for name, cordoned in nodes_cordoned(lab).items():
            if cordoned:
                lab.kubectl("uncordon", name, check=False)
        lab.kubectl("delete", "namespace", NS, "--wait=true", "--timeout=180s", check=False)
        lab.wait(lambda: lab.kubectl("get", "namespace", NS, check=False).returncode != 0, f"namespace {NS} gone", 180)


class ReadyWatch(threading.Thread):
    """The fewest Ready pods of the deployment seen, looking every 0.2 s with the official client."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        from kubernetes import client, config  # the controller's client, as the modules use it
        self.api = client.CoreV1Api(config.new_client_from_config(config_file=str(lab.kubeconfig)))
        self.low = REPLICAS
        self.looks = 0
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                data = self.api.list_namespaced_pod(NS, label_selector=f"app={APP}", _preload_content=False,
                                                    _request_timeout=(5, 10))
                self.low = min(self.low, len(ready_pods(json.loads(data.data)["items"])))
                self.looks += 1
            except Exception as exc:  # noqa: BLE001 - the watcher's own hiccups are reported, not fatal
                self.errors.append(str(exc)[:200])
            self.stopping.wait(0.2)

    def stop(self):
        self.stopping.set()
        self.join(10)


def test_check_mode_shows_the_waves_and_changes_nothing(lab, spread, tmp_path):
    before = kube(lab, "get", "pods", "-n", NS)["items"]
    proc = lab.playbook(NODE_PLAYBOOK, limit="node1,node2", check=True,
                        extra_vars=node_vars(tmp_path, maintenance_action="rolling"))
    out = " ".join((proc.stdout + proc.stderr).split())   # the YAML callback folds long lines
    assert proc.returncode == 0, out
    for pod in before:
        name = f"{NS}/{pod['metadata']['name']}"
        assert name in out, f"--check does not show the eviction of {name}"
    assert "wave 1" in out and "wave 2" in out and f"budgets: {NS}/{APP} (allows 1 now)" in out
    assert not any(nodes_cordoned(lab).values())
    assert {p["metadata"]["uid"] for p in kube(lab, "get", "pods", "-n", NS)["items"]} == {p["metadata"]["uid"] for p in before}
    assert not (tmp_path / "lb.log").exists(), "--check called the load balancer hook"
    assert all(line["check_mode"] for line in audit_lines(tmp_path / "audit.log"))
    assert record(tmp_path / "reports")["check_mode"] is True


@pytest.fixture
def marks(lab):
    yield
    for host in ("node1", "node2"):
        lab.ssh(host, f"rm -f {MARK}")


def test_rolling_waves_of_one_keep_the_budget(lab, spread, marks, tmp_path):
    calico = calico_node_pods(lab)
    watch = ReadyWatch(lab)
    watch.start()
    started = time.monotonic()
    proc = lab.playbook(NODE_PLAYBOOK, limit="node1,node2",
                        extra_vars=node_vars(tmp_path, maintenance_action="rolling", maintenance_wave_timeout=180,
                                             maintenance_work_tasks=str(WORK)))
    took = time.monotonic() - started
    watch.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert watch.looks > 10 and not watch.errors, (watch.looks, watch.errors)
    assert watch.low >= REPLICAS - 1, f"{REPLICAS - watch.low} pods of {APP} were down at once"
    assert nodes_cordoned(lab) == {"node1": False, "node2": False}
    assert calico_node_pods(lab) == calico, "calico-node pods were touched"

    lines = [line for line in audit_lines(tmp_path / "audit.log") if not line["check_mode"]]
    steps = [(line["action"], line["target"]) for line in lines if line["action"] != "evict"]
    assert steps == [("load balancer out", "node1"), ("cordon", "node1"), ("maintenance work", "node1"), ("uncordon", "node1"),
                     ("load balancer in", "node1"), ("load balancer out", "node2"), ("cordon", "node2"),
                     ("maintenance work", "node2"), ("uncordon", "node2"), ("load balancer in", "node2")]
    # the work ran on each node itself, once
    assert {h: lab.ssh(h, f"cat {MARK}").stdout.split() for h in ("node1", "node2")} == \
        {"node1": ["node1", "node1"], "node2": ["node2", "node2"]}
    evicted = [line for line in lines if line["action"] == "evict"]
    assert not [line for line in evicted if line["target"].startswith("kube-system/calico-node")]
    ours = [line["before"]["node"] for line in evicted if line["target"].startswith(f"{NS}/{APP}-")]
    assert ours == ["node1", "node1", "node2", "node2", "node2", "node2"], ours
    # evictions of one wave come between its cordon and its uncordon
    order = [(line["action"], line.get("before", {}).get("node") if line["action"] == "evict" else line["target"]) for line in lines]
    assert order.index(("cordon", "node2")) < order.index(("evict", "node2")) < order.index(("uncordon", "node2"))
    hook = [line.split()[1:3] for line in (tmp_path / "lb.log").read_text().splitlines()]
    assert hook == [["out", "node1"], ["in", "node1"], ["out", "node2"], ["in", "node2"]]

    rec = record(tmp_path / "reports")
    assert rec["runbook"] == "node_maintenance" and rec["problems"] == [] and rec["check_mode"] is False
    assert rec["summary"]["status"] == "ok", rec["findings"]
    assert any(e["title"].startswith("Wave 2 of 2: node2: cordon and drain") for e in rec["timeline"])
    print(f"rolling maintenance of node1, node2: {took:.0f}s, {len(evicted)} evictions, {watch.looks} looks, "
          f"fewest Ready {watch.low}/{REPLICAS}")


def test_a_window_in_the_past_refuses_before_any_change(lab, tmp_path):
    past = dt.datetime.now()
    window = f"{(past - dt.timedelta(hours=3)):%H:%M}-{(past - dt.timedelta(hours=2)):%H:%M}"
    proc = lab.playbook(NODE_PLAYBOOK, limit="node1,node2",
                        extra_vars={**node_vars(tmp_path, maintenance_action="drain"), "maintenance_force_window": False,
                                    "maintenance_window": window})
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, out
    assert "refused before any change: it is" in out and f"on the controller, outside the maintenance window {window}" in out
    assert not any(nodes_cordoned(lab).values())
    assert not (tmp_path / "lb.log").exists() and audit_lines(tmp_path / "audit.log") == []
    rec = record(tmp_path / "reports")
    assert rec["problems"] and rec["timeline"][0]["outcome"] == "refused"


def test_a_wave_that_cannot_finish_stops_the_run_and_names_the_pod(lab, spread, tmp_path):
    """The budget allows nothing: wave 1 (node1) times out with its pods named, node1 stays cordoned, wave 2 (node2)
    is not started; then uncordon brings node1 back (not bound to the window)."""
    lab.kubectl("patch", "pdb", "-n", NS, APP, "--type=json", "-p",
                '[{"op":"remove","path":"/spec/maxUnavailable"},{"op":"add","path":"/spec/minAvailable","value":4}]')
    lab.wait(lambda: (kube(lab, "get", "pdb", "-n", NS, APP).get("status") or {}).get("disruptionsAllowed") == 0,
             "the budget allows no disruption", 60)
    proc = lab.playbook(NODE_PLAYBOOK, limit="node1,node2",
                        extra_vars=node_vars(tmp_path, maintenance_action="rolling", maintenance_wave_timeout=10))
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, out
    assert "drain of node1 not finished after 10s" in out
    assert f"The disruption budget {APP} needs 4 healthy pods and has 4 currently" in out
    assert nodes_cordoned(lab) == {"node1": True, "node2": False}
    assert [line.split()[1:3] for line in (tmp_path / "lb.log").read_text().splitlines()] == [["out", "node1"]]
    real = [(line["action"], line["target"]) for line in audit_lines(tmp_path / "audit.log") if not line["check_mode"]]
    assert ("cordon", "node1") in real and ("cordon", "node2") not in real
    rec = record(tmp_path / "reports")
    assert any("node1 stay cordoned" in p for p in rec["problems"])
    assert [e["outcome"] for e in rec["timeline"] if e["title"].startswith("Wave 1")][-1] == "failed"
    assert not [e for e in rec["timeline"] if e["title"].startswith("Wave 2")]

    back = lab.playbook(NODE_PLAYBOOK, limit="node1",
                        extra_vars={**node_vars(tmp_path, maintenance_action="uncordon"), "maintenance_force_window": False,
                                    "maintenance_window": "00:00-00:01"})
    assert back.returncode == 0, back.stdout + back.stderr
    assert nodes_cordoned(lab) == {"node1": False, "node2": False}
    assert [line.split()[1:3] for line in (tmp_path / "lb.log").read_text().splitlines()][-1] == ["in", "node1"]


class ApiProbe(threading.Thread):
    """Asks the apiserver for the namespaces every 0.1 s (a read served from etcd: quorum read) and counts failures."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        from kubernetes import client, config
        self.api = client.CoreV1Api(config.new_client_from_config(config_file=str(lab.kubeconfig)))
        self.ok = 0
        self.failed: list[str] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                self.api.list_namespace(_preload_content=False, _request_timeout=(5, 5))
                self.ok += 1
            except Exception as exc:  # noqa: BLE001 - a failed request is what the probe counts
                self.failed.append(f"{time.strftime('%H:%M:%S')} {str(exc)[:200]}")
            self.stopping.wait(0.1)

    def stop(self):
        self.stopping.set()
        self.join(10)


@pytest.fixture
def backups(lab):
    yield BACKUPS
    lab.ssh("master1", f"rm -rf {BACKUPS}")


def etcd_leader(lab) -> str:
    out = lab.ssh("master1", "ETCDCTL_API=3 etcdctl --cacert=/etc/etcd/ssl/ca.pem --cert=/etc/etcd/ssl/etcd-client.pem "
                             "--key=/etc/etcd/ssl/etcd-client-key.pem --endpoints=https://198.18.0.11:2379,"
                             "https://198.18.0.21:2379,https://198.18.0.22:2379 endpoint status -w json").stdout
    names = {"https://198.18.0.11:2379": "master1", "https://198.18.0.21:2379": "node1", "https://198.18.0.22:2379": "node2"}
    return next(names[e["Endpoint"]] for e in json.loads(out) if e["Status"]["header"]["member_id"] == e["Status"]["leader"])


def test_etcd_defragmented_one_member_at_a_time_leader_last_while_the_apiserver_serves(lab, backups, tmp_path):
    extra = {"etcd_maintenance_compact": True, "etcd_maintenance_backup_dir": backups,
             "etcd_maintenance_report_dir": str(tmp_path / "reports"), "kubeops_audit_log": str(tmp_path / "audit.log")}
    check = lab.playbook(ETCD_PLAYBOOK, extra_vars=extra, check=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert all(line["check_mode"] for line in audit_lines(tmp_path / "audit.log"))
    assert lab.ssh("master1", f"ls {backups} 2>/dev/null | wc -l").stdout.strip() == "0", "--check took a snapshot"

    leader = etcd_leader(lab)
    probe = ApiProbe(lab)
    probe.start()
    time.sleep(1)
    proc = lab.playbook(ETCD_PLAYBOOK, extra_vars=extra)
    time.sleep(1)
    probe.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert probe.ok > 20 and probe.failed == [], (probe.ok, probe.failed)

    real = [line for line in audit_lines(tmp_path / "audit.log") if not line["check_mode"]]
    assert [line["action"] for line in real] == ["etcd_snapshot", "etcd compact", "etcd defrag", "etcd defrag", "etcd defrag"]
    defrags = [line for line in real if line["action"] == "etcd defrag"]
    assert sorted(line["target"] for line in defrags) == ["master1", "node1", "node2"]
    assert defrags[-1]["target"] == leader and defrags[-1]["role"] == "leader"
    assert all(line["after"]["db_size"] <= line["before"]["db_size"] and line["freed"] >= 0 for line in defrags)
    rec = record(tmp_path / "reports")
    assert rec["runbook"] == "etcd_maintenance" and rec["problems"] == [] and rec["summary"]["status"] == "ok"
    members = [e for e in rec["timeline"] if e["title"].startswith("Defragment ")]
    assert [e["title"] for e in members][-1] == f"Defragment {leader} (leader)"
    assert all(" freed " in e["message"] for e in members)
    assert lab.ssh("master1", f"ls {backups}/etcd-snapshot-*.db.verified.json | wc -l").stdout.strip() == "1"
    print(f"etcd maintenance: {probe.ok} apiserver requests, none failed; "
          + "; ".join(e["message"] for e in members))


def test_etcd_refuses_while_a_member_is_down(lab, backups, tmp_path):
    extra = {"etcd_maintenance_backup_dir": backups, "etcd_maintenance_report_dir": str(tmp_path / "reports"),
             "kubeops_audit_log": str(tmp_path / "audit.log")}
    with lab.unit_stopped("node2", "etcd", settle=2):
        proc = lab.playbook(ETCD_PLAYBOOK, extra_vars=extra)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, out
    assert "etcd member(s) not healthy: node2" in out and "refusing to defragment" in out
    assert [line for line in audit_lines(tmp_path / "audit.log") if not line["check_mode"]] == []
    assert lab.ssh("master1", f"ls {backups} 2>/dev/null | wc -l").stdout.strip() == "0", "a snapshot was taken"
    assert record(tmp_path / "reports")["timeline"][0]["outcome"] == "refused"
