"""The inspection report model, history and writing (plugins/plugin_utils/_report.py, _history.py)."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history as H
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report as R
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding, finding_key

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "report"
TEMPLATES = str(ROOT / "roles" / "report" / "templates")
MOMENT = dt.datetime(2026, 11, 22, 9, 1, 51, tzinfo=dt.timezone.utc)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def run_findings(data: dict) -> list[dict]:
    failed = {h: "a task failed on this host" for h, items in data["findings_by_host"].items() if items}
    return R.collect(data["findings_by_host"]) + R.reachability(R.host_states(data["targeted"], data["reachable"], failed))


def one_run(db: str, data: dict) -> dict:
    with H.History(db) as history:
        previous = history.last_run(data["cluster"])
        report = R.build_report(data["cluster"], data["started"], data["finished"], run_findings(data), previous,
                                data.get("baselines"), inspected=set(data["reachable"]) | {"localhost"})
        history.record(data["cluster"], report["started"], report["finished"], report["summary"]["status"],
                       R.key_statuses(report["findings"]), "x.json", R.key_hosts(report["findings"]))
    return report


# -- collecting --------------------------------------------------------------------------------------------------

def test_collect_deduplicates_by_key_worst_wins():
    ok = finding("nodes.ready", "node2", "ok", "Ready")
    bad = finding("nodes.ready", "node2", "critical", "NotReady")
    other = finding("nodes.ready", "node1", "ok", "Ready")
    result = R.collect({"localhost": [ok, other, bad]})
    assert sorted((f["target"], f["status"]) for f in result) == [("node1", "ok"), ("node2", "critical")]


def test_collect_keeps_cluster_findings_hostless_and_fills_host_elsewhere():
    item = {"id": "nodes.ready", "target": "node1", "status": "ok", "summary": "Ready"}
    result = R.collect({"localhost": [item], "node1": [dict(item, id="node_services.unit", target="kubelet")]})
    hosts = {f["id"]: f["host"] for f in result}
    assert hosts == {"nodes.ready": None, "node_services.unit": "node1"}


@pytest.mark.parametrize("item, fid, problem", [
    ({"id": "pods.restarts", "target": "p", "status": "bad", "summary": "s"}, "pods.restarts", "unknown finding status"),
    ({"id": "nodots", "target": "p", "status": "ok"}, "host.findings", "must be dotted"),
    ({"id": "bogus.x", "target": "p", "status": "ok"}, "bogus.x", "is not one of"),
    ("just a string", "host.findings", "expected a mapping, got str"),
    (42, "host.findings", "expected a mapping, got int"),
])
def test_malformed_findings_become_unknown(item, fid, problem):
    result = R.collect({"node1": [item]})
    assert len(result) == 1
    assert result[0]["status"] == "unknown"
    assert result[0]["id"] == fid
    assert problem in result[0]["summary"]
    assert result[0]["host"] == "node1"


def test_collect_accepts_none_and_single_mapping():
    single = finding("disk.space", "/", "warning", "85% used", host="mw1")
    assert R.collect({"a": None, "mw1": single}) == [single]


@pytest.mark.parametrize("targeted, reachable, failed, lost, expected", [
    (["a", "b"], ["a", "b"], {}, {}, {"a": ("ok", None), "b": ("ok", None)}),
    (["a", "ghost"], ["a"], {}, {}, {"a": ("ok", None), "ghost": ("critical", "unreachable")}),
    (["a", "b"], ["a"], {"b": "Check units: unit kubelet not found"}, {}, {"a": ("ok", None), "b": ("critical", "failed")}),
    (["a", "b"], ["a", "b"], {}, {"b": "Scan log files: ssh: connect to host b port 22: Connection refused"},
     {"a": ("ok", None), "b": ("critical", "lost")}),
    ([], [], {}, {}, {}),
])
def test_reachability(targeted, reachable, failed, lost, expected):
    states = R.host_states(targeted, reachable, failed, {"ghost": "ssh: connect to host 198.18.0.99 port 22: No route to host"},
                           lost)
    result = R.reachability(states)
    got = {f["target"]: (f["status"], f["details"].get("reason")) for f in result}
    assert got == expected
    assert all(f["id"] == "host.reachable" and f["category"] == "host" and f["host"] == f["target"] for f in result)
    for item in result:
        if item["details"].get("reason") == "failed":
            assert item["summary"].endswith("Check units: unit kubelet not found")
        if item["details"].get("reason") == "unreachable":
            assert "No route to host" in item["details"]["error"]
        if item["details"].get("reason") == "lost":
            assert item["summary"].startswith("host stopped answering during the inspection")


def test_sort_is_worst_first():
    items = [finding("disk.space", "/", s, s, host="h") for s in ("ok", "critical", "warning", "unknown")]
    assert [f["status"] for f in R.sort_findings(items)] == ["critical", "unknown", "warning", "ok"]


# -- the report ------------------------------------------------------------------------------------------------

def test_report_document(tmp_path):
    report = one_run(str(tmp_path / "h.sqlite"), load("run1.json"))
    assert report["schema"] == "kubeops.runbook/inspection/v1"
    assert report["cluster"] == "lab"
    assert report["summary"] == {"status": "warning", "ok": 12, "warning": 2, "unknown": 0, "critical": 0}
    assert report["previous"] is None
    # first recorded run: every wrong finding is new
    assert report["new_since_last"] == ["disk.space:/data/iuap/logs/nginx@mw1", "logs.messages:/var/log/messages@node1"]
    assert report["resolved_since_last"] == []
    assert report["baselines"] == {"pods.restarts": {"product/oltp-gateway-1-3-0-55c57bf564-ml7hw": 3}}
    statuses = [f["status"] for f in report["findings"]]
    assert statuses == sorted(statuses, key=["critical", "unknown", "warning", "ok"].index)
    json.dumps(report)


def test_new_and_resolved_across_runs(tmp_path):
    db = str(tmp_path / "h.sqlite")
    one_run(db, load("run1.json"))
    second = one_run(db, load("run2.json"))
    assert second["summary"]["status"] == "critical"
    assert second["previous"]["status"] == "warning"
    assert second["new_since_last"] == [
        "control_plane_services.unit:kube-scheduler@master1",
        "host.reachable:ghost",
        "host.reachable:node2",
        "logs.nginx_error:/data/iuap/logs/nginx/developer-center_error.log@mw1",
        "nodes.ready:node2",
    ]
    # the node1 log warning stayed wrong: neither new nor resolved; the disk warning went ok
    assert second["resolved_since_last"] == ["disk.space:/data/iuap/logs/nginx@mw1"]
    third = one_run(db, load("run2.json"))
    assert third["new_since_last"] == [] and third["resolved_since_last"] == []
    with H.History(db) as history:
        assert [r["status"] for r in history.runs("lab")] == ["warning", "critical", "critical"]
        assert history.runs("other") == []


def test_history_is_per_cluster(tmp_path):
    db = str(tmp_path / "h.sqlite")
    one_run(db, load("run2.json"))
    other = dict(load("run2.json"), cluster="prod")
    assert one_run(db, other)["previous"] is None


def test_history_unwritable_is_a_domain_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(H.HistoryError, match="cannot open inspection history"):
        H.History(str(tmp_path / "file" / "h.sqlite"))
    bad = tmp_path / "garbage.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(H.HistoryError):
        H.History(str(bad))


def test_history_schema_on_disk(tmp_path):
    db = str(tmp_path / "h.sqlite")
    one_run(db, load("run1.json"))
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    # the run's 14 findings are counted on the run; only the 2 that were not ok are kept as rows
    assert con.execute("SELECT ok, warning, unknown, critical FROM runs").fetchone() == (12, 2, 0, 0)
    assert con.execute("SELECT count(*) FROM findings").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM findings WHERE status = 'ok'").fetchone() == (0,)


@pytest.mark.parametrize("previous, current, new, resolved", [
    (None, {"a": "ok", "b": "warning"}, ["b"], []),
    ({"a": "ok"}, {"a": "critical"}, ["a"], []),
    ({"a": "warning"}, {"a": "critical"}, [], []),
    ({"a": "critical"}, {"a": "ok"}, [], ["a"]),
    ({"a": "critical"}, {}, [], ["a"]),
    ({"a": "ok"}, {"a": "ok", "b": "ok"}, [], []),
])
def test_compare(previous, current, new, resolved):
    assert H.compare(previous, current) == (new, resolved)


@pytest.mark.parametrize("inspected, resolved", [
    (None, ["disk.space:/@node1", "host.reachable:ghost", "nodes.ready:n2"]),
    ({"node1", "localhost"}, ["disk.space:/@node1", "nodes.ready:n2"]),   # ghost not inspected: still wrong
    ({"localhost"}, ["nodes.ready:n2"]),                                 # --limit left node1 out
])
def test_absent_findings_resolve_only_on_inspected_hosts(inspected, resolved):
    previous = {"disk.space:/@node1": "warning", "host.reachable:ghost": "critical", "nodes.ready:n2": "critical"}
    hosts = {"disk.space:/@node1": "node1", "host.reachable:ghost": "ghost", "nodes.ready:n2": None}
    assert H.compare(previous, {}, hosts, inspected) == ([], resolved)


def test_limited_run_does_not_resolve_other_hosts(tmp_path):
    db = str(tmp_path / "h.sqlite")
    one_run(db, load("run2.json"))
    limited = load("run2.json")
    limited["targeted"] = limited["reachable"] = ["mw1"]
    limited["findings_by_host"] = {"mw1": limited["findings_by_host"]["mw1"], "localhost": limited["findings_by_host"]["localhost"]}
    report = one_run(db, limited)
    assert report["resolved_since_last"] == []
    assert report["new_since_last"] == []


@pytest.mark.parametrize("status, level, expected", [
    ("critical", "critical", True), ("unknown", "critical", False), ("warning", "warning", True),
    ("unknown", "warning", True), ("ok", "warning", False), ("critical", "never", False), ("ok", "ok", None),
])
def test_at_or_above(status, level, expected):
    if expected is None:
        with pytest.raises(R.ReportError, match="level 'ok'"):
            R.at_or_above(status, level)
    else:
        assert R.at_or_above(status, level) is expected


def test_notify_text_is_short_and_limited(tmp_path):
    report = one_run(str(tmp_path / "h.sqlite"), load("run2.json"))
    text = R.notify_text(report, "/r/x.html", limit=2)
    lines = text.splitlines()
    assert lines[0] == "### Inspection lab: CRITICAL"
    assert sum(1 for line in lines if line.startswith("- **")) == 2
    wrong = sum(report["summary"][s] for s in ("critical", "unknown", "warning"))
    assert f"- ... and {wrong - 2} more" in lines
    assert lines[-1] == "report: /r/x.html"


# -- text hygiene and escaping ---------------------------------------------------------------------------------

GBK_BYTES = (FIXTURES / "gbk_summary.bin").read_bytes()
GBK_TEXT = "磁盘空间不足: /data/iuap/logs/nginx 使用率 97%"


@pytest.mark.parametrize("value, expected", [
    (GBK_BYTES, GBK_TEXT),
    (GBK_TEXT.encode("utf-8"), GBK_TEXT),
    (GBK_TEXT, GBK_TEXT),
    ("bad \udcff byte", "bad ? byte"),
    (b"\xff\xfe\xfa", None),
    (12, "12"),
])
def test_clean_text(value, expected):
    text = R.clean_text(value)
    text.encode("utf-8")
    if expected is not None:
        assert text == expected


def gbk_report(tmp_path) -> tuple[dict, dict]:
    data = load("run2.json")
    data["findings_by_host"]["mw1"].append({"id": "disk.space", "target": "/data", "host": "mw1",
                                            "status": "critical", "summary": GBK_BYTES})
    report = one_run(str(tmp_path / "h.sqlite"), data)
    paths = R.write_report(report, str(tmp_path / "reports"), TEMPLATES, MOMENT)
    return report, paths


def test_gbk_summary_in_every_format(tmp_path):
    _report, paths = gbk_report(tmp_path)
    document = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    assert any(f["summary"] == GBK_TEXT for f in document["findings"])
    assert GBK_TEXT in Path(paths["markdown"]).read_text(encoding="utf-8")
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert GBK_TEXT in html and '<meta charset="utf-8">' in html


def test_html_escapes_everything(tmp_path):
    data = load("run2.json")
    data["findings_by_host"]["node1"].append({
        "id": "logs.messages", "target": "</td><img src=x onerror=alert(1)>", "host": "node1", "status": "critical",
        "summary": "<script>alert('summary')</script>", "details": {"line": "</pre><script>alert(2)</script>"}})
    report = one_run(str(tmp_path / "h.sqlite"), data)
    html = R.render(report, TEMPLATES, "html")
    assert "<script" not in html.lower()
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;summary&#39;)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    # self-contained: nothing is fetched from anywhere
    for needle in ("<link", "src=\"http", "@import", "url(", "<iframe"):
        assert needle not in html


def test_html_details_are_escaped_element_content(tmp_path):
    """The details <pre> escapes & < > (nothing can close it or open a tag); quotes stay quotes (no &#34;)."""
    data = load("run2.json")
    data["findings_by_host"]["node1"].append({
        "id": "logs.messages", "target": "/var/log/x", "host": "node1", "status": "critical", "summary": "x",
        "details": {"line": "</pre><script>alert(\"2\")</script> & more"}})
    html = R.render(one_run(str(tmp_path / "h.sqlite"), data), TEMPLATES, "html")
    assert '"line": "&lt;/pre&gt;&lt;script&gt;alert(\\"2\\")&lt;/script&gt; &amp; more"' in html
    assert "&#34;" not in html[html.index("<pre>"):]


def test_html_counts_ok_checks_of_a_fleet_instead_of_listing_them(tmp_path, monkeypatch):
    """Above OK_ROWS_LIMIT ok findings the HTML shows per check how many were ok on how many hosts, not each row."""
    data = load("run1.json")
    report = one_run(str(tmp_path / "h.sqlite"), data)
    ok = [f for f in report["findings"] if f["status"] == "ok"]
    listed = R.render(report, TEMPLATES, "html")
    monkeypatch.setattr(R, "OK_ROWS_LIMIT", len(ok) - 1)
    counted = R.render(report, TEMPLATES, "html")
    section = counted[counted.index("All ok checks"):]
    assert "Too many to list one by one" in section and "<details><summary>details" not in section
    first = ok[0]
    same = [f for f in ok if f["id"] == first["id"]]
    hosts = {f.get("host") or "cluster" for f in same if f["category"] == first["category"]}
    assert f'<td class="id">{first["id"]}</td><td class="n">{len(same)}</td><td class="n">{len(hosts)}</td>' in section
    assert "Too many to list" not in listed and len(counted) < len(listed)


def test_html_marks_new_and_lists_resolved(tmp_path):
    db = str(tmp_path / "h.sqlite")
    one_run(db, load("run1.json"))
    html = R.render(one_run(db, load("run2.json")), TEMPLATES, "html")
    assert html.count('<span class="new">NEW</span>') == 2 * 5  # in "new since last run" and in its group
    assert "<li>disk.space:/data/iuap/logs/nginx@mw1</li>" in html
    assert '<div class="banner critical">' in html
    assert html.count("<details>") >= 5
    assert html.index("control_plane_services") < html.index("<summary><b>All ok checks")


def test_markdown_escapes_table_cells(tmp_path):
    data = load("run2.json")
    data["findings_by_host"]["node1"].append({
        "id": "logs.messages", "target": "a|b`c", "host": "node1", "status": "critical",
        "summary": "pipe | star * <b>bold</b>\nsecond line"})
    md = R.render(one_run(str(tmp_path / "h.sqlite"), data), TEMPLATES, "markdown")
    row = next(line for line in md.splitlines() if "second line" in line)
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == 6 and cells[0] == "" and cells[-1] == ""  # four cells, separators intact
    assert "<b>" not in md and "\\<b\\>bold\\</b\\>" in md
    assert "``a\\|b`c``" in row


@settings(deadline=None)
@given(st.text())
def test_md_escape_is_one_line_and_keeps_no_raw_markup(text):
    out = R.md_escape(text)
    assert "\n" not in out and "\r" not in out
    stripped = out.replace("\\\\", "")
    for ch in "|<>*`_[]":
        assert stripped.count(ch) == stripped.count("\\" + ch)


@settings(deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=20))
def test_clean_makes_anything_json(value):
    json.dumps(R.clean(value), ensure_ascii=False).encode("utf-8")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["id", "target", "host", "status", "summary", "details", "category"]),
                    st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=20), st.integers(),
                              st.sampled_from(["ok", "critical", "disk.space", "pods.restarts"])), max_size=7),
    st.text(max_size=10), st.binary(max_size=10), st.integers()), max_size=8))
def test_collect_and_render_never_raise_on_garbage(items):
    findings = R.collect({"node1": items})
    report = R.build_report("fuzz", "s", "f", findings)
    R.render(report, TEMPLATES, "html")
    R.render(report, TEMPLATES, "markdown")


# -- writing ---------------------------------------------------------------------------------------------------

def test_write_report_files(tmp_path):
    report, paths = gbk_report(tmp_path)
    out = tmp_path / "reports"
    assert Path(paths["json"]).name == "inspection-20261122T090151Z.json"
    assert sorted(p.name for p in out.iterdir()) == [
        "inspection-20261122T090151Z.html", "inspection-20261122T090151Z.json", "inspection-20261122T090151Z.md",
        "latest.json"]
    assert (out / "latest.json").read_bytes() == Path(paths["json"]).read_bytes()
    again = R.write_report(report, str(out), TEMPLATES, MOMENT)
    assert Path(again["json"]).name == "inspection-20261122T090151Z-2.json"


def test_atomic_write_keeps_old_file_when_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "latest.json"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        R.atomic_write(str(target), "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["latest.json"]


def test_write_report_renders_before_writing(tmp_path):
    report = one_run(str(tmp_path / "h.sqlite"), load("run1.json"))
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / R.MARKDOWN_TEMPLATE).write_text("{{ r.summary.status }}")
    (broken / R.HTML_TEMPLATE).write_text("{{ r.no_such_key.x }}")
    out = tmp_path / "reports"
    with pytest.raises(R.ReportError, match="cannot render inspection_report.html.j2"):
        R.write_report(report, str(out), str(broken), MOMENT)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("kind, template_dir, message", [
    ("pdf", TEMPLATES, "must be html or markdown"),
    ("html", "/nonexistent/templates", "is not a directory"),
])
def test_render_bad_arguments(kind, template_dir, message):
    with pytest.raises(R.ReportError, match=message):
        R.render(R.build_report("c", "s", "f", []), template_dir, kind)


def test_write_report_into_a_file_is_a_domain_error(tmp_path):
    (tmp_path / "reports").write_text("not a directory")
    with pytest.raises(R.ReportError, match="cannot create report directory"):
        R.write_report(R.build_report("c", "s", "f", []), str(tmp_path / "reports"), TEMPLATES, MOMENT)


def test_finding_keys_in_report_match_model(tmp_path):
    report = one_run(str(tmp_path / "h.sqlite"), load("run2.json"))
    keys = [finding_key(f) for f in report["findings"]]
    assert len(keys) == len(set(keys))
    assert set(report["new_since_last"]) <= set(keys)


def test_real_lab_report_renders(tmp_path):
    """lab_latest.json: the report of a real daily_inspection run on the lab (fixtures/report/README.md)."""
    lab = load("lab_latest.json")
    assert lab["schema"] == R.SCHEMA
    findings = R.collect({"localhost": lab["findings"]})
    assert len(findings) == len(lab["findings"])
    report = R.build_report("lab", lab["started"], lab["finished"], findings, previous={
        "findings": R.key_statuses(lab["findings"]), "hosts": R.key_hosts(lab["findings"]), "status": "critical"})
    assert report["summary"] == lab["summary"]
    assert report["new_since_last"] == [] and report["resolved_since_last"] == []
    html = R.render(report, TEMPLATES, "html")
    md = R.render(report, TEMPLATES, "markdown")
    for item in lab["findings"]:
        if item["status"] != "ok":
            assert R.md_code(item["target"]) in md
    assert html.count('<span class="badge critical">critical</span>') >= lab["summary"]["critical"]


def test_new_section_is_worst_first(tmp_path):
    db = str(tmp_path / "h.sqlite")
    one_run(db, load("run1.json"))
    model = R.view_model(one_run(db, load("run2.json")))
    statuses = [e["f"]["status"] for e in model["new_entries"]]
    assert statuses == sorted(statuses, key=lambda s: -["ok", "warning", "unknown", "critical"].index(s))
    first = R.view_model(one_run(str(tmp_path / "other.sqlite"), load("run1.json")))
    assert first["new_entries"] == []


# -- report file modes, redaction and chat-safe notifications ---------------------------------------------------

def test_report_files_are_not_world_readable_by_default(tmp_path):
    _report, paths = gbk_report(tmp_path)
    for path in paths.values():
        assert os.stat(path).st_mode & 0o777 == 0o640, path
    assert os.stat(tmp_path / "reports").st_mode & 0o777 == 0o750


def test_report_mode_is_configurable(tmp_path):
    report = one_run(str(tmp_path / "h.sqlite"), load("run2.json"))
    paths = R.write_report(report, str(tmp_path / "out"), TEMPLATES, MOMENT, R.parse_mode("0600"))
    assert {os.stat(p).st_mode & 0o777 for p in paths.values()} == {0o600}
    assert os.stat(tmp_path / "out").st_mode & 0o777 == 0o700


@pytest.mark.parametrize("value, expected", [("0640", 0o640), ("644", 0o644), (0o600, 0o600), ("0o640", 0o640),
                                             ("0400", None), ("01777", None), ("rw-r-----", None), (True, None)])
def test_parse_mode(value, expected):
    if expected is None:
        with pytest.raises(R.ReportError, match="report mode"):
            R.parse_mode(value)
    else:
        assert R.parse_mode(value) == expected


HOSTILE_JOURNAL_LINE = "error ![t](http://evil/pixel) [click](http://evil/login) <img src=x>\n### Inspection prod: OK"


def hostile_report(tmp_path) -> dict:
    data = load("run2.json")
    data["cluster"] = "lab ![c](http://evil/c)"
    data["findings_by_host"]["node1"].insert(0, {
        "id": "logs.messages", "target": "/var/log/[x](http://evil/t)", "host": "node1", "status": "critical",
        "summary": HOSTILE_JOURNAL_LINE})
    data["findings_by_host"]["mw1"].insert(0, {
        "id": "middleware.nginx", "target": "nginx", "host": "mw1", "status": "critical",
        "summary": "GET http://ops:Pa55word@198.18.0.31/health failed",
        "details": {"probe": {"url": "http://ops:Pa55word@198.18.0.31/health"}}})
    return one_run(str(tmp_path / "h.sqlite"), data)


def test_notification_cannot_be_given_images_links_or_headings(tmp_path):
    markdown_it = pytest.importorskip("markdown_it")
    text = R.notify_text(hostile_report(tmp_path), "/r/x.html", limit=50)
    assert len([line for line in text.splitlines() if line.startswith("#")]) == 1
    html = markdown_it.MarkdownIt("commonmark").render(text)
    assert "<img" not in html and "<a " not in html
    assert html.count("<h3>") == 1 and "<h1>" not in html and "<h2>" not in html
    assert "Inspection prod: OK" in text  # the forged heading is plain text inside a list item
    # a renderer that knows no backslash escapes still finds no ![..](..) or [..](..) sequence
    assert "![" not in text and "](" not in text


def test_report_and_notification_redact_url_credentials(tmp_path):
    report = hostile_report(tmp_path)
    paths = R.write_report(report, str(tmp_path / "out"), TEMPLATES, MOMENT)
    for path in paths.values():
        assert "Pa55word" not in Path(path).read_text(encoding="utf-8"), path
    assert "Pa55word" not in R.notify_text(report, "/r/x.html", limit=50)
