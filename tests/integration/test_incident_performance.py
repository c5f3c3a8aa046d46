"""incident_performance.yml on the lab with known loads: --check prints the plan and changes nothing; the real run
shrinks first, then grows, and - watched pod by pod, Terminating ones included - never exceeds the budget."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

PLAYBOOK = "playbooks/incident_performance.yml"
NS = "product"
WORKLOADS = [
    {"namespace": NS, "name": "oltp-gateway-1-3-0", "min_replicas": 2, "max_replicas": 4, "load": 0.95},
    {"namespace": NS, "name": "bis-calculatecontrol-1-3-0", "min_replicas": 1, "load": 0.10},
    {"namespace": NS, "name": "ihs-conclude-1-3-0", "min_replicas": 1, "load": 0.20},
]
NAMES = [w["name"] for w in WORKLOADS]


def replicas(lab) -> dict[str, int]:
    deps = json.loads(lab.kubectl("get", "deployments", "-n", NS, "-o", "json").stdout)["items"]
    return {d["metadata"]["name"]: d["spec"]["replicas"] for d in deps if d["metadata"]["name"] in NAMES}


class PodWatch(threading.Thread):
    """Every pod of the workloads that exists (Terminating ones included), from a kubectl watch; the peak count and
    the order of events."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.proc = subprocess.Popen(
            [str(lab.kubectl_bin), "--kubeconfig", str(lab.kubeconfig), "get", "pods", "-n", NS, "-l",
             f"app in ({','.join(NAMES)})", "--watch", "--output-watch-events", "-o", "json", "--request-timeout=0"],
            stdout=subprocess.PIPE, text=True)
        self.pods: dict[str, str] = {}
        self.peak = 0
        self.events: list[tuple[float, str, str, str]] = []   # (time, type, app, uid)
        self.started = threading.Event()

    def run(self):
        buf = ""
        for line in self.proc.stdout:
            buf += line
            try:
                event = json.loads(buf)
            except ValueError:
                continue
            buf = ""
            pod = event["object"]
            uid, app = pod["metadata"]["uid"], pod["metadata"]["labels"].get("app")
            if event["type"] == "DELETED":
                self.pods.pop(uid, None)
            else:
                self.pods[uid] = app
            self.peak = max(self.peak, len(self.pods))
            self.events.append((time.monotonic(), event["type"], app, uid))
            if len(self.events) >= 6:
                self.started.set()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def restore(lab):
    before = replicas(lab)
    yield before
    for name, count in before.items():
        lab.kubectl("scale", "deployment", "-n", NS, name, f"--replicas={count}")
    lab.wait(lambda: all(int(json.loads(lab.kubectl("get", "deploy", "-n", NS, n, "-o", "json").stdout)["status"]
                             .get("readyReplicas") or 0) == c for n, c in before.items()), "product workloads restored", 120)


def test_plan_in_check_mode_then_applied_shrinking_first_within_the_budget(lab, restore, tmp_path):
    assert restore == {n: 2 for n in NAMES}, "the lab's product workloads have 2 replicas each"
    budget = sum(restore.values())
    audit = tmp_path / "audit.log"
    extra = {"incident_performance_workloads": WORKLOADS, "incident_performance_budget": budget,
             "kubeops_audit_log": str(audit), "incident_report_dir": str(tmp_path / "reports")}

    check = lab.playbook(PLAYBOOK, extra_vars=extra, check=True)
    out = check.stdout + check.stderr
    assert check.returncode == 0, out
    assert f"budget {budget} replicas: 6 now, 6 after, never more than 6 on the way" in out
    assert "1. shrink product/bis-calculatecontrol-1-3-0 2 -> 1: load 10%" in out
    assert "2. grow product/oltp-gateway-1-3-0 2 -> 3: load 95%" in out
    assert replicas(lab) == restore, "--check changed replicas"

    watch = PodWatch(lab)
    watch.start()
    assert watch.started.wait(30), "the pod watch did not start"
    proc = lab.playbook(PLAYBOOK, extra_vars=extra)
    time.sleep(2)
    watch.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert replicas(lab) == {"oltp-gateway-1-3-0": 3, "bis-calculatecontrol-1-3-0": 1, "ihs-conclude-1-3-0": 2}
    # never more pods than the budget, Terminating ones included, at any moment the watch saw
    assert watch.peak <= budget, (watch.peak, watch.events)
    # the decrease was over (its pod gone) before the increase began (a new gateway pod)
    calc_gone = [t for t, kind, app, _uid in watch.events if kind == "DELETED" and app == "bis-calculatecontrol-1-3-0"]
    gateway_new = [t for t, kind, app, _uid in watch.events[6:] if kind == "ADDED" and app == "oltp-gateway-1-3-0"]
    assert calc_gone and gateway_new and max(calc_gone) < min(gateway_new), watch.events
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    real = [(x["target"], x["before"], x["after"]) for x in lines if not x["check_mode"]]
    assert real == [(f"{NS}/Deployment/bis-calculatecontrol-1-3-0", {"replicas": 2}, {"replicas": 1}),
                    (f"{NS}/Deployment/oltp-gateway-1-3-0", {"replicas": 2}, {"replicas": 3})]
    record = json.loads(sorted((tmp_path / "reports").glob("incident-*.json"))[-1].read_text())
    assert record["runbook"] == "incident_performance" and record["actions"] == 2

    again = lab.playbook(PLAYBOOK, extra_vars={**extra, "incident_performance_workloads": [
        {**w, "load": w["load"] * 2 / after} for w, after in zip(WORKLOADS, (3, 1, 2))]})
    assert again.returncode == 0 and "nothing to move" in again.stdout, again.stdout
