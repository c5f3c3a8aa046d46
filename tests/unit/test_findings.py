"""The one findings model (plugins/module_utils/_findings.py)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _findings as F


@pytest.mark.parametrize("fid, category, expected", [
    ("pods.restarts", None, "pods"),
    ("control_plane_services.unit", None, "control_plane_services"),
    ("host.reachable", None, "host"),
    ("etcd.member_health", "etcd", "etcd"),
    ("custom.thing", "logs", "logs"),
])
def test_finding_category(fid, category, expected):
    item = F.finding(fid, "t", F.OK, "fine", host="h", category=category)
    assert item["category"] == expected
    assert set(item) == {"id", "category", "target", "host", "status", "summary", "details"}
    assert item["details"] == {}


@pytest.mark.parametrize("fid, status, category, message", [
    ("nodots", F.OK, None, "must be dotted"),
    ("", F.OK, None, "must be dotted"),
    ("pods.restarts", "fine", None, "unknown finding status"),
    ("pods.restarts", "CRITICAL", None, "unknown finding status"),
    ("bogus.check", F.OK, None, "is not one of"),
    ("pods.restarts", F.OK, "bogus", "is not one of"),
])
def test_finding_rejects_bad_values(fid, status, category, message):
    with pytest.raises(F.FindingError, match=message):
        F.finding(fid, "t", status, "s", category=category)


@pytest.mark.parametrize("item, key", [
    ({"id": "nodes.ready", "target": "k8snode02", "host": None}, "nodes.ready:k8snode02"),
    ({"id": "nodes.ready", "target": "k8snode02"}, "nodes.ready:k8snode02"),
    ({"id": "host.reachable", "target": "mw1", "host": "mw1"}, "host.reachable:mw1"),
    ({"id": "node_services.unit", "target": "kubelet", "host": "node1"}, "node_services.unit:kubelet@node1"),
])
def test_finding_key(item, key):
    assert F.finding_key(item) == key


@pytest.mark.parametrize("statuses, expected", [
    ([], F.OK),
    ([F.OK, F.OK], F.OK),
    ([F.OK, F.WARNING], F.WARNING),
    ([F.WARNING, F.UNKNOWN], F.UNKNOWN),
    ([F.CRITICAL, F.UNKNOWN, F.OK], F.CRITICAL),
])
def test_worst(statuses, expected):
    assert F.worst(statuses) == expected


def test_summarize_counts_every_status():
    items = [F.finding("disk.space", str(i), s, "x") for i, s in enumerate([F.OK, F.OK, F.WARNING, F.CRITICAL])]
    assert F.summarize(items) == {"status": F.CRITICAL, "ok": 2, "warning": 1, "unknown": 0, "critical": 1}
    assert F.summarize([]) == {"status": F.OK, "ok": 0, "warning": 0, "unknown": 0, "critical": 0}


@pytest.mark.parametrize("value, warning, critical, expected", [
    (None, 80, 90, F.UNKNOWN), (10, 80, 90, F.OK), (80, 80, 90, F.WARNING), (95, 80, 90, F.CRITICAL),
    (95, None, None, F.OK), (95, 80, None, F.WARNING),
])
def test_by_threshold(value, warning, critical, expected):
    assert F.by_threshold(value, warning, critical) == expected


@pytest.mark.parametrize("value, warning, critical, expected", [
    (None, 30, 7, F.UNKNOWN), (100, 30, 7, F.OK), (30, 30, 7, F.WARNING), (3, 30, 7, F.CRITICAL), (-1, 30, 7, F.CRITICAL),
])
def test_by_threshold_below(value, warning, critical, expected):
    assert F.by_threshold_below(value, warning, critical) == expected


@given(st.lists(st.sampled_from(F.STATUSES)))
def test_worst_is_the_max_rank(statuses):
    result = F.worst(statuses)
    assert all(F.rank(s) <= F.rank(result) for s in statuses)
    assert result in statuses or (not statuses and result == F.OK)


@given(st.text(), st.text())
def test_finding_never_raises_anything_but_finding_error(fid, status):
    try:
        F.finding(fid, "t", status, "s")
    except F.FindingError:
        pass
