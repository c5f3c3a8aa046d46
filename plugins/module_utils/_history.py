# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inspection history on the controller (SQLite). PRIVATE to the collection: not a public API.

One row per inspection run and one row per finding key of that run, so that the next run of the same
cluster can say what is new and what was resolved since the last one.
"""
from __future__ import annotations

import os
import sqlite3
import typing as t

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    status TEXT NOT NULL,
    report TEXT
);
CREATE INDEX IF NOT EXISTS runs_cluster ON runs (cluster, id);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    host TEXT,
    PRIMARY KEY (run_id, key)
);
"""


class HistoryError(Exception):
    """The history database cannot be opened, read or written."""


class History:
    """Runs and their finding keys, per cluster, in one SQLite file."""

    def __init__(self, path: str, timeout: float = 30.0):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(parent, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=timeout)
            self._db.execute("PRAGMA foreign_keys = ON")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(findings)")}
                if "host" not in columns:
                    self._db.execute("ALTER TABLE findings ADD COLUMN host TEXT")
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open inspection history {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def last_run(self, cluster: str) -> dict | None:
        """The previous run of the cluster: id, started, finished, status, report, its findings {key: status} and
        the host of each key ({key: host or None})."""
        try:
            row = self._db.execute(
                "SELECT id, started, finished, status, report FROM runs WHERE cluster = ? ORDER BY id DESC LIMIT 1",
                (cluster,)).fetchone()
            if row is None:
                return None
            rows = self._db.execute("SELECT key, status, host FROM findings WHERE run_id = ?", (row[0],)).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read inspection history {self.path}: {exc}") from exc
        return {"id": row[0], "started": row[1], "finished": row[2], "status": row[3], "report": row[4],
                "findings": {r[0]: r[1] for r in rows}, "hosts": {r[0]: r[2] for r in rows}}

    def record(self, cluster: str, started: str, finished: str, status: str, findings: t.Mapping[str, str],
               report: str | None = None, hosts: t.Mapping[str, str | None] | None = None) -> int:
        """Store one run with its {finding key: status} (and {finding key: host}); returns the run id."""
        try:
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO runs (cluster, started, finished, status, report) VALUES (?, ?, ?, ?, ?)",
                    (cluster, started, finished, status, report))
                run_id = int(cur.lastrowid or 0)
                self._db.executemany("INSERT OR REPLACE INTO findings (run_id, key, status, host) VALUES (?, ?, ?, ?)",
                                     [(run_id, key, status, (hosts or {}).get(key)) for key, status in findings.items()])
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot write inspection history {self.path}: {exc}") from exc
        return run_id

    def runs(self, cluster: str) -> list[dict]:
        """All runs of a cluster, oldest first (for tools and tests)."""
        try:
            rows = self._db.execute("SELECT id, started, finished, status, report FROM runs WHERE cluster = ? ORDER BY id",
                                    (cluster,)).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read inspection history {self.path}: {exc}") from exc
        return [dict(zip(("id", "started", "finished", "status", "report"), row)) for row in rows]


def wrong_keys(findings: t.Mapping[str, str]) -> set[str]:
    """Keys whose status is anything but ok."""
    return {key for key, status in findings.items() if status != "ok"}


def compare(previous: t.Mapping[str, str] | None, current: t.Mapping[str, str],
            previous_hosts: t.Mapping[str, str | None] | None = None,
            inspected: t.Collection[str] | None = None) -> tuple[list[str], list[str]]:
    """(new_since_last, resolved_since_last) between two {key: status} maps, sorted.

    Only non-ok findings count as wrong. Without a previous run every wrong finding is new. A wrong finding that
    is absent now counts as resolved only when its host was inspected this time (``inspected``; None: always),
    so that a run limited to some hosts, or a host that is down, does not "resolve" the findings of the others.
    """
    now_wrong = wrong_keys(current)
    before_wrong = wrong_keys(previous or {})
    hosts = previous_hosts or {}
    resolved = set()
    for key in before_wrong - now_wrong:
        host = hosts.get(key)
        if key in current or inspected is None or not host or host in inspected:
            resolved.add(key)
    return sorted(now_wrong - before_wrong), sorted(resolved)
