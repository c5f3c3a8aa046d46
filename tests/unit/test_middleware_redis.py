"""redis check (plugins/module_utils/_middleware_redis.py) on outputs captured from redis-cli 7.0 on the lab's mw1."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware as W
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_redis as R

FIX = Path(__file__).parent / "fixtures" / "middleware"


def cap(name: str) -> W.CmdResult:
    data = json.loads((FIX / f"{name}.json").read_text())
    return W.CmdResult(data["rc"], data["stdout"], data["stderr"])


class FakeRedisCli:
    """The process boundary: answers PING/INFO with captured outputs and records every call."""

    def __init__(self, ping: str, info: str | None = None):
        self.answers = {"PING": cap(ping), "INFO": cap(info) if info else W.CmdResult(1, "", "")}
        self.calls: list[tuple[list[str], dict | None]] = []

    def __call__(self, argv, env):
        self.calls.append((list(argv), env))
        return self.answers[argv[-1]]


def which_all(name):
    return f"/usr/bin/{name}"


def which_none(name):
    return None


def info_of(name: str) -> dict:
    return R.flat(R.parse_info(cap(name).stdout))


def test_parse_info_real_output():
    sections = R.parse_info(cap("redis_info_ok").stdout)
    assert {"server", "clients", "memory", "persistence", "replication", "keyspace"} <= set(sections)
    assert sections["server"]["redis_version"] == "7.0.15"
    assert sections["replication"]["role"] == "master"
    assert sections["persistence"]["rdb_last_bgsave_status"] == "ok"
    assert "\r" not in sections["server"]["tcp_port"]


@pytest.mark.parametrize("ping, password, status, text", [
    ("redis_ping_ok", False, W.OK, "PONG"),
    ("redis_ping_auth_ok", True, W.OK, "PONG"),
    ("redis_ping_refused", False, W.CRITICAL, "not reachable: Could not connect to Redis at 127.0.0.1:6390: Connection refused"),
    ("redis_ping_noauth", False, W.CRITICAL, "authentication required but no password was given"),
    ("redis_ping_wrongpass", True, W.CRITICAL, "authentication failed"),
    ("redis_ping_noauth_needed", True, W.WARNING, "a password was given but the server has none configured (requirepass unset)"),
])
def test_classify_ping(ping, password, status, text):
    result = cap(ping)
    assert R.classify_ping(result.rc, result.stdout, result.stderr, password) == (status, text)


def test_classify_ping_timeout():
    assert R.classify_ping(124, "", "", False)[0] == W.CRITICAL


@pytest.mark.parametrize("info, opts, status, needle", [
    ("redis_info_ok", R.RedisOptions(), W.OK, None),
    ("redis_info_maxmemory_high", R.RedisOptions(), W.CRITICAL, "% of maxmemory (critical at 90%)"),
    ("redis_info_maxmemory_high", R.RedisOptions(memory_critical_percent=95), W.WARNING, "(warning at 80%)"),
    ("redis_info_maxmemory_high", R.RedisOptions(memory_warning_percent=95, memory_critical_percent=99), W.OK, None),
    ("redis_info_ok", R.RedisOptions(clients_warning=1), W.WARNING, "connected_clients 1 (warning at 1)"),
    ("redis_info_ok", R.RedisOptions(clients_critical=1), W.CRITICAL, "connected_clients 1 (critical at 1)"),
    ("redis_info_ok", R.RedisOptions(expected_role="replica"), W.WARNING, "role is master, expected replica"),
    ("redis_info_ok", R.RedisOptions(expected_role="master"), W.OK, None),
])
def test_evaluate_info(info, opts, status, needle):
    problems = W.Problems()
    problems.add(W.OK, "PONG")
    facts = R.evaluate_info(info_of(info), opts, problems)
    assert problems.status == status
    if needle:
        assert needle in problems.summary("healthy")
    assert facts["role"] == "master"


@pytest.mark.parametrize("line, value, needle", [
    ("rdb_last_bgsave_status:ok", "err", "last RDB background save failed (rdb_last_bgsave_status=err)"),
    ("aof_enabled:0", "1", None),  # AOF on, all statuses ok in the capture
])
def test_persistence_failures(line, value, needle):
    # The real INFO output with one field changed the way a failing server reports it.
    text = cap("redis_info_ok").stdout.replace(line, f"{line.split(':')[0]}:{value}")
    problems = W.Problems()
    facts = R.evaluate_info(R.flat(R.parse_info(text)), R.RedisOptions(), problems)
    if needle:
        assert problems.status == W.CRITICAL and needle in problems.summary("")
    else:
        assert facts["aof_enabled"] is True and problems.status == W.OK


def test_replica_with_link_down():
    text = cap("redis_info_ok").stdout.replace("role:master", "role:slave\r\nmaster_host:10.0.0.5\r\nmaster_port:6379\r\n"
                                               "master_link_status:down")
    problems = W.Problems()
    R.evaluate_info(R.flat(R.parse_info(text)), R.RedisOptions(), problems)
    assert problems.status == W.CRITICAL
    assert "replica link to master 10.0.0.5:6379 is down" in problems.summary("")


def test_check_healthy_passes_password_in_env_only():
    cli = FakeRedisCli("redis_ping_auth_ok", "redis_info_maxmemory_high")
    finding, facts = R.check(R.RedisOptions(login_port=6391, login_password="kubeops-fixture-pw",
                                            memory_critical_percent=None, memory_warning_percent=None),
                             cli, which_all, "mw1")
    assert finding["id"] == "middleware.redis" and finding["target"] == "redis:6391" and finding["host"] == "mw1"
    assert finding["status"] == W.OK, finding
    assert finding["summary"].startswith("PONG; role master")
    assert [argv[-1] for argv, _env in cli.calls] == ["PING", "INFO"]
    for argv, env in cli.calls:
        assert "kubeops-fixture-pw" not in " ".join(argv)
        assert env == {"REDISCLI_AUTH": "kubeops-fixture-pw"}
        assert argv[:4] == ["/usr/bin/timeout", "--kill-after=5", "30", "/usr/bin/redis-cli"]
    assert "kubeops-fixture-pw" not in json.dumps([finding, facts])


def test_check_refused_is_critical_and_skips_info():
    cli = FakeRedisCli("redis_ping_refused")
    finding, _facts = R.check(R.RedisOptions(login_port=6390), cli, which_all, "mw1")
    assert finding["status"] == W.CRITICAL
    assert "Connection refused" in finding["summary"]
    assert len(cli.calls) == 1


def test_check_wrong_password():
    cli = FakeRedisCli("redis_ping_wrongpass")
    finding, _facts = R.check(R.RedisOptions(login_password="wrong-pw"), cli, which_all, None)
    assert (finding["status"], finding["summary"]) == (W.CRITICAL, "authentication failed")


def test_missing_client_is_unknown():
    finding, _facts = R.check(R.RedisOptions(), FakeRedisCli("redis_ping_ok"), which_none, "mw1")
    assert finding["status"] == W.UNKNOWN
    assert "redis-cli not found" in finding["summary"]


@pytest.mark.parametrize("opts, message", [
    (R.RedisOptions(login_port=0), "login_port: must be a TCP port"),
    (R.RedisOptions(login_port=70000), "login_port: must be a TCP port"),
    (R.RedisOptions(memory_warning_percent=120), "memory_warning_percent: must be a percentage"),
    (R.RedisOptions(memory_warning_percent=95, memory_critical_percent=90), "memory_warning_percent: 95 is above"),
    (R.RedisOptions(clients_warning=-1), "clients_warning: must be greater than zero"),
    (R.RedisOptions(clients_warning=10, clients_critical=5), "clients_warning: 10 is above"),
    (R.RedisOptions(command_timeout=0), "command_timeout"),
    (R.RedisOptions(expected_role="leader"), "expected_role"),
])
def test_bad_options(opts, message):
    with pytest.raises(W.MiddlewareError, match=message):
        R.check(opts, FakeRedisCli("redis_ping_ok"), which_all, None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_parse_info_fuzz(data):
    text = data.decode("utf-8", errors="replace")
    info = R.flat(R.parse_info(text))
    problems = W.Problems()
    R.evaluate_info(info, R.RedisOptions(), problems)
    assert problems.status in (W.OK, W.WARNING, W.UNKNOWN, W.CRITICAL)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(cap("redis_info_ok").stdout)))
def test_truncated_info(cut):
    problems = W.Problems()
    R.evaluate_info(R.flat(R.parse_info(cap("redis_info_ok").stdout[:cut])), R.RedisOptions(), problems)
    assert problems.status in (W.OK, W.UNKNOWN)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-1, max_value=255), st.text(max_size=300), st.text(max_size=300), st.booleans())
def test_classify_ping_fuzz(rc, out, err, password):
    status, text = R.classify_ping(rc, out, err, password)
    assert status in (W.OK, W.WARNING, W.CRITICAL) and text


# -- vm.overcommit_memory (middleware.redis_overcommit) ------------------------------------------------------
def reads(text: str | None):
    def read(path):
        assert path == "/proc/sys/vm/overcommit_memory"
        if text is None:
            raise PermissionError(13, "Permission denied")
        return text
    return read


@pytest.mark.parametrize("value, status, words", [
    ("1\n", W.OK, "vm.overcommit_memory = 1, as redis asks"),
    ("0\n", W.WARNING, "vm.overcommit_memory = 0 (the kernel's heuristic), redis asks for 1"),
    ("2\n", W.WARNING, "vm.overcommit_memory = 2 (strict accounting), redis asks for 1"),
    ("x\n", W.UNKNOWN, "holds 'x', not 0, 1 or 2"),
    (None, W.UNKNOWN, "cannot be read (Permission denied)"),
])
def test_overcommit_finding(value, status, words):
    item = R.overcommit_finding(reads(value), "mw2")
    assert (item["id"], item["target"], item["host"], item["status"]) == (
        "middleware.redis_overcommit", "vm.overcommit_memory", "mw2", status)
    assert words in item["summary"]
    assert ("fix" in item["details"]) == (status == W.WARNING)
    if status == W.WARNING:
        assert "sysctl -w vm.overcommit_memory=1" in item["details"]["fix"] and "/etc/sysctl.d/" in item["details"]["fix"]


@pytest.mark.parametrize("login_host, local", [
    ("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("localhost", True),
    ("10.0.0.5", False), ("redis.example.com", False)])
def test_overcommit_is_judged_only_for_a_redis_on_this_host(login_host, local):
    assert R.is_local(login_host) is local
