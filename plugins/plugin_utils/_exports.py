# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inspection report for machines: a Prometheus textfile and a JUnit XML file. PRIVATE to the collection.

Controller-only, used by the ``kubeops.runbook.inspection_report`` action after the report is built (``_report``):
both are pure functions of the finished report document (findings sorted, silences applied), written atomically.

- ``prometheus_text``: the node_exporter textfile-collector format (Prometheus text exposition format 0.0.4): one
  series per finding, the counts per status, the run's timestamp and duration. No summaries or details (log lines
  do not belong in labels), so the file can be readable by the node_exporter user.
- ``junit_xml``: one test case per finding (check and target) for CI systems, failures at or above a level,
  silenced findings skipped.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import OK, STATUSES, rank
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report

PROMETHEUS_MODE = 0o644     # node_exporter runs as its own user; the file holds no log lines
PREFIX = "kubeops_inspection"


def _epoch(stamp: t.Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 UTC time as the report writes them (None when it is not one)."""
    try:
        moment = _dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.timestamp()


def run_times(report: t.Mapping) -> tuple[float | None, float | None]:
    """(finished as epoch seconds, duration in seconds) of a report; None where a time is missing or unreadable."""
    started, finished = _epoch(report.get("started")), _epoch(report.get("finished"))
    duration = max(finished - started, 0.0) if started is not None and finished is not None else None
    return finished, duration


# -- Prometheus ------------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _label_value(value: t.Any) -> str:
    """A label value in the text format: backslash, double quote and newline escaped, other control characters
    replaced by a space."""
    text = _CONTROL.sub(" ", "" if value is None else str(value))
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: t.Sequence[tuple[str, t.Any]]) -> str:
    return "{" + ",".join(f'{name}="{_label_value(value)}"' for name, value in pairs) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def prometheus_text(report: t.Mapping) -> str:
    """The report as node_exporter textfile-collector metrics.

    - ``kubeops_inspection_finding{cluster,host,check,target,status,silenced} 1``: one series per finding (``host``
      is empty for the cluster-wide checks), so an alert selects ``status="critical",silenced="false"``;
    - ``kubeops_inspection_findings{cluster,status}``: how many findings have each status (silenced ones included,
      as in the report's summary), and ``kubeops_inspection_silenced_findings{cluster}``;
    - ``kubeops_inspection_last_run_timestamp_seconds`` and ``kubeops_inspection_last_run_duration_seconds``.
    """
    cluster = report.get("cluster") or ""
    summary = report.get("summary") or {}
    finished, duration = run_times(report)
    lines = [
        f"# HELP {PREFIX}_finding One series per finding of the last inspection run, with its status.",
        f"# TYPE {PREFIX}_finding gauge",
    ]
    for item in report.get("findings") or []:
        lines.append(f"{PREFIX}_finding" + _labels((
            ("cluster", cluster), ("host", item.get("host") or ""), ("check", item.get("id")),
            ("target", item.get("target")), ("status", item.get("status")),
            ("silenced", "true" if item.get("silenced") else "false"))) + " 1")
    lines += [
        f"# HELP {PREFIX}_findings Findings of the last inspection run per status (silenced ones included).",
        f"# TYPE {PREFIX}_findings gauge",
    ]
    for status in reversed(STATUSES):
        lines.append(f"{PREFIX}_findings" + _labels((("cluster", cluster), ("status", status)))
                     + f" {int(summary.get(status) or 0)}")
    lines += [
        f"# HELP {PREFIX}_silenced_findings Findings of the last inspection run that a silence rule selects.",
        f"# TYPE {PREFIX}_silenced_findings gauge",
        f"{PREFIX}_silenced_findings" + _labels((("cluster", cluster),)) + f" {int(summary.get('silenced') or 0)}",
    ]
    if finished is not None:
        lines += [
            f"# HELP {PREFIX}_last_run_timestamp_seconds When the last inspection run finished, in seconds since the epoch.",
            f"# TYPE {PREFIX}_last_run_timestamp_seconds gauge",
            f"{PREFIX}_last_run_timestamp_seconds" + _labels((("cluster", cluster),)) + f" {_number(finished)}",
        ]
    if duration is not None:
        lines += [
            f"# HELP {PREFIX}_last_run_duration_seconds How long the last inspection run took.",
            f"# TYPE {PREFIX}_last_run_duration_seconds gauge",
            f"{PREFIX}_last_run_duration_seconds" + _labels((("cluster", cluster),)) + f" {_number(duration)}",
        ]
    return "\n".join(lines) + "\n"


def check_prometheus_path(path: str) -> None:
    """A textfile path node_exporter will read: a ``*.prom`` file in an existing directory (node_exporter's
    ``--collector.textfile.directory``, which is not created here: a mistyped path must not go unnoticed)."""
    if not path.endswith(".prom"):
        raise _report.ReportError(f"the Prometheus textfile must end in .prom (node_exporter's textfile collector "
                                  f"reads only *.prom files), got {path}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise _report.ReportError(f"the Prometheus textfile's directory {directory} does not exist (it should be the "
                                  f"directory of node_exporter's --collector.textfile.directory)")


def write_prometheus(report: t.Mapping, path: str) -> str:
    """Write the textfile atomically (a temporary file in the same directory, renamed): node_exporter never reads a
    half-written file, and the temporary name does not end in ``.prom``, so it never reads that either."""
    check_prometheus_path(path)
    try:
        _report.atomic_write(path, prometheus_text(report), PROMETHEUS_MODE)
    except OSError as exc:
        raise _report.ReportError(f"cannot write the Prometheus textfile {path}: {exc}") from exc
    return path


# -- JUnit -----------------------------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all (ElementTree would write them and produce a file no parser reads).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: t.Any) -> str:
    return _NOT_XML.sub("\ufffd", _report.clean_text("" if value is None else value))


def case_name(item: t.Mapping) -> str:
    """The test case name of a finding: its target, and ``@host`` when the host adds to it (as in its key)."""
    host = item.get("host")
    return f"{item.get('target')}@{host}" if host and host != item.get("target") else str(item.get("target"))


def junit_xml(report: t.Mapping, fail_on: str = "critical", properties: t.Mapping[str, t.Any] | None = None) -> str:
    """The report as JUnit XML: one ``testsuite`` for the run, one ``testcase`` per finding (``classname`` the check,
    ``name`` the target), a ``failure`` for a status at or above ``fail_on``, ``skipped`` for a silenced finding.

    A finding below ``fail_on`` that is not ok passes, with its status and summary as ``system-out``.
    """
    if fail_on not in _report.FAIL_LEVELS:
        raise _report.ReportError(f"junit fail_on {fail_on!r} is not one of {', '.join(_report.FAIL_LEVELS)}")
    findings = list(report.get("findings") or [])
    finished, duration = run_times(report)
    del finished
    suite = ET.Element("testsuite", {
        "name": _xml_text(f"kubeops.runbook inspection {report.get('cluster') or ''}".strip()),
        "timestamp": _xml_text(report.get("started") or ""),
        "time": _number(duration or 0),
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("cluster", report.get("cluster")), ("status", (report.get("summary") or {}).get("status")),
                        ("fail_on", fail_on), *sorted((properties or {}).items())):
        ET.SubElement(props, "property", {"name": _xml_text(name), "value": _xml_text(value)})
    failures = skipped = 0
    for item in findings:
        case = ET.SubElement(suite, "testcase", {"classname": _xml_text(item.get("id")),
                                                 "name": _xml_text(case_name(item)), "time": "0"})
        status, summary = str(item.get("status")), _xml_text(item.get("summary"))
        silenced = item.get("silenced")
        if silenced:
            skipped += 1
            mark = silenced if isinstance(silenced, t.Mapping) else {}
            ET.SubElement(case, "skipped", {"message": _xml_text(
                f"{status}, silenced by {mark.get('rule') or 'a silence'} until {mark.get('until') or '?'}: "
                f"{mark.get('reason') or ''}".rstrip(": "))}).text = summary
        elif _report.at_or_above(status, fail_on):
            failures += 1
            failure = ET.SubElement(case, "failure", {"type": _xml_text(status), "message": summary})
            details = item.get("details")
            failure.text = _xml_text(json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True, default=str)
                                     if details else summary)
        elif rank(status) > rank(OK):
            ET.SubElement(case, "system-out").text = f"{status.upper()}: {summary}"
    suite.set("tests", str(len(findings)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites", {"name": "kubeops.runbook inspection", "tests": str(len(findings)),
                                     "failures": str(failures), "errors": "0", "skipped": str(skipped),
                                     "time": suite.get("time") or "0"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: t.Mapping, path: str, fail_on: str = "critical", mode: int = _report.DEFAULT_MODE,
                properties: t.Mapping[str, t.Any] | None = None) -> str:
    """Write the JUnit file atomically (its directory is created, like the report directory)."""
    text = junit_xml(report, fail_on, properties)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=_report.dir_mode(mode), exist_ok=True)
        _report.atomic_write(path, text, mode)
    except OSError as exc:
        raise _report.ReportError(f"cannot write the JUnit file {path}: {exc}") from exc
    return path
