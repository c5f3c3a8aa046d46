# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rate limit of unit restarts, read from the controller's audit log. PRIVATE to the collection.

Restarting a crash-looping component again and again makes an incident worse (it hides the first error,
floods the logs, and a kube-apiserver or etcd restarted in a loop takes the cluster with it). The audit log
already records every real restart this collection did; ``recent_restarts()`` counts those of one unit on one
host within a window, and the restart step refuses once the count reaches its limit.

Control-plane and etcd units (``SERIAL_UNITS``) are restarted on one host at a time, whatever ``serial`` or forks
the caller uses: the restart holds a lock on the controller (``serial_lock``, a file beside the audit log) from
reading the log to the end of its health wait (apiserver ``/readyz``, etcd ``endpoint health``, the healthz ports
of controller-manager and scheduler), and writes its result as a ``unit_health`` line. The next host's restart of
that unit finds, under the same lock, the last restart on another host (``unconfirmed_restart``); unless a health
line says it became healthy, that host is probed again and the restart refused while it is not.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import parse_lines

MODULE = "kubeops.runbook.systemd_unit_restart"
ACTION = "restart_unit"
HEALTH_ACTION = "unit_health"
TAIL_BYTES = 8 * 1024 * 1024   # restarts of the last hour are at the end of the log
MAX_WINDOW_SECONDS = 7 * 24 * 3600
# unit -> how its health is probed; these are restarted on one host at a time
SERIAL_UNITS = {"kube-apiserver.service": "apiserver", "etcd.service": "etcd",
                "kube-controller-manager.service": "controller-manager", "kube-scheduler.service": "scheduler"}
HEALTH_URLS = {"apiserver": "https://{address}:6443/readyz", "controller-manager": "https://{address}:10257/healthz",
               "scheduler": "https://{address}:10259/healthz", "etcd": "https://{address}:2379"}


class RestartLimitError(ValueError):
    """Bad limit or window; the message names the value."""


def unit_name(name: str) -> str:
    """``kubelet`` and ``kubelet.service`` are the same unit."""
    name = (name or "").strip()
    if not name or "/" in name or any(c.isspace() for c in name):
        raise RestartLimitError(f"name {name!r} is not a systemd unit name")
    return name if "." in name else f"{name}.service"


def parse_time(value: t.Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def check_window(window_seconds: t.Any) -> int:
    """``window_seconds`` as an int of 1 to 7 days; RestartLimitError (one line) otherwise."""
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, int) \
            or not 1 <= window_seconds <= MAX_WINDOW_SECONDS:
        raise RestartLimitError(f"window_seconds must be 1 to {MAX_WINDOW_SECONDS} (7 days), got {window_seconds!r}")
    return window_seconds


def validate_limits(max_restarts: t.Any, window_seconds: t.Any) -> None:
    """RestartLimitError (one line naming the value) unless max_restarts is 1 to 1000 and the window 1 s to 7 days."""
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or not 1 <= max_restarts <= 1000:
        raise RestartLimitError(f"max_restarts must be 1 to 1000, got {max_restarts!r}")
    check_window(window_seconds)


def recent_restarts(records: t.Iterable[dict], host: str, unit: str, now: dt.datetime, window_seconds: int) -> list[dict]:
    """Real (not check-mode) restarts of ``unit`` on ``host`` by this collection within the window, oldest first."""
    check_window(window_seconds)
    unit = unit_name(unit)
    since = now - dt.timedelta(seconds=window_seconds)
    found = []
    for item in records:
        if item.get("module") != MODULE or item.get("action") != ACTION or item.get("check_mode"):
            continue
        if item.get("host") != host:
            continue
        try:
            if unit_name(str(item.get("target") or "")) != unit:
                continue
        except RestartLimitError:
            continue
        when = parse_time(item.get("time"))
        if when is not None and since <= when <= now + dt.timedelta(minutes=5):
            found.append(item)
    return sorted(found, key=lambda i: i.get("time") or "")


def read_tail(path: str, limit: int = TAIL_BYTES) -> str:
    """The end of the audit log (empty when there is none yet); a cut first line is dropped."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text


def check_limit(path: str, host: str, unit: str, max_restarts: int, window_seconds: int,
                now: dt.datetime | None = None) -> list[dict]:
    """The recent restarts; raises RestartLimitError when the limit is reached (the message says so in one line)."""
    validate_limits(max_restarts, window_seconds)
    now = now or dt.datetime.now(dt.timezone.utc)
    recent = recent_restarts(parse_lines(read_tail(path)), host, unit, now, window_seconds)
    if len(recent) >= max_restarts:
        raise RestartLimitReached(
            f"refusing to restart {unit_name(unit)} on {host}: restarted {len(recent)} times in the last "
            f"{window_seconds // 60 if window_seconds % 60 == 0 else window_seconds}"
            f"{' min' if window_seconds % 60 == 0 else ' s'} (max_restarts={max_restarts}, last at "
            f"{recent[-1].get('time')}, audit log {path}); a unit that keeps failing needs a person, not another restart")
    return recent


class RestartLimitReached(RestartLimitError):
    """The unit was restarted too often recently; nothing was done."""


def _same_unit(item: dict, unit: str) -> bool:
    try:
        return unit_name(str(item.get("target") or "")) == unit
    except RestartLimitError:
        return False


def unconfirmed_restart(records: t.Iterable[dict], host: str, unit: str, now: dt.datetime,
                        window_seconds: int) -> dict | None:
    """The last real restart of ``unit`` by this collection within the window when it was on another host and no
    later ``unit_health`` line of that host says it became healthy again; else None."""
    check_window(window_seconds)
    unit = unit_name(unit)
    since = now - dt.timedelta(seconds=window_seconds)
    last: dict | None = None
    healthy_after_last = False
    for item in records:
        if item.get("module") != MODULE or item.get("check_mode") or not _same_unit(item, unit):
            continue
        when = parse_time(item.get("time"))
        if when is None or when < since:
            continue
        if item.get("action") == ACTION:
            last, healthy_after_last = item, False
        elif item.get("action") == HEALTH_ACTION and last is not None and item.get("host") == last.get("host"):
            healthy_after_last = bool((item.get("after") or {}).get("healthy"))
    if last is None or last.get("host") == host or healthy_after_last:
        return None
    return last


def health_probe(kind: str, address: str, settings: dict) -> tuple[str, dict]:
    """(module, arguments) that probe the health of ``kind`` at ``address``, run on a control-plane or etcd host.

    ``settings``: ``apiserver_ca`` (CA of the apiserver certificate), ``etcdctl``, ``etcd_cacert``, ``etcd_cert``,
    ``etcd_key``. The controller-manager's and scheduler's serving certificates are self-signed by default: their
    ``/healthz`` is read without verifying them.
    """
    url = HEALTH_URLS[kind].format(address=address)
    if kind == "etcd":
        argv = ["env", "ETCDCTL_API=3", settings.get("etcdctl") or "etcdctl", f"--endpoints={url}",
                f"--cacert={settings['etcd_cacert']}", f"--cert={settings['etcd_cert']}", f"--key={settings['etcd_key']}",
                "--dial-timeout=3s", "--command-timeout=5s", "endpoint", "health"]
        return "ansible.builtin.command", {"argv": argv}
    args: dict[str, t.Any] = {"url": url, "return_content": True, "timeout": 5, "status_code": [200]}
    if kind == "apiserver":
        args["ca_path"] = settings["apiserver_ca"]
    else:
        args["validate_certs"] = False
    return "ansible.builtin.uri", args


def probe_result(kind: str, result: dict) -> tuple[bool, str]:
    """(healthy, one line saying why) from the probe module's result."""
    if kind == "etcd":
        # etcdctl 3.4 prints the verdict ("<url> is healthy: ..." / "is unhealthy: ...") on stderr, after its log lines
        lines = [ln.strip() for k in ("stdout", "stderr") for ln in str(result.get(k) or "").splitlines() if ln.strip()]
        verdict = next((ln for ln in lines if " is healthy" in ln or " is unhealthy" in ln), None)
        healthy = result.get("rc") == 0 and verdict is not None and " is healthy" in verdict
        return healthy, (verdict or (lines[-1] if lines else str(result.get("msg") or "no output")))[:300]
    content = str(result.get("content") or "").strip()
    if result.get("status") == 200 and content == "ok":
        return True, "ok"
    return False, (f"HTTP {result.get('status')}: {content[:200]}" if result.get("status") and result.get("status") != -1
                   else str(result.get("msg") or "no answer"))[:300]


@contextlib.contextmanager
def serial_lock(path: str, timeout: float, sleep: t.Callable[[float], None] = time.sleep) -> t.Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0640 when missing) while the block runs; every process of every
    run on this controller that restarts a control-plane or etcd unit waits here for the one before it."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RestartLimitError(f"another restart of a control-plane or etcd unit held {path} for more than "
                                            f"{timeout:.0f}s; refusing to restart at the same time") from None
                sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
