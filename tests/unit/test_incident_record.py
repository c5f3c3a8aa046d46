"""The incident record (plugins/plugin_utils/_incident_record.py): now vs seen, timeline, rendering, files."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _incident_record as R

TEMPLATES = str(Path(__file__).resolve().parents[2] / "roles" / "incident_record" / "templates")
MOMENT = dt.datetime(2026, 11, 30, 17, 30, 16, tzinfo=dt.timezone.utc)


def broken_then_repaired():
    crash = finding("pods.waiting", "developer-center/web-1", "critical", "web CrashLoopBackOff", host="node2")
    ok_pods = finding("pods.ready", "developer-center/*", "ok", "3 pods Running")
    peer_down = finding("calico.bgp_peer", "198.18.0.21", "critical", "BGP session with node1 not Established", host="master1")
    peer_up = finding("calico.bgp_peer", "198.18.0.21", "ok", "BGP session with node1 Established", host="master1")
    ns = finding("pods.namespace", "cluster", "ok", "6 namespaces Active")
    findings = {"localhost": [crash, ok_pods, ns], "master1": [peer_down]}
    after = {"localhost": [{"ids": ["pods.phase", "pods.ready", "pods.waiting", "pods.restarts"],
                            "findings": [finding("pods.ready", "developer-center/*", "ok", "4 pods Running")]}],
             "master1": [{"ids": ["calico.bgp_peer", "calico.bird"], "findings": [peer_up]}]}
    return findings, after


def test_now_is_the_state_after_the_changes_seen_is_what_was_wrong():
    findings, after = broken_then_repaired()
    now, seen = R.observations(findings, after)
    assert {f["id"]: f["status"] for f in now} == {"pods.ready": "ok", "pods.namespace": "ok", "calico.bgp_peer": "ok"}
    assert sorted(f["id"] for f in seen if f["status"] == "critical") == ["calico.bgp_peer", "pods.waiting"]
    record = R.build("incident_k8s_unreachable", "Incident", "lab", "s", "f", now, [], [], False, None, seen)
    assert record["summary"]["status"] == "ok"
    assert {(s["id"], s["status_now"]) for s in record["seen"]} == {("pods.waiting", "not seen again"), ("calico.bgp_peer", "ok")}


def test_timeline_merges_hosts_in_time_order_and_renders(tmp_path):
    findings, after = broken_then_repaired()
    now, seen = R.observations(findings, after)
    entries = R.timeline({
        "localhost": [{"step": 3, "title": "Delete abnormal pods", "time": "2026-11-30T17:29:31Z", "outcome": "changed",
                       "message": "developer-center/web-1 CrashLoopBackOff", "check_mode": False,
                       "actions": [{"action": "delete_pod", "target": "developer-center/web-1",
                                    "before": {"uid": "u1", "restarts": 9}, "after": {"deleted": True}}]}],
        "master1": [{"step": 9, "title": "Restart calico-node", "time": "2026-11-30T17:30:15Z", "outcome": "changed",
                     "message": "kube-system/calico-node-a on node1 restarted <script>", "actions": []},
                    {"step": 1, "title": "Nodes", "time": "2026-11-30T17:29:20Z", "outcome": "looked", "message": "2 nodes"}],
    })
    assert [e["step"] for e in entries] == [1, 3, 9]
    record = R.build("incident_k8s_unreachable", "Incident: the platform cannot be reached", "lab", "2026-11-30T17:29:17Z",
                     "2026-11-30T17:30:16Z", now, entries, ["step 9: node3 did not recover"], False, "/r/audit.log", seen)
    where = R.write(record, str(tmp_path), TEMPLATES, MOMENT)
    assert Path(where["json"]).name == "incident-20261130T173016Z.json"
    assert oct(os.stat(where["html"]).st_mode & 0o777) == "0o640"
    doc = json.loads(Path(where["json"]).read_text())
    assert doc["schema"] == "kubeops.runbook/incident/v1" and doc["actions"] == 1
    md = Path(where["markdown"]).read_text()
    assert "| delete\\_pod | `developer-center/web-1` |" in md and "## Problems (1)" in md
    assert "| CRITICAL | NOT SEEN AGAIN | `pods.waiting` |" in md
    html = Path(where["html"]).read_text()
    assert "&lt;script&gt;" in html and "<script>" not in html
    again = R.write(record, str(tmp_path), TEMPLATES, MOMENT)
    assert again["json"].endswith("incident-20261130T173016Z-2.json")
    lines = R.summary_lines(record, where)
    assert lines[0].startswith("Incident: the platform cannot be reached on lab: OK")
    assert "step 3 changed: developer-center/web-1 CrashLoopBackOff" in lines
    assert "PROBLEM: step 9: node3 did not recover" in lines


def test_check_mode_record_says_so(tmp_path):
    record = R.build("incident_performance", "Incident: performance", "lab", "s", "f", [], [], [], True, None, [])
    where = R.write(record, str(tmp_path), TEMPLATES, MOMENT)
    assert "--check: nothing was changed" in Path(where["markdown"]).read_text()
    assert "--check: nothing was changed" in R.summary_lines(record, where)[0]
