# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waves and the maintenance window of the node maintenance runbook. PRIVATE to the collection: not a public API.

- ``waves(hosts, serial)`` splits the targeted hosts into the waves the runbook works through one after the other.
  ``serial`` reads like Ansible's play keyword of that name: a number of hosts, or a percentage of them (rounded
  down, at least one host).
- ``window_state(window, now)`` says whether the clock time ``now`` (``HH:MM``) is inside ``window``
  (``HH:MM-HH:MM``, the end excluded); a window whose end is before its start runs over midnight (``22:00-06:00``).

Pure functions; bad input raises ``MaintenanceError`` with a one-line message naming the bad value.
"""
from __future__ import annotations

import re
import typing as t

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class MaintenanceError(ValueError):
    """Bad input; the message names the bad value."""


def serial_size(serial: t.Any, total: int) -> int:
    """How many hosts one wave holds: ``serial`` hosts, or ``serial`` percent of ``total`` (rounded down, at least 1)."""
    bad = MaintenanceError(f"maintenance_serial {serial!r} must be a number of nodes (1 or more) or a percentage "
                           f"such as 25%")
    if isinstance(serial, bool) or serial is None:
        raise bad
    if isinstance(serial, str):
        match = _PERCENT.match(serial)
        if match:
            percent = float(match.group(1))
            if not 0 < percent <= 100:
                raise bad
            return max(1, int(total * percent / 100))
        if not serial.strip().isdigit():
            raise bad
        serial = int(serial.strip())
    if isinstance(serial, float) and serial.is_integer():
        serial = int(serial)
    if not isinstance(serial, int) or serial < 1:
        raise bad
    return serial


def waves(hosts: t.Sequence[str], serial: t.Any) -> list[list[str]]:
    """The hosts in waves of ``serial`` (see serial_size), in the order given; duplicates are dropped."""
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, t.Sequence):
        raise MaintenanceError(f"the hosts to put in waves must be a list, got {type(hosts).__name__}")
    ordered = list(dict.fromkeys(str(h) for h in hosts))
    if not ordered:
        return []
    size = serial_size(serial, len(ordered))
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _minutes(text: str, window: str) -> int:
    match = _CLOCK.match(text.strip())
    if not match:
        raise MaintenanceError(f"maintenance_window {window!r} must be HH:MM-HH:MM (24-hour clock), "
                               f"for example 22:00-06:00")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_window(window: str) -> tuple[int, int]:
    """(start, end) in minutes after midnight; the end may be smaller than the start (over midnight)."""
    if not isinstance(window, str) or window.count("-") != 1:
        raise MaintenanceError(f"maintenance_window {window!r} must be HH:MM-HH:MM (24-hour clock), "
                               f"for example 22:00-06:00")
    start_text, end_text = window.split("-")
    start, end = _minutes(start_text, window), _minutes(end_text, window)
    if start == end:
        raise MaintenanceError(f"maintenance_window {window!r} starts and ends at the same time: give a window that "
                               f"lasts, or force it with maintenance_force_window=true")
    return start, end


def window_state(window: str, now: str) -> dict:
    """Whether ``now`` (HH:MM) is inside ``window`` and how many minutes are left, or until it opens."""
    start, end = parse_window(window)
    if not isinstance(now, str) or not _CLOCK.match(now.strip()):
        raise MaintenanceError(f"the time {now!r} to compare with maintenance_window must be HH:MM")
    current = _minutes(now, window)
    length = (end - start) % 1440
    since_start = (current - start) % 1440
    inside = since_start < length
    return {
        "window": window.strip(),
        "now": now.strip(),
        "inside": inside,
        "minutes_left": length - since_start if inside else 0,
        "opens_in": 0 if inside else (start - current) % 1440,
    }
