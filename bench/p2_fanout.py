"""P2 host fan-out: playbooks/daily_inspection.yml against `ansible <the same inventory> -m ansible.builtin.ping`
(the floor: one SSH round trip and one Python start per host), at the lab's 5 hosts and at 200 inventory hosts.

The 200 hosts are the lab's 5 and 195 aliases of its worker nodes (node1, node2: a 2,000-node cluster is nearly all
workers), each alias an inventory host of its own with the worker's groups (kube_node, calico), its own state
directory for the journal window and the log offsets (host_inspection_state_dir) and its own SSH connection (control
path), reached at the worker's address.
Both commands run with the same inventory and --forks 50, interleaved (inspection, ping, ping, inspection, ...),
after one uncounted warm-up run each (the aliases' first inspection reads a day of journal and 4 MiB of log), five
counted rounds by default. Per size: median, min, max, the controller's CPU seconds per host (the process tree of
ansible-playbook and its workers and ssh clients, not the nodes'), its peak RSS.

After the timed runs, one more run per size with bench/callback/bench_timer.py records the wall time of every task
and play, how many tasks ran on each host, and the time of each check inside host_inspection_info: the profile that
says where the remaining time goes. The aliases' state directories are removed on the nodes afterwards.

The 2,000-host time is projected from the 5- and 200-host runs (bench/README.md states the assumptions).

Options (--set): sizes=5,200  forks=50  alias_of=node1,node2  alias_groups=kube_node,calico
before=DIR (the checkout of an earlier version, e.g. `git archive <commit> | tar -x -C DIR`; the bench gives it a
collections path: its playbook is measured as well, interleaved with the others, for a before/after in one window)
before_sizes=5 (the sizes at which `before` runs; default all: 1.1.0 takes minutes per run at 200 hosts).
"""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bench import _case
from bench._measure import Command, Stats

CASE = "P2"
TITLE = "host fan-out (daily_inspection.yml)"
NEEDS = ("lab",)
DEFAULT_HOSTS = "kube_control_plane:kube_node:etcd:calico:middleware"
ALIAS_STATE = "/var/lib/kubeops/bench-aliases"
PROJECT_TO = 2000


def alias_inventory(lab, size: int, alias_of: list[str], groups: list[str], path: Path) -> list[str]:
    """The lab inventory plus aliases of ``alias_of`` up to ``size`` inspected hosts; returns the alias names."""
    data = yaml.safe_load(Path(lab.inventory).read_text(encoding="utf-8"))
    hosts = data["all"]["hosts"]
    inspected = sorted({h for g in DEFAULT_HOSTS.split(":") for h in (data["all"]["children"].get(g) or {}).get("hosts") or {}})
    names = []
    for i in range(max(0, size - len(inspected))):
        node = alias_of[i % len(alias_of)]
        name = f"{node}-alias{i + 1:03d}"
        state = f"{ALIAS_STATE}/{name}"
        # its own state (journal window, log offsets) and its own SSH connection, as a distinct host has
        hosts[name] = {**(hosts.get(node) or {}), "host_inspection_state_dir": state,
                       "kubeops_middleware_log_state_file": f"{state}/middleware_log_scan.json",
                       "ansible_control_path": f"%(directory)s/{name}"}
        for group in groups:
            data["all"]["children"].setdefault(group, {}).setdefault("hosts", {})
            data["all"]["children"][group]["hosts"] = {**(data["all"]["children"][group]["hosts"] or {}), name: None}
        names.append(name)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return names


def profile(ctx: _case.Context, argv: list[str], env: dict) -> dict:
    """One untimed run with the per-task timer: tasks per host, top tasks, wall per play and per action, and the
    time of each check inside the host's one call."""
    out = ctx.work / "timer.json"
    env = dict(os.environ, **env, BENCH_TIMER_OUT=str(out), ANSIBLE_CALLBACKS_ENABLED="bench_timer",
               ANSIBLE_CALLBACK_PLUGINS=str(ctx.root / "bench" / "callback"))
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=3600)
    data = json.loads(out.read_text())
    per_host: Counter = Counter()
    by_action: dict[str, float] = defaultdict(float)
    merged: dict[tuple, dict] = {}
    for task in data["tasks"]:
        for host, status in task["hosts"].items():
            if status != "skipped" and host != "localhost":   # the inspected hosts; the controller's tasks apart
                per_host[host] += 1
        by_action[task["action"]] += task["wall_s"]
        # the free strategy starts a task once per host: one entry per task
        key = (task["path"], task["name"])
        entry = merged.setdefault(key, {"name": task["name"], "action": task["action"], "wall_s": 0.0, "hosts_run": 0})
        entry["wall_s"] = round(max(entry["wall_s"], task["span_s"]), 3)
        entry["hosts_run"] += sum(1 for s in task["hosts"].values() if s != "skipped")
    counts = sorted(per_host.values())
    controller = sum(1 for task in data["tasks"] if task["hosts"].get("localhost") not in (None, "skipped"))
    return {"total_s": data["total_s"], "tasks": len(merged), "controller_tasks": controller,
            "tasks_per_host": {"min": counts[0] if counts else 0, "max": counts[-1] if counts else 0,
                               "median": counts[len(counts) // 2] if counts else 0},
            "tasks_run_per_host": dict(sorted(per_host.items())[:8]),
            "plays": data.get("plays", []),
            "top_tasks": sorted(merged.values(), key=lambda t: -t["wall_s"])[:10],
            "wall_by_action": {k: round(v, 2) for k, v in sorted(by_action.items(), key=lambda kv: -kv[1])[:10]},
            "checks": data.get("checks", {})}


def remove_alias_state(lab, alias_of: list[str]) -> None:
    from lab import api as lab_api  # pylint: disable=import-outside-toplevel
    for node in alias_of:
        lab_api.ssh(lab.hosts[node], f"rm -rf {ALIAS_STATE}")


def project(small: dict, big: dict, key: str) -> float:
    """Seconds at PROJECT_TO hosts on the line through the two measured sizes."""
    slope = (big[key] - small[key]) / max(1, big["hosts"] - small["hosts"])
    return round(big[key] + slope * (PROJECT_TO - big["hosts"]), 1)


def measure_size(ctx: _case.Context, size: int, forks: str, alias_of: list[str], groups: list[str],
                 before: Path | None) -> tuple[dict, dict[str, Stats]]:
    lab = ctx.lab
    inventory = Path(lab.inventory)
    aliases: list[str] = []
    if size > 5:
        inventory = ctx.work / f"inventory-{size}.yml"
        aliases = alias_inventory(lab, size, alias_of, groups, inventory)
    reports = ctx.work / f"reports-{size}"
    extra = ["-e", json.dumps({"inspection_report_dir": str(reports), "kubeops_audit_log": str(ctx.work / "audit.log")})]
    playbook = [ctx.bin("ansible-playbook"), "-i", str(inventory), str(ctx.root / "playbooks" / "daily_inspection.yml"),
                *extra, "--forks", forks]
    ping = [ctx.bin("ansible"), DEFAULT_HOSTS, "-i", str(inventory), "-m", "ansible.builtin.ping", "--forks", forks]
    hosts = subprocess.run([ctx.bin("ansible"), DEFAULT_HOSTS, "-i", str(inventory), "--list-hosts"],
                           env={**os.environ, **ctx.env}, capture_output=True, text=True, check=True).stdout.split()[2:]
    commands = [Command(f"inspection@{size}", playbook, env=ctx.env), Command(f"ping@{size}", ping, env=ctx.env)]
    before_argv = None
    if before is not None:
        collections = ctx.work / "before-collections"
        (collections / "ansible_collections" / "kubeops").mkdir(parents=True, exist_ok=True)
        link = collections / "ansible_collections" / "kubeops" / "runbook"
        if not link.exists():
            link.symlink_to(before)
        before_env = {**ctx.env, "ANSIBLE_COLLECTIONS_PATH": str(collections), "PYTHONPATH": str(collections)}
        before_argv = [ctx.bin("ansible-playbook"), "-i", str(inventory), str(before / "playbooks" / "daily_inspection.yml"),
                       "-e", json.dumps({"inspection_report_dir": str(ctx.work / f"reports-before-{size}")}),
                       "--forks", forks]
        commands.append(Command(f"before@{size}", before_argv, env=before_env))
    ctx.log(f"P2: {len(hosts)} hosts ({len(aliases)} aliases of {', '.join(alias_of)}), forks {forks}")
    stats = ctx.measure(commands)
    prof = profile(ctx, playbook, ctx.env)
    latest = json.loads((reports / "latest.json").read_text())
    ours, floor = stats[f"inspection@{size}"], stats[f"ping@{size}"]
    n = len(hosts)
    row = {"hosts": n, "ours_s": round(ours.median_s, 2), "min": round(ours.min_s, 2), "max": round(ours.max_s, 2),
           "ping_s": round(floor.median_s, 2), "ping_min": round(floor.min_s, 2), "ping_max": round(floor.max_s, 2),
           "ratio": round(ours.median_s / floor.median_s, 2),
           "cpu_s_per_host": round(ours.cpu_median_s / n, 3), "ping_cpu_s_per_host": round(floor.cpu_median_s / n, 3),
           "peak_rss_mb": round(ours.peak_rss_mb, 1), "ping_peak_rss_mb": round(floor.peak_rss_mb, 1),
           "tasks_per_host": prof["tasks_per_host"], "findings": len(latest.get("findings", [])),
           "report_status": latest["summary"]["status"], "summary": latest["summary"], "profile": prof}
    if before is not None:
        old = stats[f"before@{size}"]
        row.update({"before_s": round(old.median_s, 2), "before_min": round(old.min_s, 2),
                    "before_max": round(old.max_s, 2), "before_ratio": round(old.median_s / floor.median_s, 2),
                    "before_cpu_s_per_host": round(old.cpu_median_s / n, 3),
                    "before_peak_rss_mb": round(old.peak_rss_mb, 1)})
        before_env = {**ctx.env, "ANSIBLE_COLLECTIONS_PATH": str(ctx.work / "before-collections"),
                      "PYTHONPATH": str(ctx.work / "before-collections")}
        row["before_profile"] = profile(ctx, before_argv, before_env)
        row["before_tasks_per_host"] = row["before_profile"]["tasks_per_host"]
    return row, stats


def run(ctx: _case.Context) -> dict:
    sizes = sorted(int(s) for s in str(ctx.options.get("sizes", "5,200")).split(","))
    forks = str(ctx.options.get("forks", "50"))
    alias_of = str(ctx.options.get("alias_of", "node1,node2")).split(",")
    groups = str(ctx.options.get("alias_groups", "kube_node,calico")).split(",")
    before = Path(ctx.options["before"]).resolve() if ctx.options.get("before") else None
    before_sizes = {int(s) for s in str(ctx.options.get("before_sizes", ",".join(map(str, sizes)))).split(",")}
    rows: dict[str, dict] = {}
    measured: dict[str, Stats] = {}
    try:
        for size in sizes:
            row, stats = measure_size(ctx, size, forks, alias_of, groups, before if size in before_sizes else None)
            rows[str(size)] = row
            measured.update(stats)
    finally:
        remove_alias_state(ctx.lab, alias_of)
    small, big = rows[str(sizes[0])], rows[str(sizes[-1])]
    projection = {}
    if len(sizes) > 1:
        cores = os.cpu_count() or 1
        projection = {"hosts": PROJECT_TO, "inspection_s": project(small, big, "ours_s"),
                      "ping_s": project(small, big, "ping_s"),
                      "controller_cpu_bound_s": round(big["cpu_s_per_host"] * PROJECT_TO / cores, 1),
                      "from_sizes": [small["hosts"], big["hosts"]], "cores": cores}
        projection["ratio"] = round(projection["inspection_s"] / projection["ping_s"], 2)
    goals = [_case.goal(f"≤ 3× ping at {row['hosts']} hosts", row["ratio"], 3) for row in rows.values()]
    counts = {"hosts": " / ".join(str(r["hosts"]) for r in rows.values()),
              "ratios": " / ".join(f"{r['ratio']}" for r in rows.values()),
              "tasks_per_host_max": " / ".join(str(r["tasks_per_host"]["max"]) for r in rows.values()),
              "cpu_s_per_host": " / ".join(f"{r['cpu_s_per_host']}" for r in rows.values()),
              "findings": " / ".join(str(r["findings"]) for r in rows.values()),
              "report_status": " / ".join(r["report_status"] for r in rows.values())}
    if projection:
        counts["projected_2000_s"] = projection["inspection_s"]
    notes = [f"{size} hosts: inspection {r['ours_s']} s ({r['min']}–{r['max']}), ping {r['ping_s']} s "
             f"({r['ping_min']}–{r['ping_max']}), {r['ratio']}×; controller CPU {r['cpu_s_per_host']} s/host "
             f"(ping {r['ping_cpu_s_per_host']}); peak RSS {r['peak_rss_mb']} MB (ping {r['ping_peak_rss_mb']}); "
             f"tasks per host {r['tasks_per_host']}" for size, r in rows.items()]
    return _case.result(measured[f"inspection@{sizes[-1]}"], measured[f"ping@{sizes[-1]}"], counts=counts, goals=goals,
                        measured=measured, notes=notes) | {"sizes": rows, "projection": projection}
