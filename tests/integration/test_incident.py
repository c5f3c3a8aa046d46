"""incident_k8s_unreachable.yml on a broken lab: refuses over max_pods, --check changes nothing, the real run
repairs, a second run changes nothing. One broken lab (every fault of `python -m lab fault`) serves all four."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lab import faults

PLAYBOOK = "playbooks/incident_k8s_unreachable.yml"
STUCK_GRACE = 60   # incident_pod_cleanup_terminating_seconds: the handbook-shaped default, not shortened here


def snapshot(lab) -> dict:
    """What must not change under --check: every pod's UID, every deployment's replicas, the calico-node pods."""
    pods = json.loads(lab.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    deps = json.loads(lab.kubectl("get", "deployments", "-A", "-o", "json").stdout)["items"]
    return {
        "pods": sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}/{p['metadata']['uid']}" for p in pods),
        "replicas": {f"{d['metadata']['namespace']}/{d['metadata']['name']}": d["spec"]["replicas"] for d in deps},
        "calico": {p["spec"].get("nodeName"): p["metadata"]["uid"] for p in pods
                   if p["metadata"].get("labels", {}).get("k8s-app") == "calico-node"},
        "raw": pods,
    }


def bgp(lab, host: str) -> str:
    return lab.ssh(host, "birdcl -s /var/run/calico/bird.ctl show protocols", check=False).stdout


def established(lab, host: str) -> bool:
    rows = [line for line in bgp(lab, host).splitlines() if line.startswith("Mesh_")]
    return bool(rows) and all("Established" in line for line in rows)


def record(report_dir: Path) -> dict:
    files = sorted(report_dir.glob("incident-*.json"))
    assert files, f"no incident record in {report_dir}"
    return json.loads(files[-1].read_text())


def audit(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def broken(lab, tmp_path_factory):
    """The lab with every fault injected; every fault undone afterwards, whatever the tests did."""
    faults.ensure()
    before = snapshot(lab)
    stuck_at = time.monotonic()
    injected = []
    try:
        for name in ("stuck-terminating", "app-base-1", "evicted", "crashloop", "bgp-down"):
            faults.FAULTS[name][0]()
            injected.append(name)
        # the stuck pod must be past the runbook's allowance, the crash loop must have restarted a few times
        lab.wait(lambda: time.monotonic() - stuck_at > STUCK_GRACE + 2, "the stuck pod past its allowance", 120)
        lab.wait(lambda: not established(lab, "master1"), "master1 sees node1's BGP session down", 60)
        work = tmp_path_factory.mktemp("incident")
        yield {"before": before, "audit": work / "audit.log", "reports": work / "reports"}
    finally:
        for name in reversed(injected):
            faults.FAULTS[name][1]()
        lab.wait(lambda: established(lab, "master1") and established(lab, "node2"), "the BGP mesh Established again", 120)


def run(lab, broken, check=False, **extra):
    extra_vars = {"kubeops_audit_log": str(broken["audit"]), "incident_report_dir": str(broken["reports"]), **extra}
    return lab.playbook(PLAYBOOK, extra_vars=extra_vars, check=check, extra_args=["--diff"] if check else None)


def test_more_abnormal_pods_than_max_pods_refuses_and_deletes_nothing(lab, broken):
    before = snapshot(lab)
    # the crash-looping and the stuck pod may be running; the Evicted one is dead and has its own budget
    proc = run(lab, broken, incident_pod_cleanup_max_pods=1, incident_stop_on_refusal=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "2 abnormal pods match, more than max_pods=1: refusing to delete any" in out
    after = snapshot(lab)
    assert after["pods"] == before["pods"] and after["replicas"] == before["replicas"], "the refusal changed something"
    assert audit(broken["audit"]) == []
    rec = record(broken["reports"])
    assert any("refusing to delete any" in p for p in rec["problems"])
    step3 = [e for e in rec["timeline"] if e["step"] == 3]
    assert step3 and step3[0]["outcome"] == "refused"
    # with incident_stop_on_refusal the guard stopped every later change: no scale, no calico restart
    assert not [e for e in rec["timeline"] if e["step"] in (5, 9) and e.get("actions")]
    for path in broken["reports"].glob("incident-*"):
        path.unlink()


def test_check_mode_reports_every_action_and_changes_nothing(lab, broken):
    before = snapshot(lab)
    proc = run(lab, broken, check=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    after = snapshot(lab)
    assert after["pods"] == before["pods"], "a pod changed under --check"
    assert after["replicas"] == before["replicas"] and after["calico"] == before["calico"]
    rec = record(broken["reports"])
    assert rec["check_mode"] is True and rec["problems"] == []
    actions = [(e["step"], a["action"], a["target"]) for e in rec["timeline"] for a in e["actions"]]
    deleted = sorted(t for s, a, t in actions if a == "delete_pod")
    assert len(deleted) == 3 and all(t.startswith("developer-center/") for t in deleted), actions
    assert (5, "scale", "developer-center/Deployment/app-base") in actions
    assert [(s, t) for s, a, t in actions if a == "restart_calico_node"] == [(9, "node1")]
    # step 6 described the crash-looping pod with its BackOff events; step 7 checked nginx's forwarding target
    described = [f for f in rec["findings"] if f["id"] == "pods.describe" and f["status"] == "critical"]
    assert any(any(e["reason"] == "BackOff" for e in f["details"]["events"]) for f in described), described
    assert any(f["id"] == "middleware.nginx_upstream" and f["status"] == "ok" for f in rec["findings"])
    lines = audit(broken["audit"])
    assert lines and all(line["check_mode"] for line in lines)
    assert (broken["reports"] / Path(sorted(broken["reports"].glob("incident-*.html"))[-1].name)).exists()


def test_real_run_repairs_and_a_second_run_changes_nothing(lab, broken):
    before = snapshot(lab)
    broken["audit"].unlink(missing_ok=True)
    proc = run(lab, broken)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    after = snapshot(lab)
    dc = [p for p in after["raw"] if p["metadata"]["namespace"] == "developer-center"]
    assert all(p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp") for p in dc), dc
    assert not any((p["metadata"].get("annotations") or {}).get(faults.ANNOTATION) for p in dc)
    app_base = json.loads(lab.kubectl("get", "deploy", "-n", "developer-center", "app-base", "-o", "json").stdout)
    assert app_base["spec"]["replicas"] == 2 and app_base["status"].get("availableReplicas") == 2
    # only node1's calico-node pod was replaced, and node1's BGP sessions are Established again
    assert after["calico"]["node2"] == before["calico"]["node2"] and after["calico"]["node1"] != before["calico"]["node1"]
    assert established(lab, "node1") and established(lab, "master1") and established(lab, "node2")
    # healthy pods kept their UIDs
    broken_uids = {p["metadata"]["uid"] for p in before["raw"]
                   if p["metadata"]["namespace"] == "developer-center" or p["metadata"].get("labels", {}).get("k8s-app") == "calico-node"}
    kept = [u for u in before["pods"] if u.split("/")[-1] not in broken_uids]
    assert set(kept) <= set(after["pods"]), set(kept) - set(after["pods"])
    # one audit line per action: 3 pods deleted, app-base scaled, node1's calico-node restarted
    lines = audit(broken["audit"])
    assert sorted(line["action"] for line in lines) == ["delete_pod"] * 3 + ["restart_calico_node", "scale"], lines
    assert not any(line["check_mode"] for line in lines)
    rec = record(broken["reports"])
    assert rec["check_mode"] is False and rec["actions"] == 5 and rec["problems"] == []
    # the record's status is the state the run left; what was wrong is under "seen"
    wrong_now = [f for f in rec["findings"] if f["status"] != "ok" and f["category"] in ("calico", "pods", "deployments")]
    assert not wrong_now, wrong_now
    assert {"pods.waiting", "calico.bgp_peer", "calico.bird"} <= {s["id"] for s in rec["seen"]}

    again = run(lab, broken)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(audit(broken["audit"])) == 5, "the second run changed something"
    assert snapshot(lab)["pods"] == after["pods"]
    second = record(broken["reports"])
    assert second["actions"] == 0 and {e["outcome"] for e in second["timeline"]} <= {"looked", "unchanged"}, second["timeline"]
    # every host's line of the recap: nothing changed on the cluster's hosts (localhost wrote the record)
    recap = again.stdout.split("PLAY RECAP")[1].splitlines()
    assert all("changed=0" in line for line in recap if line.split(":")[0].strip() in ("master1", "node1", "node2", "mw1", "mw2"))
