"""The one "wait until" helper (plugins/module_utils/_waiter.py), on a fake clock."""
from __future__ import annotations

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _waiter as W


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_truthy_answer():
    clock = Clock()
    answers = iter([None, False, {}, {"done": True}, "never asked"])
    assert W.wait_until(lambda: next(answers), 60, 2, clock=clock, sleep=clock.sleep) == {"done": True}
    assert clock.sleeps == [2, 2, 2]


def test_asks_at_least_once_even_with_zero_timeout():
    clock = Clock()
    assert W.wait_until(lambda: "ready", 0, clock=clock, sleep=clock.sleep) == "ready"
    with pytest.raises(W.WaitTimeout) as caught:
        W.wait_until(lambda: None, 0, clock=clock, sleep=clock.sleep)
    assert caught.value.attempts == 1 and clock.sleeps == []


def test_last_look_is_at_the_deadline_and_message_describes_the_last_answer():
    clock = Clock()
    calls: list[float] = []

    def predicate():
        calls.append(clock.now)
        return 0

    with pytest.raises(W.WaitTimeout) as caught:
        W.wait_until(predicate, 5, 2, message=lambda last: f"still {last!r}", clock=clock, sleep=clock.sleep)
    assert calls == [1000.0, 1002.0, 1004.0, 1005.0]  # the last pause is shortened to end at the deadline
    assert clock.sleeps == [2, 2, 1]
    assert str(caught.value) == "still 0 (gave up after 5s, 4 attempts)"
    assert caught.value.last == 0 and caught.value.attempts == 4


def test_a_predicate_that_raises_stops_the_wait():
    clock = Clock()

    def predicate():
        raise RuntimeError("not curable by waiting")

    with pytest.raises(RuntimeError, match="not curable"):
        W.wait_until(predicate, 60, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


@pytest.mark.parametrize("timeout, interval", [(-1, 2), (10, 0), (10, -1)])
def test_bad_arguments(timeout, interval):
    with pytest.raises(ValueError):
        W.wait_until(lambda: True, timeout, interval)
