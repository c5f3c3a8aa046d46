"""The inspection history (plugins/plugin_utils/_history.py): the one store of previous-run state on the controller —
runs and their findings, the last good baselines, and the trends the HTML report draws."""
from __future__ import annotations

import sqlite3

import pytest

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history as H

SNAPSHOT = {"taken": "2026-11-22T06:00:00Z", "pods": {"product/app-1": {"uid": "u1", "restarts": 3}}}


def test_baseline_is_kept_until_a_good_one_replaces_it(tmp_path):
    db = str(tmp_path / "history.sqlite")
    with H.History(db) as history:
        assert history.baseline("lab", "pod_restarts") is None
        history.save_baseline("lab", "pod_restarts", SNAPSHOT["taken"], SNAPSHOT, run_id=1)
    with H.History(db) as history:   # a later run: the API was down, nothing saved, the old one is still there
        assert history.baseline("lab", "pod_restarts") == {"taken": SNAPSHOT["taken"], "run_id": 1, "data": SNAPSHOT}
        newer = dict(SNAPSHOT, taken="2026-11-23T06:00:00Z")
        history.save_baseline("lab", "pod_restarts", newer["taken"], newer, run_id=3)
        assert history.baseline("lab", "pod_restarts")["data"] == newer
        assert history.baseline("other", "pod_restarts") is None   # per cluster


def test_a_damaged_baseline_says_so(tmp_path):
    db = str(tmp_path / "history.sqlite")
    with H.History(db):
        pass
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO baselines VALUES ('lab', 'pod_restarts', 'x', NULL, '{not json')")
    with H.History(db) as history, pytest.raises(H.HistoryError, match="is not JSON"):
        history.baseline("lab", "pod_restarts")


def test_schema_1_history_gets_the_baselines_table(tmp_path):
    """A history written by 1.0.0 (no baselines table) opens and takes baselines."""
    db = str(tmp_path / "history.sqlite")
    with sqlite3.connect(db) as raw:
        raw.executescript("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                          "INSERT INTO meta VALUES ('schema', '1');"
                          "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, started TEXT "
                          "NOT NULL, finished TEXT NOT NULL, status TEXT NOT NULL, report TEXT);"
                          "CREATE TABLE findings (run_id INTEGER NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, "
                          "PRIMARY KEY (run_id, key));")
    with H.History(db) as history:
        history.save_baseline("lab", "pod_restarts", SNAPSHOT["taken"], SNAPSHOT)
        assert history.baseline("lab", "pod_restarts")["data"] == SNAPSHOT


def test_trends_count_statuses_per_run_and_find_what_keeps_coming_back(tmp_path):
    with H.History(str(tmp_path / "h.sqlite")) as history:
        for day in range(1, 6):
            findings = {"nodes.ready:node1": "ok", "host.reachable:mw1": "ok",
                        "logs.messages:/var/log/messages@node2": "warning" if day % 2 else "ok"}
            if day >= 3:
                findings["disk.space:/data@mw1"] = "critical"
            history.record("lab", f"2026-11-0{day}T01:00:00Z", f"2026-11-0{day}T01:05:00Z",
                           "critical" if day >= 3 else "warning", findings)
        history.record("other", "2026-11-06T01:00:00Z", "2026-11-06T01:05:00Z", "critical", {"x.y:z": "critical"})
        trends = history.trends("lab", limit=4)
    assert [r["started"] for r in trends["runs"]] == [f"2026-11-0{d}T01:00:00Z" for d in (2, 3, 4, 5)]
    assert [(r["ok"], r["warning"], r["critical"]) for r in trends["runs"]] == [(3, 0, 0), (2, 1, 1), (3, 0, 1), (2, 1, 1)]
    assert trends["recurring"] == [
        {"key": "disk.space:/data@mw1", "runs": 3, "of": 4, "now": "critical"},
        {"key": "logs.messages:/var/log/messages@node2", "runs": 2, "of": 4, "now": "warning"},
    ]


def test_trends_with_the_run_not_recorded_yet(tmp_path):
    with H.History(str(tmp_path / "h.sqlite")) as history:
        history.record("lab", "2026-11-01T01:00:00Z", "2026-11-01T01:05:00Z", "warning", {"a.b:x": "warning", "c.d:y": "ok"})
        history.record("lab", "2026-11-02T01:00:00Z", "2026-11-02T01:05:00Z", "warning", {"a.b:x": "warning"})
        trends = history.trends("lab", limit=2, current={"started": "2026-11-03T01:00:00Z", "status": "critical",
                                                         "findings": {"a.b:x": "critical", "e.f:z": "ok"}})
    assert [(r["started"], r["critical"], r["warning"], r["ok"]) for r in trends["runs"]] == [
        ("2026-11-02T01:00:00Z", 0, 1, 0), ("2026-11-03T01:00:00Z", 1, 0, 1)]
    assert trends["recurring"] == [{"key": "a.b:x", "runs": 2, "of": 2, "now": "critical"}]


def test_a_run_keeps_its_wrong_keys_and_its_counts(tmp_path):
    """A fleet's ok keys are counted, not stored; what is new and resolved since the last run does not change."""
    with H.History(str(tmp_path / "h.sqlite")) as history:
        history.record("lab", "2026-11-01T01:00:00Z", "2026-11-01T01:05:00Z", "warning",
                       {"a.b:x": "warning", "c.d:y": "ok", "e.f:z": "ok"}, hosts={"a.b:x": "node1"})
        last = history.last_run("lab")
        trends = history.trends("lab")
    assert last["findings"] == {"a.b:x": "warning"} and last["hosts"] == {"a.b:x": "node1"}
    assert [(r["ok"], r["warning"]) for r in trends["runs"]] == [(2, 1)]
    assert H.compare(last["findings"], {"a.b:x": "ok", "c.d:y": "critical"}) == (["c.d:y"], ["a.b:x"])
    with sqlite3.connect(str(tmp_path / "h.sqlite")) as raw:
        assert raw.execute("SELECT key FROM findings").fetchall() == [("a.b:x",)]


def test_schema_2_runs_are_counted_from_their_rows(tmp_path):
    """Runs recorded before the counts (every key a row, no counts on the run) still draw their trend bars."""
    db = str(tmp_path / "h.sqlite")
    with sqlite3.connect(db) as raw:
        raw.executescript("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                          "INSERT INTO meta VALUES ('schema', '2');"
                          "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, started TEXT "
                          "NOT NULL, finished TEXT NOT NULL, status TEXT NOT NULL, report TEXT);"
                          "CREATE TABLE findings (run_id INTEGER NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, "
                          "host TEXT, PRIMARY KEY (run_id, key));"
                          "INSERT INTO runs VALUES (1, 'lab', '2026-11-01T01:00:00Z', '2026-11-01T01:05:00Z', 'warning', NULL);"
                          "INSERT INTO findings VALUES (1, 'a.b:x', 'warning', 'node1'), (1, 'c.d:y', 'ok', NULL),"
                          " (1, 'e.f:z', 'ok', NULL);")
    with H.History(db) as history:
        assert history.last_run("lab")["findings"] == {"a.b:x": "warning"}
        history.record("lab", "2026-11-02T01:00:00Z", "2026-11-02T01:05:00Z", "warning", {"a.b:x": "warning", "c.d:y": "ok"})
        trends = history.trends("lab")
    assert [(r["ok"], r["warning"]) for r in trends["runs"]] == [(2, 1), (1, 1)]
    assert trends["recurring"] == [{"key": "a.b:x", "runs": 2, "of": 2, "now": "warning"}]


def test_trends_of_a_new_cluster_are_empty(tmp_path):
    with H.History(str(tmp_path / "h.sqlite")) as history:
        assert history.trends("lab") == {"runs": [], "recurring": []}


@pytest.mark.parametrize("variables, db, cluster", [
    ({}, "reports/history.sqlite", "kubernetes"),
    ({"kubeops_cluster_name": "erp-prod", "inspection_report_dir": "/var/lib/kubeops/reports"},
     "/var/lib/kubeops/reports/history.sqlite", "erp-prod"),
    ({"inspection_cluster_name": "erp", "kubeops_cluster_name": "x", "inspection_history_db": "/srv/h.sqlite",
      "inspection_report_dir": "/r"}, "/srv/h.sqlite", "erp"),
])
def test_location_follows_the_report_role(monkeypatch, tmp_path, variables, db, cluster):
    monkeypatch.chdir(tmp_path)
    path, name = H.location(variables.get)
    assert (path, name) == (db if db.startswith("/") else str(tmp_path / db), cluster)
