# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rate limit of unit restarts, read from the controller's audit log. PRIVATE to the collection.

Restarting a crash-looping component again and again makes an incident worse (it hides the first error,
floods the logs, and a kube-apiserver or etcd restarted in a loop takes the cluster with it). The audit log
already records every real restart this collection did; ``recent_restarts()`` counts those of one unit on one
host within a window, and the restart step refuses once the count reaches its limit.
"""
from __future__ import annotations

import datetime as dt
import os
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import parse_lines

MODULE = "kubeops.runbook.systemd_unit_restart"
ACTION = "restart_unit"
TAIL_BYTES = 8 * 1024 * 1024   # restarts of the last hour are at the end of the log


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


def recent_restarts(records: t.Iterable[dict], host: str, unit: str, now: dt.datetime, window_seconds: int) -> list[dict]:
    """Real (not check-mode) restarts of ``unit`` on ``host`` by this collection within the window, oldest first."""
    if window_seconds < 1:
        raise RestartLimitError(f"window_seconds must be at least 1, got {window_seconds}")
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
    if max_restarts < 1:
        raise RestartLimitError(f"max_restarts must be at least 1, got {max_restarts}")
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
