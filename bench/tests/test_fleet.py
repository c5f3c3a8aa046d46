"""The fleet findings of P6: real findings' shapes, a few percent not ok, reproducible, sliced without loss."""
from __future__ import annotations

from collections import Counter

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CATEGORIES, STATUSES, finding

from bench import _fleet


def test_a_fleet_run_is_valid_findings_about_30_per_host_a_few_percent_not_ok():
    states, findings = _fleet.fleet_run(400, 1)
    assert len(states) == 400
    reachable = [h for h, (state, _why) in states.items() if state == "reachable"]
    per_host = Counter(f["host"] for f in findings)
    assert set(per_host) == set(reachable)
    assert 25 <= (len(findings) + len(states)) / len(states) <= 32
    not_ok = sum(1 for f in findings if f["status"] != "ok") / len(findings)
    assert 0.01 < not_ok < 0.05, not_ok
    for item in findings:
        assert item["status"] in STATUSES and item["category"] in CATEGORIES
        # the findings model accepts each one as it is
        assert finding(item["id"], item["target"], item["status"], item["summary"], host=item["host"],
                       details=item["details"], category=item["category"]) == item
    # every finding is about its fleet host (log samples and BGP peers may still name the lab's hosts)
    assert not {f["host"] for f in findings} & {"master1", "node1", "mw1"}
    assert not {f["target"] for f in findings} & {"master1", "node1", "mw1"}


def test_runs_are_reproducible_and_trouble_comes_back():
    one = _fleet.key_statuses(*_fleet.fleet_run(300, 5))
    assert one == _fleet.key_statuses(*_fleet.fleet_run(300, 5))
    other = _fleet.key_statuses(*_fleet.fleet_run(300, 6))
    wrong = {k for k, s in one.items() if s != "ok"}
    again = {k for k, s in other.items() if s != "ok"}
    assert wrong != again and len(wrong & again) > len(wrong) / 2


def test_slices_keep_every_host_and_finding():
    states, findings = _fleet.fleet_run(250, 2)
    parts = list(_fleet.slices(states, findings, 20))
    assert len(parts) == 20
    assert sum(len(s) for s, _f in parts) == 250 and sum(len(f) for _s, f in parts) == len(findings)
