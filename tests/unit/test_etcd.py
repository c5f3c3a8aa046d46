"""etcd checks (plugins/module_utils/_etcd.py) on etcdctl 3.4.23 JSON captured for real (see fixtures/etcd/README.md)."""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd as E

FIX = Path(__file__).parent / "fixtures" / "etcd"


def read(name: str) -> str:
    path = FIX / f"{name}.json"
    return path.read_text() if path.exists() else ""


def assess(scenario: str, **kwargs):
    members = E.parse_member_list(read(f"{scenario}_member_list") or read("healthy_member_list"))
    return E.cluster_findings(members, E.parse_endpoint_status(read(f"{scenario}_endpoint_status")),
                              E.parse_endpoint_health(read(f"{scenario}_endpoint_health")),
                              E.parse_alarm_list(read(f"{scenario}_alarm_list")), **kwargs)


def by(findings, fid):
    return {f["target"]: f for f in findings if f["id"] == fid}


def test_command_builder():
    argv, env = E.etcdctl_command({"endpoints": ["https://198.18.0.11:2379,https://198.18.0.21:2379"],
                                   "cacert": "/etc/etcd/ssl/ca.pem", "cert": "/etc/etcd/ssl/etcd-client.pem",
                                   "key": "/etc/etcd/ssl/etcd-client-key.pem", "dial_timeout": 3}, "endpoint", "status")
    assert env == {"ETCDCTL_API": "3"}
    assert argv == ["etcdctl", "--endpoints=https://198.18.0.11:2379,https://198.18.0.21:2379", "--cacert=/etc/etcd/ssl/ca.pem",
                    "--cert=/etc/etcd/ssl/etcd-client.pem", "--key=/etc/etcd/ssl/etcd-client-key.pem", "--dial-timeout=3s",
                    "--command-timeout=10s", "-w", "json", "endpoint", "status"]


@pytest.mark.parametrize("params, message", [
    ({"endpoints": []}, "at least one"), ({"endpoints": ["198.18.0.11:2379"]}, "not a URL"),
    ({"endpoints": ["https://a:2379"], "dial_timeout": 0}, "dial_timeout"),
])
def test_command_builder_bad_input(params, message):
    with pytest.raises(E.EtcdError, match=message):
        E.etcdctl_command(params, "member", "list")


def test_spec_matches_doc_fragment():
    import yaml
    from ansible_collections.kubeops.runbook.plugins.doc_fragments.etcd_auth import ModuleDocFragment
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(doc) == set(E.ETCD_AUTH_SPEC)
    for name, spec in E.ETCD_AUTH_SPEC.items():
        assert doc[name]["type"] == spec["type"] and doc[name].get("default") == spec.get("default")


def test_lab_tls_cluster_is_healthy():
    findings = assess("lab_tls", member_hosts={"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"})
    assert {f["status"] for f in findings} == {"ok"}
    members = by(findings, "etcd.member")
    assert set(members) == {"master1", "node1", "node2"} and members["node2"]["host"] == "node2"
    assert by(findings, "etcd.leader")["cluster"]["summary"].startswith("leader ")


def test_down_member_is_joined_by_url():
    """A down member gives no endpoint status (no ID to join on): it is still found through its client URL."""
    members = E.parse_member_list(read("onedown_member_list"))
    statuses = E.parse_endpoint_status(read("onedown_endpoint_status"))
    assert "http://127.0.0.1:23379" not in statuses
    assert by(assess("onedown"), "etcd.member")["m3"]["summary"].endswith("http://127.0.0.1:23379: context deadline exceeded")
    assert len(members) == 3


@pytest.mark.parametrize("scenario, member_status, quorum, leader, alarms", [
    ("healthy", {"m1": "ok", "m2": "ok", "m3": "ok"}, "ok", "ok", "ok"),
    ("onedown", {"m1": "ok", "m2": "ok", "m3": "critical"}, "warning", "ok", "ok"),
    ("noquorum", {"m1": "critical", "m2": "critical", "m3": "critical"}, "critical", "critical", "ok"),
    ("nospace", {"m1": "ok", "m2": "ok", "m3": "ok"}, "ok", "ok", "critical"),
])
def test_scenarios(scenario, member_status, quorum, leader, alarms):
    findings = assess(scenario)
    assert {t: f["status"] for t, f in by(findings, "etcd.member").items()} == member_status
    assert by(findings, "etcd.quorum")["cluster"]["status"] == quorum
    assert by(findings, "etcd.leader")["cluster"]["status"] == leader
    assert by(findings, "etcd.alarms")["cluster"]["status"] == alarms


def test_nospace_names_the_member():
    assert by(assess("nospace"), "etcd.alarms")["cluster"]["summary"] == "active alarms: NOSPACE@m2"


def test_quorum_lost_summary():
    assert by(assess("noquorum"), "etcd.quorum")["cluster"]["summary"] == "quorum lost: 0 of 3 members healthy, 2 needed"


@pytest.mark.parametrize("quota, warning, critical, status", [(4 * 2 ** 20, 80, 95, "critical"), (5 * 2 ** 20, 70, 95, "warning"),
                                                              (2 * 2 ** 30, 80, 95, "ok")])
def test_db_size_against_quota(quota, warning, critical, status):
    """The nospace capture: member m2's DB is 4034560 bytes, near the 4 MiB quota it ran with."""
    sizes = by(assess("nospace", quota_bytes=quota, db_warning_percent=warning, db_critical_percent=critical), "etcd.db_size")
    assert sizes["m2"]["status"] == status


def _runner(scenario: str):
    """A process boundary replaying the captured etcdctl stdout/stderr/rc of a scenario."""
    calls = []

    def run(argv, env):
        assert env["ETCDCTL_API"] == "3" and "-w" in argv
        calls.append(argv)
        sub = "_".join(a for a in argv[1:] if not a.startswith("-") and a != "json")
        name = f"{scenario}_{sub}"
        rc_path = FIX / f"{name}.rc"
        if not rc_path.exists():
            return 1, "", "Error: context deadline exceeded"
        err = (FIX / f"{name}.stderr").read_text() if (FIX / f"{name}.stderr").exists() else ""
        return int(rc_path.read_text()), read(name), err
    return calls, run


def test_run_cluster_check_uses_member_urls():
    calls, run = _runner("onedown")
    result = E.run_cluster_check(run, {"endpoints": ["http://127.0.0.1:21379"]}, "/usr/bin/etcdctl")
    status_call = next(c for c in calls if "status" in c)
    assert "--endpoints=http://127.0.0.1:21379,http://127.0.0.1:23379,http://127.0.0.1:22379" in status_call
    assert by(result["findings"], "etcd.member")["m3"]["status"] == "critical"


def test_member_and_alarm_list_ask_one_endpoint_at_a_time():
    """A member that is down is skipped; no call but status/health names more than one endpoint."""
    calls, replay = _runner("onedown")
    down = "http://127.0.0.1:29999"

    def run(argv, env):
        if f"--endpoints={down}" in argv:
            calls.append(argv)
            return 1, "", "Error: context deadline exceeded"
        return replay(argv, env)
    result = E.run_cluster_check(run, {"endpoints": [down, "http://127.0.0.1:21379"]}, "etcdctl")
    member_calls = [c for c in calls if "member" in c]
    assert [next(a for a in c if a.startswith("--endpoints=")) for c in member_calls] == [
        f"--endpoints={down}", "--endpoints=http://127.0.0.1:21379"]
    [alarm_call] = [c for c in calls if "alarm" in c]
    assert "," not in next(a for a in alarm_call if a.startswith("--endpoints="))
    assert result["members"] and by(result["findings"], "etcd.member")["m3"]["status"] == "critical"


def test_no_member_answers():
    def run(argv, env):
        return 1, "", '{"level":"warn","msg":"retrying"}\nError: context deadline exceeded\n'
    result = E.run_cluster_check(run, {"endpoints": ["https://198.18.0.22:2379"]}, "etcdctl")
    [item] = result["findings"]
    assert item["id"] == "etcd.quorum" and item["status"] == "critical"
    assert item["summary"] == "no etcd member answered member list: Error: context deadline exceeded"


def _record(path, taken: float, **over):
    st = os.stat(path)
    stamp = datetime.datetime.fromtimestamp(taken, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {"schema": "kubeops.runbook/etcd-snapshot/v1", "name": os.path.basename(path), "size": st.st_size,
              "mtime_ns": st.st_mtime_ns, "taken": stamp, **over}
    Path(str(path) + ".verified.json").write_text(json.dumps(record))


def test_snapshots(tmp_path):
    now = 1_800_000_000.0
    assert E.snapshot_findings(None, "/var/backups/etcd", "master1", now)[0]["status"] == "warning"
    assert E.snapshot_findings(None, "/x", "m", now, missing_status="critical")[0]["status"] == "critical"
    (tmp_path / "snap-1.db").write_bytes(b"x" * 10)
    (tmp_path / "snap-2.db").write_bytes(b"x" * 20)
    (tmp_path / "notes.txt").write_text("not a snapshot")
    os.utime(tmp_path / "snap-1.db", (now - 3 * 3600, now - 3 * 3600))
    os.utime(tmp_path / "snap-2.db", (now - 30 * 3600, now - 30 * 3600))
    _record(tmp_path / "snap-1.db", now - 3 * 3600)
    _record(tmp_path / "snap-2.db", now - 30 * 3600)
    entries = E.list_snapshots(str(tmp_path))
    assert sorted(e["name"] for e in entries) == ["snap-1.db", "snap-2.db"]
    [fresh] = E.snapshot_findings(entries, str(tmp_path), "master1", now)
    assert fresh["status"] == "ok" and fresh["details"]["newest"] == "snap-1.db" and fresh["details"]["age_hours"] == 3.0
    [stale] = E.snapshot_findings(entries, str(tmp_path), "master1", now + 24 * 3600)
    assert stale["status"] == "warning"
    [old] = E.snapshot_findings(entries, str(tmp_path), "master1", now + 80 * 3600)
    assert old["status"] == "critical"
    assert E.list_snapshots(str(tmp_path / "missing")) is None


def test_empty_changed_or_future_snapshots_never_count(tmp_path):
    """Fresh-looking files that are no backup cannot make the check green: an empty file, a copy dated a day ahead (a
    clock NTP corrected), a file changed after it was verified. A snapshot of other tools (no record) counts by mtime."""
    now = 1_800_000_000.0
    old = tmp_path / "etcd-snapshot-20270115T080000Z.db"
    old.write_bytes(b"x" * 20)
    os.utime(old, (now - 40 * 3600, now - 40 * 3600))
    _record(old, now - 40 * 3600)
    (tmp_path / "etcd-snapshot-20270116T080000Z.db").write_bytes(b"")                  # empty, newest name
    ahead = tmp_path / "etcd-snapshot-20270118T080000Z.db"
    ahead.write_bytes(b"x" * 20)
    os.utime(ahead, (now + 86400, now + 86400))                                         # dated a day ahead
    recorded_ahead = tmp_path / "etcd-snapshot-20270118T090000Z.db"
    recorded_ahead.write_bytes(b"x" * 20)
    _record(recorded_ahead, now + 86400)                                                # verified "a day ahead"
    changed = tmp_path / "etcd-snapshot-20270117T080000Z.db"
    changed.write_bytes(b"x" * 20)
    _record(changed, now - 3600)
    changed.write_bytes(b"y" * 21)                                                      # changed after verification
    [item] = E.snapshot_findings(E.list_snapshots(str(tmp_path)), str(tmp_path), "master1", now)
    assert item["status"] == "warning" and item["details"]["newest"] == old.name and item["details"]["age_hours"] == 40.0
    assert item["details"]["verified"] is True and item["details"]["files"] == 1
    assert [i.split(" (")[1] for i in item["details"]["ignored"]] == [
        "empty)", "changed since it was verified)", "dated in the future)", "dated in the future)"]
    foreign = tmp_path / "lab-etcd-20270117T100000Z.db"
    foreign.write_bytes(b"z" * 30)
    os.utime(foreign, (now - 3600, now - 3600))
    [other] = E.snapshot_findings(E.list_snapshots(str(tmp_path)), str(tmp_path), "master1", now)
    assert other["status"] == "ok" and other["details"]["newest"] == foreign.name and other["details"]["verified"] is False
    for path in (old, foreign):
        path.unlink()
    [none] = E.snapshot_findings(E.list_snapshots(str(tmp_path)), str(tmp_path), "master1", now)
    assert none["status"] == "warning" and none["summary"].startswith(f"no etcd snapshot in {tmp_path} (4 file(s) do not count")


@pytest.mark.parametrize("func", [E.parse_member_list, E.parse_endpoint_status, E.parse_endpoint_health, E.parse_alarm_list])
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(func, data):
    try:
        func(data.decode("utf-8", errors="replace"))
    except E.EtcdError:
        pass


@pytest.mark.parametrize("name, func", [("healthy_member_list", E.parse_member_list),
                                        ("lab_tls_endpoint_status", E.parse_endpoint_status),
                                        ("onedown_endpoint_health", E.parse_endpoint_health),
                                        ("nospace_alarm_list", E.parse_alarm_list)])
@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=1500))
def test_fuzz_truncated(name, func, cut):
    try:
        func(read(name)[:cut])
    except E.EtcdError:
        pass
