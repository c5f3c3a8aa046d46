"""The incident modules' logic on real captures of a broken lab (tests/unit/fixtures/incident/README.md)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _describe as D
from ansible_collections.kubeops.runbook.plugins.module_utils import _nginx_upstream as N
from ansible_collections.kubeops.runbook.plugins.module_utils import _pod_cleanup as C
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import namespace_findings
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import CmdResult

FIX = Path(__file__).parent / "fixtures" / "incident"


def items(name: str) -> list[dict]:
    return json.loads((FIX / name).read_text())["items"]


def captured_at() -> dt.datetime:
    """A moment just after the capture: the newest event's time plus a few seconds."""
    newest = max(e.get("lastTimestamp") or "" for e in items("broken_events.json"))
    return dt.datetime.strptime(newest, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=5)


def test_cleanup_selects_exactly_the_three_broken_pods():
    pods = items("broken_pods.json")
    sel = C.select(pods, C.Options(("developer-center",), terminating_seconds=0), captured_at())
    assert sorted((p["name"].rsplit("-", 1)[0], p["reason"]) for p in sel.selected) == [
        ("app-base-5895f66d44", "Evicted"), ("app-base-5895f66d44", "Terminating"),
        ("developer-center-web-6b55b58b47", "CrashLoopBackOff")]
    assert sel.left_alone == []
    healthy = [p for p in pods if p["metadata"]["namespace"] == "developer-center" and C.P.ready(p)]
    assert len(healthy) == 1 and healthy[0]["metadata"]["uid"] not in {p["uid"] for p in sel.selected}
    # the stuck pod only counts once it is past the allowance after its grace period
    young = C.select(pods, C.Options(("developer-center",), terminating_seconds=10 ** 6), captured_at())
    assert "Terminating" not in {p["reason"] for p in young.selected}
    with pytest.raises(C.CleanupRefused, match="3 abnormal pods match, more than max_pods=2"):
        C.guard(sel, 2)


def test_describe_the_crash_loop_with_its_backoff_events():
    blocks, findings, _left = D.describe(items("broken_pods.json"), items("broken_events.json"),
                                         items("broken_deployments.json"), namespaces=["developer-center"], now=captured_at())
    crash = next(f for f in findings if f["target"].startswith("developer-center/developer-center-web"))
    assert crash["status"] == "critical" and "CrashLoopBackOff" in crash["summary"]
    events = crash["details"]["events"]
    assert events[0]["reason"] == "BackOff" and events[0]["source"] == "kwok_controller" and events[0]["count"] >= 2
    evicted = next(f for f in findings if "Evicted" in f["summary"])
    assert evicted["status"] == "critical" and evicted["details"]["phase"] == "Failed"
    assert all(b["namespace"] == "developer-center" for b in blocks)


def test_namespaces_of_the_lab():
    findings = namespace_findings(items("namespaces.json"), ["developer-center", "product"])
    assert [f["status"] for f in findings] == ["ok"] and "developer-center" in findings[0]["details"]["namespaces"]


def test_nginx_forwarding_targets_from_nginx_T():
    targets = N.parse((FIX / "mw1_nginx_T.txt").read_text())
    assert [(t["address"], t["used_by"]) for t in targets] == [
        ("198.18.0.11:6443", ["proxy_pass https://198.18.0.11:6443 in server 80 default_server location /"])]


NGINX_HANDBOOK = """
# configuration file /etc/nginx/conf.d/developer-center.conf:
upstream developer_center {
    server 10.0.0.21:30080 weight=2;   # k8snode01
    server 10.0.0.22:30080 max_fails=3;
    server unix:/run/license.sock;
}
server {
    listen 80;
    server_name developer-center;
    location / { proxy_pass http://developer_center/; }
    location /api/ { proxy_pass http://10.0.0.30:8080; }
    location /dyn/ { proxy_pass http://$backend; }
    location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; }
    location /quoted { return 200 "not a ; directive { }"; }
}
"""


def test_upstream_blocks_are_expanded_and_variables_named():
    targets = {t["address"]: t for t in N.parse(NGINX_HANDBOOK)}
    assert set(targets) == {"10.0.0.21:30080", "10.0.0.22:30080", "unix:/run/license.sock", "10.0.0.30:8080",
                            "127.0.0.1:9000", "http://$backend"}
    assert targets["10.0.0.21:30080"]["upstream"] == "developer_center"
    assert targets["http://$backend"]["variable"] is True


def test_check_reports_each_target_and_a_broken_config():
    def run_ok(argv, env):
        return CmdResult(0, NGINX_HANDBOOK, "")

    def probe(target, timeout):
        return (target.get("host") != "10.0.0.22", None if target.get("host") != "10.0.0.22" else "connection refused", 3)

    findings, _targets = N.check(run_ok, lambda n: f"/usr/sbin/{n}", "nginx", None, 2, probe, "mw1")
    by = {f["target"]: f["status"] for f in findings}
    assert by["10.0.0.22:30080"] == "critical" and by["10.0.0.21:30080"] == "ok" and by["http://$backend"] == "unknown"

    def run_bad(argv, env):
        return CmdResult(1, "", 'nginx: [emerg] unknown directive "prox_pass" in /etc/nginx/sites-enabled/default:9')

    findings, _targets = N.check(run_bad, lambda n: f"/usr/sbin/{n}", "nginx", None, 2, probe, "mw1")
    assert findings[0]["status"] == "critical" and "unknown directive" in findings[0]["summary"]
    findings, _targets = N.check(run_bad, lambda n: None, "nginx", None, 2, probe, "mw1")
    assert findings[0]["status"] == "unknown"
