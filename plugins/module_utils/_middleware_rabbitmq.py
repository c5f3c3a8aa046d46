# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RabbitMQ checks through ``rabbitmq-diagnostics``. PRIVATE to the collection: not a public API.

``rabbitmq-diagnostics`` talks to the node over Erlang distribution and needs the node's Erlang cookie:
run it as root (Debian keeps the cookie readable by root and the rabbitmq user).
"""
from __future__ import annotations

import json
import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import (
    CRITICAL, OK, UNKNOWN, WARNING, MiddlewareError, Problems, Runner, Which, check_percent, check_positive,
    first_error_line, middleware_finding, module_runner, wrap_timeout,
)

# rabbitmq-diagnostics could not even talk to the node: not a verdict on the node.
# (The generic "unable to perform an operation" help text mentions the Erlang cookie too: do not match on that.)
PERMISSION_MARKERS = ("Only root or rabbitmq can run", "Failed to create cookie file", "rejected by the remote node")
# Lines of the DIAGNOSTICS block that say why the node could not be reached.
DIAGNOSIS_RE = re.compile(r"^\s*\*\s*(epmd reports: .*|unable to connect to epmd .*|TCP connection succeeded but .*|"
                          r"connected to epmd .*but .*)$", re.MULTILINE)
ALARM_WORDS = (("memory", "memory"), ("disk", "disk"), ("file_descriptor", "file descriptors"))
# The Erlang VM answers but the rabbit application is stopped (rabbitmqctl stop_app) or still booting.
APP_STOPPED_MARKER = "requires the 'rabbit' app to be running"


class RabbitmqOptions(t.NamedTuple):
    diagnostics_bin: str = "rabbitmq-diagnostics"
    node: str | None = None
    expected_listeners: tuple[str, ...] = ("amqp",)
    fd_warning_percent: float | None = 80.0
    fd_critical_percent: float | None = 95.0
    command_timeout: int = 60


def validate(opts: RabbitmqOptions) -> None:
    check_percent("fd_warning_percent", opts.fd_warning_percent, "fd_critical_percent", opts.fd_critical_percent)
    check_positive("command_timeout", opts.command_timeout)
    if opts.node is not None and not re.match(r"^[^@\s]+@[^@\s]+$", opts.node):
        raise MiddlewareError(f"node: must look like name@host (for example rabbit@mw1), got {opts.node!r}")


def parse_json(text: str) -> dict | None:
    """The JSON document rabbitmq-diagnostics printed with --formatter json (None when there is none)."""
    text = text.strip()
    if not text:
        return None
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def alarm_names(alarms: t.Any) -> list[str]:
    """Names of the resource alarms (memory, disk, file descriptors) in any of the shapes the tool prints."""
    names: list[str] = []
    for item in alarms if isinstance(alarms, list) else []:
        text = json.dumps(item) if not isinstance(item, str) else item
        for word, name in ALARM_WORDS:
            if word in text and name not in names:
                names.append(name)
        if not any(word in text for word, _name in ALARM_WORDS) and text not in names:
            names.append(text[:80])
    return names


def classify_error(rc: int, stdout: str, stderr: str, what: str) -> tuple[str, str]:
    text = f"{stdout}\n{stderr}"
    line = first_error_line(stderr, stdout) or f"rc={rc}, no output"
    if rc == 124:
        return CRITICAL, f"{what} timed out"
    if any(marker in text for marker in PERMISSION_MARKERS):
        return UNKNOWN, ("rabbitmq-diagnostics could not talk to the node: it must run as root or rabbitmq "
                         "(it needs the Erlang cookie); use become")
    if APP_STOPPED_MARKER in text:
        return CRITICAL, "the rabbit application is not running on the node (stopped with stop_app, or still booting)"
    diagnosis = DIAGNOSIS_RE.search(text)
    if diagnosis:
        return CRITICAL, f"node is not reachable ({diagnosis.group(1).strip()})"
    return CRITICAL, f"{what} failed: {line}"


def evaluate_status(status: dict, opts: RabbitmqOptions, problems: Problems) -> dict:
    """Facts and problems from ``status --formatter json``."""
    fds = status.get("file_descriptors") if isinstance(status.get("file_descriptors"), dict) else {}
    raw_listeners = status.get("listeners")
    listeners = [item for item in raw_listeners if isinstance(item, dict)] if isinstance(raw_listeners, list) else []
    memory = status.get("memory") if isinstance(status.get("memory"), dict) else {}
    total = memory.get("total") if isinstance(memory.get("total"), dict) else {}
    strategy = status.get("vm_memory_calculation_strategy")
    strategy = strategy if isinstance(strategy, str) else "rss"
    used_memory = total.get(strategy) if isinstance(total.get(strategy), int) else None
    facts: dict = {
        "version": status.get("rabbitmq_version"),
        "erlang_version": status.get("erlang_version"),
        "uptime_seconds": status.get("uptime"),
        "listeners": [f"{item.get('protocol')}:{item.get('port')}" for item in listeners],
        "memory_used": used_memory,
        "memory_limit": status.get("vm_memory_high_watermark_limit"),
        "disk_free": status.get("disk_free"),
        "disk_free_limit": status.get("disk_free_limit"),
        "alarms": alarm_names(status.get("alarms")),
        "file_descriptors_used": fds.get("total_used"),
        "file_descriptors_limit": fds.get("total_limit"),
        "is_under_maintenance": status.get("is_under_maintenance"),
    }
    protocols = {str(item.get("protocol")) for item in listeners}
    missing = [p for p in opts.expected_listeners if p not in protocols]
    if missing:
        problems.add(CRITICAL, f"no listener for {', '.join(missing)} (listening: {', '.join(facts['listeners']) or 'none'})")
    if status.get("is_under_maintenance") is True:
        problems.add(WARNING, "node is in maintenance mode")
    used, limit = fds.get("total_used"), fds.get("total_limit")
    if isinstance(used, int) and isinstance(limit, int) and limit > 0:
        percent = round(used * 100.0 / limit, 2)
        facts["file_descriptors_percent"] = percent
        if opts.fd_critical_percent is not None and percent >= opts.fd_critical_percent:
            problems.add(CRITICAL, f"file descriptors {used}/{limit} ({percent}%, critical at {opts.fd_critical_percent:g}%)")
        elif opts.fd_warning_percent is not None and percent >= opts.fd_warning_percent:
            problems.add(WARNING, f"file descriptors {used}/{limit} ({percent}%, warning at {opts.fd_warning_percent:g}%)")
    return facts


def base_argv(tool: str, opts: RabbitmqOptions) -> list[str]:
    return [tool, "-q"] + (["-n", opts.node] if opts.node else [])


def check(opts: RabbitmqOptions, run: Runner, which: Which, host: str | None) -> tuple[dict, dict]:
    """One ``rabbitmq-diagnostics status --formatter json`` (one Erlang VM start): whether the node answers, its
    resource alarms, listeners and file descriptors."""
    validate(opts)
    problems = Problems()
    target = opts.node or "rabbitmq"
    details: dict = {"node": opts.node}
    tool = which(opts.diagnostics_bin)
    if not tool:
        problems.add(UNKNOWN, f"{opts.diagnostics_bin} not found on this host: the rabbitmq check could not run")
        return middleware_finding("rabbitmq", target, problems, "", host, details), details
    argv = base_argv(tool, opts) + ["status", "--formatter", "json"]
    rc, out, err = run(wrap_timeout(which("timeout"), opts.command_timeout, argv), None)
    status = parse_json(out) if rc == 0 else None
    details["running"] = status is not None
    if rc != 0:
        problems.add(*classify_error(rc, out, err, "status"))
        return middleware_finding("rabbitmq", target, problems, "", host, details), details
    if status is None:
        problems.add(UNKNOWN, f"status could not be read: {first_error_line(err, out) or 'no JSON document'}")
        return middleware_finding("rabbitmq", target, problems, "", host, details), details
    problems.add(OK, "running")
    details.update(evaluate_status(status, opts, problems))
    details["local_alarms"] = details["alarms"]
    if details["alarms"]:
        problems.add(CRITICAL, f"resource alarm: {', '.join(details['alarms'])} (publishers are blocked)")
    healthy = (f"running, no alarms, RabbitMQ {details.get('version')}, "
               f"listeners {', '.join(details.get('listeners') or []) or 'none'}")
    return middleware_finding("rabbitmq", target, problems, healthy, host, details), details


# -- the check, as rabbitmq_info and host_inspection_info run it --------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "diagnostics_bin": {"type": "str", "default": "rabbitmq-diagnostics"},
    "node": {"type": "str"},
    "expected_listeners": {"type": "list", "elements": "str", "default": ["amqp"]},
    "fd_warning_percent": {"type": "float", "default": 80},
    "fd_critical_percent": {"type": "float", "default": 95},
    "command_timeout": {"type": "int", "default": 60},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """The RabbitMQ node on this host (options: ARGUMENT_SPEC): one ``middleware.rabbitmq`` finding and its facts."""
    opts = RabbitmqOptions(**{k: tuple(v) if k == "expected_listeners" else v for k, v in params.items()
                              if k in RabbitmqOptions._fields})
    result, facts = check(opts, module_runner(module), module.get_bin_path, host)
    return {"findings": [result], "rabbitmq": facts}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del label
    return [("middleware.rabbitmq", str(args.get("node") or "rabbitmq"))]
