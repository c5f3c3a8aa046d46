"""TLS Secrets in k8s_cluster_info (plugins/module_utils/_k8s_tls_secrets.py): the LIST the lab's API answered with
a field selector `type=kubernetes.io/tls` (tests/unit/fixtures/k8s/tls_secrets.json, throwaway certificates)."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from pathlib import Path
from unittest import mock

import pytest
from kubernetes.client import rest

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_checks as C
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_tls_secrets as T

FIX = Path(__file__).parent / "fixtures" / "k8s"
SECRETS = json.loads((FIX / "tls_secrets.json").read_text())["items"]
NS = "kubeops-fixture-tls"
NOW = dt.datetime(2026, 12, 6, 17, 0, 0, tzinfo=dt.timezone.utc)   # shortly after the capture


def by_target(findings: list[dict]) -> dict[str, dict]:
    return {f["target"]: f for f in findings}


def test_slim_keeps_only_the_certificate():
    slimmed = T.slim(SECRETS, [NS])
    assert [(s["namespace"], s["name"]) for s in slimmed] == [(NS, "api-tls"), (NS, "portal-tls")]
    dumped = json.dumps(slimmed)
    for secret in SECRETS:
        assert secret["data"]["tls.key"] not in dumped
    assert T.slim(SECRETS, ["default"]) == [] and len(T.slim(SECRETS, ["*"])) == 2


def test_expiring_secret_and_namespace_aggregate():
    found = by_target(T.secret_findings(T.slim(SECRETS, [NS, "empty"]), [NS, "empty"], 30, 7, NOW))
    portal = found[f"secret/{NS}/portal-tls"]
    assert portal["status"] == "critical" and portal["details"]["days_left"] == 2
    assert portal["summary"].startswith("TLS secret: 2 day(s) left") and portal["host"] is None
    assert "portal.kubeops-fixture.test" in portal["details"]["subject"]
    assert portal["details"]["issuer"] == portal["details"]["subject"]   # self-signed
    assert f"secret/{NS}/api-tls" not in found   # ok secrets are in the namespace's aggregate
    aggregate = found[f"secret/{NS}/*"]
    assert aggregate["status"] == "ok" and aggregate["details"] == {"secrets": 1, "days_left_min": 364}
    assert found["secret/empty/*"]["status"] == "ok" and "no TLS secret" in found["secret/empty/*"]["summary"]
    assert len(found) == 3
    dumped = json.dumps(list(found.values()))
    assert all(s["data"]["tls.key"] not in dumped for s in SECRETS)


def test_thresholds_and_unreadable_certificates():
    later = NOW + dt.timedelta(days=340)
    found = by_target(T.secret_findings(T.slim(SECRETS, ["*"]), ["*"], 30, 7, later))
    assert found[f"secret/{NS}/api-tls"]["status"] == "warning" and found[f"secret/{NS}/portal-tls"]["status"] == "critical"
    assert "expired" in found[f"secret/{NS}/portal-tls"]["summary"]
    broken = copy.deepcopy(SECRETS)
    broken[0]["data"]["tls.crt"] = base64.b64encode(b"not a certificate").decode()
    broken[1]["data"].pop("tls.crt")
    found = by_target(T.secret_findings(T.slim(broken, [NS]), [NS], 30, 7, NOW))
    assert found[f"secret/{NS}/api-tls"]["status"] == "unknown" and "no PEM certificate" in found[f"secret/{NS}/api-tls"]["summary"]
    assert found[f"secret/{NS}/portal-tls"]["status"] == "unknown" and "no tls.crt" in found[f"secret/{NS}/portal-tls"]["summary"]
    assert f"secret/{NS}/*" not in found   # nothing fine to aggregate, and the namespace had secrets


def fake_api(items: list[dict], status: int = 200):
    calls: list[tuple[str, dict]] = []

    def request(self, method, url, query_params=None, headers=None, body=None, post_params=None,
                _preload_content=True, _request_timeout=None):
        params = dict(query_params or [])
        path = url.split(":6443", 1)[1].rstrip("/")
        calls.append((path, params))
        if path == "/version":
            return FakeResponse({"gitVersion": "v1.30.14"})
        if path == "/api/v1/secrets" and status != 200:
            raise rest.ApiException(status=status, reason="Forbidden")
        if path == "/api/v1/secrets":
            return FakeResponse({"metadata": {"continue": ""}, "items": items})
        return FakeResponse({"metadata": {"continue": ""}, "items": []})
    return calls, request


class FakeResponse:
    def __init__(self, body: dict):
        self.status, self.reason, self.data = 200, "OK", json.dumps(body).encode()
        self.headers = {"content-type": "application/json"}

    def getheaders(self):
        return self.headers

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


def client() -> object:
    return _k8s.build_client({"host": "https://198.18.0.11:6443", "validate_certs": False, "api_key": "t0ken"})


def test_one_list_with_the_type_field_selector():
    calls, request = fake_api(SECRETS)
    with mock.patch.object(rest.RESTClientObject, "request", request):
        result = C.inspect_cluster(client(), {"checks": ["nodes"], "tls_secret_namespaces": [NS], "now": NOW})
    secret_calls = [params for path, params in calls if path == "/api/v1/secrets"]
    assert len(secret_calls) == 1 and secret_calls[0]["fieldSelector"] == "type=kubernetes.io/tls"
    assert secret_calls[0]["resourceVersion"] == "0"   # from the watch cache, as the other LISTs
    assert result["api_requests"]["secrets"] == 1 and result["objects"]["secrets"] == 2
    assert by_target(result["findings"])[f"secret/{NS}/portal-tls"]["status"] == "critical"
    assert all(s["data"]["tls.key"] not in json.dumps(result) for s in SECRETS)


def test_off_by_default_and_forbidden_is_unknown():
    calls, request = fake_api(SECRETS)
    with mock.patch.object(rest.RESTClientObject, "request", request):
        result = C.inspect_cluster(client(), {"checks": ["nodes"]})
    assert not any(path == "/api/v1/secrets" for path, _params in calls) and "secrets" not in result["api_requests"]
    _calls, request = fake_api(SECRETS, status=403)
    with mock.patch.object(rest.RESTClientObject, "request", request):
        result = C.inspect_cluster(client(), {"checks": ["nodes"], "tls_secret_namespaces": [NS, "web"]})
    found = by_target(result["findings"])
    assert found[f"secret/{NS}/*"]["status"] == found["secret/web/*"]["status"] == "unknown"
    assert "cannot list TLS secrets" in found["secret/web/*"]["summary"] and "403" in found["secret/web/*"]["summary"]
    assert found["https://198.18.0.11:6443"]["status"] == "ok"   # the other checks still ran


def test_bad_thresholds_name_the_option():
    calls, request = fake_api(SECRETS)
    with mock.patch.object(rest.RESTClientObject, "request", request), \
            pytest.raises(C.CheckError, match="^tls_secret_warning_days: 3 is below tls_secret_critical_days 7"):
        C.inspect_cluster(client(), {"checks": ["nodes"], "tls_secret_namespaces": ["x"],
                                     "tls_secret_warning_days": 3, "tls_secret_critical_days": 7})
    assert not any(path == "/api/v1/secrets" for path, _params in calls)
