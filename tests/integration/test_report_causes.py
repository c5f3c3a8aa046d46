"""One cause first, on the lab: node2 off the network (`python -m lab fault inject node-down`, as a powered-off
machine), the daily inspection's report names it in its first line and shows what follows from it under it.

The drill is undone in the fixture's cleanup whatever the test did (link up, node Ready, its pods Ready). The BGP
sessions to node2 stay Established until BIRD's hold timer runs out (240 s): the test does not wait for them (the
unit tests cover them, on a capture taken after they went down, tests/unit/fixtures/report/node2_down.json).
"""
from __future__ import annotations

import json
import tempfile

import pytest

from lab import faults

ROOT_KEY = "host.reachable:node2"


@pytest.fixture
def node2_down(lab):
    faults.node_down_inject()
    try:
        yield
    finally:
        faults.node_down_undo()


def test_node2_down_is_the_first_line_with_its_consequences_under_it(lab, node2_down, tmp_path):
    report_dir = tmp_path / "reports"
    # a fresh SSH control directory: a control master to node2 left by an earlier test would hang on the dead link
    with tempfile.TemporaryDirectory(prefix="kcp", dir="/tmp") as control:
        proc = lab.playbook("playbooks/daily_inspection.yml", extra_vars={"inspection_report_dir": str(report_dir)},
                            env={"ANSIBLE_SSH_CONTROL_PATH_DIR": control})
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    report = json.loads((report_dir / "latest.json").read_text(encoding="utf-8"))
    by_key = {}
    for f in report["findings"]:
        key = f"{f['id']}:{f['target']}" + (f"@{f['host']}" if f.get("host") and f["host"] != f["target"] else "")
        by_key[key] = f
    follows = sorted(k for k, f in by_key.items() if f.get("caused_by") == ROOT_KEY)
    # what a failure shows: the causes, and every finding that is not ok with what it follows from
    seen = "\n".join([f"causes: {report['causes'][:3]}"] + [
        f"{k} {f['status']} caused_by={f.get('caused_by')}: {f.get('summary', '')}"[:200]
        for k, f in sorted(by_key.items()) if f["status"] != "ok"])

    assert report["causes"][0]["key"] == ROOT_KEY, seen
    assert by_key[ROOT_KEY]["status"] == "critical" and by_key[ROOT_KEY]["consequences"] == len(follows), seen
    # its Node, its etcd member, the quorum warning and its pods follow from it
    assert {"nodes.ready:node2", "etcd.member:node2", "etcd.quorum:cluster"} <= set(follows), seen
    assert any(k.startswith("pods.") and k.endswith("@node2") for k in follows), seen
    # no critical is left beside it: each one is the root or follows from it
    loose = [k for k, f in by_key.items() if f["status"] == "critical" and k != ROOT_KEY and not f.get("caused_by")]
    assert loose == [], f"{loose}\n{seen}"
    # the counts still count every finding
    assert report["summary"]["critical"] == sum(1 for f in report["findings"] if f["status"] == "critical")

    markdown = next(report_dir.glob("inspection-*.md")).read_text(encoding="utf-8")
    first = markdown.splitlines()[0]
    assert first.startswith("# Inspection lab: CRITICAL - node2 is down \\(") and "follow from it" in first, first
    html = next(report_dir.glob("inspection-*.html")).read_text(encoding="utf-8")
    assert f"node2 is down ({len(follows)} findings follow from it)" in html
