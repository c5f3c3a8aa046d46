# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inspection history on the controller (SQLite). PRIVATE to the collection: controller-only (sqlite3).

One row per inspection run, with its count of findings per status, and one row per finding key of that run that
was not ok, so that the next run of the same cluster can say what is new and what was resolved since the last one,
and the report can show trends. Only the keys that were wrong are kept: new and resolved are about wrong keys only,
and a fleet's run has tens of thousands of ok keys (8 MB a run at 2,000 hosts, when every key was kept). It is also
the one store of previous-run state on the controller: the baselines later runs compare with (the pod restart
counts), one per cluster and name, replaced only by a good one.
"""
from __future__ import annotations

import json
import os
import sqlite3
import typing as t

SCHEMA_VERSION = 3
COUNTED = ("ok", "warning", "unknown", "critical")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    status TEXT NOT NULL,
    report TEXT,
    ok INTEGER, warning INTEGER, unknown INTEGER, critical INTEGER
);
CREATE INDEX IF NOT EXISTS runs_cluster ON runs (cluster, id);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    host TEXT,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS baselines (
    cluster TEXT NOT NULL,
    name TEXT NOT NULL,
    taken TEXT NOT NULL,
    run_id INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (cluster, name)
);
"""


def location(var: t.Callable[[str], t.Any]) -> tuple[str, str]:
    """(history database path, cluster name) from the inventory variables the report role reads.

    ``var(name)`` returns a variable's (templated) value or None. The defaults are the report role's:
    ``<inspection_report_dir>/history.sqlite`` and ``kubeops_cluster_name`` (else ``kubernetes``).
    """
    report_dir = var("inspection_report_dir") or "./reports"
    db = var("inspection_history_db") or os.path.join(str(report_dir), "history.sqlite")
    cluster = var("inspection_cluster_name") or var("kubeops_cluster_name") or "kubernetes"
    return os.path.abspath(os.path.expanduser(str(db))), str(cluster)


class HistoryError(Exception):
    """The history database cannot be opened, read or written."""


class History:
    """Runs and their finding keys, per cluster, in one SQLite file."""

    def __init__(self, path: str, timeout: float = 30.0):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(parent, exist_ok=True)
            created = not os.path.exists(path)
            self._db = sqlite3.connect(path, timeout=timeout)
            if created:
                os.chmod(path, 0o600)   # it names hosts and findings: not for other users of the controller
            self._db.execute("PRAGMA foreign_keys = ON")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(findings)")}
                if "host" not in columns:
                    self._db.execute("ALTER TABLE findings ADD COLUMN host TEXT")
                # Schema 3: the counts per status on the run (older runs are counted from their rows).
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
                for status in COUNTED:
                    if status not in columns:
                        self._db.execute(f"ALTER TABLE runs ADD COLUMN {status} INTEGER")
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open inspection history {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def last_run(self, cluster: str) -> dict | None:
        """The previous run of the cluster: id, started, finished, status, report, its findings that were not ok
        {key: status} and the host of each ({key: host or None})."""
        try:
            row = self._db.execute(
                "SELECT id, started, finished, status, report FROM runs WHERE cluster = ? ORDER BY id DESC LIMIT 1",
                (cluster,)).fetchone()
            if row is None:
                return None
            rows = self._db.execute("SELECT key, status, host FROM findings WHERE run_id = ? AND status != 'ok'",
                                    (row[0],)).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read inspection history {self.path}: {exc}") from exc
        return {"id": row[0], "started": row[1], "finished": row[2], "status": row[3], "report": row[4],
                "findings": {r[0]: r[1] for r in rows}, "hosts": {r[0]: r[2] for r in rows}}

    def record(self, cluster: str, started: str, finished: str, status: str, findings: t.Mapping[str, str],
               report: str | None = None, hosts: t.Mapping[str, str | None] | None = None) -> int:
        """Store one run with its {finding key: status} (and {finding key: host}); returns the run id.

        The run keeps its count of findings per status and the keys that were not ok (see the module docstring)."""
        counts = dict.fromkeys(COUNTED, 0)
        for value in findings.values():
            if value in counts:
                counts[value] += 1
        try:
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO runs (cluster, started, finished, status, report, ok, warning, unknown, critical) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (cluster, started, finished, status, report, *counts.values()))
                run_id = int(cur.lastrowid or 0)
                self._db.executemany("INSERT OR REPLACE INTO findings (run_id, key, status, host) VALUES (?, ?, ?, ?)",
                                     [(run_id, key, value, (hosts or {}).get(key)) for key, value in findings.items()
                                      if value != "ok"])
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot write inspection history {self.path}: {exc}") from exc
        return run_id

    def baseline(self, cluster: str, name: str) -> dict | None:
        """The last good baseline ``name`` of the cluster: {taken, run_id, data}, None when there is none."""
        try:
            row = self._db.execute("SELECT taken, run_id, data FROM baselines WHERE cluster = ? AND name = ?",
                                   (cluster, name)).fetchone()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read inspection history {self.path}: {exc}") from exc
        if row is None:
            return None
        try:
            data = json.loads(row[2])
        except ValueError as exc:
            raise HistoryError(f"baseline {name} of {cluster} in {self.path} is not JSON: {exc}") from exc
        return {"taken": row[0], "run_id": row[1], "data": data}

    def save_baseline(self, cluster: str, name: str, taken: str, data: t.Any, run_id: int | None = None) -> None:
        """Replace the baseline ``name`` of the cluster (only call it with a good one: it is what the next run reads)."""
        try:
            text = json.dumps(data, sort_keys=True, default=str)
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO baselines (cluster, name, taken, run_id, data) VALUES (?, ?, ?, ?, ?)",
                                 (cluster, name, taken, run_id, text))
        except (TypeError, ValueError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot write baseline {name} into {self.path}: {exc}") from exc

    def trends(self, cluster: str, limit: int = 30, current: t.Mapping | None = None) -> dict:
        """The last ``limit`` runs of the cluster with their counts per status (oldest first), and the finding keys
        that were not ok in more than one of them (most often first): {runs: [...], recurring: [...]}.

        ``current`` is a run not recorded yet ({started, finished, status, findings: {key: status}}); it counts as
        the newest of the ``limit`` runs.
        """
        older = max(0, int(limit) - (1 if current else 0))
        try:
            stored = self._db.execute(
                "SELECT id, started, finished, status, ok, warning, unknown, critical FROM runs WHERE cluster = ? "
                "ORDER BY id DESC LIMIT ?", (cluster, older)).fetchall()[::-1]
            rows = [r[:4] for r in stored]
            ids = [r[0] for r in rows]
            per_run: dict[t.Any, dict[str, int]] = {r[0]: dict(zip(COUNTED, r[4:])) for r in stored if r[4] is not None}
            # Runs recorded before schema 3 kept every key and no counts: count their rows.
            uncounted = [r[0] for r in stored if r[4] is None]
            counts = self._db.execute(
                f"SELECT run_id, status, COUNT(*) FROM findings WHERE run_id IN ({','.join('?' * len(uncounted)) or 'NULL'}) "
                "GROUP BY run_id, status", uncounted).fetchall()
            wrong = self._db.execute(
                f"SELECT run_id, key, status FROM findings WHERE run_id IN ({','.join('?' * len(ids)) or 'NULL'}) "
                "AND status != 'ok'", ids).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read inspection history {self.path}: {exc}") from exc
        for run_id, status, count in counts:
            per_run.setdefault(run_id, {})[status] = count
        statuses: dict[t.Any, dict[str, str]] = {}
        for run_id, key, status in wrong:
            statuses.setdefault(run_id, {})[key] = status
        runs = [{"id": run_id, "started": started, "finished": finished, "status": status}
                for run_id, started, finished, status in rows]
        if current:
            findings = dict(current.get("findings") or {})
            per_run["current"] = {}
            for status in findings.values():
                per_run["current"][status] = per_run["current"].get(status, 0) + 1
            statuses["current"] = {k: v for k, v in findings.items() if v != "ok"}
            runs.append({"id": None, "started": current.get("started"), "finished": current.get("finished"),
                         "status": current.get("status")})
        for run in runs:
            tally = per_run.get(run["id"] if run["id"] is not None else "current", {})
            run.update({s: int(tally.get(s, 0)) for s in ("ok", "warning", "unknown", "critical")})
        seen: dict[str, int] = {}
        for run in runs:
            for key in statuses.get(run["id"] if run["id"] is not None else "current", {}):
                seen[key] = seen.get(key, 0) + 1
        if current:
            newest = dict(current.get("findings") or {})
        else:
            newest = statuses.get(runs[-1]["id"], {}) if runs else {}
        recurring = sorted((key for key, n in seen.items() if n > 1), key=lambda k: (-seen[k], k))[:20]
        return {"runs": runs,
                "recurring": [{"key": key, "runs": seen[key], "of": len(runs),
                               # absent: not checked in the newest run (its host was not inspected)
                               "now": newest.get(key, "absent" if current else "ok")}
                              for key in recurring]}

    def recent_runs(self, cluster: str, limit: int) -> list[dict]:
        """The last ``limit`` runs of the cluster, oldest first, each {id, findings: {key: status}, hosts: {key: host}}
        with the keys that were not ok: one query, whatever the number of findings (the flapping marks read it)."""
        try:
            rows = self._db.execute(
                "SELECT r.id, f.key, f.status, f.host FROM "
                "(SELECT id FROM runs WHERE cluster = ? ORDER BY id DESC LIMIT ?) AS r "
                "LEFT JOIN findings AS f ON f.run_id = r.id AND f.status != 'ok' ORDER BY r.id",
                (cluster, max(0, int(limit)))).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read inspection history {self.path}: {exc}") from exc
        runs: dict[int, dict] = {}
        for run_id, key, status, host in rows:
            run = runs.setdefault(run_id, {"id": run_id, "findings": {}, "hosts": {}})
            if key is not None:
                run["findings"][key] = status
                run["hosts"][key] = host
        return list(runs.values())

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
