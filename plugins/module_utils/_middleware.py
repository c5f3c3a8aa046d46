# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the middleware checks (nginx, redis, rabbitmq, mysql, TCP services).

PRIVATE to the collection: not a public API.

The checks run the services' own client tools. They never call a process themselves: they get a
``Runner`` (``argv, env -> CmdResult``) and a ``which`` function, so that modules pass
``AnsibleModule.run_command`` / ``get_bin_path`` and unit tests pass captured real outputs.

Status rules shared by every check:

- the client tool is missing -> ``unknown`` (the check could not run; nothing is known about the service),
- the service refuses, times out, fails authentication or reports a fault -> ``critical``,
- a threshold or an expectation is exceeded -> ``warning`` or ``critical`` as configured.
"""
from __future__ import annotations

import re
import socket
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, UNKNOWN, WARNING, finding, worst,
)

__all__ = [
    "CRITICAL", "OK", "UNKNOWN", "WARNING", "CmdResult", "MiddlewareError", "Problems", "Runner", "Which",
    "check_order", "check_percent", "check_positive", "first_error_line", "middleware_finding", "module_runner", "probe_tcp",
    "redact", "inspect_tcp", "tcp_failure_targets", "TCP_ARGUMENT_SPEC",
    "tcp_finding", "validate_tcp", "wrap_timeout",
]

REDACTED = "********"


class MiddlewareError(ValueError):
    """Bad input to a middleware check (a wrong option value); the module turns it into fail_json."""


class CmdResult(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str


Runner = t.Callable[[t.List[str], t.Optional[t.Dict[str, str]]], CmdResult]
Which = t.Callable[[str], t.Optional[str]]


def module_runner(module: t.Any) -> Runner:
    """The ``Runner`` of a module: ``AnsibleModule.run_command`` with extra environment, as a ``CmdResult``."""
    def run(argv: list[str], env: dict[str, str] | None) -> CmdResult:
        return CmdResult(*module.run_command(argv, environ_update=env or {}))
    return run


def redact(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each non-empty secret in text (defence in depth for tool output)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def first_error_line(*texts: str, limit: int = 300) -> str:
    """The first non-empty line of the given outputs, shortened to limit characters."""
    for text in texts:
        for line in (text or "").splitlines():
            line = line.strip()
            if line:
                return line[:limit]
    return ""


def check_positive(option: str, value: float | int | None, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise MiddlewareError(f"{option}: must be {'zero or more' if allow_zero else 'greater than zero'}, got {value}")


def check_percent(warning_option: str, warning: float | None, critical_option: str, critical: float | None) -> None:
    """Validate a pair of percent thresholds: each in 0..100, warning not above critical."""
    for option, value in ((warning_option, warning), (critical_option, critical)):
        if value is not None and not 0 < value <= 100:
            raise MiddlewareError(f"{option}: must be a percentage in (0, 100], got {value}")
    check_order(warning_option, warning, critical_option, critical)


def wrap_timeout(timeout_bin: str | None, seconds: int, argv: list[str]) -> list[str]:
    """Run argv under coreutils timeout(1) when present (exit code 124 on expiry); client tools can hang."""
    return [timeout_bin, "--kill-after=5", str(seconds), *argv] if timeout_bin else argv


def check_order(warning_option: str, warning: float | None, critical_option: str, critical: float | None) -> None:
    if warning is not None and critical is not None and warning > critical:
        raise MiddlewareError(f"{warning_option}: {warning} is above {critical_option} ({critical})")


class Problems:
    """Collects (status, text) pairs of one check; the finding takes the worst status and joins the texts."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, status: str, text: str) -> None:
        self.items.append((status, text))

    @property
    def status(self) -> str:
        return worst(status for status, _text in self.items)

    def summary(self, healthy: str) -> str:
        """The non-ok texts, worst first (what an operator must act on leads the line), or healthy."""
        order = {CRITICAL: 0, UNKNOWN: 1, WARNING: 2}
        bad = sorted(((s, x) for s, x in self.items if s != OK), key=lambda p: order[p[0]])
        return "; ".join(text for _status, text in bad) if bad else healthy


def middleware_finding(check: str, target: str, problems: Problems, healthy: str, host: str | None,
                       details: dict) -> dict:
    return finding(f"middleware.{check}", target, problems.status, problems.summary(healthy), host=host,
                   details=details)


# -- TCP service (license server) -------------------------------------------------------------------------

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def validate_tcp(name: str, port: int, timeout: float, banner_bytes: int) -> None:
    if not NAME_RE.match(name or ""):
        raise MiddlewareError(f"name: must be lower case letters, digits and underscores (it becomes the finding id), got {name!r}")
    if not 1 <= port <= 65535:
        raise MiddlewareError(f"port: must be a TCP port (1-65535), got {port}")
    check_positive("timeout", timeout)
    if not 1 <= banner_bytes <= 65536:
        raise MiddlewareError(f"banner_bytes: must be between 1 and 65536, got {banner_bytes}")


class TcpProbe(t.NamedTuple):
    connected: bool
    error: str | None        # 'refused', 'timeout', 'unreachable: ...' when not connected
    banner: str | None       # text received (decoded leniently), None when nothing was read
    elapsed_ms: int


def probe_tcp(address: str, port: int, timeout: float, read_bytes: int = 0, expected: str | None = None) -> TcpProbe:
    """Connect to address:port; when read_bytes > 0, read until that many bytes, the expected text, EOF or timeout."""
    started = time.monotonic()
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError:
        return TcpProbe(False, "connection refused", None, _ms(started))
    except (socket.timeout, TimeoutError):
        return TcpProbe(False, f"connection timed out after {timeout:g}s", None, _ms(started))
    except OSError as exc:
        return TcpProbe(False, f"cannot connect: {exc.strerror or exc}", None, _ms(started))
    banner = None
    try:
        if read_bytes > 0:
            data = b""
            deadline = started + timeout
            try:
                while len(data) < read_bytes:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    sock.settimeout(left)
                    chunk = sock.recv(read_bytes - len(data))
                    if not chunk:
                        break
                    data += chunk
                    if expected and expected.encode("utf-8") in data:
                        break
            except (socket.timeout, TimeoutError, OSError):
                pass
            banner = data.decode("utf-8", errors="replace")
    finally:
        sock.close()
    return TcpProbe(True, None, banner, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def tcp_finding(name: str, address: str, port: int, probe: TcpProbe, expected: str | None, host: str | None) -> dict:
    """Finding for a TCP service: refused/timeout is critical, a banner mismatch a warning."""
    problems = Problems()
    details: dict = {"address": address, "port": port, "connected": probe.connected, "elapsed_ms": probe.elapsed_ms}
    if not probe.connected:
        problems.add(CRITICAL, f"{address}:{port}: {probe.error}")
        details["error"] = probe.error
    else:
        problems.add(OK, "connected")
        if expected:
            received = (probe.banner or "").strip()
            details["banner"] = received[:200]
            details["expected_banner"] = expected
            if expected not in (probe.banner or ""):
                shown = received[:80] if received else "nothing"
                problems.add(WARNING, f"{address}:{port} accepts connections but sent {shown!r}, expected banner {expected!r}")
    healthy = f"{address}:{port} accepts connections" + (" and sent the expected banner" if expected else "")
    return middleware_finding(name, f"{name}:{port}", problems, healthy, host, details)


# -- the TCP check, as tcp_service_info and host_inspection_info run it -------------------------------------
TCP_ARGUMENT_SPEC: dict[str, dict] = {
    "name": {"type": "str", "default": "license_server"},
    "address": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "required": True},
    "timeout": {"type": "float", "default": 5},
    "banner": {"type": "str"},
    "banner_bytes": {"type": "int", "default": 256},
}


def inspect_tcp(module: t.Any, params: dict, host: str | None) -> dict:
    """TCP probe from this host (options: TCP_ARGUMENT_SPEC): one ``middleware.<name>`` finding and the probe."""
    del module
    validate_tcp(params["name"], params["port"], params["timeout"], params["banner_bytes"])
    probe = probe_tcp(params["address"], params["port"], params["timeout"],
                      params["banner_bytes"] if params["banner"] else 0, params["banner"])
    return {"findings": [tcp_finding(params["name"], params["address"], params["port"], probe, params["banner"], host)],
            "probe": probe._asdict()}


def tcp_failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del label
    name = str(args.get("name") or "tcp_service")
    return [(f"middleware.{name}", f"{name}:{args.get('port')}")]
