"""Mail over SMTP (plugins/module_utils/_mail.py) against a real local SMTP server (aiosmtpd, tests/conftest.py):
STARTTLS with a throwaway certificate authority, a login, what arrives; and every refusal, without the password."""
from __future__ import annotations

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _mail

SENDER = "kubeops@example.com"


def send(server, password=None, security="starttls", context=None, **kwargs):
    password = password or server.password
    mail = _mail.message(SENDER, ["ops@example.com", "oncall@example.com"], "Inspection lab:\n CRITICAL",
                         "### Inspection lab: CRITICAL\n- **critical** nodes.ready node2: NotReady 节点", **kwargs)
    return _mail.send(mail, server.host, server.port, security, server.user, password, timeout=10,
                      context=context or _mail.tls_context(ca_path=server.ca_path))


def test_starttls_login_and_the_mail_that_arrives(mail_server, tmp_path):
    server = mail_server()
    report = tmp_path / "inspection-20261122T060205Z.html"
    report.write_text("<!DOCTYPE html><title>CRITICAL</title><p>磁盘 97%</p>", encoding="utf-8")
    accepted = send(server, attachments=[str(report)])
    assert accepted == ["ops@example.com", "oncall@example.com"]
    assert server.logins == [(server.user, True)]
    (envelope,) = server.envelopes
    assert envelope == {"from": SENDER, "to": ["ops@example.com", "oncall@example.com"], "tls": True}
    (mail,) = server.messages
    assert mail["Subject"] == "Inspection lab: CRITICAL" and mail["From"] == SENDER
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")       # SMTP's line ends
    assert text == "### Inspection lab: CRITICAL\n- **critical** nodes.ready node2: NotReady 节点\n"
    (attached,) = list(mail.iter_attachments())
    assert attached.get_filename() == report.name and attached.get_content_type() == "text/html"
    assert attached.get_content().rstrip() == "<!DOCTYPE html><title>CRITICAL</title><p>磁盘 97%</p>"


def test_wrong_password_is_refused_without_showing_it(mail_server):
    server = mail_server()
    with pytest.raises(_mail.MailError, match=r"refused the login of kubeops@example.com: 535") as caught:
        send(server, password="not-the-password-xyz")
    assert "not-the-password-xyz" not in str(caught.value) and server.password not in str(caught.value)
    assert server.messages == []


def test_no_starttls_offered_nothing_sent_in_clear(mail_server):
    server = mail_server(starttls=False)
    with pytest.raises(_mail.MailError, match=r"does not offer STARTTLS; refusing to send the credentials and the"):
        send(server)
    assert server.logins == [] and server.messages == []


def test_an_untrusted_certificate_is_refused(mail_server):
    server = mail_server()
    with pytest.raises(_mail.MailError, match=r"TLS with mail server 127\.0\.0\.1:\d+ failed: CERTIFICATE_VERIFY_FAILED"):
        send(server, context=_mail.tls_context())            # the system's trust store: the throwaway CA is not in it
    assert server.logins == [] and server.messages == []
    assert send(server, context=_mail.tls_context(validate_certs=False)) == ["ops@example.com", "oncall@example.com"]


def test_no_server_listening():
    mail = _mail.message(SENDER, ["ops@example.com"], "s", "b")
    with pytest.raises(_mail.MailError, match=r"cannot reach mail server 127\.0\.0\.1:1: Connection refused"):
        _mail.send(mail, "127.0.0.1", 1, timeout=5)


@pytest.mark.parametrize("args, message", [
    (("", 587, "starttls", None, None, SENDER, ["a@b"], 30), "host must name the SMTP server"),
    (("smtp", 0, "starttls", None, None, SENDER, ["a@b"], 30), "port must be between 1 and 65535, got 0"),
    (("smtp", 25, "ssl", None, None, SENDER, ["a@b"], 30), "security must be one of starttls, tls, none, got 'ssl'"),
    (("smtp", 25, "none", "u", "p", SENDER, ["a@b"], 30), "security none would send the password in clear"),
    (("smtp", 25, "starttls", "u", None, SENDER, ["a@b"], 30), "username and password go together"),
    (("smtp", 25, "starttls", None, None, "kubeops", ["a@b"], 30), "sender must be a mail address, got 'kubeops'"),
    (("smtp", 25, "starttls", None, None, SENDER, ["ops"], 30), "to must list mail addresses, got ['ops']"),
    (("smtp", 25, "starttls", None, None, SENDER, [], 30), "to must list mail addresses, got []"),
    (("smtp", 25, "starttls", None, None, SENDER, ["a@b"], 0), "timeout must be more than 0 seconds, got 0"),
])
def test_bad_input_is_one_line_naming_it(args, message):
    with pytest.raises(_mail.MailError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        _mail.validate(*args)


def test_a_missing_attachment_names_the_file(tmp_path):
    with pytest.raises(_mail.MailError, match=r"cannot attach .*/gone\.html: No such file or directory"):
        _mail.message(SENDER, ["ops@example.com"], "s", "b", [str(tmp_path / "gone.html")])
