"""systemd_unit_info logic (plugins/module_utils/_systemd.py) on output captured from the lab nodes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _systemd as S

FIX = Path(__file__).parent / "fixtures" / "systemd"
CP = ["kube-apiserver.service", "kube-controller-manager.service", "kube-scheduler.service", "etcd.service",
      "bird.service", "nosuch-unit.service"]


def text(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name, expected", [
    ("kubelet", "kubelet.service"),
    ("etcd.service", "etcd.service"),
    ("getty@tty1.service", "getty@tty1.service"),
    ("docker.socket", "docker.socket"),
])
def test_normalize_unit(name, expected):
    assert S.normalize_unit(name) == expected


@pytest.mark.parametrize("name", ["", "kube let", "x;rm -rf /", "-p", "$(id)"])
def test_normalize_unit_rejects(name):
    with pytest.raises(S.SystemdError, match="units:"):
        S.normalize_unit(name)


def test_commands_are_one_round_trip_each():
    units = S.normalize_units(["kube-apiserver", "kube-scheduler", "kube-apiserver"])
    assert units == ["kube-apiserver.service", "kube-scheduler.service"]
    show = S.show_command("/bin/systemctl", units)
    assert show[-2:] == units and "Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp" in show[4]
    journal = S.journal_command("/bin/journalctl", units, "-24h")
    assert journal.count("-u") == 2 and journal[journal.index("-p") + 1] == "err"
    assert "-p" not in S.journal_command("/bin/journalctl", units, "-24h", klog_errors=True)


def test_parse_show_master1():
    blocks = S.parse_show(text("master1_show.txt"))
    props = S.match_units(CP, blocks)
    assert set(props) == set(CP)
    api = props["kube-apiserver.service"]
    assert api["active_state"] == "active" and api["sub_state"] == "running" and api["main_pid"] > 0
    assert api["memory_bytes"] is None  # "[not set]" in the lab (no memory accounting in nspawn)
    assert api["unit_file_state"] == "enabled" and api["since"].endswith("UTC")
    missing = props["nosuch-unit.service"]
    assert missing["load_state"] == "not-found" and missing["since"] is None and missing["unit_file_state"] is None


@pytest.mark.parametrize("fixture, units, expected", [
    ("master1_show.txt", CP, {"kube-apiserver": "ok", "kube-controller-manager": "ok", "kube-scheduler": "ok",
                              "etcd": "ok", "bird": "ok", "nosuch-unit": "critical"}),
    ("master1_scheduler_stopped_show.txt", ["kube-apiserver.service", "kube-scheduler.service"],
     {"kube-apiserver": "ok", "kube-scheduler": "critical"}),
    ("node1_show.txt", ["containerd.service", "kubelet.service", "kube-proxy.service", "docker.service"],
     {"containerd": "ok", "kubelet": "ok", "kube-proxy": "ok", "docker": "critical"}),
    ("fixture_failed_show.txt", ["kubeops-fixture-err.service"], {"kubeops-fixture-err": "critical"}),
])
def test_unit_findings_from_real_output(fixture, units, expected):
    props = S.match_units(units, S.parse_show(text(fixture)))
    findings = S.unit_findings(units, props, {u: {"count": 0, "samples": [], "last": None} for u in units},
                               "control_plane_services", "master1")
    assert {f["target"]: f["status"] for f in findings} == expected
    for item in findings:
        assert item["id"] == "control_plane_services.unit" and item["host"] == "master1"
        if item["target"] in ("nosuch-unit", "docker"):
            assert item["summary"] == "unit not found"


def test_stopped_and_failed_summaries():
    props = S.match_units(["kube-scheduler.service"], S.parse_show(text("master1_scheduler_stopped_show.txt")))
    status, summary = S.unit_status(props["kube-scheduler.service"], None, 3, 1)
    assert (status, summary) == ("critical", "inactive (dead); expected active (running)")
    props = S.match_units(["kubeops-fixture-err.service"], S.parse_show(text("fixture_failed_show.txt")))
    status, summary = S.unit_status(props["kubeops-fixture-err.service"], None, 3, 1)
    assert status == "critical" and "failed (failed), result exit-code" in summary


def test_parse_journal_error_lines_and_binary_message():
    units = ["kubeops-fixture-err.service", "kube-scheduler.service", "kube-apiserver.service"]
    journal = S.parse_journal(text("fixture_err_journal.json"), units)
    err = journal["kubeops-fixture-err.service"]
    assert err["count"] == 2
    assert err["samples"][0].startswith("E1122 06:00:00.000000 1 fixture.go:42] error")
    assert err["samples"][1] == "日志 \ufffd broken bytes"  # MESSAGE came as a byte array (invalid UTF-8)
    assert journal["kube-scheduler.service"]["count"] == 0
    assert S.parse_journal(text("master1_err_journal_healthy.json"), units)["kube-apiserver.service"]["count"] == 0


def test_warning_with_count_and_samples():
    units = ["kube-apiserver.service"]
    props = S.match_units(units, S.parse_show(text("master1_show.txt")))
    journal = {"kube-apiserver.service": {"count": 4, "samples": ["E1 boom"], "last": "E4 boom"}}
    [item] = S.unit_findings(units, props, journal, "control_plane_services", "master1")
    assert item["status"] == "warning" and "4 error log line(s)" in item["summary"] and "E4 boom" in item["summary"]
    assert item["details"]["journal_samples"] == ["E1 boom"]
    [item] = S.unit_findings(units, props, journal, "control_plane_services", "master1", journal_errors_warning=5)
    assert item["status"] == "ok"


def test_klog_errors_at_info_priority():
    """Kubernetes components log E lines on stderr, recorded at PRIORITY 6: counted only with klog_errors."""
    data = text("master1_scheduler_all_priorities_journal.json")
    units = ["kube-scheduler.service"]
    plain = S.parse_journal(data, units)  # input was not filtered with -p err: priority 6 must not count
    assert plain["kube-scheduler.service"]["count"] == 0
    klog = S.parse_journal(data, units, klog_errors=True)
    expected = sum(1 for line in data.splitlines() if json.loads(line).get("MESSAGE", "").startswith("E1122"))
    assert klog["kube-scheduler.service"]["count"] == expected > 10
    # systemd's own "Stopped kube-scheduler.service" entries carry UNIT=, not _SYSTEMD_UNIT=
    entries = [json.loads(line) for line in data.splitlines()]
    assert any(S.entry_unit(e, units) == "kube-scheduler.service" and e["_SYSTEMD_UNIT"] == "init.scope" for e in entries)


def test_per_unit_cutoff():
    units = ["kubeops-fixture-err.service"]
    data = text("fixture_err_journal.json")
    stamp = int(json.loads(data.splitlines()[0])["__REALTIME_TIMESTAMP"])
    assert S.parse_journal(data, units, {units[0]: stamp + 1})[units[0]]["count"] == 0
    assert S.parse_journal(data, units, {units[0]: stamp})[units[0]]["count"] == 2


@pytest.mark.parametrize("restarts, max_restarts, status", [(0, 3, "ok"), (3, 3, "ok"), (4, 3, "warning"), (1, 0, "warning")])
def test_restart_threshold(restarts, max_restarts, status):
    props = S.match_units(["kube-apiserver.service"], S.parse_show(text("master1_show.txt")))["kube-apiserver.service"]
    assert S.unit_status(dict(props, restarts=restarts), None, max_restarts, 1)[0] == status


@pytest.mark.parametrize("before, now, status, words", [
    (None, 15, "warning", "restarted 15 times since it was loaded"),   # first inspection: every restart counts
    (15, 15, "ok", None),                                              # no restart since the last inspection
    (12, 15, "ok", None),                                              # 3 is not more than 3
    (11, 15, "warning", "restarted 4 times since the last inspection"),
    (40, 5, "warning", "restarted 5 times since the last inspection"),  # reloaded (reboot): counts from 0
    ("15", 15, "warning", "since it was loaded"),                      # a damaged state is no baseline
    (True, 15, "warning", "since it was loaded"),
])
def test_restarts_counted_since_the_last_inspection(before, now, status, words):
    """NRestarts never goes down while the unit is loaded (a manual restart keeps it): one bad night must not
    make a warning on every later inspection."""
    props = S.match_units(["kube-controller-manager.service"],
                          S.parse_show(text("master1_show.txt")))["kube-controller-manager.service"]
    got, summary = S.unit_status(dict(props, restarts=now), None, 3, 1, before)
    assert got == status, summary
    assert words is None or words in summary


def test_restart_counts_kept_in_the_state_and_shown_in_the_finding():
    show = S.match_units(["kube-apiserver.service", "kube-controller-manager.service"],
                         S.parse_show(text("master1_show.txt")))
    props = {unit: dict(p, restarts=15) for unit, p in show.items()}
    state = S.updated_state({"restarts": {"gone.service": 2}}, list(props), 100.0, props)
    assert S.previous_restarts(state) == {"gone.service": 2, "kube-apiserver.service": 15,
                                          "kube-controller-manager.service": 15}
    props["kube-apiserver.service"]["restarts"] = 20
    findings = S.unit_findings(list(props), props, None, "control_plane_services", "master1",
                               restarts_before=S.previous_restarts(state))
    by_unit = {f["target"]: f for f in findings}
    assert by_unit["kube-apiserver"]["status"] == "warning"
    assert by_unit["kube-apiserver"]["details"]["restarts_since_last_inspection"] == 5
    assert by_unit["kube-controller-manager"]["status"] == "ok"
    assert by_unit["kube-controller-manager"]["details"]["restarts"] == 15
    assert S.previous_restarts({"restarts": ["not", "a", "dict"]}) == {}


def test_journal_note_and_bad_category():
    findings = S.unit_findings(["kubelet.service"], {}, None, "node_services", "node1",
                               journal_note="journalctl is not installed on this host")
    assert [(f["id"], f["status"]) for f in findings] == [("node_services.unit", "unknown"),
                                                          ("node_services.journal", "unknown")]
    with pytest.raises(S.SystemdError, match="category"):
        S.unit_findings(["kubelet.service"], {}, None, "pods", "node1")


def test_window_and_state(tmp_path):
    units = ["a.service", "b.service"]
    assert S.window_since(units, {}, "-24h", 1000.0) == ("-24h", {})
    state = S.updated_state({}, units, 900.5)
    since, cut = S.window_since(units, state, "-24h", 1000.0)
    assert since == "@900" and cut == {"a.service": 900_500_000, "b.service": 900_500_000}
    state = S.updated_state(state, ["a.service"], 950.0)
    assert S.window_since(units, state, "-24h", 1000.0)[0] == "@900"
    assert S.window_since(units + ["c.service"], state, "-24h", 1000.0)[0] == "-24h"
    path = tmp_path / "sub" / "state.json"
    S.save_state(str(path), state)
    assert S.load_state(str(path)) == state
    path.write_text("{broken")
    assert S.load_state(str(path)) == {}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_parse_show(data):
    try:
        S.parse_show(data.decode("utf-8", "replace"))
    except S.SystemdError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=1710))
def test_fuzz_truncated_journal(cut):
    raw = text("fixture_err_journal.json")[:cut]
    journal = S.parse_journal(raw, ["kubeops-fixture-err.service"])
    assert journal["kubeops-fixture-err.service"]["count"] <= 2


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_journal_bytes(data):
    S.parse_journal(data.decode("utf-8", "replace"), ["x.service"], klog_errors=True)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=1231))
def test_fuzz_truncated_show(cut):
    try:
        blocks = S.parse_show(text("master1_show.txt")[:cut])
    except S.SystemdError:
        return
    S.unit_findings(CP, S.match_units(CP, blocks), None, "control_plane_services", "m")


def test_journal_samples_carry_no_control_characters_nor_credentials():
    """journalctl -o json gives a message with ESC as a string and one with NUL as a byte array; both reach the
    report's samples without them, and the credential in the first is redacted."""
    lines = [json.dumps({"_SYSTEMD_UNIT": "kubeops-fixture-err.service", "PRIORITY": "3", "__REALTIME_TIMESTAMP": "1",
                         "MESSAGE": "\x1b[31mE1122\x1b[0m login failed password=hunter2"}),
             json.dumps({"_SYSTEMD_UNIT": "kubeops-fixture-err.service", "PRIORITY": "3", "__REALTIME_TIMESTAMP": "2",
                         "MESSAGE": list(b"torn\x00\x00write token=abc")})]
    journal = S.parse_journal("\n".join(lines), ["kubeops-fixture-err.service"])["kubeops-fixture-err.service"]
    assert journal["count"] == 2
    assert journal["samples"] == ["[31mE1122[0m login failed password=<redacted>", "tornwrite token=<redacted>"]
    assert journal["last"] == "tornwrite token=<redacted>"


def test_journal_is_read_as_a_stream(tmp_path):
    """journalctl's output goes to the parser line by line as it comes (run_command's collected output is quadratic
    in its size: a day of a busy apiserver's journal took minutes)."""
    capture = tmp_path / "journal.json"
    capture.write_text(text("fixture_err_journal.json"))
    units = ["kubeops-fixture-err.service"]
    rc, journal, err = S.stream_command(["cat", str(capture)], lambda lines: S.parse_journal(lines, units))
    assert (rc, err) == (0, "")
    assert journal == S.parse_journal(text("fixture_err_journal.json"), units)
    assert journal["kubeops-fixture-err.service"]["count"] > 0
    rc, seen, err = S.stream_command(["sh", "-c", "echo one; echo two; echo oops >&2; exit 3"], list)
    assert (rc, [line.strip() for line in seen], err.strip()) == (3, ["one", "two"], "oops")
    # a consumer that stops early does not leave the command hanging on a full pipe
    rc, first, _err = S.stream_command(["seq", "1", "200000"], next)
    assert (rc, first.strip()) == (0, "1")
