"""_k8s.py imports only the parts of the kubernetes client a LIST needs; the rest stays reachable."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

LIGHT = """
import json, sys
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s
light = sorted(m for m in sys.modules if m.startswith("kubernetes"))
ok = [c.__name__ for c in (_k8s.k8s_client.CoreV1Api, _k8s.k8s_client.AppsV1Api, _k8s.k8s_client.VersionApi,
                           _k8s.k8s_client.ApiClient, _k8s.k8s_client.Configuration)]
out = {"light": light, "classes": ok, "loader": _k8s.k8s_config.load_kube_config.__name__,
       "api_exception": _k8s.ApiException.__module__}
if "--more" in sys.argv:
    from kubernetes.client import V1Pod              # a name the shell lacks: the real __init__ runs
    import kubernetes
    from kubernetes import config, watch
    out.update(v1pod=V1Pod.__name__, version=kubernetes.__version__, load_config=config.load_config.__name__,
               watch=watch.Watch.__name__, model=kubernetes.client.models.V1Node.__name__,
               complete=len([m for m in sys.modules if m.startswith("kubernetes")]))
print(json.dumps(out))
"""


def _run(*args: str, prelude: str = "") -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", prelude + LIGHT, *args], capture_output=True, text=True, env=env,
                          check=True, timeout=120)
    return json.loads(proc.stdout)


def test_light_import_loads_a_few_modules_and_everything_a_list_needs():
    out = _run()
    assert out["classes"] == ["CoreV1Api", "AppsV1Api", "VersionApi", "ApiClient", "Configuration"]
    assert out["loader"] == "load_kube_config" and out["api_exception"] == "kubernetes.client.exceptions"
    assert len(out["light"]) < 30, out["light"]
    assert "kubernetes.client.models.v1_pod" not in out["light"] and "kubernetes.dynamic" not in out["light"]


def test_the_rest_of_the_package_is_completed_on_demand():
    out = _run("--more")
    assert out["v1pod"] == "V1Pod" and out["model"] == "V1Node" and out["watch"] == "Watch"
    assert out["load_config"] == "load_config" and out["version"].count(".") == 2
    assert out["complete"] > 500


def test_a_process_that_imported_kubernetes_first_keeps_the_whole_package():
    out = _run(prelude="import kubernetes\n")
    assert len(out["light"]) > 500
    assert out["classes"][0] == "CoreV1Api"


@pytest.mark.parametrize("name", ["kubernetes.client", "kubernetes.config"])
def test_completed_shell_answers_missing_names_with_attribute_error(name):
    code = f"""
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s
import importlib
mod = importlib.import_module({name!r})
try:
    mod.no_such_name_here
except AttributeError as exc:
    print("AttributeError", exc)
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=120)
    assert proc.stdout.startswith("AttributeError") and "no_such_name_here" in proc.stdout
