# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident record: what an incident runbook saw (findings) and did (timeline). PRIVATE to the collection.

Controller-only. The findings are collected, de-duplicated and rendered exactly as the daily inspection's
(``_report``); the record adds a timeline - every step in order with its outcome, and every action it took (or,
under ``--check``, would take) with the state before and after - and the problems that stopped it. Files are
``incident-<UTC time>.{json,md,html}`` in the report directory (the maintenance runbooks write the same record as
``maintenance-<UTC time>.*``); the inspection history is not touched (an
incident run is not a daily inspection and must not shift "new since last run").
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import OK, STATUSES, finding_key, summarize
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report

SCHEMA = "kubeops.runbook/incident/v1"
HTML_TEMPLATE = "incident_record.html.j2"
MARKDOWN_TEMPLATE = "incident_record.md.j2"
OUTCOMES = ("looked", "unchanged", "would change", "changed", "refused", "failed")
PREFIX = re.compile(r"^[a-z][a-z0-9_]*$")


def observations(findings_by_host: t.Mapping[str, t.Any],
                 after_by_host: t.Mapping[str, t.Any] | None = None) -> tuple[list[dict], list[dict]]:
    """(now, seen) from every host's findings.

    ``seen`` is every finding as the steps observed it. ``now`` is the state the run left: a step that changed
    something reads it again and records ``{"ids": [...], "findings": [...]}`` in ``after_by_host`` (the host's
    ``kubeops_incident_after``), which replaces every earlier finding with one of those ids from that host - a
    deleted pod's finding disappears with the pods read after the cleanup. The record's status is that of ``now``.
    """
    after_by_host = after_by_host or {}
    current: dict[str, list] = {}
    for host in set(findings_by_host) | set(after_by_host):
        items = findings_by_host.get(host) or []
        base = list(items) if isinstance(items, (list, tuple)) else [items]
        for entry in after_by_host.get(host) or []:
            if not isinstance(entry, t.Mapping):
                continue
            ids = set(entry.get("ids") or [])
            base = [f for f in base if not (isinstance(f, t.Mapping) and f.get("id") in ids)] + list(entry.get("findings") or [])
        current[host] = base
    return _report.collect(current), _report.collect(findings_by_host)


def timeline(entries_by_host: t.Mapping[str, t.Any]) -> list[dict]:
    """Every host's timeline entries in one list, in time order (then step); values cleaned for the files."""
    merged: list[dict] = []
    for host in sorted(entries_by_host):
        for entry in entries_by_host[host] or []:
            if not isinstance(entry, t.Mapping):
                continue
            item = _report.clean(dict(entry))
            item.setdefault("host", host)
            for key, default in (("check_mode", False), ("message", ""), ("outcome", "looked"), ("title", ""), ("step", 0),
                                 ("time", "")):
                item.setdefault(key, default)
            item["actions"] = [a for a in item.get("actions") or [] if isinstance(a, dict)]
            merged.append(item)
    merged.sort(key=lambda e: (str(e.get("time") or ""), int(e.get("step") or 0) if str(e.get("step") or "0").isdigit() else 0))
    return merged


def build(kind: str, title: str, cluster: str, started: str, finished: str, findings: list[dict], entries: list[dict],
          problems: list[str], check_mode: bool, audit_log: str | None, seen: list[dict] | None = None) -> dict:
    ordered = _report.sort_findings(findings)
    now = {finding_key(f): f["status"] for f in ordered}
    seen_wrong = [{**f, "status_now": now.get(finding_key(f), "not seen again")}
                  for f in _report.sort_findings(seen or []) if f["status"] != OK]
    actions = sum(len(e.get("actions") or []) for e in entries)
    return {
        "schema": SCHEMA,
        "runbook": kind,
        "title": _report.clean_text(title),
        "cluster": _report.clean_text(cluster),
        "started": started,
        "finished": finished,
        "check_mode": bool(check_mode),
        "summary": summarize(ordered),
        "actions": actions,
        "problems": [_report.clean_text(p) for p in problems],
        "timeline": entries,
        "seen": seen_wrong,
        "audit_log": audit_log,
        "findings": ordered,
    }


def _short(value: t.Any, limit: int = 240) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def view_model(record: dict) -> dict:
    """The inspection report's view of the findings, plus the timeline rows."""
    base = _report.view_model({**record, "new_since_last": [], "resolved_since_last": [], "previous": None})
    rows = []
    for entry in record["timeline"]:
        rows.append({"e": entry, "actions": [{"target": a.get("target"), "action": a.get("action"),
                                              "before": _short(a.get("before")), "after": _short(a.get("after")),
                                              "why": a.get("why")} for a in entry.get("actions") or []]})
    seen = [{"f": f, "now": f.get("status_now")} for f in record.get("seen") or []]
    return {**base, "timeline": rows, "problems": record["problems"], "seen": seen}


def render(record: dict, template_dir: str, kind: str) -> str:
    import jinja2  # pylint: disable=import-outside-toplevel  # ships with ansible-core on the controller
    if not os.path.isdir(template_dir):
        raise _report.ReportError(f"template_dir {template_dir!r} is not a directory")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir), autoescape=kind == "html",
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["md"] = _report.md_escape
    env.filters["mdcode"] = _report.md_code
    name = HTML_TEMPLATE if kind == "html" else MARKDOWN_TEMPLATE
    try:
        return env.get_template(name).render(**view_model(record))
    except jinja2.TemplateError as exc:
        raise _report.ReportError(f"cannot render {name} from {template_dir}: {exc}") from exc


def paths(out_dir: str, moment: _dt.datetime, prefix: str = "incident") -> dict[str, str]:
    """``<prefix>-<UTC time>.{json,md,html}`` in ``out_dir``, with ``-2``, ``-3``... when a file of that name exists."""
    if not PREFIX.match(prefix or ""):
        raise _report.ReportError(f"record prefix {prefix!r} must be a lowercase word such as incident or maintenance")
    base = os.path.join(out_dir, f"{prefix}-{_report.stamp(moment)}")
    candidate, n = base, 1
    while any(os.path.exists(f"{candidate}.{ext}") for ext in ("json", "md", "html")):
        n += 1
        candidate = f"{base}-{n}"
    return {"json": f"{candidate}.json", "markdown": f"{candidate}.md", "html": f"{candidate}.html"}


def write(record: dict, out_dir: str, template_dir: str, moment: _dt.datetime, mode: int = 0o640,
          prefix: str = "incident") -> dict[str, str]:
    """Render everything first, then write each file atomically (a record is never half-written)."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise _report.ReportError(f"cannot create report directory {out_dir}: {exc}") from exc
    document = _report.to_json(record)
    markdown = render(record, template_dir, "markdown")
    html = render(record, template_dir, "html")
    where = paths(out_dir, moment, prefix)
    try:
        _report.atomic_write(where["json"], document, mode)
        _report.atomic_write(where["markdown"], markdown, mode)
        _report.atomic_write(where["html"], html, mode)
    except OSError as exc:
        raise _report.ReportError(f"cannot write the incident record into {out_dir}: {exc}") from exc
    return where


def summary_lines(record: dict, where: dict[str, str]) -> list[str]:
    """What the run prints at its end: status, what was done, what stopped it, where the record is."""
    s = record["summary"]
    mode = " (--check: nothing was changed)" if record["check_mode"] else ""
    lines = [f"{record['title']} on {record['cluster']}: {s['status'].upper()} - "
             + ", ".join(f"{st} {s[st]}" for st in reversed(STATUSES)) + mode]
    for entry in record["timeline"]:
        if entry.get("outcome") in ("looked",) and not entry.get("actions"):
            continue
        lines.append(f"step {entry.get('step')} {entry.get('outcome')}: {entry.get('message')}")
    lines += [f"PROBLEM: {p}" for p in record["problems"]]
    wrong = [f for f in record["findings"] if f["status"] != OK]
    lines.append(f"{len(wrong)} findings need attention; record: {where['html']}")
    return lines
