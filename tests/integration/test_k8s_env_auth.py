"""The Kubernetes checks with the connection given only by K8S_AUTH_* environment variables, as AWX's built-in
"OpenShift or Kubernetes API Bearer Token" credential injects it (K8S_AUTH_HOST, K8S_AUTH_API_KEY,
K8S_AUTH_SSL_CA_CERT, K8S_AUTH_VERIFY_SSL): no kubeconfig option, no KUBECONFIG, a service account's bearer token
with read-only access to what the checks list."""
from __future__ import annotations

import base64
import json
import subprocess

import pytest
import yaml

NAME = "kubeops-inspector-itest"
# What the cluster checks LIST, read-only: one rule per API group.
RBAC = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {NAME}, namespace: kube-system}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {NAME}}}
rules:
  - apiGroups: [""]
    resources: [nodes, pods, services, endpoints, namespaces, events]
    verbs: [get, list]
  - apiGroups: [apps]
    resources: [deployments, daemonsets]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {NAME}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {NAME}}}
subjects: [{{kind: ServiceAccount, name: {NAME}, namespace: kube-system}}]
"""
# No other way to the cluster: the variables a kubeconfig could come from are removed (and HOME, whose
# ~/.kube/config the client would read, is an empty directory: see the fixture).
NO_KUBECONFIG = {"KUBECONFIG": None, "K8S_AUTH_KUBECONFIG": None, "K8S_AUTH_HOST": None, "K8S_AUTH_API_KEY": None}
MODULE_ARGS = {"checks": ["nodes", "deployments", "pods", "services", "namespaces"]}


def _kubectl(lab, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(lab.kubectl_bin), "--kubeconfig", str(lab.kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, check=True, timeout=120)


@pytest.fixture(scope="module", name="no_kubeconfig")
def fixture_no_kubeconfig(tmp_path_factory):
    return {**NO_KUBECONFIG, "HOME": str(tmp_path_factory.mktemp("home"))}


@pytest.fixture(scope="module", name="bearer_env")
def fixture_bearer_env(lab, no_kubeconfig, tmp_path_factory):
    """K8S_AUTH_* for a service account of the lab with a short-lived token; the account is removed afterwards."""
    cluster = yaml.safe_load(lab.kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = tmp_path_factory.mktemp("k8s-env") / "ca.pem"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    _kubectl(lab, "apply", "-f", "-", stdin=RBAC)
    try:
        token = _kubectl(lab, "create", "token", NAME, "-n", "kube-system", "--duration", "20m").stdout.strip()
        yield {**no_kubeconfig, "K8S_AUTH_HOST": cluster["server"], "K8S_AUTH_API_KEY": token,
               "K8S_AUTH_SSL_CA_CERT": str(ca), "K8S_AUTH_VERIFY_SSL": "true"}
    finally:
        subprocess.run([str(lab.kubectl_bin), "--kubeconfig", str(lab.kubeconfig), "delete", "--ignore-not-found",
                        "clusterrolebinding/" + NAME, "clusterrole/" + NAME, "-n", "kube-system", "serviceaccount/" + NAME],
                       capture_output=True, text=True, check=False, timeout=120)


def test_cluster_checks_run_with_the_environment_only(lab, bearer_env):
    result = lab.module("localhost", "kubeops.runbook.k8s_cluster_info", MODULE_ARGS, env=bearer_env)
    assert not result.get("failed"), result.get("msg")
    findings = result["findings"]
    by_id = {(f["id"], f["target"]): f for f in findings}
    nodes = json.loads(lab.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    for node in nodes:      # every node of the lab, read through the token
        assert by_id[("nodes.ready", node["metadata"]["name"])]["status"] == "ok"
    assert {f["category"] for f in findings} >= {"nodes", "deployments", "pods", "services"}
    assert not [f for f in findings if f["status"] == "unknown"], [f["summary"] for f in findings if f["status"] == "unknown"]
    assert bearer_env["K8S_AUTH_API_KEY"] not in json.dumps(result)          # the token is never returned


def test_the_token_is_what_authenticates(lab, bearer_env):
    """The same environment with a wrong token is refused by the API server: the checks did use K8S_AUTH_API_KEY."""
    env = {**bearer_env, "K8S_AUTH_API_KEY": "not-a-token"}
    result = lab.module("localhost", "kubeops.runbook.k8s_cluster_info", MODULE_ARGS, env=env)
    text = json.dumps(result)
    assert "refused the credentials (HTTP 401" in text
    assert "not-a-token" not in text


def test_without_the_environment_there_is_no_connection(lab, no_kubeconfig):
    """No option, no K8S_AUTH_*, no kubeconfig: the check says what is missing (no traceback), and reads nothing."""
    result = lab.module("localhost", "kubeops.runbook.k8s_cluster_info", MODULE_ARGS, env=no_kubeconfig)
    text = json.dumps(result)
    assert "no kubeconfig, host or in-cluster service account" in text and "Traceback" not in text
    assert not [f for f in result.get("findings") or [] if f["id"] == "nodes.ready"]
