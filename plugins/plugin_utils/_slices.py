# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sliced inspections: each slice's partial findings, and their merge into one run. PRIVATE to the collection.

AWX job slicing runs the daily inspection as N jobs, each on a slice of the inventory (on different execution
nodes). A slice does not write a report: with ``inspection_slice_dir`` set, the report step writes the slice's
*partial* (its findings and what became of each of its hosts) into that directory, which the slices and the merge
step share. The merge step (``playbooks/inspection_merge.yml``, the workflow node after the slices) runs the
cluster-wide checks once, reads every partial of the directory and writes one report and one history entry from
them, as one unsliced run would have; then it removes the partials it merged.

A host the merge expects (the inventory's inspection hosts) that no slice reports is a critical ``host.reachable``
finding, so a slice that never ran cannot make the run look green. Neither can a run (sliced or not) that inspected
nothing: ``nothing_inspected`` gives it an ``unknown`` ``host.inspected`` finding.
"""
from __future__ import annotations

import hashlib
import json
import os
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CRITICAL, UNKNOWN, finding, finding_key, rank

SCHEMA = "kubeops.runbook/inspection-partial/v1"
PREFIX = "partial-"
# What became of a host, best first; when two partials disagree about a host, the worse state wins.
STATES = ("reachable", "lost", "failed", "unreachable")


class SliceError(ValueError):
    """A partial cannot be written, read or merged; the message names the file and the value."""


def partial(cluster: str, started: str, finished: str, states: t.Mapping[str, t.Sequence[str]],
            findings: t.Sequence[dict], baselines: t.Mapping | None = None) -> dict:
    """The partial document of one slice: its hosts' states (host -> [state, reason]) and its findings."""
    for host, state in states.items():
        if not isinstance(state, (list, tuple)) or len(state) != 2 or state[0] not in STATES:
            raise SliceError(f"state of host {host!r} must be [state, reason] with state one of {', '.join(STATES)},"
                             f" got {state!r}")
    return {"schema": SCHEMA, "cluster": cluster, "started": started, "finished": finished,
            "hosts": {h: list(s) for h, s in sorted(states.items())},
            "findings": list(findings), "baselines": dict(baselines or {})}


def partial_name(doc: t.Mapping) -> str:
    """File name of a partial: its start time and a digest of its hosts, so slices of one run never collide."""
    digest = hashlib.sha1("\n".join(sorted(doc["hosts"])).encode("utf-8")).hexdigest()[:12]
    started = "".join(ch for ch in str(doc["started"]) if ch.isalnum())
    return f"{PREFIX}{started}-{digest}.json"


def read_partials(directory: str, cluster: str) -> list[tuple[str, dict]]:
    """Every partial in ``directory`` as (path, document), oldest first; any other file is left alone.

    A partial that cannot be read or is not of this schema or cluster fails the merge, naming the file: merging
    around it would report its hosts as not inspected.
    """
    try:
        names = sorted(n for n in os.listdir(directory) if n.startswith(PREFIX) and n.endswith(".json"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SliceError(f"cannot list the slice directory {directory}: {exc}") from exc
    result = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError) as exc:
            raise SliceError(f"cannot read the partial {path}: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise SliceError(f"{path} is not a partial inspection (schema {SCHEMA})")
        if doc.get("cluster") != cluster:
            raise SliceError(f"{path} is a partial of cluster {doc.get('cluster')!r}, not of {cluster!r}")
        if not isinstance(doc.get("hosts"), dict) or not isinstance(doc.get("findings"), list):
            raise SliceError(f"{path} has no hosts mapping or findings list")
        result.append((path, doc))
    result.sort(key=lambda item: (str(item[1].get("started")), item[0]))
    return result


def merge(docs: t.Sequence[t.Mapping], expected_hosts: t.Collection[str] | None = None) -> dict:
    """One run from the partials of its slices.

    Returns ``findings`` (de-duplicated by finding key, the worst status winning, as within one run), ``states``
    (host -> (state, reason); a host in several partials gets the worst state), ``missing`` (expected hosts no
    partial reports, as critical ``host.reachable`` findings), ``started`` (the earliest), ``baselines``.
    """
    findings: dict[str, dict] = {}
    states: dict[str, tuple[str, str]] = {}
    baselines: dict[str, t.Any] = {}
    started = None
    for doc in docs:
        for item in doc["findings"]:
            key = finding_key(item)
            if key not in findings or rank(item["status"]) > rank(findings[key]["status"]):
                findings[key] = item
        for host, (state, reason) in doc["hosts"].items():
            if state not in STATES:
                raise SliceError(f"host {host!r} has state {state!r}; expected one of {', '.join(STATES)}")
            if host not in states or STATES.index(state) > STATES.index(states[host][0]):
                states[host] = (state, reason)
        baselines.update(doc.get("baselines") or {})
        if doc.get("started") and (started is None or str(doc["started"]) < started):
            started = str(doc["started"])
    missing = [finding("host.reachable", host, CRITICAL,
                       "no slice of this run inspected the host: its slice did not run or did not finish",
                       host=host, details={"reason": "not inspected"})
               for host in sorted(set(expected_hosts or ()) - set(states))]
    return {"findings": list(findings.values()), "states": states, "missing": missing, "started": started,
            "baselines": baselines, "slices": len(docs)}


def nothing_inspected(targeted: t.Collection[str], findings: t.Iterable[dict]) -> list[dict]:
    """An ``unknown`` ``host.inspected`` finding when the run inspected nothing, else none.

    Nothing was inspected when the run targeted no host (the host pattern or ``--limit`` matched none, an empty
    inventory, a slice without hosts) or when no check reported a finding (only ``host.reachable`` ones: every host
    dropped out, or every check was switched off). Such a run is never green.
    """
    if not targeted:
        return [finding("host.inspected", "inventory", UNKNOWN,
                        "the inspection targeted no hosts (the host pattern or --limit matched none): nothing was inspected",
                        details={"targeted": 0})]
    checked = sum(1 for item in findings if item["id"] not in ("host.reachable", "host.inspected"))
    if not checked:
        return [finding("host.inspected", "inventory", UNKNOWN,
                        f"{len(targeted)} host(s) targeted, but no check reported anything: nothing was inspected",
                        details={"targeted": len(targeted)})]
    return []
