# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""redis checks through redis-cli (PING, INFO). PRIVATE to the collection: not a public API.

The password travels in the ``REDISCLI_AUTH`` environment variable, never on the command line.
"""
from __future__ import annotations

import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import (
    CRITICAL, OK, UNKNOWN, WARNING, MiddlewareError, Problems, Runner, Which, check_order, check_percent,
    check_positive, first_error_line, middleware_finding, module_runner, redact, wrap_timeout,
)

OVERCOMMIT_PATH = "/proc/sys/vm/overcommit_memory"
OVERCOMMIT_FIX = ("sysctl -w vm.overcommit_memory=1, and keep it across reboots with a line "
                  "'vm.overcommit_memory = 1' in a file under /etc/sysctl.d/")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
AUTH_MARKERS = ("NOAUTH", "WRONGPASS", "invalid password", "invalid username-password")
REFUSED_MARKERS = ("Could not connect", "Connection refused", "Connection reset", "No route to host")
ROLES = ("master", "slave", "replica")


class RedisOptions(t.NamedTuple):
    login_host: str = "127.0.0.1"
    login_port: int = 6379
    login_password: str | None = None
    redis_cli: str = "redis-cli"
    memory_warning_percent: float | None = 80.0
    memory_critical_percent: float | None = 90.0
    clients_warning: int | None = 1000
    clients_critical: int | None = None
    expected_role: str | None = None
    command_timeout: int = 30


def validate(opts: RedisOptions) -> None:
    if not 1 <= opts.login_port <= 65535:
        raise MiddlewareError(f"login_port: must be a TCP port (1-65535), got {opts.login_port}")
    check_percent("memory_warning_percent", opts.memory_warning_percent, "memory_critical_percent",
                  opts.memory_critical_percent)
    check_positive("clients_warning", opts.clients_warning)
    check_positive("clients_critical", opts.clients_critical)
    check_order("clients_warning", opts.clients_warning, "clients_critical", opts.clients_critical)
    check_positive("command_timeout", opts.command_timeout)
    if opts.expected_role is not None and opts.expected_role not in ROLES:
        raise MiddlewareError(f"expected_role: must be one of {', '.join(ROLES)}, got {opts.expected_role!r}")


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """Parse ``INFO`` output into {section: {key: value}}; lines before any section go to ``''``."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = line.lstrip("#").strip().lower()
            sections.setdefault(current, {})
            continue
        key, sep, value = line.partition(":")
        if sep and key:
            sections.setdefault(current, {})[key] = value
    return sections


def flat(sections: dict[str, dict[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for values in sections.values():
        out.update(values)
    return out


def _int(values: dict[str, str], key: str) -> int | None:
    try:
        return int(values[key])
    except (KeyError, ValueError):
        return None


def classify_ping(rc: int, stdout: str, stderr: str, password_given: bool) -> tuple[str, str]:
    """(status, text) of a ``redis-cli PING`` run."""
    text = f"{stdout}\n{stderr}"
    if rc == 124:
        return CRITICAL, "redis-cli PING timed out"
    if any(marker in text for marker in AUTH_MARKERS):
        return CRITICAL, "authentication failed" if password_given else "authentication required but no password was given"
    if any(marker in text for marker in REFUSED_MARKERS):
        return CRITICAL, f"not reachable: {first_error_line(stderr, stdout)}"
    if stdout.strip().startswith("LOADING"):
        return WARNING, "redis is loading its dataset into memory"
    if stdout.strip() == "PONG":
        if "without any password configured" in stderr:
            return WARNING, "a password was given but the server has none configured (requirepass unset)"
        return OK, "PONG"
    return CRITICAL, f"PING failed (rc={rc}): {first_error_line(stdout, stderr) or 'no output'}"


def evaluate_info(info: dict[str, str], opts: RedisOptions, problems: Problems) -> dict:
    """Add the INFO-based problems; return the facts kept in the finding details."""
    role = info.get("role")
    used = _int(info, "used_memory")
    maxmemory = _int(info, "maxmemory")
    clients = _int(info, "connected_clients")
    facts: dict = {
        "version": info.get("redis_version"), "role": role, "uptime_seconds": _int(info, "uptime_in_seconds"),
        "used_memory": used, "used_memory_human": info.get("used_memory_human"), "maxmemory": maxmemory,
        "maxmemory_policy": info.get("maxmemory_policy"), "connected_clients": clients,
        "blocked_clients": _int(info, "blocked_clients"),
        "rdb_last_bgsave_status": info.get("rdb_last_bgsave_status"),
        "rdb_changes_since_last_save": _int(info, "rdb_changes_since_last_save"),
        "aof_enabled": info.get("aof_enabled") == "1",
        "aof_last_write_status": info.get("aof_last_write_status"),
        "aof_last_bgrewrite_status": info.get("aof_last_bgrewrite_status"),
    }
    if role is None:
        problems.add(UNKNOWN, "INFO output could not be parsed (no role field)")
        return facts
    if opts.expected_role and _norm_role(role) != _norm_role(opts.expected_role):
        problems.add(WARNING, f"role is {role}, expected {opts.expected_role}")
    if role in ("slave", "replica"):
        link = info.get("master_link_status")
        facts["master_link_status"] = link
        facts["master"] = f"{info.get('master_host')}:{info.get('master_port')}"
        if link != "up":
            problems.add(CRITICAL, f"replica link to master {facts['master']} is {link or 'unknown'}")
    if info.get("loading") == "1":
        problems.add(WARNING, "redis is loading its dataset into memory")
    if used is not None and maxmemory:
        percent = round(used * 100.0 / maxmemory, 1)
        facts["memory_percent"] = percent
        text = f"used_memory {info.get('used_memory_human') or used} is {percent}% of maxmemory"
        if opts.memory_critical_percent is not None and percent >= opts.memory_critical_percent:
            problems.add(CRITICAL, f"{text} (critical at {opts.memory_critical_percent:g}%)")
        elif opts.memory_warning_percent is not None and percent >= opts.memory_warning_percent:
            problems.add(WARNING, f"{text} (warning at {opts.memory_warning_percent:g}%)")
    if clients is not None:
        if opts.clients_critical is not None and clients >= opts.clients_critical:
            problems.add(CRITICAL, f"connected_clients {clients} (critical at {opts.clients_critical})")
        elif opts.clients_warning is not None and clients >= opts.clients_warning:
            problems.add(WARNING, f"connected_clients {clients} (warning at {opts.clients_warning})")
    bgsave = info.get("rdb_last_bgsave_status")
    if bgsave is not None and bgsave != "ok":
        problems.add(CRITICAL, f"last RDB background save failed (rdb_last_bgsave_status={bgsave})")
    if facts["aof_enabled"]:
        for key in ("aof_last_write_status", "aof_last_bgrewrite_status"):
            value = info.get(key)
            if value is not None and value != "ok":
                problems.add(CRITICAL, f"AOF is failing ({key}={value})")
    return facts


def _norm_role(role: str) -> str:
    return "replica" if role in ("slave", "replica") else role


def base_argv(cli: str, opts: RedisOptions) -> list[str]:
    return [cli, "-h", opts.login_host, "-p", str(opts.login_port)]


def check(opts: RedisOptions, run: Runner, which: Which, host: str | None) -> tuple[dict, dict]:
    """Run the redis check; return (finding, facts)."""
    validate(opts)
    target = f"redis:{opts.login_port}"
    problems = Problems()
    details: dict = {"address": f"{opts.login_host}:{opts.login_port}"}
    cli = which(opts.redis_cli)
    if not cli:
        problems.add(UNKNOWN, f"{opts.redis_cli} not found on this host: the redis check could not run")
        return middleware_finding("redis", target, problems, "", host, details), details
    env = {"REDISCLI_AUTH": opts.login_password} if opts.login_password else None
    timeout = which("timeout")
    rc, out, err = run(wrap_timeout(timeout, opts.command_timeout, base_argv(cli, opts) + ["PING"]), env)
    out, err = redact(out, opts.login_password), redact(err, opts.login_password)
    status, text = classify_ping(rc, out, err, bool(opts.login_password))
    details["ping"] = text
    problems.add(status, text)
    if status != CRITICAL:
        rc, out, err = run(wrap_timeout(timeout, opts.command_timeout, base_argv(cli, opts) + ["INFO"]), env)
        if rc != 0 or not out.strip():
            problems.add(UNKNOWN, f"INFO failed (rc={rc}): {redact(first_error_line(err, out), opts.login_password)}")
        else:
            details.update(evaluate_info(flat(parse_info(out)), opts, problems))
    healthy = f"PONG; role {details.get('role')}, {details.get('connected_clients')} clients, " \
              f"used_memory {details.get('used_memory_human')}, last RDB save {details.get('rdb_last_bgsave_status')}"
    return middleware_finding("redis", target, problems, healthy, host, details), details


def overcommit_finding(read: t.Callable[[str], str], host: str | None) -> dict:
    """``middleware.redis_overcommit``: redis asks for ``vm.overcommit_memory = 1`` on its host. With 0 (the kernel's
    default heuristic) or 2 (strict accounting), the fork of a background save (BGSAVE, AOF rewrite) or of a full
    resynchronisation of a replica can fail under memory pressure, and redis then refuses writes
    (``stop-writes-on-bgsave-error``). ``read`` returns a file's text (raises OSError)."""
    target = "vm.overcommit_memory"
    details: dict = {"path": OVERCOMMIT_PATH}
    try:
        raw = read(OVERCOMMIT_PATH).strip()
    except OSError as exc:
        details["error"] = exc.strerror or str(exc)
        return finding("middleware.redis_overcommit", target, UNKNOWN,
                       f"{OVERCOMMIT_PATH} cannot be read ({details['error']}): the setting redis relies on is unknown",
                       host=host, details=details)
    details["value"] = raw
    if raw == "1":
        return finding("middleware.redis_overcommit", target, OK, "vm.overcommit_memory = 1, as redis asks",
                       host=host, details=details)
    meaning = {"0": "the kernel's heuristic", "2": "strict accounting"}.get(raw)
    if meaning is None:
        return finding("middleware.redis_overcommit", target, UNKNOWN,
                       f"{OVERCOMMIT_PATH} holds {raw[:40]!r}, not 0, 1 or 2", host=host, details=details)
    details["fix"] = OVERCOMMIT_FIX
    return finding("middleware.redis_overcommit", target, WARNING,
                   f"vm.overcommit_memory = {raw} ({meaning}), redis asks for 1: a background save or a replica's "
                   f"full resync may fail to fork under memory pressure, and redis then stops accepting writes",
                   host=host, details=details)


def is_local(login_host: str) -> bool:
    """Whether redis runs on the inspected host itself (the only case where this host's sysctl is redis's)."""
    return login_host in LOOPBACK or login_host.startswith("127.")


# -- the check's entry point, shared by redis_info and host_inspection_info ---------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "login_host": {"type": "str", "default": "127.0.0.1"},
    "login_port": {"type": "int", "default": 6379},
    "login_password": {"type": "str", "no_log": True},
    "redis_cli": {"type": "str", "default": "redis-cli"},
    "memory_warning_percent": {"type": "float", "default": 80},
    "memory_critical_percent": {"type": "float", "default": 90},
    "clients_warning": {"type": "int", "default": 1000},
    "clients_critical": {"type": "int"},
    "expected_role": {"type": "str", "choices": ["master", "replica", "slave"]},
    "command_timeout": {"type": "int", "default": 30},
    "check_overcommit": {"type": "bool", "default": True},
}


def read_text(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read(64)


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """The redis of ``params`` (options: ARGUMENT_SPEC): its ``middleware.redis`` finding and facts, and for a redis on
    this host the ``middleware.redis_overcommit`` finding."""
    opts = RedisOptions(**{k: v for k, v in params.items() if k in RedisOptions._fields})
    result, facts = check(opts, module_runner(module), module.get_bin_path, host)
    findings = [result]
    if params["check_overcommit"] and is_local(opts.login_host):
        findings.append(overcommit_finding(read_text, host))
    return {"findings": findings, "redis": facts}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    """(finding id, target) of the unknown findings when the check cannot run."""
    del label
    targets = [("middleware.redis", f"redis:{args.get('login_port') or 6379}")]
    if args.get("check_overcommit", True) and is_local(str(args.get("login_host") or "127.0.0.1")):
        targets.append(("middleware.redis_overcommit", "vm.overcommit_memory"))
    return targets
