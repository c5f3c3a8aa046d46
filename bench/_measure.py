"""Whole-process timing: commands run interleaved, wall time and peak RSS per run, min/median/max.

Every benchmark case measures processes the way a user starts them (Python and Ansible start-up included),
never a warm call inside an already-running interpreter against a cold command. The rules:

* Commands are given as argv lists (no shell); stdout goes to /dev/null unless a file is named.
* Runs are interleaved: round 1 runs A, B, C, round 2 runs B, C, A, ... (the order rotates so that no command
  always runs right after the same other one), so a noisy minute of a shared machine hits all of them alike.
* `warmup` runs of each command come first and are not counted (page cache, compiled .pyc files).
* Each command is started by a small launcher (bench/_launch.py, an isolated interpreter of ~10 MB): Linux
  charges a child's peak RSS with the RSS of the process that forked it, so started from a large parent even
  `true` would report that parent's size. The launcher times fork/exec to wait; peak RSS and CPU come from its
  os.wait4() rusage of the child, which covers the child and the descendants it waited for. ru_maxrss is the peak of the largest single process
  of that tree (Linux keeps the maximum, not the sum): for `ansible -m x` that is the bigger of the controller
  and the module process.
* `setup` and `reset` run before and after every run of a command and are not timed (e.g. recreate the directory
  a prune deletes). A command that exits non-zero (unless its code is in `ok_codes`) stops the benchmark with
  its stderr: a failed run is no measurement.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_LAUNCHER = Path(__file__).with_name("_launch.py")


class MeasureError(RuntimeError):
    """A measured command failed or timed out; the message names it and carries its stderr."""


@dataclass
class Command:
    """One thing to measure: a process started from argv."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None          # added to (not replacing) os.environ
    cwd: str | Path | None = None
    stdin: str | Path | None = None            # a file fed to stdin; default /dev/null
    stdout: str | Path | None = None           # a file that receives stdout; default /dev/null
    setup: Callable[[], None] | None = None    # before every run, not timed
    reset: Callable[[], None] | None = None    # after every run, not timed
    ok_codes: tuple[int, ...] = (0,)
    timeout: float = 1800.0


@dataclass
class Run:
    wall_s: float
    rss_mb: float
    cpu_s: float
    returncode: int


@dataclass
class Stats:
    """The counted runs of one command."""

    name: str
    argv: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [r.wall_s for r in self.runs]

    @property
    def median_s(self) -> float:
        return statistics.median(self.walls)

    @property
    def min_s(self) -> float:
        return min(self.walls)

    @property
    def max_s(self) -> float:
        return max(self.walls)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.rss_mb for r in self.runs)

    @property
    def cpu_median_s(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    def as_dict(self) -> dict:
        return {"median_s": round(self.median_s, 3), "min_s": round(self.min_s, 3), "max_s": round(self.max_s, 3),
                "runs_s": [round(w, 3) for w in self.walls], "peak_rss_mb": round(self.peak_rss_mb, 1),
                "cpu_median_s": round(self.cpu_median_s, 3), "argv": self.argv}


def _open(path: str | Path | None, mode: str):
    return open(path if path is not None else os.devnull, mode)  # noqa: SIM115 - closed by the caller


def run_once(cmd: Command) -> Run:
    """Start cmd, wait for it with wait4, return wall time, peak RSS and CPU of its process tree."""
    env = None
    if cmd.env:
        env = dict(os.environ)
        env.update(cmd.env)
    with _open(cmd.stdin, "rb") as fin, _open(cmd.stdout, "wb") as fout, tempfile.TemporaryFile() as ferr, \
            tempfile.NamedTemporaryFile(prefix="kubeops-bench-", suffix=".json") as res:
        argv = [sys.executable, "-I", "-S", str(_LAUNCHER), res.name] + [str(a) for a in cmd.argv]
        proc = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=env, cwd=cmd.cwd,
                                start_new_session=True)
        timer = threading.Timer(cmd.timeout, _kill_group, (proc.pid,))
        timer.start()
        try:
            launcher_code = proc.wait()
        finally:
            timer.cancel()
        try:
            got = json.loads(Path(res.name).read_text() or "{}")
        except ValueError:
            got = {}
        code = got.get("returncode", launcher_code)
        if not got or code not in cmd.ok_codes:
            ferr.seek(0)
            tail = ferr.read()[-3000:].decode(errors="replace").strip()
            why = f"timed out after {cmd.timeout:.0f} s" if launcher_code == -signal.SIGKILL else f"exit {code}"
            raise MeasureError(f"{cmd.name}: {' '.join(map(str, cmd.argv))} failed ({why}):\n{tail}")
    return Run(wall_s=got["wall_s"], rss_mb=got["maxrss_kb"] / 1024, cpu_s=got["cpu_s"], returncode=code)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def schedule(names: Sequence[str], repeats: int) -> list[list[str]]:
    """The interleaved order: one round per repeat, each round every command once, rotated by one per round."""
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(repeats)]


def measure(commands: Sequence[Command], repeats: int = 5, warmup: int = 1,
            progress: Callable[[str], None] | None = None) -> dict[str, Stats]:
    """Run every command `warmup` times (not counted), then `repeats` interleaved rounds. Returns Stats by name."""
    if len({c.name for c in commands}) != len(commands):
        raise ValueError("command names must be unique")
    by_name = {c.name: c for c in commands}
    stats = {c.name: Stats(c.name, [str(a) for a in c.argv]) for c in commands}

    def one(cmd: Command) -> Run:
        if cmd.setup:
            cmd.setup()
        try:
            return run_once(cmd)
        finally:
            if cmd.reset:
                cmd.reset()

    for _ in range(warmup):
        for cmd in commands:
            one(cmd)
    for rnd, order in enumerate(schedule(list(by_name), repeats), 1):
        for name in order:
            run = one(by_name[name])
            stats[name].runs.append(run)
            if progress:
                progress(f"round {rnd}/{repeats} {name}: {run.wall_s:.3f} s, {run.rss_mb:.0f} MB")
    return stats


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
