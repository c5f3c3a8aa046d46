"""P2 host fan-out: playbooks/daily_inspection.yml on the lab's hosts against `ansible <the same hosts> -m
ansible.builtin.ping` (the floor: one SSH round trip per host), with the lab as it is (no scale objects).

After the timed runs, one more run with bench/callback/bench_timer.py records the wall time of every task and
how many tasks ran on each host: the profile that says where the fan-out's time goes.

Options (--set): hosts=PATTERN (default: the playbook's own pattern), forks=N.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter, defaultdict

from bench import _case
from bench._measure import Command

CASE = "P2"
TITLE = "host fan-out (daily_inspection.yml)"
NEEDS = ("lab",)
DEFAULT_HOSTS = "kube_control_plane:kube_node:etcd:calico:middleware"


def profile(ctx: _case.Context, argv: list[str], env: dict) -> dict:
    """One untimed run with the per-task timer: top tasks by wall time, tasks per host."""
    out = ctx.work / "timer.json"
    env = dict(os.environ, **env, BENCH_TIMER_OUT=str(out), ANSIBLE_CALLBACKS_ENABLED="bench_timer",
               ANSIBLE_CALLBACK_PLUGINS=str(ctx.root / "bench" / "callback"))
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=1800)
    data = json.loads(out.read_text())
    per_host: Counter = Counter()
    by_action: dict[str, float] = defaultdict(float)
    for task in data["tasks"]:
        for host, status in task["hosts"].items():
            if status != "skipped":
                per_host[host] += 1
        by_action[task["action"]] += task["wall_s"]
    top = sorted(data["tasks"], key=lambda t: -t["wall_s"])[:12]
    return {"total_s": data["total_s"], "tasks": len(data["tasks"]), "tasks_run_per_host": dict(per_host),
            "top_tasks": [{"name": t["name"], "action": t["action"], "wall_s": t["wall_s"],
                           "hosts_run": sum(1 for s in t["hosts"].values() if s != "skipped")} for t in top],
            "wall_by_action": {k: round(v, 2) for k, v in sorted(by_action.items(), key=lambda kv: -kv[1])[:12]}}


def run(ctx: _case.Context) -> dict:
    lab = ctx.lab
    pattern = ctx.options.get("hosts", DEFAULT_HOSTS)
    reports = ctx.work / "reports"
    extra = ["-e", json.dumps({"inspection_report_dir": str(reports), "kubeops_audit_log": str(ctx.work / "audit.log")})]
    if pattern != DEFAULT_HOSTS:
        extra += ["-e", json.dumps({"inspection_hosts": pattern})]
    forks = ["--forks", ctx.options["forks"]] if "forks" in ctx.options else []
    playbook = [ctx.bin("ansible-playbook"), "-i", str(lab.inventory), str(ctx.root / "playbooks" / "daily_inspection.yml"),
                *extra, *forks]
    ping = [ctx.bin("ansible"), pattern, "-i", str(lab.inventory), "-m", "ansible.builtin.ping", *forks]
    hosts = subprocess.run([ctx.bin("ansible"), pattern, "-i", str(lab.inventory), "--list-hosts"],
                           env={**os.environ, **ctx.env}, capture_output=True, text=True, check=True).stdout.split()[2:]
    stats = ctx.measure([Command("inspection", playbook, env=ctx.env), Command("ping", ping, env=ctx.env)])
    prof = profile(ctx, playbook, ctx.env)
    latest = json.loads((reports / "latest.json").read_text())
    ours, floor = stats["inspection"], stats["ping"]
    per_host = prof["tasks_run_per_host"]
    return _case.result(
        ours, floor, counts={"hosts": len(hosts), "tasks_per_host_max": max(per_host.values(), default=0),
                             "findings": len(latest.get("findings", [])), "report_status": latest["summary"]["status"]},
        goals=[_case.goal("≤ 3× ping", ours.median_s / floor.median_s, 3)], measured=stats,
        notes=[f"hosts {', '.join(hosts)}", f"tasks run per host {per_host}",
               f"slowest tasks {[(t['name'], t['wall_s']) for t in prof['top_tasks'][:6]]}"]) | {"profile": prof}
