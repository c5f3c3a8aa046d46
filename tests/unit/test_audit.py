"""Unit tests of audit records and lines (plugins/module_utils/_audit.py)."""
from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _audit as A

NOW = datetime.datetime(2024, 5, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)


def test_line_has_the_design_fields():
    rec = A.record("scale", "product/Deployment/app-base", {"replicas": 2}, {"replicas": 3})
    line = json.loads(A.audit_line(rec, module="kubeops.runbook.k8s_scale", host="localhost", user="ops",
                                   playbook="playbooks: Scale out", check_mode=True, now=NOW))
    for key in ("time", "user", "playbook", "module", "target", "before", "after", "check_mode"):
        assert key in line
    assert line["time"] == "2024-05-01T09:00:00Z"
    assert line["check_mode"] is True
    assert line["before"] == {"replicas": 2} and line["after"] == {"replicas": 3}


@pytest.mark.parametrize("payload,leaked", [
    ({"password": "s3cret"}, "s3cret"),
    ({"nested": [{"client_key_data": "AAAA"}]}, "AAAA"),
    ({"webhook_url": "https://x/robot?access_token=abc"}, "abc"),
    ({"api_token": "xyz-987"}, "xyz-987"),
])
def test_secrets_never_reach_the_line(payload, leaked):
    rec = A.record("x", "t", payload, None)
    line = A.audit_line(rec, module="m", host="h", user="u", playbook=None, check_mode=False, now=NOW)
    assert leaked not in line
    assert A.REDACTED in line


def test_redact_keeps_plain_values():
    assert A.redact({"replicas": 3, "files": ["a"], "key": None}) == {"replicas": 3, "files": ["a"], "key": None}


@pytest.mark.parametrize("action,target", [("", "t"), ("a", "")])
def test_record_rejects_empty(action, target):
    with pytest.raises(A.AuditError):
        A.record(action, target, None, None)


@pytest.mark.parametrize("entry", [{}, {"action": "x"}, "text", None])
def test_line_rejects_non_records(entry):
    with pytest.raises(A.AuditError, match="not an audit record"):
        A.audit_line(entry, module="m", host="h", user="u", playbook=None, check_mode=False)


def test_parse_lines_roundtrip_and_garbage():
    rec = A.record("prune", "/data", {"files": ["a"]}, {"files": []})
    text = A.audit_line(rec, module="m", host="h", user="u", playbook=None, check_mode=False, now=NOW) + "\nnot json\n[1]\n"
    parsed = A.parse_lines(text)
    assert len(parsed) == 1 and parsed[0]["target"] == "/data"


@given(st.dictionaries(st.text(max_size=10), st.recursive(st.none() | st.integers() | st.text(max_size=10),
                                                          lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                                                          max_leaves=10), max_size=5))
def test_line_is_always_json(payload):
    line = A.audit_line(A.record("a", "t", payload, payload), module="m", host="h", user="u", playbook=None,
                        check_mode=False, now=NOW)
    assert json.loads(line)["action"] == "a"
