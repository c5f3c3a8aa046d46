"""P6 the report at fleet size: the inspection_report step of a sliced daily inspection (playbooks/inspection_merge.yml,
as AWX runs it for a large inventory) merging the partials of 2,000 hosts (~30 findings each, a few percent not ok:
bench/_fleet.py) into the 30th run of a history, as a whole ansible-playbook process; at 200, 2,000 and 5,000 hosts to
show how the cost grows. Floor: the same one-task playbook with ansible.builtin.ping (Ansible's fixed cost). The
2,000-host HTML is then opened in headless Chromium (Debian's): load time, the counts it shows, a screenshot.

Options (--set): sizes=200,2000,5000 (hosts per measured size; the first size of 2,000 or more is the one the goals
and the browser use), slices=20 (partials per run), browser=0 skips Chromium.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from bench import _case, _fleet
from bench._measure import Command

CASE = "P6"
TITLE = "the report at fleet size (inspection_report)"
NEEDS = ()
RUNS = 30
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

REPORT_PLAY = """- name: Merge the slices of a fleet inspection into one report
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the report and record the run
      kubeops.runbook.inspection_report:
        cluster: {cluster}
        report_dir: {out}
        history_db: {db}
        slice_dir: {slices}
        merge: true
        collect_hostvars: false
        expected_hosts: "{{{{ bench_expected_hosts }}}}"
        trend_runs: {runs}
"""
PING_PLAY = """- name: Ansible's fixed cost of a one-task playbook
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def _stamp(run: int) -> tuple[str, str]:
    day = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.timezone.utc) + dt.timedelta(days=run - 1)
    return day.strftime("%Y-%m-%dT%H:%M:%SZ"), (day + dt.timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare(work: Path, hosts: int, slices: int) -> dict:
    """Untimed: the history of runs 1..29 (as the report records them) and the partials of run 30, for one size."""
    from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history, _slices  # pylint: disable=import-outside-toplevel
    base = work / f"h{hosts}"
    pristine, partials = base / "pristine", base / "partials"
    pristine.mkdir(parents=True)
    partials.mkdir()
    with _history.History(str(pristine / "history.sqlite")) as history:
        for run in range(1, RUNS):
            states, findings = _fleet.fleet_run(hosts, run)
            keys = _fleet.key_statuses(states, findings)
            worst = "critical" if "critical" in keys.values() else "warning" if "warning" in keys.values() else "ok"
            started, finished = _stamp(run)
            history.record(_fleet.CLUSTER, started, finished, worst, keys, f"inspection-{run}.json",
                           {k: k.rsplit("@", 1)[-1] if "@" in k else k.split(":", 1)[1] for k in keys})
    states, findings = _fleet.fleet_run(hosts, RUNS)
    started, finished = _stamp(RUNS)
    for part_states, part_findings in _fleet.slices(states, findings, slices):
        doc = _slices.partial(_fleet.CLUSTER, started, finished, part_states, part_findings)
        (partials / _slices.partial_name(doc)).write_text(json.dumps(doc, ensure_ascii=False))
    (base / "vars.json").write_text(json.dumps({"bench_expected_hosts": list(states)}))
    return {"base": base, "hosts": hosts, "findings": len(findings) + len(states),
            "not_ok": sum(1 for f in findings if f["status"] != "ok") + sum(1 for s in states.values() if s[0] != "reachable"),
            "history_29_runs_bytes": (pristine / "history.sqlite").stat().st_size,
            "partials_bytes": sum(p.stat().st_size for p in partials.iterdir())}


def _command(ctx: _case.Context, size: dict) -> Command:
    base: Path = size["base"]
    live = base / "live"
    play = base / "report.yml"
    play.write_text(REPORT_PLAY.format(cluster=_fleet.CLUSTER, out=live / "reports", db=live / "history.sqlite",
                                       slices=live / "slices", runs=RUNS))

    def setup() -> None:
        shutil.rmtree(live, ignore_errors=True)
        (live / "reports").mkdir(parents=True)
        shutil.copytree(base / "partials", live / "slices")
        shutil.copy2(base / "pristine" / "history.sqlite", live / "history.sqlite")

    return Command(f"report_{size['hosts']}", [ctx.bin("ansible-playbook"), "-i", "localhost,", "-e",
                                                f"@{base / 'vars.json'}", str(play)], env=ctx.env, setup=setup)


def outputs(size: dict) -> dict:
    """What the last measured run left: file sizes, the history after 30 runs, the report's own counts."""
    live: Path = size["base"] / "live"
    reports = live / "reports"
    files = {p.suffix.lstrip("."): p for p in reports.glob("inspection-*.*")}
    report = json.loads(files["json"].read_text(encoding="utf-8"))
    with sqlite3.connect(live / "history.sqlite") as db:
        runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    return {"hosts": size["hosts"], "findings": len(report["findings"]), "summary": report["summary"],
            "json_bytes": files["json"].stat().st_size, "md_bytes": files["md"].stat().st_size,
            "html_bytes": files["html"].stat().st_size, "history_runs": runs,
            "history_bytes": (live / "history.sqlite").stat().st_size, "html": str(files["html"]),
            "json": str(files["json"]), "partials_bytes": size["partials_bytes"]}


def phases(size: dict, template_dir: str) -> dict[str, float]:
    """Where the time of one report goes (in this process, after the measured runs; for finding the costly step)."""
    from ansible_collections.kubeops.runbook.plugins.plugin_utils import (  # pylint: disable=import-outside-toplevel
        _causes, _flapping, _history, _report, _slices,
    )
    base: Path = size["base"]
    tmp = Path(tempfile.mkdtemp(dir=base))
    shutil.copy2(base / "pristine" / "history.sqlite", tmp / "history.sqlite")
    times: dict[str, float] = {}

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        times[name] = round(now - start, 3)
        return now

    t0 = time.perf_counter()
    docs = [doc for _p, doc in _slices.read_partials(str(base / "partials"), _fleet.CLUSTER)]
    t0 = lap("read_partials", t0)
    merged = _slices.merge(docs, json.loads((base / "vars.json").read_text())["bench_expected_hosts"])
    findings = merged["findings"] + merged["missing"] + _report.reachability(merged["states"])
    t0 = lap("merge", t0)
    with _history.History(str(tmp / "history.sqlite")) as history:
        previous = history.last_run(_fleet.CLUSTER)
        t0 = lap("history_last_run", t0)
        report = _report.build_report(_fleet.CLUSTER, merged["started"], merged["started"], findings, previous)
        t0 = lap("build_report", t0)
        report = _flapping.mark(report, history.recent_runs(_fleet.CLUSTER, _flapping.RUNS - 1))
        t0 = lap("flapping", t0)
        report = _causes.mark(report, {})
        t0 = lap("causes", t0)
        keys = _report.key_statuses(report["findings"])
        report["trends"] = history.trends(_fleet.CLUSTER, RUNS, current={"started": "x", "finished": "x", "status":
                                                                         report["summary"]["status"], "findings": keys})
        t0 = lap("history_trends", t0)
        _report.to_json(report)
        t0 = lap("render_json", t0)
        _report.render(report, template_dir, "markdown")
        t0 = lap("render_markdown", t0)
        _report.render(report, template_dir, "html")
        t0 = lap("render_html", t0)
        history.record(_fleet.CLUSTER, "x", "x", report["summary"]["status"], keys, None, _report.key_hosts(report["findings"]))
        lap("history_record", t0)
    shutil.rmtree(tmp)
    return times


def browser(ctx: _case.Context, html: Path, expect: dict) -> dict:
    """Open the report in headless Chromium: load time against a tiny page, the counts the page shows, a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return {"error": "Debian's chromium is not installed (bindep.txt: chromium [test])"}
    profile = ctx.work / "chromium-profile"
    tiny = ctx.work / "tiny.html"
    tiny.write_text("<!DOCTYPE html><html><body><p>tiny</p></body></html>\n")

    def fresh_profile() -> None:
        shutil.rmtree(profile, ignore_errors=True)
        profile.mkdir()

    def dump(name: str, page: Path, out: Path) -> Command:
        return Command(name, [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                       stdout=out, setup=fresh_profile, timeout=600)

    dom = ctx.work / "dom.html"
    stats = ctx.measure([dump("chromium_report", html, dom), dump("chromium_tiny", tiny, ctx.work / "tiny.out")])
    text = dom.read_text(encoding="utf-8", errors="replace")
    shown = {m.group(2): int(m.group(1)) for m in re.finditer(r'<div class="count (?:\w+)"><b>(\d+)</b>([\w ]+?)</div>', text)}
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    shot = ctx.root / "bench" / "results" / f"p6-report-{day}.png"
    fresh_profile()
    subprocess.run([chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                    "--window-size=1280,1600", html.as_uri()], capture_output=True, timeout=600, check=False)
    counts_equal = all(shown.get(s) == expect[s] for s in ("critical", "unknown", "warning", "ok"))
    return {"stats": stats, "shown": shown, "counts_equal_json": counts_equal, "dom_bytes": len(text.encode()),
            "screenshot": str(shot.relative_to(ctx.root)) if shot.is_file() else None,
            "screenshot_bytes": shot.stat().st_size if shot.is_file() else 0}


def run(ctx: _case.Context) -> dict:
    sizes = [int(s) for s in ctx.options.get("sizes", "200,2000,5000").split(",")]
    count = int(ctx.options.get("slices", "20"))
    main_size = next((s for s in sizes if s >= 2000), sizes[-1])
    prepared = {}
    for hosts in sizes:
        started = time.monotonic()
        prepared[hosts] = prepare(ctx.work, hosts, count)
        ctx.log(f"P6 prepared {hosts} hosts: {prepared[hosts]['findings']:,} findings ({prepared[hosts]['not_ok']:,} not "
                f"ok), 29 runs of history, {count} partials, in {time.monotonic() - started:.0f} s")
    (ctx.work / "ping.yml").write_text(PING_PLAY)
    commands = [_command(ctx, prepared[h]) for h in sizes]
    commands.append(Command("ping_playbook", [ctx.bin("ansible-playbook"), "-i", "localhost,", str(ctx.work / "ping.yml")],
                            env=ctx.env))
    stats = ctx.measure(commands)
    ping = stats["ping_playbook"]
    out = {h: outputs(prepared[h]) for h in sizes}
    template_dir = str(ctx.root / "roles" / "report" / "templates")
    breakdown = phases(prepared[main_size], template_dir)
    main = out[main_size]
    per_host = {h: round((stats[f"report_{h}"].median_s - ping.median_s) / h * 1000, 3) for h in sizes}
    goals = [_case.goal(f"report of {main_size:,} hosts written in ≤ 10 s (whole process)",
                        stats[f"report_{main_size}"].median_s, 10),
             _case.goal(f"HTML of {main_size:,} hosts ≤ 5 MB", main["html_bytes"] / 1e6, 5)]
    if len(sizes) > 1 and sizes[-1] > main_size:
        goals.append(_case.goal(f"no O(n²): per-host time at {sizes[-1]:,} ≤ 1.5× at {main_size:,}",
                                per_host[sizes[-1]] / per_host[main_size], 1.5))
    notes = [f"per-host time above the ping floor (ms): {per_host}",
             f"in-process phases at {main_size:,} hosts (s): {breakdown}"]
    measured = dict(stats)
    shown = {}
    if ctx.options.get("browser", "1") != "0":
        seen = browser(ctx, Path(main["html"]), main["summary"])
        if "error" in seen:
            notes.append(f"browser not measured: {seen['error']}")
        else:
            measured.update(seen.pop("stats"))
            shown = seen
            goals.append(_case.goal("Chromium shows the JSON's counts", 1 if seen["counts_equal_json"] else 0, 1,
                                    higher_is_better=True))
            notes.append(f"Chromium --dump-dom of the {main_size:,}-host report {measured['chromium_report'].median_s:.2f} s "
                         f"against {measured['chromium_tiny'].median_s:.2f} s for a tiny page; shows {seen['shown']}; "
                         f"screenshot {seen['screenshot']}")
    counts = {"hosts": main_size, "findings": main["findings"], "not_ok": main["summary"]["warning"] +
              main["summary"]["critical"] + main["summary"]["unknown"], "html_mb": round(main["html_bytes"] / 1e6, 2),
              "json_mb": round(main["json_bytes"] / 1e6, 2), "md_mb": round(main["md_bytes"] / 1e6, 2),
              "history_mb_30_runs": round(main["history_bytes"] / 1e6, 1)}
    res = _case.result(stats[f"report_{main_size}"], ping, counts=counts, goals=goals, measured=measured, notes=notes,
                       peers={f"report {h:,} hosts": stats[f"report_{h}"] for h in sizes if h != main_size})
    res["sizes"] = {str(h): {k: v for k, v in o.items() if k not in ("html", "json")} for h, o in out.items()}
    res["phases_s"] = breakdown
    res["browser"] = shown
    return res
