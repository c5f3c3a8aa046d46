"""Silences and notification routes (plugins/plugin_utils/_rules.py) on the real findings of a lab inspection
(fixtures/report/lab_latest.json: every inspection role's findings, with log warnings on mw1 and critical
deployments and services)."""
from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding_key
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _rules

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "lab_latest.json"
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(name="findings")
def fixture_findings() -> list[dict]:
    return json.loads(FIXTURE.read_text())["findings"]


def silence(match: str, until="2026-12-31", reason="migration noise, OPS-1", name=None) -> dict:
    entry = {"match": match, "until": until, "reason": reason}
    if name:
        entry["name"] = name
    return entry


def test_a_silence_marks_what_it_selects_and_keeps_every_finding(findings):
    original = copy.deepcopy(findings)
    rules = _rules.load({"silences": [silence("[?category=='logs' && host=='mw1']", name="mw1-logs")]})
    marked, states = _rules.apply_silences(findings, rules["silences"], NOW)

    assert len(marked) == len(findings)                                    # nothing dropped
    assert [finding_key(f) for f in marked] == [finding_key(f) for f in findings]
    silenced = [f for f in marked if _rules.is_silenced(f)]
    expected = [f for f in findings if f["category"] == "logs" and f["host"] == "mw1"]
    assert len(silenced) == len(expected) == 4                             # 2 warnings, 2 ok on mw1
    assert {f["status"] for f in silenced} == {"warning", "ok"}            # the status is kept
    assert all(f["silenced"] == {"rule": "mw1-logs", "reason": "migration noise, OPS-1",
                                 "until": "2027-01-01T00:00:00Z"} for f in silenced)
    assert not any(_rules.is_silenced(f) for f in marked if f["host"] != "mw1" or f["category"] != "logs")
    assert states == [{"name": "mw1-logs", "match": "[?category=='logs' && host=='mw1']", "reason": "migration noise, OPS-1",
                       "until": "2027-01-01T00:00:00Z", "state": "active", "matched": 4}]
    assert findings == original                                            # the input is not modified


def test_an_expired_silence_silences_nothing_and_says_what_it_would_match(findings):
    rules = _rules.load({"silences": [silence("[?category=='logs' && host=='mw1']", until="2026-11-29")]})
    marked, states = _rules.apply_silences(findings, rules["silences"], NOW)
    assert not any(_rules.is_silenced(f) for f in marked)
    assert states[0]["state"] == "expired" and states[0]["matched"] == 4 and states[0]["name"] == "silence-1"


@pytest.mark.parametrize("until, expected", [
    ("2026-11-30", "2026-12-01T00:00:00Z"),                                # a date: through the end of that day
    (dt.date(2026, 11, 30), "2026-12-01T00:00:00Z"),                       # what YAML makes of an unquoted date
    ("2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z"),
    ("2026-11-30T18:00:00+08:00", "2026-11-30T10:00:00Z"),                 # converted to UTC
    ("2026-11-30T10:00:00", "2026-11-30T10:00:00Z"),                       # no zone: UTC
    (dt.datetime(2026, 11, 30, 8, 59, 59), "2026-11-30T08:59:59Z"),
])
def test_until_is_a_date_or_a_timestamp(until, expected):
    assert _rules.parse_until(until, "silence x").strftime("%Y-%m-%dT%H:%M:%SZ") == expected


def test_a_silence_ends_at_its_until(findings):
    match = "[?id=='backups.etcd_snapshot']"
    for until, active in (("2026-11-30T09:00:01Z", True), ("2026-11-30T09:00:00Z", False)):
        rules = _rules.load({"silences": [silence(match, until=until)]})
        marked = _rules.apply_silences(findings, rules["silences"], NOW)[0]
        assert any(_rules.is_silenced(f) for f in marked) is active


def test_the_first_active_silence_that_selects_a_finding_names_it(findings):
    rules = _rules.load({"silences": [silence("[?category=='logs']", name="all-logs", until="2026-01-01"),   # expired
                                      silence("[?host=='mw1']", name="mw1"),
                                      silence("[?category=='logs']", name="logs")]})
    marked, states = _rules.apply_silences(findings, rules["silences"], NOW)
    by_rule = {f["silenced"]["rule"] for f in marked if _rules.is_silenced(f) and f["category"] == "logs"}
    assert by_rule == {"mw1", "logs"}
    assert [s["state"] for s in states] == ["expired", "active", "active"]


def test_expressions_can_use_details_and_functions(findings):
    rules = _rules.load({"silences": [silence("[?status!='ok' && starts_with(id, 'control_plane_services.')]")]})
    marked, states = _rules.apply_silences(findings, rules["silences"], NOW)
    assert states[0]["matched"] == 3
    assert {f["host"] for f in marked if _rules.is_silenced(f)} == {"master1", "node1", "node2"}


def test_routes_send_the_problems_they_select_and_never_silenced_ones(findings):
    rules = _rules.load({
        "silences": [silence("[?category=='services']")],
        "routes": [{"name": "apps-oncall", "match": "[?category=='deployments' || category=='services']"},
                   {"name": "etcd-oncall", "match": "[?category=='etcd' && status=='critical']"},
                   {"name": "every-cert", "match": "[?category=='certificates']"}],   # all ok: nothing to send
    })
    marked = _rules.apply_silences(findings, rules["silences"], NOW)[0]
    routed = _rules.route(marked, rules["routes"])
    assert set(routed) == {"apps-oncall"}                                  # etcd is healthy, certificates ok
    assert len(routed["apps-oncall"]) == 8                                 # the 8 critical deployments, services silenced
    assert {f["category"] for f in routed["apps-oncall"]} == {"deployments"}
    assert all(f["status"] == "critical" for f in routed["apps-oncall"])


def test_a_rules_file_in_yaml_loads(tmp_path, findings):
    text = """
silences:
  - name: mw1-log-noise
    match: "[?category=='logs' && host=='mw1']"
    until: 2026-12-31
    reason: tomcat migration, OPS-1234
routes:
  - name: etcd-oncall
    match: "[?category=='etcd' && status=='critical']"
"""
    rules = _rules.load(yaml.safe_load(text))
    assert rules["silences"][0].until == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    assert [r.name for r in rules["routes"]] == ["etcd-oncall"]
    assert _rules.load(None) == {"silences": [], "routes": []} == _rules.load({})


@pytest.mark.parametrize("data, message", [
    ([], "the rules must be a mapping"),
    ({"silence": []}, "unknown rules section(s) silence"),
    ({"silences": {"match": "[?x]"}}, "silences must be a list"),
    ({"silences": ["[?x]"]}, "silence #1 must be a mapping"),
    ({"silences": [{"match": "[?category=='logs'", "until": "2026-12-31", "reason": "r"}]},
     "silence silence-1: match \"[?category=='logs'\" is not a valid JMESPath expression"),
    ({"silences": [{"match": "", "until": "2026-12-31", "reason": "r"}]}, "match '' must be a JMESPath expression"),
    ({"silences": [{"match": "[?x]", "reason": "r"}]}, "silence silence-1: until None is required"),
    ({"silences": [{"match": "[?x]", "until": "next week", "reason": "r"}]}, "until 'next week' is not a date"),
    ({"silences": [{"match": "[?x]", "until": "2026-12-31"}]}, "silence silence-1: reason is required"),
    ({"silences": [{"match": "[?x]", "until": "2026-12-31", "reason": "  "}]}, "reason is required"),
    ({"silences": [{"match": "[?x]", "until": "2026-12-31", "reason": "r", "status": "ok"}]}, "unknown key(s) status"),
    ({"routes": [{"match": "[?x]"}]}, "route #1: name None must be"),
    ({"routes": [{"name": "a b", "match": "[?x]"}]}, "route #1: name 'a b' must be"),
    ({"routes": [{"name": "a", "match": "[?x]"}, {"name": "a", "match": "[?y]"}]}, "name 'a' is used twice in routes"),
])
def test_bad_rules_fail_with_a_message_naming_the_value(data, message):
    with pytest.raises(_rules.RulesError) as exc:
        _rules.load(data)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("match, message", [
    ("[].id", "selects values that are not findings of the run"),          # a projection, not a filter
    ("length(@)", "gives a int, not a list of findings"),
    ("[0]", "gives a dict, not a list of findings"),
    ("[?category=='logs'].{id: id, target: target}", "selects values that are not findings"),
    ("[?host==`null`].{id: id, target: target, host: host, category: category, status: status}",
     "selects values that are not findings"),                          # a copy with every key is not the finding
])
def test_an_expression_that_does_not_select_findings_is_refused(findings, match, message):
    rules = _rules.load({"silences": [silence(match)]})
    with pytest.raises(_rules.RulesError) as exc:
        _rules.apply_silences(findings, rules["silences"], NOW)
    assert message in str(exc.value) and "silence silence-1" in str(exc.value)


def test_an_expression_that_selects_nothing_is_fine(findings):
    rules = _rules.load({"silences": [silence("[?host=='ghost']")], "routes": [{"name": "x", "match": "[?host=='ghost']"}]})
    marked, states = _rules.apply_silences(findings, rules["silences"], NOW)
    assert marked == findings and states[0]["matched"] == 0
    assert _rules.route(marked, rules["routes"]) == {}


def test_the_report_status_leaves_silenced_findings_out_and_counts_them(findings):
    report = {"summary": {"status": "critical", "ok": 100, "warning": 12, "unknown": 0, "critical": 15},
              "findings": findings}
    rules = _rules.load({"silences": [silence("[?category=='deployments' || category=='services']", name="apps"),
                                      silence("[?status=='warning']", name="warnings")]})
    silenced = _rules.apply_to_report(report, rules, NOW)
    assert silenced["summary"] == {"status": "ok", "ok": 100, "warning": 12, "unknown": 0, "critical": 15,
                                   "silenced": 27}
    assert len(silenced["findings"]) == 127 and [s["matched"] for s in silenced["silences"]] == [15, 12]
    assert report["summary"]["status"] == "critical" and "silences" not in report     # the input is not modified
    partly = _rules.apply_to_report(report, _rules.load({"silences": [silence("[?category=='services']")]}), NOW)
    assert partly["summary"]["status"] == "critical" and partly["summary"]["silenced"] == 7


def test_nothing_inspected_cannot_be_silenced():
    report = {"summary": {"status": "unknown", "ok": 0, "warning": 0, "unknown": 1, "critical": 0},
              "findings": [{"id": "host.inspected", "category": "host", "target": "inventory", "host": None,
                            "status": "unknown", "summary": "the inspection targeted no hosts", "details": {}}]}
    silenced = _rules.apply_to_report(report, _rules.load({"silences": [silence("[]")]}), NOW)
    assert silenced["summary"]["status"] == "unknown" and silenced["summary"]["silenced"] == 0
