"""host_hygiene_info logic (plugins/module_utils/_hygiene.py): kubectl versions captured against the lab."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _hygiene as H

FIX = Path(__file__).parent / "fixtures" / "hygiene"


@pytest.mark.parametrize("name, client, server", [
    ("kubectl_version_lab_v1.30.json", (1, 30), (1, 30)),
    ("kubectl_version_v1.30.13_vs_lab.json", (1, 30), (1, 30)),
    ("kubectl_version_client_only.json", (1, 30), None),
    ("kubectl_version_unreachable.json", (1, 30), None),
])
def test_parse_kubectl_version(name, client, server):
    versions = H.parse_kubectl_version((FIX / name).read_text())
    assert versions["client"] == client and versions["server"] == server


def test_skew_findings_from_real_output():
    ok = H.kubectl_skew_finding(H.parse_kubectl_version((FIX / "kubectl_version_v1.30.13_vs_lab.json").read_text()), "localhost")
    assert ok["id"] == "host.kubectl_skew" and ok["status"] == "ok" and ok["summary"] == "kubectl v1.30.13, server v1.30.14"
    down = H.kubectl_skew_finding(H.parse_kubectl_version((FIX / "kubectl_version_unreachable.json").read_text()), "localhost")
    assert down["status"] == "unknown"


@pytest.mark.parametrize("client, server, max_skew, status", [
    ({"major": "1", "minor": "30"}, {"major": "1", "minor": "30+"}, 1, "ok"),
    ({"major": "1", "minor": "29"}, {"major": "1", "minor": "30"}, 1, "ok"),
    ({"major": "1", "minor": "20"}, {"major": "1", "minor": "30"}, 1, "warning"),  # Debian bookworm's kubectl
    ({"major": "1", "minor": "31"}, {"major": "1", "minor": "29"}, 1, "warning"),
    ({"major": "1", "minor": "29"}, {"major": "1", "minor": "30"}, 0, "warning"),
    ({"gitVersion": "v1.9.3"}, {"gitVersion": "v1.9.3"}, 1, "ok"),  # the handbook's cluster
    ({"major": "", "minor": "", "gitVersion": "v1.28.2-eks-1"}, {"major": "1", "minor": "30"}, 1, "warning"),
])
def test_skew(client, server, max_skew, status):
    versions = {"client": H.parse_version(client, "client"), "server": H.parse_version(server, "server"),
                "client_git": "c", "server_git": "s"}
    assert H.kubectl_skew_finding(versions, "localhost", max_skew)["status"] == status


@pytest.mark.parametrize("text", ["", "Please enter Username: ", "{", "[1, 2]"])
def test_parse_kubectl_version_bad(text):
    with pytest.raises(H.HygieneError):
        H.parse_kubectl_version(text)


def test_container_root(tmp_path):
    real = tmp_path / "containerd"
    real.mkdir()
    link = tmp_path / "docker"
    link.symlink_to(tmp_path / "data-docker")
    afile = tmp_path / "file"
    afile.write_text("x")
    assert H.container_root_finding(str(real), "n")["status"] == "ok"
    linked = H.container_root_finding(str(link), "n")
    assert linked["status"] == "warning" and linked["details"]["target"] == str(tmp_path / "data-docker")
    assert linked["id"] == "host.docker_root_symlink" and linked["category"] == "host"
    missing = H.container_root_finding(str(tmp_path / "nope"), "n")
    assert missing["status"] == "ok" and "does not exist" in missing["summary"]
    assert H.container_root_finding(str(afile), "n")["status"] == "warning"


@pytest.mark.parametrize("value, error, status", [
    (None, None, "ok"),  # this kernel (and the lab's) has no fs.may_detach_mounts: not applicable
    ("1\n", None, "ok"),
    ("0\n", None, "warning"),
    (None, "/proc/sys/fs/may_detach_mounts cannot be read: Permission denied", "unknown"),
])
def test_may_detach_mounts(value, error, status):
    item = H.may_detach_mounts_finding(value, "node1", error)
    assert item["status"] == status and item["id"] == "host.may_detach_mounts"


def test_read_may_detach_mounts_on_this_kernel(tmp_path):
    value, error = H.read_may_detach_mounts()
    assert error is None and (value is None or value.strip() in ("0", "1"))
    (tmp_path / "v").write_text("1\n")
    assert H.read_may_detach_mounts(str(tmp_path / "v")) == ("1\n", None)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_fuzz_kubectl_version(text):
    try:
        versions = H.parse_kubectl_version(text)
    except H.HygieneError:
        return
    H.kubectl_skew_finding(versions, "localhost")


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=len((FIX / "kubectl_version_lab_v1.30.json").read_text())))
def test_fuzz_truncated_kubectl_version(cut):
    try:
        H.parse_kubectl_version((FIX / "kubectl_version_lab_v1.30.json").read_text()[:cut])
    except H.HygieneError:
        pass


# -- kubectl version as k8s_cluster_info starts it beside its LISTs (the same command and finding) ----------------
class _Module:
    def __init__(self, found):
        self.found = found

    def get_bin_path(self, name):
        return self.found


def test_kubectl_version_argv(tmp_path):
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\n", encoding="utf-8")
    kubectl.chmod(0o755)
    argv, problem = H.kubectl_version_argv(_Module(str(kubectl)), {
        "kubectl": "kubectl", "kubeconfig": "/etc/kube.conf", "context": "lab"})
    assert problem is None
    assert argv == [str(kubectl), "version", "-o", "json", "--request-timeout=10s",
                    "--kubeconfig", "/etc/kube.conf", "--context", "lab"]
    assert H.kubectl_version_argv(_Module(None), {"kubectl": "kubectl"}) == (None, "kubectl 'kubectl' is not installed")
    assert H.kubectl_version_argv(_Module(None), {"kubectl": str(kubectl)})[0][0] == str(kubectl)
    kubectl.chmod(0o644)
    assert H.kubectl_version_argv(_Module(None), {"kubectl": str(kubectl)}) == (
        None, f"kubectl {kubectl} is not an executable file")


def test_kubectl_skew_outcome_from_real_output():
    result = {}
    ok = H.kubectl_skew_outcome(0, (FIX / "kubectl_version_v1.30.13_vs_lab.json").read_text(), "", None, 1, result)
    assert (ok["status"], ok["host"]) == ("ok", None) and result["kubectl_versions"]["client"] == "v1.30.13"
    down = H.kubectl_skew_outcome(int((FIX / "kubectl_version_unreachable.rc").read_text()),
                                  (FIX / "kubectl_version_unreachable.json").read_text(),
                                  (FIX / "kubectl_version_unreachable.stderr").read_text(), "localhost", 1, {})
    assert down["status"] == "unknown" and "could not get the server version" in down["summary"]
    garbage = H.kubectl_skew_outcome(1, "error: unknown flag", "boom", "localhost", 1, {})
    assert garbage["status"] == "unknown" and "(rc=1): boom" in garbage["summary"]
