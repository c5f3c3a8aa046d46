"""The report for machines (plugins/plugin_utils/_exports.py): the Prometheus textfile and the JUnit XML file.

Both are read back by the tools their consumers use: the textfile by prometheus_client's parser (the reference
Python implementation of the text format) and by `promtool check metrics`, the alert rule of docs/report.md by
`promtool check rules`; the JUnit file by junitparser. The input is a real report of the lab (lab_latest.json).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import junitparser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding, finding_key
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _exports as E
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report as R
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _rules

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "report"
# `make promtool` builds it into ~/.cache/kubeops-tools and the Makefile exports its path; CI must not skip it.
PROMTOOL = os.environ.get("KUBEOPS_PROMTOOL") or shutil.which("promtool")
NO_PROMTOOL = "promtool not built: `make promtool` (the Makefile's unit target does it and sets KUBEOPS_PROMTOOL)"


def lab_report(silence: str | None = None) -> dict:
    """The real lab report, with the silences of the report action applied (none, or one that selects ``silence``)."""
    report = json.loads((FIXTURES / "lab_latest.json").read_text(encoding="utf-8"))
    rules = _rules.load({"silences": [{"name": "etcd-dial", "match": silence, "until": "2099-01-01",
                                       "reason": "member replaced, old peer still dialled"}]} if silence else {})
    return _rules.apply_to_report(report, rules, dt.datetime(2026, 11, 22, 6, 3, tzinfo=dt.timezone.utc))


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def need_promtool():
    if PROMTOOL:
        return PROMTOOL
    if os.environ.get("CI"):
        pytest.fail(NO_PROMTOOL)
    pytest.skip(NO_PROMTOOL)


# -- Prometheus ------------------------------------------------------------------------------------------------

def test_textfile_has_one_series_per_finding_and_the_counts():
    report = lab_report()
    parsed = families(E.prometheus_text(report))
    assert set(parsed) == {"kubeops_inspection_finding", "kubeops_inspection_findings",
                           "kubeops_inspection_silenced_findings", "kubeops_inspection_last_run_timestamp_seconds",
                           "kubeops_inspection_last_run_duration_seconds"}
    series = parsed["kubeops_inspection_finding"].samples
    assert parsed["kubeops_inspection_finding"].type == "gauge"
    assert len(series) == len(report["findings"]) == 127
    by_key = {finding_key({"id": s.labels["check"], "target": s.labels["target"], "host": s.labels["host"] or None}):
              s for s in series}
    for item in report["findings"]:
        sample = by_key[finding_key(item)]
        assert sample.value == 1
        assert sample.labels == {"cluster": "lab", "host": item["host"] or "", "check": item["id"],
                                 "target": item["target"], "status": item["status"], "silenced": "false"}
    counts = {s.labels["status"]: s.value for s in parsed["kubeops_inspection_findings"].samples}
    assert counts == {"critical": 15, "unknown": 0, "warning": 12, "ok": 100}
    assert parsed["kubeops_inspection_silenced_findings"].samples[0].value == 0


def test_textfile_times_are_the_runs():
    report = lab_report()
    text = E.prometheus_text(report)
    finished = dt.datetime(2026, 11, 22, 6, 2, 5, tzinfo=dt.timezone.utc).timestamp()
    assert f'kubeops_inspection_last_run_timestamp_seconds{{cluster="lab"}} {int(finished)}\n' in text
    assert 'kubeops_inspection_last_run_duration_seconds{cluster="lab"} 41\n' in text     # 06:01:24 -> 06:02:05
    parsed = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    assert parsed["kubeops_inspection_last_run_timestamp_seconds"] == finished
    assert parsed["kubeops_inspection_last_run_duration_seconds"] == 41


def test_textfile_marks_silenced_findings():
    report = lab_report(silence="[?id=='control_plane_services.unit' && target=='etcd']")
    parsed = families(E.prometheus_text(report))
    silenced = [s.labels for s in parsed["kubeops_inspection_finding"].samples if s.labels["silenced"] == "true"]
    assert sorted(s["host"] for s in silenced) == ["master1", "node1", "node2"]
    assert parsed["kubeops_inspection_silenced_findings"].samples[0].value == 3


def test_textfile_label_values_survive_any_target():
    """Targets are paths, log files and names from hosts: quotes, backslashes, newlines and CJK come back intact."""
    odd = ['C:\\logs\\"quoted"\\', "line one\nline two", "/data/日志/错误.log", "tab\there", "{}=,"]
    items = [finding("logs.messages", target, "warning", "x", host="mw1") for target in odd]
    report = R.build_report('we"ird\\cluster', "2026-11-22T06:01:24Z", "2026-11-22T06:02:05Z", items)
    parsed = families(E.prometheus_text(report))
    targets = sorted(s.labels["target"] for s in parsed["kubeops_inspection_finding"].samples)
    assert targets == sorted(t.replace("\t", " ") for t in odd)
    assert {s.labels["cluster"] for s in parsed["kubeops_inspection_findings"].samples} == {'we"ird\\cluster'}


def test_textfile_without_times_leaves_them_out():
    report = R.build_report("lab", "", "not a time", [finding("nodes.ready", "node1", "ok", "Ready")])
    parsed = families(E.prometheus_text(report))
    assert "kubeops_inspection_last_run_timestamp_seconds" not in parsed
    assert "kubeops_inspection_last_run_duration_seconds" not in parsed
    assert len(parsed["kubeops_inspection_finding"].samples) == 1


def test_textfile_is_written_atomically_readable_and_only_as_prom(tmp_path):
    report = lab_report()
    path = tmp_path / "kubeops_inspection.prom"
    path.write_text("old\n")
    assert E.write_prometheus(report, str(path)) == str(path)
    assert path.read_text() == E.prometheus_text(report)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644        # node_exporter runs as another user
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeops_inspection.prom"]   # no temporary left
    with pytest.raises(R.ReportError, match=r"must end in \.prom .*got .*/kubeops\.txt"):
        E.write_prometheus(report, str(tmp_path / "kubeops.txt"))
    with pytest.raises(R.ReportError, match=r"directory .*/missing does not exist"):
        E.write_prometheus(report, str(tmp_path / "missing" / "kubeops.prom"))


def test_promtool_checks_the_textfile(tmp_path):
    promtool = need_promtool()
    report = lab_report(silence="[?id=='logs.messages']")
    path = tmp_path / "kubeops_inspection.prom"
    E.write_prometheus(report, str(path))
    done = subprocess.run([promtool, "check", "metrics"], input=path.read_bytes(), capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert not done.stdout.strip() and not done.stderr.strip(), (done.stdout + done.stderr).decode()   # no lint either


def test_promtool_rejects_a_broken_textfile():
    """The check above can fail: promtool does complain about a file that breaks the conventions."""
    promtool = need_promtool()
    broken = b"# TYPE kubeops_inspection_findings counter\nkubeops_inspection_findings 1\n"
    done = subprocess.run([promtool, "check", "metrics"], input=broken, capture_output=True, timeout=60, check=False)
    assert done.returncode != 0 and b"_total" in done.stdout + done.stderr


def test_promtool_checks_the_alert_rules_of_the_docs(tmp_path):
    """docs/report.md shows alert rules over these metrics: they are valid rules (promtool check rules)."""
    promtool = need_promtool()
    text = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(groups:\n.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/report.md should show one Prometheus rule file (a yaml block starting groups:)"
    rules = tmp_path / "kubeops.rules.yml"
    rules.write_text(blocks[0])
    done = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert b"SUCCESS: 2 rules found" in done.stdout
    for name in re.findall(r"\b(kubeops_inspection_\w+)", blocks[0]):
        assert name in E.prometheus_text(lab_report()), f"the rule uses {name}, which the textfile does not have"


# -- JUnit -----------------------------------------------------------------------------------------------------

def read_junit(path: Path) -> tuple[junitparser.TestSuite, list[junitparser.TestCase]]:
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    return suites[0], list(suites[0])


def outcome(case: junitparser.TestCase) -> str:
    kinds = {type(r).__name__ for r in case.result}
    return "failure" if "Failure" in kinds else "skipped" if "Skipped" in kinds else "error" if "Error" in kinds else "passed"


def test_junit_one_case_per_check_and_target_failures_at_critical(tmp_path):
    report = lab_report()
    path = tmp_path / "out" / "junit.xml"
    E.write_junit(report, str(path), "critical", properties={"report": "/r/inspection.html"})
    suite, cases = read_junit(path)
    assert len(cases) == suite.tests == 127
    assert len({(c.classname, c.name) for c in cases}) == 127
    assert {c.classname for c in cases} == {f["id"] for f in report["findings"]}
    assert (suite.failures, suite.errors, suite.skipped) == (15, 0, 0)
    failed = {(c.classname, c.name) for c in cases if outcome(c) == "failure"}
    assert failed == {(f["id"], E.case_name(f)) for f in report["findings"] if f["status"] == "critical"}
    etcd = next(c for c in cases if c.classname == "control_plane_services.unit" and c.name == "etcd@node2")
    assert outcome(etcd) == "passed" and etcd.system_out.startswith("WARNING: active (running); 5 error log line(s)")
    deploy = next(c for c in cases if c.name == "product/oltp-gateway-1-3-0" and c.classname == "deployments.replicas")
    assert deploy.result[0].type == "critical" and deploy.result[0].message.startswith("desired 2, current 2")
    assert '"available": 0' in deploy.result[0].text          # the details, for the CI log
    props = {p.name: p.value for p in suite.properties()}
    assert props == {"cluster": "lab", "status": "critical", "fail_on": "critical", "report": "/r/inspection.html"}
    assert suite.timestamp == "2026-11-22T06:01:24Z" and suite.time == 41
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_junit_fail_on_warning_and_silenced_skipped(tmp_path):
    report = lab_report(silence="[?id=='services.endpoints' || id=='control_plane_services.unit']")
    path = tmp_path / "junit.xml"
    E.write_junit(report, str(path), "warning")
    suite, cases = read_junit(path)
    selected = [f for f in report["findings"] if f.get("silenced")]
    assert len(selected) > 10 and {f["status"] for f in selected} == {"ok", "warning", "critical"}
    silenced = [c for c in cases if outcome(c) == "skipped"]
    assert {(c.classname, c.name) for c in silenced} == {(f["id"], E.case_name(f)) for f in selected}
    assert len(silenced) == suite.skipped
    assert silenced[0].result[0].message.startswith("critical, silenced by etcd-dial until 2099-01-02T00:00:00Z: member")
    # 15 critical + 12 warning, less the 7 critical endpoints and the 3 etcd warnings that are silenced
    assert suite.failures == 15 + 12 - 10
    assert {outcome(c) for c in cases if c.classname == "nodes.ready"} == {"passed"}


def test_junit_never_fails_nothing_and_carries_any_text(tmp_path):
    odd = finding("logs.messages", "/var/log/messages", "critical", "\x1b[31mERROR\x1b[0m <b>&\x00 日志", host="node1")
    report = R.build_report("lab", "2026-11-22T06:01:24Z", "2026-11-22T06:02:05Z", [odd])
    path = tmp_path / "junit.xml"
    E.write_junit(report, str(path), "never")
    suite, cases = read_junit(path)
    assert suite.failures == 0 and outcome(cases[0]) == "passed"
    assert "<b>&" in cases[0].system_out and "日志" in cases[0].system_out
    E.write_junit(report, str(path), "critical")
    _suite, cases = read_junit(path)
    assert cases[0].result[0].message == "\ufffd[31mERROR\ufffd[0m <b>&\ufffd 日志"
    with pytest.raises(R.ReportError, match="fail_on 'sometimes' is not one of never, warning, unknown, critical"):
        E.junit_xml(report, "sometimes")
