"""P4: prune a directory of 100,000 rotated log files with the log_prune timer's helper, against
`find DIR -maxdepth 1 -name PATTERN -type f -daystart -mtime +N -delete` on an identical copy.

Both must delete exactly the same set (checked before the timed runs: the helper's `age_source=mtime` counts
calendar days, which is find's `-daystart`; plain `-mtime +N` keeps more, and the difference is reported).
`ansible localhost -m kubeops.runbook.log_prune` (the module through Ansible, with its audit line) is measured as
well, with its peak RSS: the result holds counts and the first 20 names, not every file.

Options (--set): files=100000, keep_days=7, days=30 (the spread of the files' mtimes).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

from bench import _case
from bench._measure import Command

CASE = "P4"
TITLE = "prune 100,000 rotated files"
NEEDS: tuple[str, ...] = ()
PATTERN = "app-gateway.log.*"


def make_tree(src: Path, files: int, days: int, seed: int = 4) -> None:
    """`files` empty rotated logs, mtimes spread over the last `days` days at random times of day."""
    rng = random.Random(seed)
    src.mkdir(parents=True)
    now = time.time()
    for i in range(files):
        fd = os.open(src / f"app-gateway.log.{i:06d}", os.O_WRONLY | os.O_CREAT, 0o644)
        when = now - rng.uniform(0, days * 86400)
        os.utime(fd, (when, when))
        os.close(fd)
    (src / "app-gateway.log").touch()  # the live log: matches no rotated name, never pruned


def copy(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def names(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


def run(ctx: _case.Context) -> dict:
    files = int(ctx.options.get("files", 100000))
    keep_days = int(ctx.options.get("keep_days", 7))
    days = int(ctx.options.get("days", 30))
    helper = ctx.root / "roles" / "log_prune" / "files" / "kubeops_prune.py"
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else ctx.python
    src, ours_dir, find_dir, mod_dir = (ctx.work / n for n in ("src", "ours", "find", "module"))
    ctx.log(f"P4: creating {files} files")
    make_tree(src, files, days)

    ours_argv = [python, str(helper), "--path", str(ours_dir), "--pattern", PATTERN, "--keep-days", str(keep_days),
                 "--age-source", "mtime", "--allowed-root", str(ctx.work)]
    find_argv = ["find", str(find_dir), "-maxdepth", "1", "-name", PATTERN, "-type", "f", "-daystart",
                 "-mtime", f"+{keep_days}", "-delete"]
    module_args = {"path": str(mod_dir), "pattern": PATTERN, "keep_days": keep_days, "age_source": "mtime",
                   "allowed_roots": [str(ctx.work)]}
    module_argv = [ctx.bin("ansible"), "localhost", "-m", "kubeops.runbook.log_prune", "-a", json.dumps(module_args),
                   "-e", f"kubeops_audit_log={ctx.work / 'audit.log'}"]

    # correctness, untimed: the same set deleted; and what plain -mtime (24-hour periods) would have done
    copy(src, ours_dir)
    copy(src, find_dir)
    out = subprocess.run(ours_argv, capture_output=True, text=True, check=True)
    helper_result = json.loads(out.stdout)
    subprocess.run(find_argv, check=True)
    same = names(ours_dir) == names(find_dir)
    deleted = files + 1 - len(names(ours_dir))
    plain = subprocess.run(["find", str(src), "-maxdepth", "1", "-name", PATTERN, "-type", "f", "-mtime",
                            f"+{keep_days}"], capture_output=True, text=True, check=True).stdout.count("\n")
    copy(src, mod_dir)
    proc = subprocess.run(module_argv, capture_output=True, text=True, env={**os.environ, **ctx.env}, check=False)
    module_ok = proc.returncode == 0 and names(mod_dir) == names(ours_dir)
    module_out = len(proc.stdout)
    if not same:
        ctx.log("P4: the helper and find -daystart deleted different sets")

    stats = ctx.measure([
        Command("ours (timer helper)", ours_argv, setup=lambda: copy(src, ours_dir)),
        Command("find -daystart -delete", find_argv, setup=lambda: copy(src, find_dir)),
        Command("ansible -m log_prune", module_argv, env=ctx.env, setup=lambda: copy(src, mod_dir)),
    ])
    ours, floor, module = stats["ours (timer helper)"], stats["find -daystart -delete"], stats["ansible -m log_prune"]
    ratio = ours.median_s / floor.median_s
    return _case.result(
        ours, floor, peers={"ansible -m log_prune": module}, measured=stats,
        counts={"files": files, "deleted": deleted, "helper_files_pruned": helper_result["files_pruned"],
                "same_set_as_find_daystart": same, "plain_mtime_would_delete": plain,
                "daystart_minus_plain": deleted - plain, "module_same_set": module_ok,
                "module_result_bytes": module_out},
        goals=[_case.goal("timer helper ≤ 1.5× find -daystart -delete", ratio, 1.5),
               _case.goal("same set deleted as find -daystart", float(same), 1.0, higher_is_better=True)],
        notes=[f"find -daystart -mtime +{keep_days} deletes {deleted - plain} more files than plain -mtime "
               f"+{keep_days} here (calendar days against 24-hour periods); log_prune deletes the -daystart set",
               f"ansible -m log_prune: {module.median_s:.2f} s, peak RSS {module.peak_rss_mb:.0f} MiB, "
               f"{module_out} bytes of output for {deleted} files (counts and the first 20 names)"])
