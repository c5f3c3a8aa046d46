# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one "wait until" of the collection. PRIVATE to the collection: not a public API.

``wait_until(predicate, timeout, interval, message)`` calls ``predicate()`` until it returns something truthy and
returns that value, or raises ``WaitTimeout`` once ``timeout`` seconds have passed. The predicate is always asked
at least once, and once more at the deadline, so a wait never gives up without a last look. To stop waiting early
(an error that waiting cannot cure), the predicate raises. ``WaitTimeout.last`` holds the predicate's last answer,
so callers can say what they were still seeing. Standard library only; the clock and sleep are injectable for tests.
"""
from __future__ import annotations

import time
import typing as t

T = t.TypeVar("T")


class WaitTimeout(Exception):
    """The condition did not come true before the deadline; ``last`` is the predicate's last answer."""

    def __init__(self, message: str, last: t.Any = None, attempts: int = 0, waited: float = 0.0):
        super().__init__(message)
        self.last = last
        self.attempts = attempts
        self.waited = waited


def wait_until(predicate: t.Callable[[], T], timeout: float, interval: float = 2.0,
               message: str | t.Callable[[t.Any], str] = "condition not met",
               clock: t.Callable[[], float] = time.monotonic,
               sleep: t.Callable[[float], None] = time.sleep) -> T:
    """Return the first truthy value of ``predicate()``; raise WaitTimeout after ``timeout`` seconds.

    ``message`` is the text of the timeout (a callable gets the last answer, to describe it); the error says how
    long it waited. ``interval`` is the pause between two calls, shortened so that the last call is at the deadline.
    """
    if timeout < 0:
        raise ValueError(f"timeout {timeout} must be 0 or more seconds")
    if interval <= 0:
        raise ValueError(f"interval {interval} must be more than 0 seconds")
    started = clock()
    deadline = started + timeout
    attempts = 0
    while True:
        value = predicate()
        attempts += 1
        if value:
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            text = message(value) if callable(message) else message
            waited = clock() - started
            raise WaitTimeout(f"{text} (gave up after {waited:.0f}s, {attempts} attempt{'s' if attempts != 1 else ''})",
                              last=value, attempts=attempts, waited=waited)
        sleep(min(interval, remaining))
