"""The findings of a fleet (P6): thousands of hosts' inspection findings in the shapes the real modules produce.

The templates are the findings of a real lab run (tests/unit/fixtures/report/lab_latest.json, written by
playbooks/daily_inspection.yml): a control-plane host (master1), a worker (node1) and a middleware host (mw1). Every
fleet host gets a copy of its role's findings with the host's name put in (targets, summaries, details), plus its
data mounts, all ok; then a few percent of them are made not ok the way the lab showed them (an error burst in
/var/log/messages, a unit with an error line in its journal, a filling disk, a certificate close to expiry, a stopped
kubelet, an unreachable host). The choice is seeded: run N of a size is the same every time, and a host's trouble
tends to come back in later runs (what the report's "keeps coming back" is for).
"""
from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB_REPORT = ROOT / "tests" / "unit" / "fixtures" / "report" / "lab_latest.json"
CLUSTER = "fleet"
# The etcd member's own checks stay on the three control-plane hosts (a worker is no etcd member).
_ETCD_ONLY = ("etcd.member", "etcd.db_size")
# Per host and run: how likely each kind of trouble is (about 3 % of the findings end up not ok).
FAULTS = {"log_errors": 0.35, "unit_journal": 0.25, "disk_filling": 0.12, "cert_expiring": 0.08,
          "kubelet_stopped": 0.02, "unreachable": 0.005}
# Of a run's faults, how many are the same host's as in the previous runs (the rest are drawn anew per run).
STICKY = 0.7


def _templates() -> dict[str, list[dict]]:
    report = json.loads(LAB_REPORT.read_text(encoding="utf-8"))
    by_host: dict[str, list[dict]] = {}
    for item in report["findings"]:
        host = item.get("host")
        if host in ("master1", "node1", "mw1") and item["id"] != "host.reachable":
            by_host.setdefault(host, []).append(item)
    worker = [f for f in by_host["node1"] if f["id"] not in _ETCD_ONLY and not
              (f["id"] == "control_plane_services.unit" and f["target"] == "etcd")]
    # The data mounts of the handbook's hosts (/data, /var/log), from the lab's / finding.
    for source in [f for f in worker if f["id"] in ("disk.space", "disk.inodes") and f["target"] == "/"]:
        for mount in ("/data", "/var/log"):
            extra = copy.deepcopy(source)
            extra["target"] = extra["details"]["mountpoint"] = mount
            worker.append(extra)
    return {"master": by_host["master1"], "worker": worker, "middleware": by_host["mw1"]}


def _ok(item: dict) -> dict:
    """A finding of the template made healthy, as the module reports a healthy unit / log."""
    item = copy.deepcopy(item)
    if item["status"] == "ok":
        return item
    item["status"] = "ok"
    if item["id"].endswith(".unit"):
        item["summary"] = "active (running), no error logs"
        item["details"].update(journal_errors=0, journal_samples=[])
    elif item["category"] == "logs":
        lines = item["details"].get("lines_scanned", 0)
        item["summary"] = f"no matching lines in {lines} line(s)"
        item["details"]["counts"] = {k: 0 for k in item["details"].get("counts", {})}
        item["details"]["samples"] = {}
    return item


def host_names(hosts: int) -> list[tuple[str, str]]:
    """(name, role) of the fleet: 3 control-plane hosts, a middleware host in every 40, workers."""
    out = []
    for i in range(1, hosts + 1):
        role = "master" if i <= 3 else "middleware" if i % 40 == 0 else "worker"
        out.append((f"k8s-{role[:6]}-{i:05d}", role))
    return out


def _rename(items: list[dict], old: str, new: str) -> list[dict]:
    text = json.dumps(items, ensure_ascii=False)
    return json.loads(text.replace(f'"{old}"', f'"{new}"').replace(f"-{old}\"", f"-{new}\"").replace(f":{old},", f":{new},"))


def _faults(host: str, run: int, seed: int) -> set[str]:
    """The troubles of one host in one run: mostly the host's own (stable over runs), some drawn per run."""
    picked = set()
    for kind, rate in FAULTS.items():
        stable = int(hashlib.sha1(f"{seed}:{host}:{kind}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        this_run = random.Random(f"{seed}:{run}:{host}:{kind}").random()
        if (stable < rate * STICKY) or (this_run < rate * (1 - STICKY)):
            picked.add(kind)
    return picked


def _break(items: list[dict], faults: set[str], templates_bad: dict[str, dict]) -> list[dict]:
    for item in items:
        if "log_errors" in faults and item["id"] == "logs.messages":
            bad = templates_bad["logs.messages"]
            item.update(status="warning", summary=bad["summary"])
            item["details"].update(counts=bad["details"]["counts"], samples=bad["details"]["samples"])
        elif "unit_journal" in faults and item["id"] == "node_services.unit" and item["target"] == "bird":
            bad = templates_bad["unit_journal"]
            item.update(status="warning", summary=bad["summary"])
            item["details"].update(journal_errors=1, journal_samples=bad["details"]["journal_samples"])
        elif "disk_filling" in faults and item["id"] == "disk.space" and item["target"] == "/data":
            size = item["details"]["size_bytes"]
            item.update(status="warning", summary=f"86.4% used, {size * 0.136 / 2**30:.1f}GiB free of {size / 2**30:.1f}GiB")
            item["details"].update(used_percent=86.4, used_bytes=int(size * 0.864), avail_bytes=int(size * 0.136))
        elif "cert_expiring" in faults and item["id"] == "certificates.expiry" and item["target"].endswith("kubelet.pem"):
            item.update(status="warning", summary=item["summary"].replace("364 day(s) left", "21 day(s) left"))
            item["details"]["days_left"] = 21
        elif "kubelet_stopped" in faults and item["id"] == "node_services.unit" and item["target"] == "kubelet":
            item.update(status="critical", summary="inactive (dead) since the last boot")
            item["details"].update(active_state="inactive", sub_state="dead", main_pid=0, result="exit-code")
    return items


def fleet_run(hosts: int, run: int, seed: int = 18) -> tuple[dict[str, list[str]], list[dict]]:
    """One run's host states ({host: [state, reason]}) and findings for a fleet of ``hosts`` hosts."""
    templates = _templates()
    source = {"master": "master1", "worker": "node1", "middleware": "mw1"}
    bad = {"logs.messages": next(f for f in templates["worker"] if f["id"] == "logs.messages" and f["status"] != "ok"),
           "unit_journal": next(f for f in templates["worker"] if f["id"] == "node_services.unit" and f["status"] != "ok")}
    healthy = {role: [_ok(f) for f in items] for role, items in templates.items()}
    states: dict[str, list[str]] = {}
    findings: list[dict] = []
    for name, role in host_names(hosts):
        faults = _faults(name, run, seed)
        if "unreachable" in faults:
            states[name] = ["unreachable", f"Failed to connect to the host via ssh: ssh: connect to host {name} port 22: "
                                           "No route to host"]
            continue
        states[name] = ["reachable", ""]
        findings += _break(_rename(healthy[role], source[role], name), faults, bad)
    return states, findings


def slices(states: dict[str, list[str]], findings: list[dict], count: int) -> Iterator[tuple[dict, list[dict]]]:
    """The run cut into ``count`` slices of hosts (what AWX job slicing gives each job)."""
    names = list(states)
    size = -(-len(names) // count)
    by_host: dict[str, list[dict]] = {}
    for item in findings:
        by_host.setdefault(item["host"], []).append(item)
    for start in range(0, len(names), size):
        part = names[start:start + size]
        yield {h: states[h] for h in part}, [f for h in part for f in by_host.get(h, [])]


def key_statuses(states: dict[str, list[str]], findings: list[dict]) -> dict[str, str]:
    """{finding key: status} as the history stores a run (host.reachable included, as the report adds it)."""
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding_key  # pylint: disable=import-outside-toplevel
    out = {finding_key(f): f["status"] for f in findings}
    for host, (state, _why) in states.items():
        out[finding_key({"id": "host.reachable", "target": host, "host": host})] = "ok" if state == "reachable" else "critical"
    return out
