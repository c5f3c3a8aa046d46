"""Flapping findings (plugins/plugin_utils/_flapping.py) and the history query they read
(History.recent_runs): a key whose status changed in >= N of the last runs."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding, finding_key
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _flapping as F
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history as H
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report as R

EP = "services.endpoints:product/oltp-gateway-1-3-0"
DISK = "disk.space:/data@mw1"
POD = "pods.ready:product/app-1@node2"


def record(history: H.History, day: int, statuses: dict[str, str], hosts: dict | None = None) -> None:
    history.record("lab", f"2026-11-{day:02d}T01:00:00Z", f"2026-11-{day:02d}T01:05:00Z",
                   "critical" if "critical" in statuses.values() else "ok", statuses, "x.json", hosts)


@pytest.mark.parametrize("statuses, expected", [
    (["ok", "critical", "ok", "critical"], 3),
    (["ok", "ok", "critical", "critical"], 1),
    (["critical", None, "critical", "ok"], 1),          # a run that said nothing is no change
    (["ok", "warning", "critical", "ok"], 3),           # warning -> critical is a change too
    ([None, None, "ok"], 0),
])
def test_changes(statuses, expected):
    assert F.changes(statuses) == expected


def test_recent_runs_is_one_query_over_the_last_runs_oldest_first(tmp_path):
    with H.History(str(tmp_path / "h.sqlite")) as history:
        for day in range(1, 13):
            record(history, day, {EP: "critical" if day % 2 else "ok", "nodes.ready:node1": "ok"})
        record_other = {"x.y:z": "critical"}
        history.record("other", "2026-11-30T01:00:00Z", "2026-11-30T01:05:00Z", "critical", record_other)
        statements: list[str] = []
        history._db.set_trace_callback(statements.append)  # pylint: disable=protected-access
        runs = history.recent_runs("lab", 5)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert [r["id"] for r in runs] == [8, 9, 10, 11, 12]
    # only what was not ok is stored: a run with nothing wrong is there, empty
    assert [r["findings"] for r in runs] == [{}, {EP: "critical"}, {}, {EP: "critical"}, {}]
    assert runs[1]["hosts"] == {EP: None}


def test_flapping_endpoint_is_marked_with_its_statuses(tmp_path):
    with H.History(str(tmp_path / "h.sqlite")) as history:
        pattern = ["ok", "critical", "ok", "ok", "critical", "critical", "ok", "critical", "ok"]
        for day, status in enumerate(pattern, start=1):
            record(history, day, {EP: status, DISK: "warning"}, {EP: None, DISK: "mw1"})
        older = history.recent_runs("lab", F.RUNS - 1)
    findings = [finding("services.endpoints", "product/oltp-gateway-1-3-0", "ok", "2 ready addresses"),
                finding("disk.space", "/data", "warning", "81% used", host="mw1")]
    report = F.mark({"summary": {"status": "warning", "ok": 1, "warning": 1, "unknown": 0, "critical": 0},
                     "findings": findings}, older)
    endpoint, disk = report["findings"]
    assert endpoint["flapping"] is True and endpoint["status"] == "ok"
    assert endpoint["flapping_statuses"] == pattern + ["ok"]      # oldest first, this run last
    assert "flapping" not in disk                                  # wrong every day is no flapping
    assert report["flapping"] == {"runs": 10, "changes": 3, "keys": [EP]}
    assert report["summary"]["flapping"] == 1 and report["summary"]["ok"] == 1   # counts unchanged


def test_only_the_last_runs_count(tmp_path):
    """Changes older than the window are forgotten: N runs, this one included."""
    with H.History(str(tmp_path / "h.sqlite")) as history:
        for day, status in enumerate(["critical", "ok", "critical", "ok", "ok", "ok", "ok"], start=1):
            record(history, day, {EP: status})
        item = finding("services.endpoints", "product/oltp-gateway-1-3-0", "ok", "fine")
        report = {"summary": {"status": "ok"}, "findings": [item]}
        assert F.mark(report, history.recent_runs("lab", 9))["flapping"]["keys"] == [EP]
        assert F.mark(report, history.recent_runs("lab", 4), runs=5)["flapping"]["keys"] == []


def test_a_host_that_was_down_says_nothing_about_its_findings(tmp_path):
    """node2 down on day 2 and 4: its pod's findings were absent, not ok - no flapping invented."""
    with H.History(str(tmp_path / "h.sqlite")) as history:
        for day in range(1, 6):
            down = day in (2, 4)
            statuses = {"host.reachable:node2": "critical"} if down else {POD: "warning"}
            record(history, day, statuses, {"host.reachable:node2": "node2", POD: "node2"})
        older = history.recent_runs("lab", 9)
    sequences = F.sequences(older, {POD: "warning", "host.reachable:node2": "ok"},
                            {POD: "node2", "host.reachable:node2": "node2"})
    assert sequences[POD] == ["warning", None, "warning", None, "warning", "warning"]
    assert F.changes(sequences[POD]) == 0
    # the host itself did flap: down, up, down, up
    assert F.changes(sequences["host.reachable:node2"]) == 4


def test_a_key_absent_now_is_not_marked():
    older = [{"findings": {EP: s}, "hosts": {EP: None}} for s in ("critical", "ok", "critical", "ok")]
    older = [{"findings": {k: v for k, v in r["findings"].items() if v != "ok"}, "hosts": r["hosts"]} for r in older]
    assert F.flapping(older, {}, {}) == {}


@pytest.mark.parametrize("runs, changes, message", [
    (2, 2, "flapping_runs must be between 3 and 365, got 2"),
    (10, 1, "flapping_changes must be at least 2 and less than flapping_runs (10), got 1"),
    (10, 10, "flapping_changes must be at least 2 and less than flapping_runs (10), got 10"),
])
def test_options_out_of_range(runs, changes, message):
    with pytest.raises(F.FlappingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        F.check_options(runs, changes)


def test_recent_runs_of_an_unreadable_history_is_a_domain_error(tmp_path):
    db = str(tmp_path / "h.sqlite")
    with H.History(db) as history:
        with sqlite3.connect(db) as raw:
            raw.execute("DROP TABLE findings")
        with pytest.raises(H.HistoryError, match="cannot read inspection history"):
            history.recent_runs("lab", 10)


def test_keys_match_the_findings_model():
    item = finding("pods.ready", "product/app-1", "warning", "0/1", host="node2")
    assert finding_key(item) == POD


def test_report_shows_flapping_badge_count_and_section(tmp_path):
    templates = str(Path(__file__).resolve().parents[2] / "roles" / "report" / "templates")
    older = [{"findings": {EP: "critical"} if day % 2 else {}, "hosts": {EP: None}} for day in range(1, 6)]
    older += [{"findings": {DISK: "warning"} if day % 2 else {}, "hosts": {DISK: "mw1"}} for day in range(6, 10)]
    findings = [finding("services.endpoints", "product/oltp-gateway-1-3-0", "ok", "2 ready addresses"),
                finding("disk.space", "/data", "warning", "81% used", host="mw1")]
    report = F.mark(R.build_report("lab", "2026-11-22T01:00:00Z", "2026-11-22T01:05:00Z", findings), older)
    assert report["flapping"]["keys"] == [DISK, EP]
    markdown = R.render(report, templates, "markdown")
    assert "| 0 | 0 | 1 | 1 | 1 | 0 | 0 | 2 |" in markdown                       # the flapping count
    assert "| WARNING | **NEW** *FLAPPING* `disk.space` |" in markdown             # the badge on a finding shown
    section = markdown.split("## Flapping (2: status changed 3 times or more in the last 10 runs)", 1)[1]
    assert "| `services.endpoints:product/oltp-gateway-1-3-0` | OK | critical → ok → critical → ok → critical → ok" in section
    html = R.render(report, templates, "html")
    assert '<div class="count flappingc"><b>2</b>flapping</div>' in html
    assert '<span class="flapping" title="statuses of the last runs, oldest first: ' in html
    assert "<h2>Flapping (2)</h2>" in html
