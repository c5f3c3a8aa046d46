"""Credentials in URLs never reach findings, reports, notifications or the audit log (plugins/module_utils/_redact.py)."""
from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _audit as A
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding
from ansible_collections.kubeops.runbook.plugins.module_utils._redact import REDACTED, redact_data, redact_text


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
