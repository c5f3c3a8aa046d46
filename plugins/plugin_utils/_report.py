# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inspection report: collect findings, compare with the last run, render and write. PRIVATE to the collection.

Controller-only (Jinja2 rendering): used by the ``kubeops.runbook.inspection_report`` action plugin, never sent to
a host. Everything here is a plain
function so that unit tests can build, render and write reports without running Ansible.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CATEGORIES, CRITICAL, OK, STATUSES, UNKNOWN, FindingError, finding, finding_key, rank, summarize,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._redact import redact_text
from ansible_collections.kubeops.runbook.plugins.plugin_utils._causes import line as cause_line
from ansible_collections.kubeops.runbook.plugins.plugin_utils._history import compare

try:
    import jinja2
    from markupsafe import Markup
    HAS_JINJA2 = True
except ImportError:  # pragma: no cover - jinja2 ships with ansible-core on the controller
    jinja2 = Markup = None
    HAS_JINJA2 = False

SCHEMA = "kubeops.runbook/inspection/v1"
FAIL_LEVELS = ("never", "warning", "unknown", "critical")
HTML_TEMPLATE = "inspection_report.html.j2"
MARKDOWN_TEMPLATE = "inspection_report.md.j2"
# Backslash-escaped in Markdown text: emphasis, code, links and images ([] () !), raw HTML (<> &), tables (|),
# headings (#), strike-through (~). "://" is broken up too, so that no renderer turns a URL into a link.
_MD_SPECIAL = set("\\`*_[]()!#<>|&~")


class ReportError(Exception):
    """The report cannot be built, rendered or written."""


# -- text hygiene ----------------------------------------------------------------------------------------------

def clean_text(value: t.Any) -> str:
    """Any value as clean text: bytes decoded as UTF-8, else GB18030 (a superset of GBK), lone surrogates replaced,
    credentials in URLs (``user:password@``, ``?token=``) redacted."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030", errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    # Strings that went through surrogateescape (undecodable log bytes) cannot be written as UTF-8.
    return redact_text(text.encode("utf-8", errors="replace").decode("utf-8"))


def clean(value: t.Any, depth: int = 0) -> t.Any:
    """A JSON-safe deep copy: text cleaned, unknown types turned into text, nesting bounded."""
    if depth > 32:
        return clean_text(repr(value))
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else clean_text(value)
    if isinstance(value, (str, bytes, bytearray)):
        return clean_text(value)
    if isinstance(value, t.Mapping):
        return {clean_text(k): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean(v, depth + 1) for v in value]
    return clean_text(value)


# -- collecting ------------------------------------------------------------------------------------------------

def normalize(item: t.Any, source: str) -> dict:
    """One finding as received from a host's ``kubeops_findings``; a malformed one becomes an ``unknown`` finding.

    A broken check must not break the report, and must not disappear from it either.
    """
    if isinstance(item, t.Mapping):
        item = clean(item)
        try:
            # A finding recorded by the findings action says whose it is (host None: the cluster's); one without a
            # host key (an older role's set_fact) belongs to the host it was found on.
            host = item.get("host") if "host" in item else (None if source == "localhost" else source)
            host = clean_text(host) if host not in (None, "") else None
            return finding(str(item.get("id") or ""), item.get("target") if item.get("target") is not None else source,
                           str(item.get("status") or ""), clean_text(item.get("summary") or ""), host=host,
                           details=item.get("details") if isinstance(item.get("details"), dict) else {},
                           category=item.get("category") or None)
        except FindingError as exc:
            problem = str(exc)
            raw = item
    else:
        problem = f"expected a mapping, got {type(item).__name__}"
        raw = clean(item)
    fid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) and "." in raw.get("id", "") else "host.findings"
    category = fid.split(".", 1)[0] if fid.split(".", 1)[0] in CATEGORIES else "host"
    target = raw.get("target") if isinstance(raw, dict) and raw.get("target") else source
    return finding(fid, target, "unknown", f"malformed finding from {source}: {problem}", host=source,
                   details={"received": raw}, category=category)


def collect(findings_by_host: t.Mapping[str, t.Any]) -> list[dict]:
    """All findings of the run, de-duplicated by finding key (the worst status of a key wins)."""
    merged: dict[str, dict] = {}
    for source in sorted(findings_by_host):
        items = findings_by_host[source]
        if items is None:
            continue
        if not isinstance(items, (list, tuple)):
            items = [items]
        for item in items:
            one = normalize(item, source)
            key = finding_key(one)
            if key not in merged or rank(one["status"]) > rank(merged[key]["status"]):
                merged[key] = one
    return list(merged.values())


def host_states(targeted: t.Iterable[str], reachable: t.Iterable[str], failed: t.Mapping[str, str] | None = None,
                unreachable: t.Mapping[str, str] | None = None, lost: t.Mapping[str, str] | None = None
                ) -> dict[str, tuple[str, str]]:
    """{host: (state, reason)} for ``reachability()`` from lists: hosts that finished, hosts on which a task failed
    (with why), the connection errors of the others, and hosts that stopped answering during the run."""
    reachable_set, failed, unreachable, lost = set(reachable), failed or {}, unreachable or {}, lost or {}
    states = {}
    for host in targeted:
        if host in lost:
            states[host] = ("lost", lost[host])
        elif host in reachable_set:
            states[host] = ("reachable", "")
        elif host in failed:
            states[host] = ("failed", failed[host])
        else:
            states[host] = ("unreachable", unreachable.get(host) or "")
    return states


def reachability(states: t.Mapping[str, tuple[str, str]]) -> list[dict]:
    """``host.reachable`` findings from {host: (state, reason)}, state being what the run left on the host.

    ``reachable`` (it finished the inspection) is ok; ``unreachable`` (it never answered), ``failed`` (a task failed
    on it, its remaining checks did not run) and ``lost`` (it stopped answering during the inspection) are critical.
    """
    result = []
    for host in sorted(states):
        state, why = states[host]
        reason = " ".join(clean_text(why or "").split())
        if state == "reachable":
            result.append(finding("host.reachable", host, OK, "host answered and finished the inspection", host=host))
        elif state == "failed":
            result.append(finding("host.reachable", host, CRITICAL,
                                  f"inspection stopped on this host, its remaining checks did not run: {reason}",
                                  host=host, details={"reason": "failed", "error": reason}))
        elif state == "lost":
            result.append(finding("host.reachable", host, CRITICAL,
                                  f"host stopped answering during the inspection; the checks after that are unknown: {reason}",
                                  host=host, details={"reason": "lost", "error": reason}))
        else:
            result.append(finding("host.reachable", host, CRITICAL, "host unreachable: none of its checks ran",
                                  host=host, details={"reason": "unreachable", "error": reason}))
    return result


def sort_key(item: dict) -> tuple:
    return (-rank(item["status"]), item["category"], item.get("host") or "", item["id"], item["target"])


def sort_findings(findings: t.Iterable[dict]) -> list[dict]:
    """Worst first, then by category, host, id and target."""
    return sorted(findings, key=sort_key)


# -- the report ------------------------------------------------------------------------------------------------

def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def iso(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(moment: _dt.datetime) -> str:
    """The UTC time in report file names: 20250101T090000Z."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def key_statuses(findings: t.Iterable[dict]) -> dict[str, str]:
    return {finding_key(f): f["status"] for f in findings}


def key_hosts(findings: t.Iterable[dict]) -> dict[str, str | None]:
    return {finding_key(f): f.get("host") for f in findings}


def build_report(cluster: str, started: str, finished: str, findings: t.Iterable[dict],
                 previous: dict | None = None, baselines: t.Mapping | None = None,
                 inspected: t.Collection[str] | None = None) -> dict:
    """The report document (schema ``kubeops.runbook/inspection/v1``).

    ``previous`` is the last run of the same cluster as returned by ``History.last_run`` (None on the first run);
    ``inspected`` the hosts that finished this inspection (see ``_history.compare``).
    """
    ordered = sort_findings(findings)
    new, resolved = compare(previous["findings"] if previous else None, key_statuses(ordered),
                            previous.get("hosts") if previous else None, inspected)
    report = {
        "schema": SCHEMA,
        "cluster": clean_text(cluster),
        "started": started,
        "finished": finished,
        "summary": summarize(ordered),
        "new_since_last": new,
        "resolved_since_last": resolved,
        "previous": ({"started": previous.get("started"), "finished": previous.get("finished"),
                      "status": previous.get("status"), "report": previous.get("report")} if previous else None),
        "findings": ordered,
    }
    if baselines is not None:
        report["baselines"] = clean(baselines)
    return report


def at_or_above(status: str, level: str) -> bool:
    """Whether a summary status reaches a ``*_fail_on`` / ``*_notify_on`` level (``never`` never does)."""
    if level not in FAIL_LEVELS:
        raise ReportError(f"level {level!r} is not one of {', '.join(FAIL_LEVELS)}")
    if level == "never":
        return False
    return rank(status) >= rank(level)


def notify_text(report: dict, report_path: str | None = None, limit: int = 5) -> str:
    """A short Markdown summary for a chat robot: status, counts, what is new, the worst few findings.

    Every value that comes from a host (cluster name, ids, targets, hosts, summaries) goes through ``md_escape``,
    as in the Markdown report: one line each, markup characters escaped, so a journal line cannot forge a heading,
    an image or a link in the robot's message.
    """
    summary = report["summary"]
    lines = [f"### Inspection {md_escape(report['cluster'])}: {summary['status'].upper()}",
             f"{md_escape(report['finished'])} - " + ", ".join(f"{s} {summary[s]}" for s in reversed(STATUSES)),
             f"new since last run: {len(report['new_since_last'])}, resolved: {len(report['resolved_since_last'])}"
             + (f", silenced: {summary['silenced']}" if summary.get("silenced") else "")]
    if report.get("causes"):
        lines.insert(1, md_escape(cause_line(report["causes"], HEADLINE_CAUSES)))
    # silenced: not notified; what follows from a cause: the cause's line says how many
    wrong = [f for f in report["findings"] if f["status"] != OK and not f.get("silenced") and not f.get("caused_by")]
    for item in wrong[:limit]:
        where = f" @{md_escape(item['host'])}" if item.get("host") and item["host"] != item["target"] else ""
        lines.append(f"- **{item['status']}** {md_escape(item['id'])} {md_escape(item['target'])}{where}: "
                     f"{md_escape(item['summary'])}")
    if len(wrong) > limit:
        lines.append(f"- ... and {len(wrong) - limit} more")
    if report_path:
        lines.append(f"report: {md_escape(report_path)}")
    return "\n".join(lines)


# -- rendering -------------------------------------------------------------------------------------------------

def md_escape(value: t.Any) -> str:
    """Text safe inside a Markdown paragraph or table cell: one line, markup characters backslash-escaped."""
    text = " ".join(clean_text(value).split())
    return "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in text).replace("://", ":\\/\\/")


def md_code(value: t.Any) -> str:
    """Text as a Markdown code span (ids, targets, keys): one line, fenced with more backticks than it contains."""
    text = " ".join(clean_text(value).split())
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


TREND_RUNS = 30
_BAR, _GAP, _ROW, _LABEL, _RIGHT = 14, 4, 34, 92, 80   # px: bar width, gap, row height, label and note columns


def trend_chart(trends: t.Mapping | None) -> dict | None:
    """Geometry of the trend chart (inline SVG in the HTML report) from ``report["trends"]``, None without runs.

    One row per status (critical, unknown, warning, ok), one bar per run, oldest left; each row has its own scale,
    so three warnings are visible next to a hundred ok checks. A strip on top shows each run's worst status.
    """
    runs = list((trends or {}).get("runs") or [])[-TREND_RUNS:]
    if not runs:
        return None
    step = _BAR + _GAP
    rows = []
    for index, status in enumerate(reversed(STATUSES)):
        top = 22 + index * _ROW
        counts = [int(run.get(status) or 0) for run in runs]
        peak = max(counts) or 1
        bars = []
        for i, (run, count) in enumerate(zip(runs, counts)):
            height = round(count / peak * (_ROW - 10)) if count else 0
            bars.append({"x": _LABEL + i * step, "y": top + (_ROW - 8) - height, "h": max(height, 1 if count else 0),
                         "count": count, "title": f"{run.get('started')}: {count} {status}"})
        rows.append({"status": status, "y": top, "label_y": top + _ROW - 12, "bars": bars,
                     "last": counts[-1], "peak": max(counts)})
    strip = [{"x": _LABEL + i * step, "status": run.get("status") if run.get("status") in STATUSES else UNKNOWN,
              "title": f"{run.get('started')}: {run.get('status')}"} for i, run in enumerate(runs)]
    right = _LABEL + len(runs) * step
    return {"width": right + _RIGHT, "height": 22 + 4 * _ROW + 18, "rows": rows, "strip": strip, "bar": _BAR,
            "runs": len(runs), "right": right, "note_x": right + 6,
            # the first and last day under the bars (the title of each bar has the exact time)
            "first": str(runs[0].get("started") or "")[:10], "last": str(runs[-1].get("started") or "")[:10],
            "axis_y": 22 + 4 * _ROW + 12}


# The HTML report lists every ok check row by row up to this many; above it (a fleet: 2,000 hosts have ~55,000 ok
# checks, 32 MB of rows) it shows how many ok checks of each kind ran on how many hosts, and the JSON has every one.
OK_ROWS_LIMIT = 2000
# How many causes the report's first line names (most consequences first); the section lists them all.
HEADLINE_CAUSES = 3


class Entry:
    """One finding as the templates show it. ``details`` (the finding's details as indented JSON) is made only when a
    template shows it: a fleet report has tens of thousands of ok findings whose details no template renders."""

    __slots__ = ("f", "key", "new", "_details")

    def __init__(self, item: dict, new: t.Collection[str]):
        self.f = item
        self.key = finding_key(item)
        self.new = self.key in new
        self._details: str | None = None

    def __getitem__(self, name: str) -> t.Any:   # entry["f"], as the view model's dicts were read before
        if name not in ("f", "key", "new", "details"):
            raise KeyError(name)
        return getattr(self, name)

    @property
    def details(self) -> str:
        if self._details is None:
            self._details = (json.dumps(self.f["details"], indent=2, ensure_ascii=False, sort_keys=True, default=str)
                             if self.f.get("details") else "")
        return self._details

    @property
    def details_html(self) -> t.Any:
        """The details as the content of a <pre> element: only ``& < >`` escaped. Autoescape would also write every
        quote of the JSON as ``&#34;`` (5 bytes for 1; a tenth of a fleet report), which element content needs not."""
        return markup_text(self.details)


def markup_text(text: str) -> t.Any:
    """Text for the content of an HTML element (never an attribute): ``&``, ``<`` and ``>`` escaped, as Markup."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Markup(escaped) if HAS_JINJA2 else escaped


def view_model(report: dict) -> dict:
    """What the templates need: findings grouped by category then host, NEW marked, details as JSON text."""
    new = set(report.get("new_since_last") or ())

    def grouped(items: list[dict]) -> list[dict]:
        groups: dict[str, dict[str, list[Entry]]] = {}
        for item in items:
            groups.setdefault(item["category"], {}).setdefault(item.get("host") or "cluster", []).append(Entry(item, new))
        result = []
        for category, hosts in groups.items():
            flat = [e.f["status"] for entries in hosts.values() for e in entries]
            checks: dict[str, dict[str, t.Any]] = {}
            for host, entries in hosts.items():
                for e in entries:
                    check = checks.setdefault(e.f["id"], {"id": e.f["id"], "count": 0, "hosts": set()})
                    check["count"] += 1
                    check["hosts"].add(host)
            result.append({"category": category, "status": max(flat, key=rank), "count": len(flat),
                           "hosts": [{"host": h, "entries": es} for h, es in sorted(hosts.items())],
                           "checks": [dict(c, hosts=len(c["hosts"])) for _id, c in sorted(checks.items())]})
        result.sort(key=lambda g: (-rank(g["status"]), g["category"]))
        return result

    # One cause first: a finding that follows from a host that is down (``caused_by``) is shown under its cause,
    # not again among the others; the counts of the summary still count it.
    attention = [f for f in report["findings"] if f["status"] != OK and not f.get("caused_by")]
    fine = [f for f in report["findings"] if f["status"] == OK]
    by_key = {finding_key(f): f for f in report["findings"]}
    followers: dict[str, list[dict]] = {}
    for item in report["findings"]:
        if item.get("caused_by"):
            followers.setdefault(item["caused_by"], []).append(item)
    causes = [dict(cause, root=Entry(by_key[cause["key"]], new),
                   entries=[Entry(f, new) for f in sort_findings(followers.get(cause["key"], []))])
              for cause in report.get("causes") or () if cause["key"] in by_key]
    return {
        "r": report,
        "statuses": list(reversed(STATUSES)),
        "attention": grouped(attention),
        "ok_groups": grouped(fine),
        # on the first recorded run everything wrong is new: the "needs attention" section says it all
        "new_entries": ([Entry(f, new) for f in sort_findings(by_key[k] for k in report.get("new_since_last") or () if k in by_key)]
                        if report.get("previous") else []),
        "ok_listed": len(fine) <= OK_ROWS_LIMIT,
        "resolved": list(report.get("resolved_since_last") or ()),
        "hosts": sorted({f["target"] for f in report["findings"] if f["id"] == "host.reachable"}
                        or {f["host"] for f in report["findings"] if f.get("host")}),
        "trend": trend_chart(report.get("trends")),
        "recurring": list((report.get("trends") or {}).get("recurring") or []),
        "causes": causes,
        "headline": cause_line(causes, HEADLINE_CAUSES),
        "followers": sum(len(c["entries"]) for c in causes),
        "flapping": [Entry(by_key[k], new) for k in (report.get("flapping") or {}).get("keys") or () if k in by_key],
        "flapping_runs": (report.get("flapping") or {}).get("runs"),
    }


def _environment(template_dir: str, html: bool) -> t.Any:
    if not HAS_JINJA2:
        raise ReportError("the Python library jinja2 is required to render reports")
    if not os.path.isdir(template_dir):
        raise ReportError(f"template_dir {template_dir!r} is not a directory")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir), autoescape=html,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["md"] = md_escape
    env.filters["mdcode"] = md_code
    return env


def render(report: dict, template_dir: str, kind: str) -> str:
    """Render the report as ``html`` (autoescaped) or ``markdown`` (every value through ``md_escape``)."""
    if kind not in ("html", "markdown"):
        raise ReportError(f"kind {kind!r} must be html or markdown")
    name = HTML_TEMPLATE if kind == "html" else MARKDOWN_TEMPLATE
    env = _environment(template_dir, kind == "html")
    try:
        template = env.get_template(name)
        return template.render(**view_model(report))
    except jinja2.TemplateError as exc:
        raise ReportError(f"cannot render {name} from {template_dir}: {exc}") from exc


# -- writing ---------------------------------------------------------------------------------------------------

def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"


DEFAULT_MODE = 0o640


def parse_mode(value: t.Any) -> int:
    """A file mode from an octal string (``"0640"``) or an int; the owner must keep read and write access."""
    try:
        mode = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip(), 8)
    except ValueError:
        raise ReportError(f"report mode {value!r} is not an octal file mode such as 0640") from None
    if not 0 <= mode <= 0o777 or mode & 0o600 != 0o600:
        raise ReportError(f"report mode {value!r} must be between 0600 and 0777 and keep the owner's read and write")
    return mode


def dir_mode(mode: int) -> int:
    """Mode of the report directory for file mode ``mode``: search permission wherever read is granted."""
    return mode | ((mode & 0o444) >> 2)


def atomic_write(path: str, text: str, mode: int = DEFAULT_MODE) -> None:
    """Write text as UTF-8 through a temporary file in the same directory and a rename: never half-written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def report_paths(out_dir: str, moment: _dt.datetime) -> dict[str, str]:
    """File names of one run; a second run in the same second gets a numeric suffix instead of overwriting."""
    base = os.path.join(out_dir, f"inspection-{stamp(moment)}")
    candidate, n = base, 1
    while any(os.path.exists(f"{candidate}.{ext}") for ext in ("json", "md", "html")):
        n += 1
        candidate = f"{base}-{n}"
    return {"json": f"{candidate}.json", "markdown": f"{candidate}.md", "html": f"{candidate}.html",
            "latest": os.path.join(out_dir, "latest.json")}


def write_report(report: dict, out_dir: str, template_dir: str, moment: _dt.datetime,
                 mode: int = DEFAULT_MODE) -> dict[str, str]:
    """Render everything first, then write the files; ``latest.json`` last, so it only ever points at a full run.

    Files get ``mode`` (0640 by default: reports hold log lines and host details); a directory created here gets
    the matching directory mode.
    """
    try:
        os.makedirs(out_dir, mode=dir_mode(mode), exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create report directory {out_dir}: {exc}") from exc
    document = to_json(report)
    markdown = render(report, template_dir, "markdown")
    html = render(report, template_dir, "html")
    paths = report_paths(out_dir, moment)
    try:
        atomic_write(paths["json"], document, mode)
        atomic_write(paths["markdown"], markdown, mode)
        atomic_write(paths["html"], html, mode)
        atomic_write(paths["latest"], document, mode)
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out_dir}: {exc}") from exc
    return paths
