# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MySQL / MariaDB checks through ``mysqladmin ping status``. PRIVATE to the collection: not a public API.

Credentials go into a temporary option file (mode 0600, removed afterwards) passed with
``--defaults-extra-file``; the password never appears on a command line.
"""
from __future__ import annotations

import os
import re
import tempfile
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import (
    CRITICAL, OK, UNKNOWN, WARNING, MiddlewareError, Problems, Runner, Which, check_order, check_positive,
    first_error_line, middleware_finding, module_runner, redact, wrap_timeout,
)

# Uptime: 2271  Threads: 1  Questions: 12  Slow queries: 0  Opens: 33  Open tables: 26  Queries per second avg: 0.005
STATUS_RE = re.compile(r"([A-Za-z][A-Za-z ]*?):\s+([0-9.]+)")
STATUS_KEYS = {
    "Uptime": "uptime_seconds", "Threads": "threads", "Questions": "questions", "Slow queries": "slow_queries",
    "Opens": "opens", "Flush tables": "flush_tables", "Open tables": "open_tables",
    "Queries per second avg": "queries_per_second_avg",
}
AUTH_MARKERS = ("Access denied",)
DOWN_MARKERS = ("Can't connect", "Connection refused", "Lost connection", "No such file or directory")


class MysqlOptions(t.NamedTuple):
    login_user: str | None = None
    login_password: str | None = None
    login_host: str | None = None
    login_port: int = 3306
    login_unix_socket: str | None = None
    mysqladmin_bin: str = "mysqladmin"
    connect_timeout: int = 10
    threads_warning: int | None = 100
    threads_critical: int | None = 300
    slow_queries_warning: int | None = None
    command_timeout: int = 30


def validate(opts: MysqlOptions) -> None:
    if not 1 <= opts.login_port <= 65535:
        raise MiddlewareError(f"login_port: must be a TCP port (1-65535), got {opts.login_port}")
    check_positive("connect_timeout", opts.connect_timeout)
    check_positive("command_timeout", opts.command_timeout)
    check_positive("threads_warning", opts.threads_warning)
    check_positive("threads_critical", opts.threads_critical)
    check_positive("slow_queries_warning", opts.slow_queries_warning)
    check_order("threads_warning", opts.threads_warning, "threads_critical", opts.threads_critical)
    for option in ("login_user", "login_password"):
        value = getattr(opts, option)
        if value is not None and ("\n" in value or "\r" in value):
            raise MiddlewareError(f"{option}: must not contain a line break")


def option_file_text(opts: MysqlOptions) -> str:
    """The [client] option group with the credentials (values quoted, backslash and quote escaped)."""
    lines = ["[client]"]
    for key, value in (("user", opts.login_user), ("password", opts.login_password)):
        if value is not None:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


def write_option_file(opts: MysqlOptions, directory: str | None) -> str:
    fd, path = tempfile.mkstemp(prefix="kubeops-mysql-", suffix=".cnf", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, option_file_text(opts).encode("utf-8"))
    finally:
        os.close(fd)
    return path


def argv(tool: str, defaults_file: str, opts: MysqlOptions) -> list[str]:
    # --defaults-extra-file must come first on the command line.
    args = [tool, f"--defaults-extra-file={defaults_file}", f"--connect-timeout={opts.connect_timeout}"]
    if opts.login_unix_socket:
        args.append(f"--socket={opts.login_unix_socket}")
    elif opts.login_host:
        args += ["--protocol=tcp", f"--host={opts.login_host}", f"--port={opts.login_port}"]
    return args + ["ping", "status"]


def parse_status(text: str) -> dict:
    """Parse the ``mysqladmin status`` line into numbers (ints, or a float for the average)."""
    values: dict = {}
    for line in text.splitlines():
        if "Uptime:" not in line:
            continue
        for key, raw in STATUS_RE.findall(line):
            name = STATUS_KEYS.get(key.strip())
            if not name:
                continue
            try:
                values[name] = float(raw) if "." in raw else int(raw)
            except ValueError:
                continue
    return values


def classify_error(rc: int, stdout: str, stderr: str, user: str | None) -> tuple[str, str]:
    text = f"{stdout}\n{stderr}"
    if rc == 124:
        return CRITICAL, "mysqladmin timed out"
    if any(marker in text for marker in AUTH_MARKERS):
        return CRITICAL, f"authentication failed for user {user or '(default)'}: the server is up but refused the credentials"
    line = first_error_line(*(ln for ln in text.splitlines() if ln.strip().startswith("error:")), stderr, stdout)
    if any(marker in text for marker in DOWN_MARKERS):
        return CRITICAL, f"cannot connect to the server: {line}"
    return CRITICAL, f"mysqladmin failed (rc={rc}): {line or 'no output'}"


def evaluate(values: dict, opts: MysqlOptions, problems: Problems) -> None:
    threads = values.get("threads")
    if threads is not None:
        if opts.threads_critical is not None and threads >= opts.threads_critical:
            problems.add(CRITICAL, f"{threads} connected threads (critical at {opts.threads_critical})")
        elif opts.threads_warning is not None and threads >= opts.threads_warning:
            problems.add(WARNING, f"{threads} connected threads (warning at {opts.threads_warning})")
    slow = values.get("slow_queries")
    if slow is not None and opts.slow_queries_warning is not None and slow >= opts.slow_queries_warning:
        problems.add(WARNING, f"{slow} slow queries since start (warning at {opts.slow_queries_warning})")


def check(opts: MysqlOptions, run: Runner, which: Which, host: str | None, tmpdir: str | None = None) -> tuple[dict, dict]:
    validate(opts)
    problems = Problems()
    target = f"mysql:{opts.login_unix_socket or (f'{opts.login_host}:{opts.login_port}' if opts.login_host else 'local')}"
    details: dict = {"user": opts.login_user}
    tool = which(opts.mysqladmin_bin)
    if not tool:
        problems.add(UNKNOWN, f"{opts.mysqladmin_bin} not found on this host: the mysql check could not run")
        return middleware_finding("mysql", target, problems, "", host, details), details
    path = write_option_file(opts, tmpdir)
    try:
        rc, out, err = run(wrap_timeout(which("timeout"), opts.command_timeout, argv(tool, path, opts)), None)
    finally:
        os.unlink(path)
    out, err = redact(out, opts.login_password), redact(err, opts.login_password)
    values = parse_status(out)
    details["alive"] = "is alive" in out
    details.update(values)
    if rc != 0 or "uptime_seconds" not in values:
        problems.add(*classify_error(rc, out, err, opts.login_user))
    else:
        problems.add(OK, "alive")
        evaluate(values, opts, problems)
    healthy = (f"alive, up {values.get('uptime_seconds')}s, {values.get('threads')} threads, "
               f"{values.get('slow_queries')} slow queries")
    return middleware_finding("mysql", target, problems, healthy, host, details), details


# -- the check, as mysql_info and host_inspection_info run it -----------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "login_user": {"type": "str"},
    "login_password": {"type": "str", "no_log": True},
    "login_host": {"type": "str"},
    "login_port": {"type": "int", "default": 3306},
    "login_unix_socket": {"type": "path"},
    "mysqladmin_bin": {"type": "str", "default": "mysqladmin"},
    "connect_timeout": {"type": "int", "default": 10},
    "threads_warning": {"type": "int", "default": 100},
    "threads_critical": {"type": "int", "default": 300},
    "slow_queries_warning": {"type": "int"},
    "command_timeout": {"type": "int", "default": 30},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """MySQL/MariaDB seen from this host (options: ARGUMENT_SPEC): one ``middleware.mysql`` finding and its facts.
    The option file with the credentials goes into the module's temporary directory."""
    opts = MysqlOptions(**{k: v for k, v in params.items() if k in MysqlOptions._fields})
    result, facts = check(opts, module_runner(module), module.get_bin_path, host, module.tmpdir)
    return {"findings": [result], "mysql": facts}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del label
    where = args.get("login_unix_socket") or (
        f"{args['login_host']}:{args.get('login_port') or 3306}" if args.get("login_host") else "local")
    return [("middleware.mysql", f"mysql:{where}")]
