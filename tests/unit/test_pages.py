"""Every HTML page the collection writes, as a person sees it: laid out by Debian's headless Chromium at laptop widths.

The pages: the inspection report (roles/report) and the incident record (roles/incident_record), each written by the
collection's code from real captures of the lab. In every table no column may be narrower than the shortest word of its content,
no cell's content may stick out of it or need a horizontal scroll bar, and nothing may reach past the right edge of
the window; with the page as it opens and with every <details> opened. The full-page screenshots are kept under
tests/output/pages/ (git-ignored) and the test's tmp directory, for a human to look at.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _describe as D
from ansible_collections.kubeops.runbook.plugins.module_utils import _pod_cleanup as C
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history as H
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _incident_record as I
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report as R
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _rules

from headless import CHROMIUM, Chromium

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
OUTPUT = ROOT / "tests" / "output" / "pages"
REPORT_TEMPLATES = str(ROOT / "roles" / "report" / "templates")
RECORD_TEMPLATES = str(ROOT / "roles" / "incident_record" / "templates")
# A 13" laptop's browser window, the width the broken incident record was seen at, and a 15" one.
WIDTHS = (1024, 1300, 1440)
MOMENT = dt.datetime(2026, 11, 22, 6, 2, 5, tzinfo=dt.timezone.utc)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (bindep.txt: chromium [test])")


def inspection_report(tmp: Path) -> Path:
    """The lab's real report, written by the report code as the report action does: after a few earlier runs in the
    history (so the trend chart and "keeps coming back" are on the page) and with a silence applied."""
    report = json.loads((FIXTURES / "report" / "lab_latest.json").read_text(encoding="utf-8"))
    db = str(tmp / "history.sqlite")
    with H.History(db) as history:
        for day in range(1, 6):
            keys = R.key_statuses(report["findings"][day:])
            history.record("lab", f"2026-11-{day:02d}T01:00:00Z", f"2026-11-{day:02d}T01:01:00Z", "critical", keys)
        previous = history.last_run("lab")
        built = R.build_report("lab", report["started"], report["finished"], report["findings"], previous,
                               report.get("baselines"))
        rules = _rules.load({"silences": [{"name": "etcd-peer", "reason": "old member still dialled",
                                           "until": "2099-01-01", "match": "[?id=='control_plane_services.unit']"}]})
        built = _rules.apply_to_report(built, rules, MOMENT)
        built["trends"] = history.trends("lab", 30, current={"started": built["started"], "finished": built["finished"],
                                                             "status": built["summary"]["status"],
                                                             "findings": R.key_statuses(built["findings"])})
    return Path(R.write_report(built, str(tmp / "reports"), REPORT_TEMPLATES, MOMENT)["html"])


def incident_record(tmp: Path) -> Path:
    """The record of incident_k8s_unreachable under --check on the broken lab, made by the collection's own code from
    the real captures of tests/unit/fixtures/incident (pods in CrashLoopBackOff, Evicted and stuck Terminating, their
    events): the pod cleanup's plan with each pod's state before and after, and the describe step's findings."""
    def items(name: str) -> list[dict]:
        return json.loads((FIXTURES / "incident" / name).read_text())["items"]

    pods, events, deployments = items("broken_pods.json"), items("broken_events.json"), items("broken_deployments.json")
    newest = max(e.get("lastTimestamp") or "" for e in events)
    now = dt.datetime.strptime(newest, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=5)

    class Captured:      # the pod API, answering with the capture
        @staticmethod
        def list_pods(label_selector=None):
            del label_selector
            return pods

        @staticmethod
        def list_nodes():  # both lab nodes were Ready when the pods were captured
            names = sorted({(p.get("spec") or {}).get("nodeName") for p in pods} - {None})
            return [{"metadata": {"name": n}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
                    for n in names]

    cleanup = C.cleanup(Captured(), C.Options(("developer-center",), terminating_seconds=0), check_mode=True, now=now)
    _blocks, findings, _left = D.describe(pods, events, deployments, namespaces=["developer-center"], now=now)
    stamp = R.iso(now)
    entries = I.timeline({"localhost": [
        {"step": 2, "title": "Pods and namespaces", "time": stamp, "outcome": "looked", "check_mode": True,
         "message": f"{len(findings)} pods not healthy in developer-center"},
        {"step": 3, "title": "Delete abnormal pods (kubectl delete pod)", "time": stamp, "outcome": "would change",
         "check_mode": True, "actions": cleanup["audit"],
         "message": ", ".join(f"{d['namespace']}/{d['name']} {d['reason']}" for d in cleanup["deleted"])},
        {"step": 6, "title": "Describe what is still not healthy", "time": stamp, "outcome": "looked", "check_mode": True,
         "message": "kubectl describe of the pods and deployments that are not healthy"}]})
    assert len(cleanup["audit"]) == 3
    record = I.build("incident_k8s_unreachable", "Incident: the platform cannot be reached", "lab", stamp, stamp,
                     findings, entries, [], True, "/var/lib/kubeops/reports/audit.log", findings)
    return Path(I.write(record, str(tmp / "reports"), RECORD_TEMPLATES, MOMENT)["html"])


PAGES = {"inspection_report": inspection_report, "incident_record": incident_record}


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_layout_holds_at_laptop_width(browser, tmp_path, page, width):
    html = PAGES[page](tmp_path)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.open(html, width)
    shot = browser.screenshot(tmp_path / f"{page}-{width}.png")
    shutil.copy(shot, OUTPUT / shot.name)
    as_opened = browser.layout_problems()
    assert browser.open_all_details() > 0
    shot = browser.screenshot(tmp_path / f"{page}-{width}-details-open.png")
    shutil.copy(shot, OUTPUT / shot.name)
    all_open = browser.layout_problems()
    assert not as_opened, f"{page} at {width}px, as it opens: {json.dumps(as_opened, indent=1)}"
    assert not all_open, f"{page} at {width}px, every <details> open: {json.dumps(all_open, indent=1)}"
    assert shot.stat().st_size > 20_000


def test_incident_record_shows_each_action_before_and_after(browser, tmp_path):
    """The defect this guards: the actions' table sat inside the "what" cell, whose fixed-width neighbours left its
    before and after columns a few pixels (one character per line, a scroll bar each). Now each is a real column."""
    html = incident_record(tmp_path)
    browser.open(html, 1300)
    widths = browser.evaluate("""[...document.querySelectorAll('table.actions tr:nth-child(2) td')]
                                 .map(td => Math.round(td.getBoundingClientRect().width))""")
    assert len(widths) == 4 and min(widths) > 150, widths


def test_the_layout_check_sees_a_squeezed_column(browser, tmp_path):
    """The check can fail: a table like the old incident record's (a nested table in the last cell of fixed-width
    columns) is reported, and so is a page wider than the window."""
    page = tmp_path / "squeezed.html"
    page.write_text("""<!DOCTYPE html><html><head><style>
        table { border-collapse: collapse; width: 100%; table-layout: fixed; } td, th { padding: 4px 8px; }
        th.w { width: 560px; } pre { white-space: pre-wrap; word-break: break-word; overflow: auto; }
        </style></head><body><div style="width: 1200px; margin: 0 auto;"><table>
        <tr><th class="w">step</th><th class="w">target</th><th>what</th></tr>
        <tr><td>3</td><td>web-1</td><td><table><tr><th class="w">a</th><th>before</th><th>after</th></tr>
        <tr><td>x</td><td><pre>{"replicas": 1}</pre></td><td><pre>{"replicas": 2}</pre></td></tr></table></td></tr>
        </table></div><p style="width: 1500px">wide</p></body></html>""")
    browser.open(page, 1300)
    problems = browser.layout_problems()
    kinds = {p["problem"] for p in problems}
    assert "column narrower than its shortest word" in kinds
    assert {"page wider than the window", "past the right edge"} <= kinds
    assert any(p.get("column") == "before" for p in problems), problems
