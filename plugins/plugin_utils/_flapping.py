# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flapping findings: a finding key whose status changed in several of the last runs. PRIVATE to the collection.

Controller-only: reads what ``_history.History.recent_runs`` returns (the last runs of a cluster, read in one query)
and the current run's {key: status}. The class of problem it is for is the one a single run cannot see: an endpoint
that vanishes and comes back, a pod that is Ready at 9 and not at 9 the next day. Each run alone is either fine or a
new problem that "resolves itself"; the sequence shows it keeps happening.

What a run says about a key: its status where the run stored one (the history keeps the keys that were not ok);
``ok`` where it stored none, unless the key's host was not inspected in that run (its ``host.reachable`` was not ok)
- then the run says nothing (``None``) and counts neither as a change nor as ok.
"""
from __future__ import annotations

import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding_key

RUNS = 10          # how many runs, this one included, the sequence covers
CHANGES = 3        # status changes within those runs that make a finding flapping
REACHABLE = "host.reachable"


class FlappingError(ValueError):
    """A flapping option is out of range."""


def check_options(runs: int, changes: int) -> None:
    """One-line errors for options out of range."""
    if not 3 <= runs <= 365:
        raise FlappingError(f"flapping_runs must be between 3 and 365, got {runs}")
    if not 2 <= changes < runs:
        raise FlappingError(f"flapping_changes must be at least 2 and less than flapping_runs ({runs}), got {changes}")


def _reach_key(host: str) -> str:
    # the key of host.reachable (target and host are the same host: no @host part)
    return f"{REACHABLE}:{host}"


def sequences(older: t.Sequence[t.Mapping], current: t.Mapping[str, str],
              current_hosts: t.Mapping[str, str | None]) -> dict[str, list[str | None]]:
    """{key: its statuses, oldest first, the current run last} for every key that was not ok in one of the runs.

    ``older``: the stored runs, oldest first, each ``{"findings": {key: status}, "hosts": {key: host}}`` as
    ``History.recent_runs`` returns them (only keys that were not ok). ``current``: this run's {key: status}, every
    key. A key absent from the current run (its host not inspected now) ends with ``None``.
    Keys that were ok in every run cannot have changed and are not listed: the work is per key that was ever wrong
    in the window, not per finding of the run (a fleet's run has tens of thousands of ok findings).
    """
    candidates: dict[str, str | None] = {}
    for run in older:
        for key, host in (run.get("hosts") or {}).items():
            if candidates.get(key) is None:
                candidates[key] = host
        for key in run.get("findings") or {}:
            candidates.setdefault(key, None)
    for key, status in current.items():
        if status != "ok":
            candidates[key] = current_hosts.get(key) or candidates.get(key)
    result: dict[str, list[str | None]] = {}
    for key, host in candidates.items():
        reach = _reach_key(host) if host else None
        statuses: list[str | None] = []
        for run in older:
            stored = run.get("findings") or {}
            status = stored.get(key)
            if status is None:
                # not stored: ok, unless its host was not inspected in that run
                status = None if reach and reach != key and stored.get(reach, "ok") != "ok" else "ok"
            statuses.append(status)
        statuses.append(current.get(key))
        result[key] = statuses
    return result


def changes(statuses: t.Sequence[str | None]) -> int:
    """How many times the status changed, runs that said nothing (None) skipped."""
    count, last = 0, None
    for status in statuses:
        if status is None:
            continue
        if last is not None and status != last:
            count += 1
        last = status
    return count


def flapping(older: t.Sequence[t.Mapping], current: t.Mapping[str, str], current_hosts: t.Mapping[str, str | None],
             threshold: int = CHANGES) -> dict[str, list[str | None]]:
    """{key: statuses} of the keys of the current run whose status changed ``threshold`` times or more."""
    return {key: statuses for key, statuses in sequences(older, current, current_hosts).items()
            if key in current and changes(statuses) >= threshold}


def mark(report: dict, older: t.Sequence[t.Mapping], runs: int = RUNS, threshold: int = CHANGES) -> dict:
    """The report with its flapping findings marked: ``flapping: true`` and ``flapping_statuses`` (oldest first,
    this run last, ``null`` where the host was not inspected) on each; ``report["flapping"]`` says how it was
    decided and lists the keys; ``summary.flapping`` counts them (the status counts are unchanged).

    ``older`` are the stored runs before this one (at most ``runs - 1``), oldest first.
    """
    keyed = [(finding_key(item), item) for item in report["findings"]]
    current = {key: item["status"] for key, item in keyed}
    hosts = {key: item.get("host") for key, item in keyed}
    found = flapping(list(older)[-(runs - 1):], current, hosts, threshold)
    findings = []
    for key, item in keyed:
        if key in found:
            item = dict(item, flapping=True, flapping_statuses=found[key])
        findings.append(item)
    report = dict(report, findings=findings)
    report["summary"] = dict(report["summary"], flapping=len(found))
    report["flapping"] = {"runs": runs, "changes": threshold, "keys": sorted(found)}
    return report
