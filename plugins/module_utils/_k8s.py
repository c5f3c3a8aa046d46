# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes API access for kubeops.runbook. PRIVATE to the collection: not a public API.

K8S_AUTH_SPEC is paired one-to-one with the doc fragment ``kubeops.runbook.k8s_auth``.
``build_client()`` returns an ``ApiClient`` of the official ``kubernetes`` client; ``list_all()`` does ONE
paginated LIST (``limit`` + ``continue``) of a kind for the whole cluster and returns plain dicts, the same
JSON ``kubectl get -A -o json`` prints.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import typing as t

from ansible.module_utils.common.parameters import env_fallback

# What a LIST needs from the official client: kubernetes.client.<these> and kubernetes.config.<these>.
_CLIENT_MODULES = ("configuration", "exceptions", "rest", "api_client", "api.core_v1_api", "api.apps_v1_api",
                   "api.version_api", "api.policy_v1_api", "api.batch_v1_api", "api.autoscaling_v2_api")
_CONFIG_MODULES = ("config_exception", "kube_config", "incluster_config")
_SHELLS = ("kubernetes", "kubernetes.client", "kubernetes.client.api", "kubernetes.client.models", "kubernetes.config")


def _shell(name: str) -> t.Any:
    """A package entered in sys.modules with its real __path__ but its __init__ not run yet; it runs the real
    __init__ the first time anything asks it for a name it lacks (PEP 562 module __getattr__)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        raise ImportError(f"no package {name}")
    module = importlib.util.module_from_spec(spec)
    done: list[bool] = []

    def complete(attr: str) -> t.Any:
        if done:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        done.append(True)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        if attr not in module.__dict__:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        return module.__dict__[attr]

    module.__getattr__ = complete  # type: ignore[attr-defined]
    sys.modules[name] = module
    parent, _dot, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def _import_kubernetes() -> tuple[t.Any, t.Any]:
    """Import the parts of the official client a LIST needs, instead of the whole package.

    ``import kubernetes`` runs kubernetes/__init__.py, which imports every API group, ~700 model classes, the
    dynamic client, watch, stream and leader election: about half of the import's CPU time, paid by every module
    run and never used (LISTs here return raw JSON, never models). When nothing in the process has imported the
    package yet, its packages become shells (see _shell) and only the submodules used here are imported; any other
    code in the same process that asks for more gets the complete package. Returns (client, config) modules.
    """
    if "kubernetes" in sys.modules:
        return importlib.import_module("kubernetes.client"), importlib.import_module("kubernetes.config")
    try:
        shells = {name: _shell(name) for name in _SHELLS}
        for sub in _CLIENT_MODULES[:4]:
            importlib.import_module(f"kubernetes.client.{sub}")
        client = shells["kubernetes.client"]
        # kube_config does `from kubernetes.client import ApiClient, Configuration`.
        client.Configuration = sys.modules["kubernetes.client.configuration"].Configuration
        client.ApiClient = sys.modules["kubernetes.client.api_client"].ApiClient
        for sub in _CLIENT_MODULES[4:]:
            module = importlib.import_module(f"kubernetes.client.{sub}")
            for attr in ("CoreV1Api", "AppsV1Api", "VersionApi", "PolicyV1Api", "BatchV1Api", "AutoscalingV2Api"):
                if hasattr(module, attr):
                    setattr(client, attr, getattr(module, attr))
        config = shells["kubernetes.config"]
        for sub in _CONFIG_MODULES:
            importlib.import_module(f"kubernetes.config.{sub}")
        config.load_kube_config = sys.modules["kubernetes.config.kube_config"].load_kube_config
        config.load_incluster_config = sys.modules["kubernetes.config.incluster_config"].load_incluster_config
        return client, config
    except (ImportError, AttributeError):
        # Another layout of the package: forget the shells and import it the ordinary way.
        for name in _SHELLS:
            if getattr(sys.modules.get(name), "__getattr__", None) is not None:
                del sys.modules[name]
        import kubernetes.client  # pylint: disable=import-outside-toplevel,redefined-outer-name
        import kubernetes.config  # pylint: disable=import-outside-toplevel
        return kubernetes.client, kubernetes.config


try:
    k8s_client, k8s_config = _import_kubernetes()
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the target
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc
    ApiException = ConfigException = Exception  # type: ignore[misc,assignment]

# The connection options of every Kubernetes module, each with the environment variable kubernetes.core reads for
# it, so that K8S_AUTH_* set for kubernetes.core work here too (module_defaults of group/kubeops.runbook.k8s also).
K8S_AUTH_SPEC: dict[str, dict] = {
    "kubeconfig": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": (env_fallback, ["K8S_AUTH_CERT_FILE"])},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False,
                   "fallback": (env_fallback, ["K8S_AUTH_KEY_FILE"])},
    "validate_certs": {"type": "bool", "default": True, "aliases": ["verify_ssl"],
                       "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "request_timeout": {"type": "int", "default": 30},
}

# kind -> (API class name, method listing it across all namespaces / cluster-wide)
KINDS: dict[str, tuple[str, str]] = {
    "nodes": ("CoreV1Api", "list_node"),
    "pods": ("CoreV1Api", "list_pod_for_all_namespaces"),
    "services": ("CoreV1Api", "list_service_for_all_namespaces"),
    "endpoints": ("CoreV1Api", "list_endpoints_for_all_namespaces"),
    "namespaces": ("CoreV1Api", "list_namespace"),
    "deployments": ("AppsV1Api", "list_deployment_for_all_namespaces"),
    "daemonsets": ("AppsV1Api", "list_daemon_set_for_all_namespaces"),
    "statefulsets": ("AppsV1Api", "list_stateful_set_for_all_namespaces"),
    "jobs": ("BatchV1Api", "list_job_for_all_namespaces"),
    "cronjobs": ("BatchV1Api", "list_cron_job_for_all_namespaces"),
    "persistentvolumeclaims": ("CoreV1Api", "list_persistent_volume_claim_for_all_namespaces"),
    "horizontalpodautoscalers": ("AutoscalingV2Api", "list_horizontal_pod_autoscaler_for_all_namespaces"),
    "events": ("CoreV1Api", "list_event_for_all_namespaces"),
    "poddisruptionbudgets": ("PolicyV1Api", "list_pod_disruption_budget_for_all_namespaces"),
    "secrets": ("CoreV1Api", "list_secret_for_all_namespaces"),   # TLS Secrets only (a field selector)
}

DEFAULT_PAGE_SIZE = 500
DEFAULT_TIMEOUT = 30.0


class K8sError(Exception):
    """The Kubernetes API could not be configured or reached; the message is for an operator."""


class K8sConfigError(K8sError):
    """The connection options are wrong (missing kubeconfig, bad context, missing cert file): bad input."""


def _configuration(params: dict) -> "k8s_client.Configuration":
    kubeconfig = params.get("kubeconfig")
    # An empty context means the kubeconfig's current-context (AWX's kubeconfig credential renders an unset Context as
    # ""; the client would look for a context named "").
    context = params.get("context") or None
    host = params.get("host")
    cfg = k8s_client.Configuration()
    if kubeconfig or (not host and (os.environ.get("KUBECONFIG") or os.path.exists(os.path.expanduser("~/.kube/config")))):
        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
        if not os.path.exists(path):
            raise K8sConfigError(f"kubeconfig {path} does not exist")
        if not os.path.isfile(path):
            raise K8sConfigError(f"kubeconfig {path} is not a file")
        try:
            k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # YAML, I/O and config errors of a foreign file alike
            why = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise K8sConfigError(f"cannot load kubeconfig {path} (context {context or 'current'}): {why}") from None
    elif host:
        cfg.host = host
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise K8sConfigError("no kubeconfig, host or in-cluster service account: set kubeconfig or host") from exc
    if host:
        cfg.host = host
    if params.get("api_key"):
        cfg.api_key = {"authorization": f"Bearer {params['api_key']}"}
    for option, attr in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file")):
        if params.get(option):
            if not os.path.exists(params[option]):
                raise K8sConfigError(f"{option} {params[option]} does not exist")
            setattr(cfg, attr, params[option])
    if params.get("validate_certs") is False:
        cfg.verify_ssl = False
    # Fail fast when the API server is down: one retry, not urllib3's default of three with back-off.
    cfg.retries = 1
    return cfg


def build_client(params: dict) -> "k8s_client.ApiClient":
    """An ApiClient from module params (K8S_AUTH_SPEC keys); raises K8sError with a readable message.

    Every request made through it has a timeout (``request_timeout``, default 30 s; see ``apply_timeout``).
    """
    if not HAS_KUBERNETES:
        raise K8sConfigError(f"the kubernetes Python client is required: {KUBERNETES_IMPORT_ERROR}")
    timeout = params.get("request_timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise K8sConfigError(f"request_timeout must be a positive number of seconds, got {timeout!r}")
    return apply_timeout(k8s_client.ApiClient(_configuration(params)), timeout or DEFAULT_TIMEOUT)


def request_timeout(seconds: float | None = None) -> tuple[float, float]:
    """(connect, read) timeout of one request: the read timeout is ``seconds``, connecting gets at most 10 s of it."""
    seconds = float(seconds or DEFAULT_TIMEOUT)
    return (min(seconds, 10.0), seconds)


def apply_timeout(api_client: t.Any, seconds: float | None = None) -> t.Any:
    """Make every request of ``api_client`` time out: the one timeout path of the collection's API calls.

    The official client sends a request without any timeout unless each call passes ``_request_timeout``; an API
    endpoint that accepts connections and never answers then hangs the caller for good. Here the client's REST layer
    fills in ``request_timeout(seconds)`` wherever a call did not give its own.
    """
    default = request_timeout(seconds)
    rest = api_client.rest_client
    send = rest.request

    def request(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = default
        return send(*args, **kwargs)

    rest.request = request
    return api_client


def describe_error(exc: BaseException, host: str | None = None) -> str:
    """One line for an operator, from an ApiException or a urllib3/socket error."""
    where = f" at {host}" if host else ""
    if isinstance(exc, ApiException):
        reason = exc.reason or ""
        if exc.status in (401, 403):
            return f"Kubernetes API{where} refused the credentials (HTTP {exc.status} {reason})"
        return f"Kubernetes API{where} answered HTTP {exc.status} {reason}".rstrip()
    text = str(exc)
    if "Max retries exceeded" in text or "Connection refused" in text or "timed out" in text.lower():
        return f"Kubernetes API{where} is unreachable: {text.splitlines()[0][:300]}"
    return f"Kubernetes API{where} request failed: {type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


class ListResult(t.NamedTuple):
    items: list[dict]
    requests: int
    resource_version: str | None


def list_all(api_client: t.Any, kind: str, page_size: int = DEFAULT_PAGE_SIZE, timeout: float = 30,
             label_selector: str | None = None, field_selector: str | None = None,
             from_cache: bool = False) -> ListResult:
    """ONE paginated LIST of ``kind`` for the whole cluster; returns the items as plain dicts.

    By default the read is consistent (a quorum read from etcd, page by page): what a remediation that decides on
    the result needs. ``from_cache`` asks for ``resourceVersion=0`` on the first page, the read client-go's informers
    start with: the API server answers from its watch cache (which may lag the newest write by a moment) instead of
    reading and decoding every object from etcd again, page by page; servers before 1.31 answer it in one page
    (``limit`` ignored), later ones may page it. At 12,000 pods that is most of an inspection's time on a busy
    control plane (bench/README.md, P1).

    Raises K8sError when the API cannot be reached or refuses.
    """
    try:
        api_name, method = KINDS[kind]
    except KeyError:
        raise K8sConfigError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    if page_size < 1:
        raise K8sConfigError(f"page_size must be at least 1, got {page_size}")
    api = getattr(k8s_client, api_name)(api_client)
    func = getattr(api, method)
    items: list[dict] = []
    token: str | None = None
    requests = 0
    resource_version = None
    host = getattr(getattr(api_client, "configuration", None), "host", None)
    while True:
        kwargs: dict[str, t.Any] = {"limit": page_size, "_preload_content": False, "_request_timeout": request_timeout(timeout)}
        if token:
            kwargs["_continue"] = token
        elif from_cache:
            kwargs["resource_version"] = "0"   # the first page only: a continue token carries its own version
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        try:
            response = func(**kwargs)
            requests += 1
            body = json.loads(response.data)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # urllib3/socket errors share no narrower base
            if isinstance(exc, ApiException) and exc.status == 410 and token:
                raise K8sError(f"the {kind} list changed too much while paging (continue token expired); run again") from exc
            if isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, ApiException):
                raise K8sError(f"Kubernetes API{f' at {host}' if host else ''} returned no JSON for {kind}: {exc}") from exc
            raise K8sError(describe_error(exc, host)) from exc
        items.extend(body.get("items") or [])
        metadata = body.get("metadata") or {}
        resource_version = metadata.get("resourceVersion", resource_version)
        token = metadata.get("continue")
        if not token:
            return ListResult(items, requests, resource_version)


def server_version(api_client: t.Any, timeout: float = 30) -> dict:
    """GET /version: proves the apiserver answers; raises K8sError otherwise."""
    try:
        response = k8s_client.VersionApi(api_client).get_code(_preload_content=False, _request_timeout=request_timeout(timeout))
        return json.loads(response.data)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors alike
        raise K8sError(describe_error(exc, api_client.configuration.host)) from exc
