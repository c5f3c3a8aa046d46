"""meta/runtime.yml: every module with the shared Kubernetes or etcd connection options is in its action group, so
that `module_defaults: {group/kubeops.runbook.k8s: ...}` sets the connection once for all of them."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import ETCD_AUTH_SPEC
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import K8S_AUTH_SPEC

ROOT = Path(__file__).resolve().parents[2]


def modules_with(fragment: str) -> set[str]:
    found = set()
    for path in (ROOT / "plugins" / "modules").glob("*.py"):
        if re.search(rf"^  - kubeops\.runbook\.{fragment}$", path.read_text(), re.MULTILINE):
            found.add(path.stem)
    return found


@pytest.mark.parametrize("group, fragment", [("k8s", "k8s_auth"), ("etcd", "etcd_auth")])
def test_action_groups_hold_every_module_of_the_connection(group, fragment):
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert set(runtime["action_groups"][group]) == modules_with(fragment) != set()


@pytest.mark.parametrize("spec, env, option, expected", [
    (K8S_AUTH_SPEC, {"K8S_AUTH_KUBECONFIG": "/etc/kubeops/kubeconfig"}, "kubeconfig", "/etc/kubeops/kubeconfig"),
    (K8S_AUTH_SPEC, {"K8S_AUTH_VERIFY_SSL": "no"}, "validate_certs", False),
    (K8S_AUTH_SPEC, {"K8S_AUTH_HOST": "https://192.0.2.1:6443"}, "host", "https://192.0.2.1:6443"),
    (ETCD_AUTH_SPEC, {"ETCDCTL_ENDPOINTS": "https://192.0.2.1:2379,https://192.0.2.2:2379"}, "endpoints",
     ["https://192.0.2.1:2379", "https://192.0.2.2:2379"]),
    (ETCD_AUTH_SPEC, {"ETCDCTL_ENDPOINTS": "https://x:2379", "ETCDCTL_CACERT": "/etc/etcd/ssl/ca.pem"}, "cacert",
     "/etc/etcd/ssl/ca.pem"),
])
def test_environment_fallbacks(monkeypatch, spec, env, option, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = ArgumentSpecValidator(spec).validate({})
    assert result.error_messages == [] and result.validated_parameters[option] == expected


def test_an_explicit_option_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", "/from/env")
    assert ArgumentSpecValidator(K8S_AUTH_SPEC).validate({"kubeconfig": "/given"}).validated_parameters["kubeconfig"] == "/given"
    assert "K8S_AUTH_KUBECONFIG" in os.environ
