"""Fixtures shared by the unit and the integration tests."""
from __future__ import annotations

import dataclasses
import socket
import ssl
import typing as t
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

MAIL_USER = "kubeops@example.com"
MAIL_PASSWORD = "Sm7p-Pa55-never-printed"


@dataclasses.dataclass
class MailServer:
    """A local SMTP server (aiosmtpd) on 127.0.0.1: STARTTLS with a throwaway certificate authority, AUTH LOGIN /
    PLAIN for MAIL_USER with MAIL_PASSWORD, and a record of what it was sent."""
    host: str
    port: int
    ca_path: str
    starttls: bool
    user: str = MAIL_USER
    password: str = MAIL_PASSWORD
    messages: list[EmailMessage] = dataclasses.field(default_factory=list)
    envelopes: list[dict] = dataclasses.field(default_factory=list)
    logins: list[tuple[str, bool]] = dataclasses.field(default_factory=list)   # (user, accepted)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mail_server(tmp_path: Path) -> t.Iterator[t.Callable[..., MailServer]]:
    """A factory: ``mail_server()`` starts a server with STARTTLS, ``mail_server(starttls=False)`` one without it.
    Each is stopped after the test."""
    aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
    aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")
    trustme = pytest.importorskip("trustme")
    started = []

    def start(starttls: bool = True) -> MailServer:
        ca = trustme.CA()
        ca_path = tmp_path / f"mail-ca-{len(started)}.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server = MailServer("127.0.0.1", _free_port(), str(ca_path), starttls)

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 (aiosmtpd's API)
                del smtp
                server.envelopes.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                         "tls": session.ssl is not None})
                server.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        def authenticator(smtp, session, envelope, mechanism, data):
            del smtp, session, envelope, mechanism
            user, password = (v.decode() if isinstance(v, bytes) else v for v in (data.login, data.password))
            ok = user == MAIL_USER and password == MAIL_PASSWORD
            server.logins.append((user, ok))
            return aiosmtpd_smtp.AuthResult(success=ok, handled=False)   # aiosmtpd answers 235 or 535

        controller = aiosmtpd_controller.Controller(
            Handler(), hostname=server.host, port=server.port, tls_context=context if starttls else None,
            require_starttls=starttls, authenticator=authenticator, auth_require_tls=starttls)
        controller.start()
        started.append(controller)
        return server

    yield start
    for controller in started:
        controller.stop()
