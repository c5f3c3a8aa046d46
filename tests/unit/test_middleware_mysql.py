"""mysql check (plugins/module_utils/_middleware_mysql.py) on mysqladmin outputs captured on the lab's mw1 (MariaDB 10.11)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware as W
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_mysql as M

FIX = Path(__file__).parent / "fixtures" / "middleware"
SECRET = "lab-monitor-secret"


def cap(name: str) -> W.CmdResult:
    data = json.loads((FIX / f"{name}.json").read_text())
    return W.CmdResult(data["rc"], data["stdout"], data["stderr"])


class FakeMysqladmin:
    """The process boundary: answers with a capture and records argv and the option file it was given."""

    def __init__(self, name: str):
        self.result = cap(name)
        self.calls: list[list[str]] = []
        self.option_files: list[tuple[str, int]] = []

    def __call__(self, argv, env):
        self.calls.append(list(argv))
        path = next(a.split("=", 1)[1] for a in argv if a.startswith("--defaults-extra-file="))
        self.option_files.append((Path(path).read_text(), stat.S_IMODE(os.stat(path).st_mode)))
        return self.result


def test_parse_status_real_output():
    assert M.parse_status(cap("mysqladmin_ping_status_ok").stdout) == {
        "uptime_seconds": 39, "threads": 1, "questions": 11, "slow_queries": 0, "opens": 20, "open_tables": 13,
        "queries_per_second_avg": 0.282}


@pytest.mark.parametrize("name, needle", [
    ("mysqladmin_ping_status_badpw", "authentication failed for user kubeops_monitor"),
    ("mysqladmin_ping_badpw", "authentication failed for user kubeops_monitor"),
    ("mysqladmin_ping_status_refused", "cannot connect to the server: error: 'Can't connect to server on '127.0.0.1' (115)'"),
    ("mysqladmin_ping_status_nosocket", "cannot connect to the server: error: 'Can't connect to local server through socket"),
])
def test_classify_error(name, needle):
    status, text = M.classify_error(*cap(name), "kubeops_monitor")
    assert status == W.CRITICAL
    assert text.startswith(needle)


@pytest.mark.parametrize("name, opts, status, summary", [
    ("mysqladmin_ping_status_ok", M.MysqlOptions(), W.OK, "alive, up 39s, 1 threads, 0 slow queries"),
    ("mysqladmin_ping_status_ok", M.MysqlOptions(threads_warning=1), W.WARNING, "1 connected threads (warning at 1)"),
    ("mysqladmin_ping_status_ok", M.MysqlOptions(threads_warning=1, threads_critical=1), W.CRITICAL,
     "1 connected threads (critical at 1)"),
    ("mysqladmin_ping_status_ok", M.MysqlOptions(slow_queries_warning=5), W.OK, "alive, up 39s, 1 threads, 0 slow queries"),
    ("mysqladmin_ping_status_badpw", M.MysqlOptions(), W.CRITICAL,
     "authentication failed for user kubeops_monitor: the server is up but refused the credentials"),
    ("mysqladmin_ping_status_refused", M.MysqlOptions(login_host="127.0.0.1", login_port=3399), W.CRITICAL,
     "cannot connect to the server"),
])
def test_check(tmp_path, name, opts, status, summary):
    opts = opts._replace(login_user="kubeops_monitor", login_password=SECRET)
    runner = FakeMysqladmin(name)
    finding, facts = M.check(opts, runner, lambda n: f"/usr/bin/{n}", "mw1", str(tmp_path))
    assert finding["id"] == "middleware.mysql" and finding["status"] == status, finding
    assert finding["summary"].startswith(summary)
    argv = runner.calls[0]
    assert argv[3] == "/usr/bin/mysqladmin" and argv[4].startswith("--defaults-extra-file=") and argv[-2:] == ["ping", "status"]
    assert SECRET not in " ".join(argv)
    text, mode = runner.option_files[0]
    assert mode == 0o600 and f'password="{SECRET}"' in text and 'user="kubeops_monitor"' in text
    assert list(tmp_path.iterdir()) == []  # the option file is gone
    assert SECRET not in json.dumps([finding, facts])


def test_tool_output_echoing_the_password_is_redacted(tmp_path):
    class Echo(FakeMysqladmin):
        def __call__(self, argv, env):
            super().__call__(argv, env)
            return W.CmdResult(1, "", f"error: 'Access denied for user 'x' (password {SECRET})'")
    finding, facts = M.check(M.MysqlOptions(login_user="x", login_password=SECRET), Echo("mysqladmin_ping_status_badpw"),
                             lambda n: n, None, str(tmp_path))
    assert SECRET not in json.dumps([finding, facts])


@pytest.mark.parametrize("opts, expected", [
    (M.MysqlOptions(), ["--connect-timeout=10", "ping", "status"]),
    (M.MysqlOptions(login_host="10.1.1.5", login_port=3307),
     ["--connect-timeout=10", "--protocol=tcp", "--host=10.1.1.5", "--port=3307", "ping", "status"]),
    (M.MysqlOptions(login_host="10.1.1.5", login_unix_socket="/run/mysqld/mysqld.sock"),
     ["--connect-timeout=10", "--socket=/run/mysqld/mysqld.sock", "ping", "status"]),
])
def test_argv(opts, expected):
    assert M.argv("mysqladmin", "/tmp/x.cnf", opts) == ["mysqladmin", "--defaults-extra-file=/tmp/x.cnf", *expected]


@pytest.mark.parametrize("password, line", [
    ('pa"ss', 'password="pa\\"ss"'),
    ("back\\slash", 'password="back\\\\slash"'),
    ("p#w;x y", 'password="p#w;x y"'),
])
def test_option_file_quoting(password, line):
    assert line in M.option_file_text(M.MysqlOptions(login_password=password)).splitlines()


def test_missing_tool_is_unknown():
    finding, _facts = M.check(M.MysqlOptions(), FakeMysqladmin("mysqladmin_ping_status_ok"), lambda n: None, "mw1")
    assert finding["status"] == W.UNKNOWN and "mysqladmin not found" in finding["summary"]


@pytest.mark.parametrize("opts, message", [
    (M.MysqlOptions(login_port=0), "login_port"),
    (M.MysqlOptions(threads_warning=400, threads_critical=300), "threads_warning: 400 is above threads_critical"),
    (M.MysqlOptions(connect_timeout=0), "connect_timeout"),
    (M.MysqlOptions(login_password="a\nb"), "login_password: must not contain a line break"),
])
def test_bad_options(opts, message):
    with pytest.raises(W.MiddlewareError, match=message):
        M.check(opts, FakeMysqladmin("mysqladmin_ping_status_ok"), lambda n: n, None)


def test_bad_option_message_does_not_echo_the_password():
    with pytest.raises(W.MiddlewareError) as exc:
        M.validate(M.MysqlOptions(login_password="sec\nret"))
    assert "sec" not in str(exc.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_status_fuzz(data):
    values = M.parse_status(data.decode("utf-8", "replace"))
    assert set(values) <= set(M.STATUS_KEYS.values())


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len(cap("mysqladmin_ping_status_ok").stdout)))
def test_parse_status_truncated(cut):
    values = M.parse_status(cap("mysqladmin_ping_status_ok").stdout[:cut])
    assert all(isinstance(v, (int, float)) for v in values.values())
