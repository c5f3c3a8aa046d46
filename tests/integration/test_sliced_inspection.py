"""The daily inspection as AWX runs it: job artifacts (set_stats), a run that matches no host, silences, and a run
sliced as AWX job slicing does it (each slice limited to its hosts, sharing inspection_slice_dir) whose merge step
writes the report one unsliced run writes.

The runs share one report directory (and history): the slices' merge is the run after the unsliced reference
run, as on the second of two days.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

DAILY = "playbooks/daily_inspection.yml"
MERGE = "playbooks/inspection_merge.yml"
# Custom stats in the default callback's recap, one JSON line ("\tRUN: {...}").
STATS_ENV = {"ANSIBLE_SHOW_CUSTOM_STATS": "true", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
# A silence of mw1's disk findings, in every run: they stay in the report, marked.
RULES = {"silences": [{"name": "mw1-disk", "match": "[?category=='disk' && host=='mw1']", "until": "2099-12-31",
                       "reason": "integration test of silences"}]}
# A slice as AWX runs it: its hosts, and localhost for the report step (a --limit leaves the implicit localhost out
# unless named; AWX gives each slice an inventory of its hosts, where localhost stays implicit).
SLICES = ("master1,node1,localhost", "node2,mw1,mw2,localhost")


def run(lab, playbook: str, report_dir: Path, limit: str | None = None, **extra) -> tuple[dict, dict]:
    """(latest.json or the slice's stats, the kubeops_inspection custom stat of the run)."""
    proc = lab.playbook(playbook, extra_vars={"inspection_report_dir": str(report_dir), "inspection_rules": RULES, **extra},
                        limit=limit, env=STATS_ENV)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    line = next(line for line in proc.stdout.splitlines() if line.startswith("\tRUN: "))
    stats = json.loads(line[len("\tRUN: "):])["kubeops_inspection"]
    latest = report_dir / "latest.json"
    return (json.loads(latest.read_text(encoding="utf-8")) if latest.exists() else {}), stats


def key(f: dict) -> str:
    return f"{f['id']}:{f['target']}" + (f"@{f['host']}" if f.get("host") and f["host"] != f["target"] else "")


def statuses(report: dict) -> dict[str, str]:
    return {key(f): f["status"] for f in report["findings"]}


def counted_since_previous_scan(f: dict) -> bool:
    """Whether the finding counted something that happened since the previous run read the host: log lines
    appended, journal error lines or unit restarts. Such a finding of the merged run reads a later window than the
    unsliced run's did (the slices run after it), so its status may differ when the lab logged in between."""
    d = f.get("details") or {}
    counts = d.get("counts") if isinstance(d.get("counts"), dict) else {}
    return (any(isinstance(v, int) and v > 0 for v in counts.values()) or (d.get("journal_errors") or 0) > 0
            or (d.get("restarts_since_last_inspection") or 0) > 0)


@pytest.fixture(scope="module", name="runs")
def fixture_runs(lab, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("reports")
    slice_dir = tmp_path_factory.mktemp("slices")
    run(lab, DAILY, report_dir)                                   # the first run of the day before: logs read
    unsliced, unsliced_stats = run(lab, DAILY, report_dir)
    slice_stats = []
    for hosts in SLICES:
        latest, stats = run(lab, DAILY, report_dir, limit=hosts, inspection_slice_dir=str(slice_dir))
        assert latest == unsliced, "a slice wrote a report"
        slice_stats.append(stats)
    partials = sorted(p.name for p in slice_dir.iterdir())
    merged, merged_stats = run(lab, MERGE, report_dir, inspection_slice_dir=str(slice_dir))
    return {"report_dir": report_dir, "slice_dir": slice_dir, "unsliced": unsliced, "unsliced_stats": unsliced_stats,
            "slice_stats": slice_stats, "partials": partials, "merged": merged, "merged_stats": merged_stats}


def test_set_stats_publish_the_outcome(runs):
    report, stats = runs["unsliced"], runs["unsliced_stats"]
    assert stats["status"] == report["summary"]["status"] and stats["summary"] == report["summary"]
    assert stats["findings"] == len(report["findings"]) and stats["hosts"] == {"targeted": 5, "inspected": 5}
    assert stats["new_since_last"] == len(report["new_since_last"]) and stats["slices"] == 0
    assert Path(stats["report"]["json"]).is_file() and Path(stats["report"]["html"]).is_file()
    assert json.loads(Path(stats["report"]["json"]).read_text(encoding="utf-8")) == report


def test_silenced_findings_stay_in_the_report_marked(runs):
    report = runs["unsliced"]
    silenced = [f for f in report["findings"] if f.get("silenced")]
    assert silenced and {(f["category"], f["host"]) for f in silenced} == {("disk", "mw1")}
    assert all(f["silenced"]["rule"] == "mw1-disk" for f in silenced)
    assert report["summary"]["silenced"] == len(silenced)
    assert report["silences"][0]["state"] == "active" and report["silences"][0]["matched"] == len(silenced)
    html = (runs["report_dir"] / Path(runs["unsliced_stats"]["report"]["html"]).name).read_text(encoding="utf-8")
    assert "SILENCED" in html and "integration test of silences" in html


def test_two_slices_merged_equal_the_unsliced_run(runs):
    unsliced, merged = runs["unsliced"], runs["merged"]
    assert len(runs["partials"]) == 2 and all(n.startswith("partial-") for n in runs["partials"])
    assert [s["hosts"]["targeted"] for s in runs["slice_stats"]] == [2, 3]
    assert all(Path(s["partial"]).name in runs["partials"] for s in runs["slice_stats"])
    before, after = statuses(unsliced), statuses(merged)
    assert sorted(after) == sorted(before)                                 # same findings
    # same statuses, except where the host logged or restarted something between the two runs (what the unsliced
    # run counted, the slices start after; what was logged after it, only the slices see)
    first, second = ({key(f): f for f in report["findings"]} for report in (unsliced, merged))
    differing = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    unexplained = {k: v for k, v in differing.items()
                   if not (counted_since_previous_scan(first[k]) or counted_since_previous_scan(second[k]))}
    assert not unexplained, unexplained
    if not differing:
        assert merged["summary"] == unsliced["summary"]                    # same counts
    assert len(merged["findings"]) == len(unsliced["findings"])
    assert merged["previous"]["finished"] == unsliced["finished"]          # one history entry after the unsliced one
    last_two = [r["status"] for r in merged["trends"]["runs"]][-2:]
    assert last_two == [unsliced["summary"]["status"], merged["summary"]["status"]]
    assert len(merged["trends"]["runs"]) == 3
    assert list(runs["slice_dir"].iterdir()) == []                         # the merged partials are removed
    assert runs["merged_stats"]["slices"] == 2 and runs["merged_stats"]["status"] == merged["summary"]["status"]


def test_a_run_that_matches_no_host_is_unknown(lab, tmp_path):
    report, stats = run(lab, DAILY, tmp_path, inspection_hosts="no_such_group")
    assert report["summary"]["status"] == "unknown" and stats["status"] == "unknown"
    inspected = [f for f in report["findings"] if f["id"] == "host.inspected"]
    assert len(inspected) == 1 and "targeted no hosts" in inspected[0]["summary"]
    assert stats["hosts"] == {"targeted": 0, "inspected": 0}
