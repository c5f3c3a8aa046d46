"""k8s_cluster_info's kubectl version skew: `kubectl version` started before the LISTs and read after them, with
host_hygiene_info's command and finding. Fake kubectl scripts print the output captured from the lab's kubectl."""
from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from ansible_collections.kubeops.runbook.plugins.modules import k8s_cluster_info as M

FIX = Path(__file__).parent / "fixtures" / "hygiene"


class _Module:
    """What the check uses of AnsibleModule: get_bin_path (nothing on PATH here) and run_command."""

    def get_bin_path(self, name):
        return None

    def run_command(self, argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


def fake_kubectl(tmp_path: Path, body: str) -> str:
    path = tmp_path / "kubectl"
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def params(kubectl: str, **more) -> dict:
    return {"kubectl": kubectl, "kubeconfig": "/etc/kube.conf", "context": None, "kubectl_max_skew": 1, **more}


def test_skew_read_after_the_lists(tmp_path):
    out = tmp_path / "argv"
    kubectl = fake_kubectl(tmp_path, f'echo "$@" > {out}; cat {FIX / "kubectl_version_v1.30.13_vs_lab.json"}')
    running = M.KubectlVersion(_Module(), params(kubectl))
    result: dict = {}
    found = running.finding(result)
    assert (found["id"], found["status"]) == ("host.kubectl_skew", "ok")
    assert result["kubectl_versions"] == {"client": "v1.30.13", "server": "v1.30.14"}
    assert out.read_text().split() == ["version", "-o", "json", "--request-timeout=10s", "--kubeconfig", "/etc/kube.conf"]


def test_a_kubectl_that_cannot_run_is_an_unknown_finding(tmp_path):
    missing = M.KubectlVersion(_Module(), params(str(tmp_path / "no-such-kubectl"))).finding({})
    assert missing["status"] == "unknown" and "is not an executable file" in missing["summary"]
    absent = M.KubectlVersion(_Module(), params("kubectl-not-on-path")).finding({})
    assert absent["status"] == "unknown" and "'kubectl-not-on-path' is not installed" in absent["summary"]


def test_a_kubectl_that_does_not_end_in_time_is_an_unknown_finding(tmp_path, monkeypatch):
    monkeypatch.setattr(M.KubectlVersion, "TIMEOUT", 0.3)
    kubectl = fake_kubectl(tmp_path, "exec sleep 2")
    found = M.KubectlVersion(_Module(), params(kubectl)).finding({})
    assert found["status"] == "unknown" and "did not end in 0.3 s" in found["summary"]
