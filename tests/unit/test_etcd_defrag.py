"""etcd maintenance (plugins/module_utils/_etcd_defrag.py) on etcdctl 3.4.23 output captured on the lab and on a
throw-away cluster with a 4 MiB quota (tests/unit/fixtures/etcd_maintenance/README.md)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd as E
from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_defrag as D

FIX = Path(__file__).parent / "fixtures" / "etcd_maintenance"
OLD = Path(__file__).parent / "fixtures" / "etcd"
LAB = ["https://198.18.0.11:2379", "https://198.18.0.21:2379", "https://198.18.0.22:2379"]
LOCAL = ["http://127.0.0.1:42379", "http://127.0.0.1:43379", "http://127.0.0.1:44379"]
MiB = 2 ** 20


def capture(name: str) -> tuple[int, str, str]:
    """(rc, stdout, stderr) of a capture in fixtures/etcd_maintenance."""
    def read(ext: str) -> str:
        path = FIX / f"{name}.{ext}"
        return path.read_text() if path.exists() else ""
    assert (FIX / f"{name}.rc").exists(), name
    return int(read("rc") or 0), read("stdout"), read("stderr")


def states_of(prefix: str, status: str | None = None, health: str | None = None,
              members: str | None = None) -> list[dict]:
    return D.member_states(E.parse_member_list(capture(members or f"{prefix}_member_list")[1]),
                           E.parse_endpoint_status(capture(status or f"{prefix}_endpoint_status")[1]),
                           E.parse_endpoint_health(capture(health or f"{prefix}_endpoint_health")[1]))


class Script:
    """etcdctl as captured: each command (``member list``, ``endpoint status``, ``defrag <endpoint>``...) answers
    from its own queue of captures, the last one repeating. Records every call (command, endpoints, timeout)."""

    COMMANDS = ("member list", "endpoint status", "endpoint health", "alarm list", "alarm disarm", "compaction", "defrag")

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = {key: list(queue) for key, queue in answers.items()}
        self.calls: list[tuple[str, list[str], str | None]] = []

    def __call__(self, argv: list, env: dict) -> tuple[int, str, str]:
        assert env == {"ETCDCTL_API": "3"}
        words = " ".join(a for a in argv[1:] if not a.startswith("-") and a != "json")
        command = next(c for c in self.COMMANDS if words.startswith(c))
        endpoints = next(a.split("=", 1)[1] for a in argv if a.startswith("--endpoints=")).split(",")
        timeout = next((a.split("=", 1)[1] for a in argv if a.startswith("--command-timeout=")), None)
        self.calls.append((command, endpoints, timeout))
        key = f"defrag {endpoints[0]}" if command == "defrag" and f"defrag {endpoints[0]}" in self.answers else command
        queue = self.answers[key]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return capture(answer) if isinstance(answer, str) else answer

    def commands(self, name: str) -> list[tuple[list[str], str | None]]:
        return [(eps, timeout) for command, eps, timeout in self.calls if command == name]


def etcd(script: Script, endpoints: list[str] | None = None) -> D.Etcd:
    endpoints = endpoints or LAB
    params = {"endpoints": endpoints, "cacert": "/etc/etcd/ssl/ca.pem", "cert": "/etc/etcd/ssl/etcd-client.pem",
              "key": "/etc/etcd/ssl/etcd-client-key.pem", "dial_timeout": 5, "command_timeout": 10}
    return D.Etcd(script, D.command_builder(params, "/usr/bin/etcdctl"), endpoints)


def no_sleep(_seconds: float) -> None:
    return None


def lab_script(**more: list[str]) -> Script:
    """The lab's rolling defragmentation as captured: master1, then node2, then node1 (the leader)."""
    answers = {
        "member list": ["lab_member_list"],
        "endpoint status": ["lab_endpoint_status", "lab_endpoint_status_after_follower1",
                            "lab_endpoint_status_after_follower2", "lab_endpoint_status_after_leader"],
        "endpoint health": ["lab_endpoint_health", "lab_endpoint_health_after_follower1",
                            "lab_endpoint_health_after_follower2"],
        "alarm list": ["lab_alarm_list"],
        "compaction": ["lab_compaction"],
        "defrag": ["lab_defrag_follower1", "lab_defrag_follower2", "lab_defrag_leader"],
    }
    answers.update(more)
    return Script(answers)


# -- reading the cluster --------------------------------------------------------------------------------------
def test_lab_states_name_node1_the_leader_and_every_member_healthy():
    states = states_of("lab")
    assert [s["name"] for s in states] == ["node2", "node1", "master1"]
    assert all(s["healthy"] for s in states)
    assert D.leader_of(states)["name"] == "node1"
    assert {s["name"]: s["db_size"] for s in states} == {"node2": 1519616, "node1": 1523712, "master1": 1523712}


def test_followers_first_in_member_list_order_and_the_leader_last():
    states = states_of("lab")
    leader = D.preflight(states, [])
    assert [s["name"] for s in D.order(states, leader["id"])] == ["node2", "master1", "node1"]
    assert [s["name"] for s in D.order(D.by_endpoints(states, LAB), leader["id"])] == ["master1", "node2", "node1"]
    assert D.next_member(states, ["node2", "master1"], leader["id"])["name"] == "node1"
    assert D.next_member(states, ["node2", "master1", "node1"], leader["id"]) is None


def test_a_member_down_refuses_before_any_change():
    """etcd member m3 killed (tests/unit/fixtures/etcd/onedown_*): its status and health are missing."""
    members = E.parse_member_list((OLD / "onedown_member_list.json").read_text())
    statuses = E.parse_endpoint_status((OLD / "onedown_endpoint_status.json").read_text())
    healths = E.parse_endpoint_health((OLD / "onedown_endpoint_health.json").read_text())
    states = D.member_states(members, statuses, healths)
    with pytest.raises(D.DefragRefused, match=r"m3 .*refusing to defragment"):
        D.preflight(states, [])


@pytest.mark.parametrize("keep", [1, 2])
def test_no_spare_quorum_refuses(keep):
    """One or two members, all healthy: with one busy defragmenting, the rest is below the quorum."""
    states = states_of("lab")
    leader = D.leader_of(states)
    kept = [leader] + [s for s in states if s is not leader][:keep - 1]
    with pytest.raises(D.DefragRefused, match="no spare quorum"):
        D.preflight(kept, [])


def test_members_that_disagree_on_the_leader_refuse():
    states = states_of("lab")
    states[0] = {**states[0], "leader_id": states[0]["id"]}
    with pytest.raises(D.DefragRefused, match="do not agree on one leader"):
        D.preflight(states, [])


def test_nospace_keeps_members_healthy_but_corrupt_refuses():
    states = states_of("local", "local_nospace_endpoint_status", "local_nospace_endpoint_health", "local_fresh_member_list")
    alarms = E.parse_alarm_list(capture("local_nospace_alarm_list")[1])
    assert all(s["healthy"] for s in states) and all(s["status"]["errors"] for s in states)
    assert D.preflight(states, alarms)["name"] == "m3"
    assert D.alarm_names(alarms, states) == ["NOSPACE@m1"]
    with pytest.raises(D.DefragRefused, match="CORRUPT"):
        D.preflight(states, [{"member_id": states[0]["id"], "alarm": "CORRUPT"}])


# -- etcdctl's answers ----------------------------------------------------------------------------------------
def test_parse_defrag_accepts_finished_and_names_the_failure():
    D.parse_defrag(*capture("lab_defrag_leader"), "https://198.18.0.21:2379")
    with pytest.raises(D.DefragError, match=r"exit 1\): Failed to defragment etcd member\[https://198.18.0.11:2380\] "
                                            r"\(context deadline exceeded\)"):
        D.parse_defrag(*capture("lab_defrag_refused_port"), "https://198.18.0.11:2380")
    with pytest.raises(D.DefragError, match="connection refused|context deadline"):
        D.parse_defrag(*capture("local_defrag_down"), "http://127.0.0.1:49379")


def test_parse_compaction():
    assert D.parse_compaction(*capture("lab_compaction"), 875) is True
    assert D.parse_compaction(*capture("lab_compaction_again"), 875) is False
    assert D.parse_compaction(*capture("local_nospace_compaction"), 47) is True
    with pytest.raises(D.DefragError, match="compaction 46 failed"):
        D.parse_compaction(*capture("local_nospace_compaction"), 46)
    with pytest.raises(D.DefragError, match="future revision"):
        D.parse_compaction(*capture("local_compaction_future"), 10 ** 6)


def test_nospace_is_disarmed_only_once_every_member_is_under_the_quota():
    alarms = E.parse_alarm_list(capture("local_nospace_alarm_list")[1])
    still = states_of("local", "local_nospace_after_defrag_endpoint_status", "local_nospace_endpoint_health",
                      "local_fresh_member_list")
    decision = D.nospace_decision(alarms, still, 4 * MiB)
    assert decision["raised"] and not decision["disarm"]
    assert "m1 4.1 MiB" in decision["why"] and "m3 4.0 MiB" in decision["why"] and "m2" not in decision["why"]
    freed = states_of("local", "local_freed_endpoint_status", "local_nospace_endpoint_health", "local_fresh_member_list")
    assert D.nospace_decision(alarms, freed, 4 * MiB) == {
        "raised": True, "disarm": True, "why": "every member is under the quota of 4.0 MiB (largest 20 KiB)"}
    assert D.nospace_decision([], freed, 4 * MiB)["raised"] is False


# -- the run --------------------------------------------------------------------------------------------------
def test_check_mode_plans_and_calls_nothing_that_changes():
    script = lab_script()
    result = D.maintain(etcd(script), D.Options(compact=True), check_mode=True, sleep=no_sleep)
    assert [p["name"] for p in result["plan"]] == ["master1", "node2", "node1"]
    assert [p["role"] for p in result["plan"]] == ["follower", "follower", "leader"]
    assert result["plan"][1]["line"] == "node2 (follower): 1.4 MiB, about 4 KiB to free"
    assert result["compaction"] == {"revision": 875, "compacted": "would compact"}
    assert not script.commands("defrag") and not script.commands("compaction") and not script.commands("alarm disarm")
    assert [(a["action"], a["target"]) for a in result["audit"]] == [
        ("etcd compact", "etcd"), ("etcd defrag", "master1"), ("etcd defrag", "node2"), ("etcd defrag", "node1")]


def test_lab_run_compacts_then_defragments_leader_last_and_measures_what_each_freed():
    """The order the capture took: master1 and node2 (the followers, in the order of the endpoints), node1 last."""
    script = lab_script(**{"defrag https://198.18.0.11:2379": ["lab_defrag_follower1"],
                           "defrag https://198.18.0.22:2379": ["lab_defrag_follower2"],
                           "defrag https://198.18.0.21:2379": ["lab_defrag_leader"]})
    result = D.maintain(etcd(script), D.Options(compact=True, defrag_timeout=60), check_mode=False, sleep=no_sleep)
    assert script.commands("compaction") == [(LAB, "60s")]
    assert script.commands("defrag") == [(["https://198.18.0.11:2379"], "60s"), (["https://198.18.0.22:2379"], "60s"),
                                         (["https://198.18.0.21:2379"], "60s")]
    done = result["members"]
    assert [(m["name"], m["role"]) for m in done] == [("master1", "follower"), ("node2", "follower"), ("node1", "leader")]
    # each member's size before is read just before its turn: the compaction (physical) grew the others meanwhile
    assert [(m["before"]["db_size"], m["after"]["db_size"], m["freed"]) for m in done] == [
        (1523712, 536576, 987136), (1826816, 536576, 1290240), (1826816, 536576, 1290240)]
    assert result["freed"] == 987136 + 2 * 1290240
    assert done[2]["line"].startswith("node1 (leader): 1.7 MiB -> 524 KiB, freed 1.2 MiB, healthy again after")
    assert [(a["action"], a["target"], a.get("freed")) for a in result["audit"]] == [
        ("etcd compact", "etcd", None), ("etcd defrag", "master1", 987136), ("etcd defrag", "node2", 1290240),
        ("etcd defrag", "node1", 1290240)]
    assert result["alarms"] == [] and result["nospace"]["raised"] is False and not script.commands("alarm disarm")


def test_the_leader_is_read_again_before_each_member():
    """Leadership moved to master1 (defragmented first) after the first member: node1 is then an ordinary follower,
    taken in its turn by the endpoints' order (before node2), not kept for last."""
    rc, out, err = capture("lab_endpoint_status_after_follower1")
    moved = json.loads(out)
    master1 = next(e for e in moved if e["Endpoint"].endswith(".11:2379"))["Status"]["header"]["member_id"]
    for entry in moved:
        entry["Status"]["leader"] = master1
    script = lab_script(**{"endpoint status": ["lab_endpoint_status", (rc, json.dumps(moved), err)]})
    result = D.maintain(etcd(script), D.Options(), check_mode=False, sleep=no_sleep)
    order = [(m["name"], m["role"]) for m in result["members"]]
    assert order == [("master1", "follower"), ("node1", "follower"), ("node2", "follower")]


def test_a_member_not_healthy_again_stops_the_run_with_the_record_of_what_was_done():
    """node2's etcd down right after master1's defragmentation (lab_node2_down_*: node2's etcd stopped on the lab)."""
    clock = iter(range(0, 10_000, 5))
    script = lab_script(**{"member list": ["lab_member_list", "lab_node2_down_member_list"],
                           "endpoint health": ["lab_endpoint_health", "lab_node2_down_endpoint_health"],
                           "endpoint status": ["lab_endpoint_status", "lab_node2_down_endpoint_status"]})
    with pytest.raises(D.DefragFailed) as failed:
        D.maintain(etcd(script), D.Options(member_timeout=30), check_mode=False, sleep=no_sleep,
                   clock=lambda: float(next(clock)))
    assert "after defragmenting master1 the cluster was not healthy again within 30s (node2)" in str(failed.value)
    assert "the members not defragmented yet are untouched" in str(failed.value)
    assert len(script.commands("defrag")) == 1
    record = failed.value.result["audit"][-1]
    assert record["action"] == "etcd defrag" and record["target"] == "master1" and record["after"] is None
    assert record["failed"].startswith("not healthy again")


def test_nospace_run_disarms_once_under_the_quota():
    script = Script({
        "member list": ["local_fresh_member_list"],
        "endpoint status": ["local_nospace_endpoint_status", "local_freed_endpoint_status"],
        "endpoint health": ["local_nospace_endpoint_health"],
        "alarm list": ["local_nospace_alarm_list", "local_nospace_alarm_list", "local_nospace_alarm_list",
                       "local_nospace_alarm_list", "local_disarmed_alarm_list"],
        "defrag": ["local_nospace_defrag_m2"],
        "alarm disarm": ["local_alarm_disarm_nospace"],
    })
    result = D.maintain(etcd(script, LOCAL), D.Options(quota_bytes=4 * MiB), check_mode=False, sleep=no_sleep)
    assert result["alarms_before"] == ["NOSPACE@m1"] and result["alarms"] == []
    assert result["nospace"]["disarm"] is True
    assert script.commands("alarm disarm") == [(["http://127.0.0.1:44379"], "10s")]
    assert result["audit"][-1]["action"] == "etcd alarm disarm"
    assert result["audit"][-1]["before"] == {"alarms": ["NOSPACE@m1"]} and result["audit"][-1]["after"] == {"alarms": []}


def test_nospace_stays_when_a_member_is_still_over_the_quota():
    script = Script({
        "member list": ["local_fresh_member_list"],
        "endpoint status": ["local_nospace_endpoint_status", "local_nospace_after_defrag_endpoint_status"],
        "endpoint health": ["local_nospace_endpoint_health"],
        "alarm list": ["local_nospace_alarm_list"],
        "defrag": ["local_nospace_defrag_m2"],
    })
    with pytest.raises(D.DefragFailed, match=r"but NOSPACE stays raised: still at or over the quota of 4.0 MiB: m1 4.1 MiB"):
        D.maintain(etcd(script, LOCAL), D.Options(quota_bytes=4 * MiB), check_mode=False, sleep=no_sleep)
    assert not script.commands("alarm disarm")


def test_a_refusal_changes_nothing():
    script = lab_script(**{"member list": ["lab_node2_down_member_list"], "endpoint health": ["lab_node2_down_endpoint_health"],
                           "endpoint status": ["lab_node2_down_endpoint_status"]})
    with pytest.raises(D.DefragRefused, match=r"etcd member\(s\) not healthy: node2 \(context deadline exceeded\); refusing"):
        D.maintain(etcd(script), D.Options(compact=True), check_mode=False, sleep=no_sleep)
    assert not script.commands("defrag") and not script.commands("compaction")


@pytest.mark.parametrize("option, value", [("defrag_timeout", 0), ("member_timeout", -1), ("quota_bytes", True)])
def test_bad_options_name_the_value(option, value):
    with pytest.raises(D.DefragError, match=re.escape(f"{option} must be a positive number, got {value!r}")):
        D.validate(D.Options(**{option: value}))
