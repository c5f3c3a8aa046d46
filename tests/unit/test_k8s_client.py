"""_k8s.py: client builder and the ONE paginated LIST per kind, counted at the HTTP boundary."""
from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
import urllib3
from kubernetes.client import rest

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s as K
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_checks as C

FIX = Path(__file__).parent / "fixtures" / "k8s"


class FakeResponse:
    """What urllib3 hands to the kubernetes client: status, reason, data, headers."""

    def __init__(self, body: dict | bytes, status: int = 200):
        self.status = status
        self.reason = "OK" if status == 200 else "Gone"
        self.data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = {"content-type": "application/json"}

    def getheaders(self):
        return self.headers

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


def paged(items: list[dict], page: int):
    """A fake apiserver: serves items in pages of `page`, with continue tokens; records every request."""
    calls: list[tuple[str, str, dict]] = []

    def request(self, method, url, query_params=None, headers=None, body=None, post_params=None,
                _preload_content=True, _request_timeout=None):
        params = dict(query_params or [])
        calls.append((method, url, params))
        if url.rstrip("/").endswith("/version"):
            return FakeResponse({"gitVersion": "v1.30.14"})
        start = int(params.get("continue") or 0)
        limit = int(params["limit"])
        chunk = items[start:start + limit]
        more = start + limit < len(items)
        return FakeResponse({"kind": "List", "metadata": {"resourceVersion": "42", "continue": str(start + limit) if more else ""},
                             "items": chunk})
    return calls, request


def client() -> object:
    return K.build_client({"host": "https://198.18.0.11:6443", "validate_certs": False, "api_key": "t0ken"})


@pytest.mark.parametrize("total, page, pages", [(0, 500, 1), (14, 500, 1), (14, 5, 3), (2000, 500, 4), (2001, 500, 5)])
def test_list_all_one_paginated_list(total, page, pages):
    pods = json.loads((FIX / "healthy_pods.json").read_text())["items"]
    items = [pods[i % len(pods)] for i in range(total)]
    calls, request = paged(items, page)
    with mock.patch.object(rest.RESTClientObject, "request", request):
        result = K.list_all(client(), "pods", page_size=page)
    assert len(result.items) == total and result.requests == pages == len(calls)
    assert all(c[1] == "https://198.18.0.11:6443/api/v1/pods" for c in calls)  # cluster-wide, never per namespace
    assert [c[2].get("continue") for c in calls] == [None] + [str(page * i) for i in range(1, pages)]


def _workload_items() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for item in json.loads((FIX / "healthy_workloads.json").read_text())["items"]:
        out.setdefault(item["kind"], []).append(item)
    return out


_WORKLOADS = _workload_items()
WORKLOAD_PATHS = {
    "/apis/apps/v1/daemonsets": _WORKLOADS.get("DaemonSet", []),
    "/apis/apps/v1/statefulsets": _WORKLOADS.get("StatefulSet", []),
    "/apis/batch/v1/jobs": _WORKLOADS.get("Job", []),
    "/apis/batch/v1/cronjobs": _WORKLOADS.get("CronJob", []),
    "/api/v1/persistentvolumeclaims": _WORKLOADS.get("PersistentVolumeClaim", []),
    "/apis/autoscaling/v2/horizontalpodautoscalers": _WORKLOADS.get("HorizontalPodAutoscaler", []),
}


def test_a_kind_the_server_does_not_serve_is_an_unknown_finding_of_its_check():
    """autoscaling/v2 answered 404 (a server before 1.23): the HPA check is unknown, the DaemonSet check runs."""
    def request(self, method, url, query_params=None, headers=None, body=None, post_params=None,
                _preload_content=True, _request_timeout=None):
        path = url.split(":6443", 1)[1].rstrip("/")
        if path == "/version":
            return FakeResponse({"gitVersion": "v1.22.17"})
        if path.startswith("/apis/autoscaling/v2/"):
            raise rest.ApiException(status=404, reason="Not Found")
        return FakeResponse({"metadata": {"continue": ""}, "items": WORKLOAD_PATHS[path]})

    with mock.patch.object(rest.RESTClientObject, "request", request):
        result = C.inspect_cluster(client(), {"checks": ["daemonsets", "horizontalpodautoscalers"]})
    by_id = {f["id"]: f for f in result["findings"]}
    assert by_id["horizontalpodautoscalers.scaling"]["status"] == "unknown"
    assert "cannot list horizontalpodautoscalers" in by_id["horizontalpodautoscalers.scaling"]["summary"]
    assert "HTTP 404" in by_id["horizontalpodautoscalers.scaling"]["summary"]
    assert by_id["daemonsets.pods"]["status"] == "ok" and by_id["control_plane_services.api"]["status"] == "ok"
    assert result["api_requests"] == {"daemonsets": 1}


def test_inspect_cluster_lists_each_kind_once_for_a_big_cluster():
    """2,000 nodes and 6,000 pods: one LIST per kind (a few pages each), not a call per namespace or pod."""
    nodes = json.loads((FIX / "healthy_nodes.json").read_text())["items"]
    pods = json.loads((FIX / "healthy_pods.json").read_text())["items"]
    by_kind = {
        "/api/v1/nodes": [dict(nodes[i % 2], metadata={**nodes[i % 2]["metadata"], "name": f"n{i}"}) for i in range(2000)],
        "/api/v1/pods": [dict(pods[i % len(pods)], metadata={**pods[i % len(pods)]["metadata"], "name": f"p{i}"}) for i in range(6000)],
        "/apis/apps/v1/deployments": json.loads((FIX / "healthy_deployments.json").read_text())["items"],
        "/api/v1/services": json.loads((FIX / "healthy_services.json").read_text())["items"],
        "/api/v1/endpoints": json.loads((FIX / "healthy_endpoints.json").read_text())["items"],
        **WORKLOAD_PATHS,
    }
    calls = []

    def request(self, method, url, query_params=None, headers=None, body=None, post_params=None,
                _preload_content=True, _request_timeout=None):
        params = dict(query_params or [])
        path = url.split(":6443", 1)[1].rstrip("/")
        calls.append(path)
        if path == "/version":
            return FakeResponse({"gitVersion": "v1.30.14"})
        if path == "/apis/metrics.k8s.io/v1beta1/nodes":   # no metrics-server: the usage check says so
            raise rest.ApiException(status=404, reason="Not Found")
        items = by_kind[path]
        start, limit = int(params.get("continue") or 0), int(params["limit"])
        more = start + limit < len(items)
        return FakeResponse({"metadata": {"continue": str(start + limit) if more else ""}, "items": items[start:start + limit]})

    with mock.patch.object(rest.RESTClientObject, "request", request):
        result = C.inspect_cluster(client(), {"page_size": 500})
    assert result["objects"]["nodes"] == 2000 and result["objects"]["pods"] == 6000
    assert result["api_requests"] == {"nodes": 4, "deployments": 1, "pods": 12, "services": 1, "endpoints": 1,
                                      "daemonsets": 1, "statefulsets": 1, "jobs": 1, "cronjobs": 1,
                                      "persistentvolumeclaims": 1, "horizontalpodautoscalers": 1, "node_metrics": 1}
    assert len(calls) == 1 + 4 + 1 + 12 + 1 + 1 + 6 + 1    # + the one LIST of NodeMetrics
    assert sorted(set(calls) - {"/version", "/apis/metrics.k8s.io/v1beta1/nodes"}) == sorted(by_kind)   # never per namespace
    assert sum(1 for f in result["findings"] if f["id"] == "nodes.ready") == 2000


def test_list_from_the_watch_cache_asks_resource_version_0_on_the_first_page_only():
    """resourceVersion=0 (the watch cache) on the first request; a continue token carries its own version (the API
    refuses both at once); the default read is consistent: no resourceVersion at all."""
    pods = json.loads((FIX / "healthy_pods.json").read_text())["items"]
    calls, request = paged([pods[i % len(pods)] for i in range(12)], 5)
    with mock.patch.object(rest.RESTClientObject, "request", request):
        cached = K.list_all(client(), "pods", page_size=5, from_cache=True)
        first = len(calls)
        K.list_all(client(), "pods", page_size=5)
    assert len(cached.items) == 12 and first == 3
    assert [c[2].get("resourceVersion") for c in calls[:first]] == ["0", None, None]
    assert all("continue" not in c[2] for c in calls[:1]) and all("continue" in c[2] for c in calls[1:first])
    assert all("resourceVersion" not in c[2] for c in calls[first:])


@pytest.mark.parametrize("options, version", [({}, "0"), ({"consistent_read": False}, "0"), ({"consistent_read": True}, None)])
def test_inspect_cluster_reads_the_cache_unless_asked_for_a_consistent_read(options, version):
    pods = json.loads((FIX / "healthy_pods.json").read_text())["items"]
    calls, request = paged(pods, 500)
    with mock.patch.object(rest.RESTClientObject, "request", request):
        C.inspect_cluster(client(), dict(options, checks=["pods"]))
    lists = [c for c in calls if c[1].endswith("/api/v1/pods")]
    assert len(lists) == 1 and lists[0][2].get("resourceVersion") == version


def test_unreachable_api_is_a_critical_finding_not_a_crash():
    api = K.build_client({"host": "https://127.0.0.1:1", "validate_certs": False, "request_timeout": 3})
    result = C.inspect_cluster(api, {"request_timeout": 3})
    [item] = result["findings"]
    assert item["id"] == "control_plane_services.api" and item["status"] == "critical"
    assert "unreachable" in item["summary"] and "127.0.0.1:1" in item["summary"]


def test_http_errors_become_k8s_error():
    def request(self, method, url, **kwargs):
        raise rest.ApiException(status=403, reason="Forbidden")
    with mock.patch.object(rest.RESTClientObject, "request", request), pytest.raises(K.K8sError, match="refused the credentials"):
        K.list_all(client(), "nodes")


def test_expired_continue_token():
    state = {"n": 0}

    def request(self, method, url, query_params=None, **kwargs):
        state["n"] += 1
        if state["n"] == 1:
            return FakeResponse({"metadata": {"continue": "abc"}, "items": [{}]})
        raise rest.ApiException(status=410, reason="Gone")
    with mock.patch.object(rest.RESTClientObject, "request", request), pytest.raises(K.K8sError, match="continue token expired"):
        K.list_all(client(), "pods", page_size=1)


def test_connection_error_message():
    def request(self, method, url, **kwargs):
        raise urllib3.exceptions.MaxRetryError(None, url, "Connection refused")
    with mock.patch.object(rest.RESTClientObject, "request", request), pytest.raises(K.K8sError, match="unreachable"):
        K.list_all(client(), "pods")


@pytest.mark.parametrize("params, message", [
    ({"kubeconfig": "/nonexistent/kubeconfig"}, "kubeconfig /nonexistent/kubeconfig does not exist"),
    ({"host": "https://x:6443", "ca_cert": "/nonexistent/ca.pem"}, "ca_cert /nonexistent/ca.pem does not exist"),
    ({"kubeconfig": str(FIX / "healthy_nodes.json")}, "cannot load kubeconfig"),
])
def test_bad_connection_options(params, message):
    with pytest.raises(K.K8sConfigError, match=message):
        K.build_client(params)


def kubeconfig_file(tmp_path):
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "a",
           "clusters": [{"name": "c", "cluster": {"server": "https://198.18.0.11:6443", "insecure-skip-tls-verify": True}}],
           "users": [{"name": "u", "user": {"token": "abc"}}],
           "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


def test_kubeconfig_and_context(tmp_path):
    path = kubeconfig_file(tmp_path)
    api = K.build_client({"kubeconfig": str(path)})
    assert api.configuration.host == "https://198.18.0.11:6443"
    assert api.configuration.api_key["authorization"] == "Bearer abc"
    with pytest.raises(K.K8sConfigError, match="context missing"):
        K.build_client({"kubeconfig": str(path), "context": "missing"})


def test_empty_context_means_the_current_context(tmp_path):
    """AWX's kubeconfig credential renders an unset Context as "": that is the current context, not a context named ""."""
    api = K.build_client({"kubeconfig": str(kubeconfig_file(tmp_path)), "context": ""})
    assert api.configuration.host == "https://198.18.0.11:6443"


def test_bad_kind_and_page_size():
    with pytest.raises(K.K8sConfigError, match="unknown kind"):
        K.list_all(client(), "kubeops-no-such-kind")
    with pytest.raises(K.K8sConfigError, match="page_size"):
        K.list_all(client(), "pods", page_size=0)


def test_spec_matches_doc_fragment():
    import yaml
    from ansible_collections.kubeops.runbook.plugins.doc_fragments.k8s_auth import ModuleDocFragment
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(doc) == set(K.K8S_AUTH_SPEC)
    for name, spec in K.K8S_AUTH_SPEC.items():
        assert doc[name]["type"] == spec["type"]
        assert doc[name].get("default") == spec.get("default")
        assert doc[name].get("aliases", []) == spec.get("aliases", [])
    assert K.K8S_AUTH_SPEC["api_key"]["no_log"] is True


# -- every request has a timeout; bad kubeconfigs are one line -------------------------------------------------------

import socket  # noqa: E402
import threading  # noqa: E402

from ansible_collections.kubeops.runbook.plugins.module_utils import _scale as S  # noqa: E402


@pytest.fixture
def silent_api():
    """A TCP endpoint that accepts connections and never answers (the review's hanging API server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


def bounded(call, seconds: float = 30):
    """Run call() in a thread; the test fails (instead of hanging) when it does not return in time."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001  # the exception is the outcome under test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds}s: no timeout on the request"
    return outcome


def test_scale_against_an_api_that_never_answers_gives_up(silent_api):
    from kubernetes import client as k8s_client
    api = K.build_client({"host": silent_api, "request_timeout": 1})
    outcome = bounded(lambda: S.Scaler(k8s_client.AppsV1Api(api), 1).read("Deployment", "product", "web"))
    assert "error" in outcome and "timed out" in K.describe_error(outcome["error"]).lower(), outcome


def test_every_call_gets_the_timeout_even_without_asking(silent_api):
    """A call that passes no _request_timeout (any module's, any future one) still cannot hang."""
    from kubernetes import client as k8s_client
    api = K.build_client({"host": silent_api, "request_timeout": 1})
    outcome = bounded(lambda: k8s_client.CoreV1Api(api).list_namespace())
    assert "error" in outcome, outcome
    outcome = bounded(lambda: K.list_all(api, "pods", timeout=1))
    assert isinstance(outcome.get("error"), K.K8sError) and "unreachable" in str(outcome["error"])


@pytest.mark.parametrize("timeout", [0, -5, "x", True])
def test_bad_request_timeout(timeout):
    with pytest.raises(K.K8sConfigError, match="request_timeout must be a positive number"):
        K.build_client({"host": "https://x:6443", "request_timeout": timeout})


@pytest.mark.parametrize("content", [
    "apiVersion: v1\nclusters: [\n  - {name: c",           # malformed YAML
    "- just\n- a list\n",                                   # YAML, but not a mapping
    "",                                                     # empty
    "\x00\x01binary\xff",                                   # garbage
    "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts: []\n",   # no such context
])
def test_malformed_kubeconfig_is_one_line(tmp_path, content):
    path = tmp_path / "kubeconfig"
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    with pytest.raises(K.K8sConfigError) as caught:
        K.build_client({"kubeconfig": str(path)})
    assert str(caught.value).startswith(f"cannot load kubeconfig {path}") and "\n" not in str(caught.value)


def test_directory_as_kubeconfig_is_one_line(tmp_path):
    with pytest.raises(K.K8sConfigError, match=f"^kubeconfig {tmp_path} is not a file$"):
        K.build_client({"kubeconfig": str(tmp_path)})
