"""Shared middleware pieces and the TCP (license server) probe, against real sockets on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware as W

FIX = Path(__file__).parent / "fixtures" / "middleware"
# What the lab's license-server unit sends (captured on mw1, see fixtures/middleware/README.md).
BANNER = json.loads((FIX / "license_server_banner.json").read_text())["stdout"]


class TcpServer:
    """A real listening socket on 127.0.0.1 that sends `payload` (after `delay` seconds) to each client."""

    def __init__(self, payload: bytes, delay: float = 0.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.payload, self.delay = payload, delay
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            time.sleep(self.delay)
            try:
                conn.sendall(self.payload)
                time.sleep(0.05)
            except OSError:
                pass
            conn.close()

    def close(self):
        self.sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_banner_fixture_is_the_lab_banner():
    assert BANNER.strip() == "LICENSE-SERVER READY"


@pytest.mark.parametrize("payload, delay, expected, status, needle", [
    (BANNER.encode(), 0, "LICENSE-SERVER READY", W.OK, "accepts connections and sent the expected banner"),
    (BANNER.encode(), 0, None, W.OK, "accepts connections"),
    (b"HTTP/1.1 400 Bad Request\r\n", 0, "LICENSE-SERVER READY", W.WARNING, "sent 'HTTP/1.1 400 Bad Request', expected banner"),
    (b"", 0, "LICENSE-SERVER READY", W.WARNING, "sent 'nothing', expected banner"),
    (BANNER.encode(), 1.5, "LICENSE-SERVER READY", W.WARNING, "sent 'nothing'"),  # banner later than the timeout
    (b"\xff\xfe\x00garbage", 0, "LICENSE-SERVER READY", W.WARNING, "expected banner"),
])
def test_tcp_probe_real_socket(payload, delay, expected, status, needle):
    server = TcpServer(payload, delay)
    try:
        probe = W.probe_tcp("127.0.0.1", server.port, 1.0, 256 if expected else 0, expected)
        finding = W.tcp_finding("license_server", "127.0.0.1", server.port, probe, expected, "mw1")
    finally:
        server.close()
    assert probe.connected
    assert finding["id"] == "middleware.license_server" and finding["target"] == f"license_server:{server.port}"
    assert finding["status"] == status, finding
    assert needle in finding["summary"]


def test_tcp_probe_refused_is_critical():
    port = free_port()
    probe = W.probe_tcp("127.0.0.1", port, 1.0, 256, "READY")
    finding = W.tcp_finding("license_server", "127.0.0.1", port, probe, "READY", "mw1")
    assert (finding["status"], finding["summary"]) == (W.CRITICAL, f"127.0.0.1:{port}: connection refused")
    assert finding["details"]["connected"] is False


def test_banner_read_stops_early_when_found():
    server = TcpServer(BANNER.encode(), 0)
    try:
        started = time.monotonic()
        probe = W.probe_tcp("127.0.0.1", server.port, 5.0, 4096, "LICENSE-SERVER READY")
    finally:
        server.close()
    assert probe.banner.strip() == "LICENSE-SERVER READY"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("args, message", [
    (("License", 7788, 5, 256), "name: must be lower case"),
    (("license_server", 0, 5, 256), "port: must be a TCP port"),
    (("license_server", 7788, 0, 256), "timeout: must be greater than zero"),
    (("license_server", 7788, 5, 0), "banner_bytes: must be between 1 and 65536"),
])
def test_validate_tcp(args, message):
    with pytest.raises(W.MiddlewareError, match=message):
        W.validate_tcp(*args)


@pytest.mark.parametrize("items, status, summary", [
    ([], W.OK, "healthy"),
    ([(W.OK, "a")], W.OK, "healthy"),
    ([(W.WARNING, "w"), (W.CRITICAL, "c"), (W.OK, "o"), (W.UNKNOWN, "u")], W.CRITICAL, "c; u; w"),
])
def test_problems(items, status, summary):
    problems = W.Problems()
    for item in items:
        problems.add(*item)
    assert (problems.status, problems.summary("healthy")) == (status, summary)


@pytest.mark.parametrize("text, secrets, expected", [
    ("pw=abc123 again abc123", ("abc123",), "pw=******** again ********"),
    ("nothing", ("", None), "nothing"),
])
def test_redact(text, secrets, expected):
    assert W.redact(text, *secrets) == expected


@given(st.text(max_size=200), st.text(min_size=1, max_size=20))
def test_redact_removes_secret(text, secret):
    assert secret not in W.redact(text + secret + text, secret) or secret in W.REDACTED


def test_wrap_timeout():
    assert W.wrap_timeout("/usr/bin/timeout", 30, ["redis-cli", "PING"]) == [
        "/usr/bin/timeout", "--kill-after=5", "30", "redis-cli", "PING"]
    assert W.wrap_timeout(None, 30, ["redis-cli", "PING"]) == ["redis-cli", "PING"]
