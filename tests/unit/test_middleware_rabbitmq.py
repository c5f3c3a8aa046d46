"""rabbitmq check (plugins/module_utils/_middleware_rabbitmq.py) on rabbitmq-diagnostics 3.10.8 outputs captured on
the lab: healthy, node stopped, rabbit application stopped, disk alarm raised, run as a user without the Erlang cookie.
The check makes one ``status --formatter json`` call (one Erlang VM start)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware as W
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_rabbitmq as Q

FIX = Path(__file__).parent / "fixtures" / "middleware"


def cap(name: str) -> W.CmdResult:
    data = json.loads((FIX / f"{name}.json").read_text())
    return W.CmdResult(data["rc"], data["stdout"], data["stderr"])


class FakeDiagnostics:
    def __init__(self, status="rabbitmq_status_json"):
        self.answer = cap(status)
        self.calls: list[list[str]] = []

    def __call__(self, argv, env):
        self.calls.append(list(argv))
        assert "status" in argv
        return self.answer


def which(name):
    return f"/usr/sbin/{name}"


@pytest.mark.parametrize("name, alarms", [("rabbitmq_status_json", []), ("rabbitmq_status_json_disk_alarm", ["disk"])])
def test_status_alarms(name, alarms):
    assert Q.alarm_names(Q.parse_json(cap(name).stdout)["alarms"]) == alarms


def test_evaluate_status_real_output():
    problems = W.Problems()
    facts = Q.evaluate_status(Q.parse_json(cap("rabbitmq_status_json").stdout), Q.RabbitmqOptions(), problems)
    assert problems.status == W.OK
    assert facts["version"] == "3.10.8"
    assert facts["listeners"] == ["clustering:25672", "amqp:5672"]
    assert facts["memory_used"] == 127242240 and facts["memory_limit"] == 10110600806
    assert facts["file_descriptors_used"] == 2 and facts["file_descriptors_limit"] == 19903


@pytest.mark.parametrize("opts, status, needle", [
    (Q.RabbitmqOptions(expected_listeners=("amqp", "http")), W.CRITICAL, "no listener for http"),
    (Q.RabbitmqOptions(fd_warning_percent=0.005, fd_critical_percent=50), W.WARNING, "file descriptors 2/19903"),
    (Q.RabbitmqOptions(fd_warning_percent=0.005, fd_critical_percent=0.01), W.CRITICAL, "critical at 0.01%"),
])
def test_evaluate_status_thresholds(opts, status, needle):
    problems = W.Problems()
    Q.evaluate_status(Q.parse_json(cap("rabbitmq_status_json").stdout), opts, problems)
    assert problems.status == status and needle in problems.summary("")


@pytest.mark.parametrize("fake, status, summary", [
    (FakeDiagnostics(), W.OK, "running, no alarms, RabbitMQ 3.10.8, listeners clustering:25672, amqp:5672"),
    (FakeDiagnostics("rabbitmq_status_node_down"), W.CRITICAL,
     "node is not reachable (epmd reports: node 'rabbit' not running at all)"),
    (FakeDiagnostics("rabbitmq_status_app_stopped"), W.CRITICAL,
     "the rabbit application is not running on the node (stopped with stop_app, or still booting)"),
    (FakeDiagnostics("rabbitmq_status_json_disk_alarm"), W.CRITICAL, "resource alarm: disk (publishers are blocked)"),
    (FakeDiagnostics("rabbitmq_status_not_root"), W.UNKNOWN,
     "rabbitmq-diagnostics could not talk to the node: it must run as root or rabbitmq (it needs the Erlang cookie); use become"),
    (FakeDiagnostics("rabbitmq_check_running_not_root"), W.UNKNOWN, "rabbitmq-diagnostics could not talk to the node"),
])
def test_check(fake, status, summary):
    finding, facts = Q.check(Q.RabbitmqOptions(), fake, which, "mw1")
    assert finding["id"] == "middleware.rabbitmq" and finding["target"] == "rabbitmq"
    assert (finding["status"], finding["summary"][:len(summary)]) == (status, summary), finding
    # one call, one Erlang VM start, whatever the outcome
    assert len(fake.calls) == 1
    assert fake.calls[0][3:] == ["/usr/sbin/rabbitmq-diagnostics", "-q", "status", "--formatter", "json"]
    assert facts["running"] is (status == W.OK or "alarm" in summary)


def test_check_alarm_facts():
    _finding, facts = Q.check(Q.RabbitmqOptions(), FakeDiagnostics("rabbitmq_status_json_disk_alarm"), which, "mw1")
    assert facts["local_alarms"] == ["disk"] and facts["alarms"] == ["disk"] and facts["version"] == "3.10.8"


def test_status_without_json_is_unknown():
    fake = FakeDiagnostics()
    fake.answer = W.CmdResult(0, "not json at all\n", "")
    finding, facts = Q.check(Q.RabbitmqOptions(), fake, which, "mw1")
    assert finding["status"] == W.UNKNOWN and finding["summary"] == "status could not be read: not json at all"
    assert facts["running"] is False


def test_check_named_node():
    fake = FakeDiagnostics()
    finding, _facts = Q.check(Q.RabbitmqOptions(node="rabbit@mw1"), fake, which, "mw1")
    assert finding["target"] == "rabbit@mw1"
    assert all(call[5:7] == ["-n", "rabbit@mw1"] for call in fake.calls)


def test_missing_tool_is_unknown():
    finding, _facts = Q.check(Q.RabbitmqOptions(), FakeDiagnostics(), lambda n: None, "mw1")
    assert finding["status"] == W.UNKNOWN and "rabbitmq-diagnostics not found" in finding["summary"]


@pytest.mark.parametrize("opts, message", [
    (Q.RabbitmqOptions(node="mw1"), "node: must look like name@host"),
    (Q.RabbitmqOptions(fd_warning_percent=0), "fd_warning_percent"),
    (Q.RabbitmqOptions(fd_warning_percent=99, fd_critical_percent=90), "fd_warning_percent: 99 is above"),
    (Q.RabbitmqOptions(command_timeout=0), "command_timeout"),
])
def test_bad_options(opts, message):
    with pytest.raises(W.MiddlewareError, match=message):
        Q.check(opts, FakeDiagnostics(), which, None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_parsers_fuzz(data):
    text = data.decode("utf-8", "replace")
    status = Q.parse_json(text)
    problems = W.Problems()
    if status is not None:
        Q.evaluate_status(status, Q.RabbitmqOptions(), problems)
    Q.classify_error(1, text, text, "check_running")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(cap("rabbitmq_status_json").stdout)))
def test_truncated_status(cut):
    assert Q.parse_json(cap("rabbitmq_status_json").stdout[:cut]) is None or cut >= len(cap("rabbitmq_status_json").stdout.strip())


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=20), c, max_size=5), max_leaves=30))
def test_evaluate_status_any_json(doc):
    # status --formatter json of another RabbitMQ version may have any shape: never an exception.
    problems = W.Problems()
    Q.evaluate_status(doc if isinstance(doc, dict) else {"alarms": doc, "listeners": doc}, Q.RabbitmqOptions(), problems)


@pytest.mark.parametrize("key", ["vm_memory_calculation_strategy", "memory", "file_descriptors", "alarms", "listeners"])
@pytest.mark.parametrize("value", [[1, 2], {"a": [1]}, "text", 3, None])
def test_evaluate_status_odd_field_types(key, value):
    status = Q.parse_json(cap("rabbitmq_status_json").stdout)
    status[key] = value
    Q.evaluate_status(status, Q.RabbitmqOptions(), W.Problems())
