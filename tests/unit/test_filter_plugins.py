"""Filter plugins (plugins/filter/*.py) and the quantity parser behind k8s_quantity."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.filter import findings_by_status as FBS
from ansible_collections.kubeops.runbook.plugins.filter import findings_summary as FS
from ansible_collections.kubeops.runbook.plugins.filter import k8s_quantity as KQ
from ansible_collections.kubeops.runbook.plugins.filter import ready_ratio as RR
from ansible_collections.kubeops.runbook.plugins.filter import restart_delta as RD
from ansible_collections.kubeops.runbook.plugins.module_utils import _quantity as Q


@pytest.mark.parametrize("value, expected", [
    ("500Mi", 524288000), ("250m", 0.25), ("1", 1), ("1.5Gi", 1610612736), ("1e3", 1000), ("2k", 2000),
    ("100u", 0.0001), ("0.5", 0.5), ("1k", 1000), ("1Ti", 2 ** 40), ("128974848", 128974848), ("129M", 129000000),
    (3, 3), (0.5, 0.5), ("1000m", 1),
])
def test_k8s_quantity(value, expected):
    assert KQ.FilterModule().filters()["k8s_quantity"](value) == expected


@pytest.mark.parametrize("bad", ["", "Mi", "5 Mi", "1.2.3", "abc", None, True, [1], "5MiB"])
def test_k8s_quantity_bad(bad):
    with pytest.raises(AnsibleFilterError, match="k8s_quantity"):
        KQ.k8s_quantity(bad)


@pytest.mark.parametrize("text, expected", [
    ("-Xms256m -Xmx384m", 384 * 2 ** 20), ("-Xmx2g", 2 * 2 ** 30), ("-Xmx1024k -server", 2 ** 20),
    ("-XX:MaxHeapSize=1g", 2 ** 30), ("-Xmx1g -Xmx3g", 3 * 2 ** 30), ("-Xms1g", None), ("", None), (None, None),
    ("-Dfoo=-Xmx9g", None),
])
def test_jvm_max_heap(text, expected):
    assert Q.jvm_max_heap(text) == expected


def test_lone_e_is_exa_not_an_empty_exponent():
    """'0E' once raised ValueError (found by the fuzz test below): 'E' alone is the exa suffix, 'e3' an exponent."""
    assert Q.parse_quantity("1E") == 10 ** 18 and Q.parse_quantity("0E") == 0
    assert Q.parse_quantity("2E3") == 2000 and Q.parse_quantity("1e-3") == Q.parse_quantity("1m")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_quantity_fuzz(text):
    try:
        Q.parse_quantity(text)
    except Q.QuantityError:
        pass


def test_ready_ratio_filter():
    assert RR.FilterModule().filters()["ready_ratio"]("1/2") == {"ready": 1, "total": 2, "all_ready": False}
    with pytest.raises(AnsibleFilterError, match="ready_ratio"):
        RR.ready_ratio("one of two")


def test_restart_delta_filter():
    assert RD.FilterModule().filters()["restart_delta"]({"product/a": 9, "product/b": 0}, {"product/a": 3}) == [
        {"pod": "product/a", "old": 3, "new": 9, "delta": 6}]
    assert RD.restart_delta({"product/a": 1}, None) == []
    with pytest.raises(AnsibleFilterError, match="restart_delta"):
        RD.restart_delta("not a dict", {})


FINDINGS = [{"id": "a.b", "status": s} for s in ("ok", "warning", "unknown", "critical", "ok")]


@pytest.mark.parametrize("status, count", [("ok", 5), ("warning", 3), ("unknown", 2), ("critical", 1)])
def test_findings_by_status(status, count):
    assert len(FBS.FilterModule().filters()["findings_by_status"](FINDINGS, status)) == count


@pytest.mark.parametrize("findings, status", [(FINDINGS, "fatal"), ([{"status": "bad"}], "ok"), ("x", "ok")])
def test_findings_by_status_bad(findings, status):
    with pytest.raises(AnsibleFilterError, match="findings_by_status"):
        FBS.findings_by_status(findings, status)


def test_findings_summary():
    assert FS.FilterModule().filters()["findings_summary"](FINDINGS) == {
        "status": "critical", "ok": 2, "warning": 1, "unknown": 1, "critical": 1}
    assert FS.findings_summary([])["status"] == "ok"
    with pytest.raises(AnsibleFilterError):
        FS.findings_summary([{"status": "broken"}])
