# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail a notification over SMTP (the notify_mail module). PRIVATE to the collection.

Python's own ``smtplib``, ``ssl`` and ``email`` do the work: a message is built with ``email.message.EmailMessage``
and sent with STARTTLS (default), implicit TLS or, without credentials only, in clear. The password is never part of
an error message. Importable without Ansible.
"""
from __future__ import annotations

import mimetypes
import os
import smtplib
import socket
import ssl
import typing as t
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SECURITY = ("starttls", "tls", "none")


class MailError(Exception):
    """The mail cannot be built or sent; the message is one line for the operator, without the password."""


def validate(host: str, port: int, security: str, username: str | None, password: str | None, sender: str,
             to: t.Sequence[str], timeout: float) -> None:
    if not host or not host.strip():
        raise MailError("host must name the SMTP server, got an empty string")
    if not 0 < port < 65536:
        raise MailError(f"port must be between 1 and 65535, got {port}")
    if security not in SECURITY:
        raise MailError(f"security must be one of {', '.join(SECURITY)}, got {security!r}")
    if bool(username) != bool(password):
        raise MailError("username and password go together: give both or neither")
    if username and security == "none":
        raise MailError("security none would send the password in clear: use starttls or tls to log in")
    if not sender or "@" not in sender:
        raise MailError(f"sender must be a mail address, got {sender!r}")
    bad = [address for address in to if "@" not in str(address)]
    if not to or bad:
        raise MailError(f"to must list mail addresses, got {list(to)!r}")
    if timeout <= 0:
        raise MailError(f"timeout must be more than 0 seconds, got {timeout}")


def message(sender: str, to: t.Sequence[str], subject: str, body: str,
            attachments: t.Sequence[str] = ()) -> EmailMessage:
    """A plain-text UTF-8 mail, with the given files attached (an HTML report opens in any mail client)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = " ".join(str(subject).split())
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    mail.set_content(body)
    for path in attachments:
        kind, _encoding = mimetypes.guess_type(path)
        maintype, subtype = (kind or "application/octet-stream").split("/", 1)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise MailError(f"cannot attach {path}: {exc.strerror or exc}") from exc
        try:            # text (the HTML report) as UTF-8 text, so that mail clients show its Chinese log lines right
            if maintype != "text":
                raise UnicodeDecodeError("utf-8", b"", 0, 1, "not text")
            mail.add_attachment(data.decode("utf-8"), subtype=subtype, filename=os.path.basename(path))
        except UnicodeDecodeError:
            mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=os.path.basename(path))
    return mail


def tls_context(validate_certs: bool = True, ca_path: str | None = None) -> ssl.SSLContext:
    """The TLS context: the system's trust store (or ``ca_path``) and host name checking, unless told otherwise."""
    try:
        context = ssl.create_default_context(cafile=ca_path or None)
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"cannot read ca_path {ca_path}: {exc}") from exc
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def send(mail: EmailMessage, host: str, port: int, security: str = "starttls", username: str | None = None,
         password: str | None = None, timeout: float = 30, context: ssl.SSLContext | None = None,
         smtp: t.Any = None, smtp_ssl: t.Any = None) -> list[str]:
    """Send ``mail``; returns the recipients the server accepted. ``smtp``/``smtp_ssl`` replace smtplib's classes."""
    smtp = smtp or smtplib.SMTP
    smtp_ssl = smtp_ssl or smtplib.SMTP_SSL
    context = context or tls_context()
    where = f"{host}:{port}"
    recipients = [address.strip() for address in mail["To"].split(",") if address.strip()]
    try:
        if security == "tls":
            client = smtp_ssl(host, port, timeout=timeout, context=context)
        else:
            client = smtp(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if security == "starttls":
                if not client.has_extn("starttls"):
                    raise MailError(f"mail server {where} does not offer STARTTLS; refusing to send the "
                                    f"{'credentials and the ' if username else ''}notification in clear")
                client.starttls(context=context)
                client.ehlo()
            if username:
                client.login(username, password or "")
            refused = client.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"mail server {where} refused the login of {username}: {exc.smtp_code} "
                        f"{_text(exc.smtp_error)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"mail server {where} refused every recipient: {', '.join(sorted(exc.recipients))}") from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"mail server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"mail to {where} failed: {exc}") from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with mail server {where} failed: {exc.reason or exc}") from None
    except (socket.timeout, TimeoutError):
        raise MailError(f"mail server {where} did not answer within {timeout} s") from None
    except OSError as exc:
        raise MailError(f"cannot reach mail server {where}: {exc.strerror or exc}") from None
    return [address for address in recipients if address not in (refused or {})]


def _text(value: t.Any) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())
