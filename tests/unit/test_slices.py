"""Sliced inspections (plugins/plugin_utils/_slices.py): partials of the slices merged equal one run, on the real
findings of a lab inspection (fixtures/report/lab_latest.json)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding_key
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _slices

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "lab_latest.json"
HOSTS = ("master1", "node1", "node2", "mw1")


@pytest.fixture(name="run")
def fixture_run() -> dict:
    report = json.loads(FIXTURE.read_text())
    findings = [f for f in report["findings"] if f["id"] != "host.reachable"]
    return {"started": report["started"], "finished": report["finished"], "findings": findings,
            "states": {h: ("reachable", "") for h in HOSTS}}


def sliced(run: dict, slices: list[tuple[str, ...]]) -> list[dict]:
    """The partials slices of these hosts would write (cluster-wide findings, host None, in the merge step's)."""
    docs = []
    for n, hosts in enumerate(slices):
        docs.append(_slices.partial("lab", run["started"][:-3] + f"{n:02d}Z", run["finished"],
                                    {h: run["states"][h] for h in hosts},
                                    [f for f in run["findings"] if f.get("host") in hosts]))
    return docs


def keys_and_statuses(findings) -> dict:
    return {finding_key(f): f["status"] for f in findings}


def test_two_slices_merged_equal_the_unsliced_run(run):
    docs = sliced(run, [("master1", "node1"), ("node2", "mw1")])
    cluster_wide = [f for f in run["findings"] if f.get("host") not in HOSTS]
    assert cluster_wide                                       # localhost's and the cluster's (host None)
    merged = _slices.merge(docs + [_slices.partial("lab", run["finished"], run["finished"], {}, cluster_wide)],
                           expected_hosts=HOSTS)
    assert keys_and_statuses(merged["findings"]) == keys_and_statuses(run["findings"])
    assert len(merged["findings"]) == len(run["findings"])
    assert merged["states"] == run["states"] and merged["missing"] == []
    assert merged["started"] == min(doc["started"] for doc in docs)
    assert merged["slices"] == 3


def test_a_slice_that_never_ran_is_critical_not_missing(run):
    docs = sliced(run, [("master1", "node1")])                # the slice of node2 and mw1 wrote nothing
    merged = _slices.merge(docs, expected_hosts=HOSTS)
    assert [(f["id"], f["target"], f["status"]) for f in merged["missing"]] == [
        ("host.reachable", "mw1", "critical"), ("host.reachable", "node2", "critical")]
    assert "no slice of this run inspected the host" in merged["missing"][0]["summary"]


def test_overlapping_slices_keep_the_worst(run):
    docs = sliced(run, [("master1", "node1"), ("node1",)])
    worse = dict(next(f for f in docs[1]["findings"]), status="critical")
    docs[1]["findings"] = [worse]
    docs[1]["hosts"]["node1"] = ["failed", "a task failed on this host"]
    merged = _slices.merge(docs)
    assert keys_and_statuses(merged["findings"])[finding_key(worse)] == "critical"
    assert merged["states"]["node1"] == ("failed", "a task failed on this host")
    assert merged["states"]["master1"] == ("reachable", "")


def test_partials_round_trip_through_the_directory(run, tmp_path):
    docs = sliced(run, [("master1", "node1"), ("node2", "mw1")])
    for doc in docs:
        (tmp_path / _slices.partial_name(doc)).write_text(json.dumps(doc))
    (tmp_path / "README").write_text("not a partial")          # other files are left alone
    read = _slices.read_partials(str(tmp_path), "lab")
    assert [doc for _path, doc in read] == json.loads(json.dumps(docs))
    assert len({os.path.basename(p) for p, _doc in read}) == 2
    assert _slices.read_partials(str(tmp_path / "absent"), "lab") == []


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read the partial"),
    (json.dumps({"schema": "kubeops.runbook/inspection/v1"}), "is not a partial inspection"),
    (json.dumps({"schema": _slices.SCHEMA, "cluster": "prod", "hosts": {}, "findings": []}),
     "is a partial of cluster 'prod', not of 'lab'"),
    (json.dumps({"schema": _slices.SCHEMA, "cluster": "lab", "hosts": [], "findings": []}), "has no hosts mapping"),
])
def test_a_bad_partial_fails_the_merge_naming_the_file(tmp_path, content, message):
    path = tmp_path / "partial-x.json"
    path.write_text(content)
    with pytest.raises(_slices.SliceError) as exc:
        _slices.read_partials(str(tmp_path), "lab")
    assert message in str(exc.value) and str(path) in str(exc.value)


def test_a_bad_host_state_is_refused():
    with pytest.raises(_slices.SliceError, match="state of host 'node1' must be"):
        _slices.partial("lab", "s", "f", {"node1": ("down", "")}, [])


def test_a_run_that_targets_no_host_is_unknown_never_green():
    found = _slices.nothing_inspected([], [])
    assert [(f["id"], f["status"], f["host"]) for f in found] == [("host.inspected", "unknown", None)]
    assert "targeted no hosts" in found[0]["summary"]


def test_a_run_whose_hosts_all_dropped_out_inspected_nothing(run):
    reach = [{"id": "host.reachable", "target": h, "host": h, "status": "critical"} for h in HOSTS]
    found = _slices.nothing_inspected(HOSTS, reach)
    assert found[0]["status"] == "unknown" and "4 host(s) targeted, but no check reported anything" in found[0]["summary"]
    assert _slices.nothing_inspected(HOSTS, reach + run["findings"]) == []
