"""Small helpers: running commands with visible progress, atomic directories."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

_START = time.monotonic()


def log(msg: str) -> None:
    print(f"[lab {time.monotonic() - _START:6.1f}s] {msg}", flush=True)


class LabError(RuntimeError):
    """Something the lab needs failed; the message says what."""


LOCK_FILE = Path(os.environ.get("KUBEOPS_LAB_LOCK", "/run/kubeops-lab.lock"))
_LOCK_HELD = "KUBEOPS_LAB_LOCK_HELD"


@contextlib.contextmanager
def lab_lock():
    """Exclusive use of the one lab of this machine: `lab up/down` and a test session take it, so two runs never
    rebuild, break or repair the lab under each other. Re-entrant: a process that holds it (and its children,
    through the environment) passes straight through."""
    if os.environ.get(_LOCK_HELD) == str(os.getpid()) or os.environ.get(_LOCK_HELD + "_BY_PARENT") == "1":
        yield
        return
    fd = os.open(LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another run holds the lab ({LOCK_FILE}); waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.environ[_LOCK_HELD] = str(os.getpid())
        os.environ[_LOCK_HELD + "_BY_PARENT"] = "1"
        try:
            yield
        finally:
            os.environ.pop(_LOCK_HELD, None)
            os.environ.pop(_LOCK_HELD + "_BY_PARENT", None)
    finally:
        os.close(fd)


def run(cmd, check: bool = True, capture: bool = False, env: dict | None = None, cwd=None,
        quiet: bool = False, timeout: float | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    cmd = [str(c) for c in cmd]
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    proc = subprocess.run(cmd, check=False, text=True, env=full_env, cwd=cwd, timeout=timeout, input=input,
                          stdout=subprocess.PIPE if (capture or quiet) else None,
                          stderr=subprocess.PIPE if (capture or quiet) else None)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip()[-2000:] if (capture or quiet) else ""
        raise LabError(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{detail}")
    return proc


def run_logged(cmd, logfile: Path, what: str, env: dict | None = None, cwd=None, heartbeat: float = 30) -> None:
    """Run a long command with its output in logfile, printing a heartbeat so the user sees it is alive."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.monotonic()
    with open(logfile, "w") as fh:
        proc = subprocess.Popen([str(c) for c in cmd], stdout=fh, stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
        while True:
            try:
                rc = proc.wait(timeout=heartbeat)
                break
            except subprocess.TimeoutExpired:
                log(f"{what}: still running ({time.monotonic() - start:.0f}s, log {logfile})")
    if rc != 0:
        tail = logfile.read_text(errors="replace")[-3000:]
        raise LabError(f"{what} failed ({rc}); last output:\n{tail}")
    log(f"{what}: done in {time.monotonic() - start:.0f}s")


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished directory into place (the cache only ever holds complete results)."""
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def need_root() -> None:
    if os.geteuid() != 0:
        sys.exit("the lab needs root (network namespaces, overlay mounts, systemd-nspawn)")
