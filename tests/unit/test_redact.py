"""Credentials in URLs never reach findings, reports, notifications or the audit log (plugins/module_utils/_redact.py)."""
from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _audit as A
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding
from ansible_collections.kubeops.runbook.plugins.module_utils._redact import REDACTED, redact_data, redact_text, sample_text


@pytest.mark.parametrize("text, expected", [
    ("GET http://admin:s3cret@127.0.0.1/healthz -> 200", f"GET http://{REDACTED}@127.0.0.1/healthz -> 200"),
    ("https://token@git.example/x.git", f"https://{REDACTED}@git.example/x.git"),
    ("amqp://guest:gu@st@mw2:5672/vhost", f"amqp://{REDACTED}@mw2:5672/vhost"),
    ("mysql://root:p%40ss@db", f"mysql://{REDACTED}@db"),
    ("two: http://a:b@h1/ and https://c:d@h2:8443?x=1", f"two: http://{REDACTED}@h1/ and https://{REDACTED}@h2:8443?x=1"),
    ("https://oapi.dingtalk.com/robot/send?access_token=abc123&x=1",
     f"https://oapi.dingtalk.com/robot/send?access_token={REDACTED}&x=1"),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={REDACTED}"),
    ("http://h/p?user=bob&password=hunter2#frag", f"http://h/p?user=bob&password={REDACTED}#frag"),
])
def test_url_credentials_are_redacted(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "http://127.0.0.1/healthz", "mail ops@example.com about https://example.com/a@b", "no url here: a@b",
    "https://198.18.0.11:2379", "nginx -t: syntax ok", "q?page=2&sort=name", "",
])
def test_text_without_credentials_is_kept(text):
    assert redact_text(text) == text


@settings(deadline=None)
@given(st.text(), st.text(alphabet=st.characters(blacklist_characters="/?#@ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0",
                                                 blacklist_categories=("Zs", "Zl", "Zp", "Cs")), min_size=1))
def test_no_password_survives(prefix, password):
    text = f"{prefix} http://user:{password}@host/path"
    assert f":{password}@host" not in redact_text(text)


def test_redact_data_walks_everything():
    data = {"url": "http://u:p@h/", "list": ["https://t@h", 3, None], "http://k:v@h": True}
    assert redact_data(data) == {"url": f"http://{REDACTED}@h/", "list": [f"https://{REDACTED}@h", 3, None],
                                 f"http://{REDACTED}@h": True}


def test_findings_never_carry_url_credentials():
    item = finding("middleware.nginx", "http://ops:pw@mw1/health", "critical", "GET http://ops:pw@mw1/health failed",
                   host="mw1", details={"probe": {"url": "http://ops:pw@mw1/health"}})
    assert "ops:pw" not in json.dumps(item)
    assert item["details"]["probe"]["url"] == f"http://{REDACTED}@mw1/health"


def test_audit_line_redacts_url_credentials_everywhere():
    rec = A.record("probe", "http://ops:pw@mw1/", {"url": "http://ops:pw@mw1/"}, None, note="see https://a:b@c/")
    line = A.audit_line(rec, module="m", host="h", user="u", playbook=None, check_mode=False,
                        now=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc), task="GET http://ops:pw@mw1/")
    assert "pw@" not in line and "a:b@" not in line
    assert json.loads(line)["target"] == f"http://{REDACTED}@mw1/"


# Lines of the kinds the review found kept in clear: an access log with the request's Authorization header, a Java
# command line with a Spring datasource password, settings outside a URL query, and JSON bodies.
@pytest.mark.parametrize("text, expected", [
    ('198.18.0.1 - - "GET /api/v1 HTTP/1.1" 401 Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
     f'198.18.0.1 - - "GET /api/v1 HTTP/1.1" 401 Authorization: Bearer {REDACTED}'),
    ("curl -H 'Authorization: Basic YWRtaW46czNjcmV0' http://mw1/", f"curl -H 'Authorization: Basic {REDACTED}' http://mw1/"),
    ('{"headers": {"Authorization": "Bearer abc.def"}}', f'{{"headers": {{"Authorization": "Bearer {REDACTED}"}}}}'),
    ("proxy-authorization: Negotiate YIIBhg==", f"proxy-authorization: Negotiate {REDACTED}"),
    ("retrying with bearer 9f86d081884c7d65 after 401", f"retrying with bearer {REDACTED} after 401"),
    ("java -Dspring.datasource.password=S3cr3t! -Dspring.datasource.username=app -jar app.jar",
     f"java -Dspring.datasource.password={REDACTED} -Dspring.datasource.username=app -jar app.jar"),
    ("login failed: user=bob password=hunter2 from 198.18.0.31", f"login failed: user=bob password={REDACTED} from 198.18.0.31"),
    ("env DB_PASSWORD=abc123 REDIS_TOKEN=xyz client-secret = s", f"env DB_PASSWORD={REDACTED} REDIS_TOKEN={REDACTED} client-secret = {REDACTED}"),
    ("secret=topsecret,token=t1", f"secret={REDACTED},token={REDACTED}"),
    ('body {"password": "p\\"w", "user": "x", "api_key":"k1"}', f'body {{"password": "{REDACTED}", "user": "x", "api_key":"{REDACTED}"}}'),
])
def test_credentials_in_log_lines_are_redacted(text, expected):
    assert redact_text(text) == expected
    assert redact_text(expected) == expected   # redacting twice changes nothing


@pytest.mark.parametrize("text", [
    "tokens=5 max_tokens=7 passwords_checked=3", "keystore=/etc/app.jks", "Authorization failed", "author=alice",
    "the bearer of bad news", "password: is too short",
])
def test_settings_that_hold_no_credential_are_kept(text):
    assert redact_text(text) == text


def test_redaction_is_linear_on_hostile_lines():
    """A line of 100,000 characters built to make a backtracking regex quadratic is redacted in one pass."""
    for text in ("a." * 50_000 + "=x", "x" * 100_000, "a=b " * 25_000, '"a":' * 25_000, "password " * 10_000):
        assert redact_text(text) == text


def test_samples_lose_control_characters_and_credentials():
    assert sample_text("\x1b[31mERROR\x1b[0m token=abc\x00\x07 done\tok\x9b2J") == f"[31mERROR[0m token={REDACTED} done\tok2J"


@pytest.mark.parametrize("key", ["api_key", "apiKey", "auth", "basic_auth", "Authorization", "proxy-authorization",
                                 "access_key", "Cookie", "db_password", "webhook_url"])
def test_audit_keys_holding_secrets_are_redacted(key):
    line = A.audit_line(A.record("probe", "t", {key: "s3cret"}, None), module="m", host="h", user="u", playbook=None,
                        check_mode=False, now=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    assert "s3cret" not in line and json.loads(line)["before"][key] == A.REDACTED


@pytest.mark.parametrize("key", ["author", "authority", "keystore_path", "replicas", "target"])
def test_audit_keys_that_are_not_secrets_are_kept(key):
    assert A.redact({key: "v"}) == {key: "v"}
