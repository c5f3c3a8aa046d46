"""Version skew across the fleet and known-bad versions (module_utils/_versions.py, plugin_utils/_version_skew.py) on
objects captured on the lab: nodes, /version, etcd endpoint status, kube-proxy and kubectl output."""
from __future__ import annotations

import copy
import importlib
import json
import types
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd as E
from ansible_collections.kubeops.runbook.plugins.module_utils import _versions as V
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import node_findings
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _version_skew as S

FIX = Path(__file__).parent / "fixtures"
NODES = json.loads((FIX / "versions" / "lab_nodes.json").read_text())["items"]
VERSION = json.loads((FIX / "versions" / "lab_version.json").read_text())
MEMBER_HOSTS = {"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"}


def etcd_findings(version: str | None = None, only: str | None = None) -> list[dict]:
    """The lab's etcd.member findings; ``version`` replaces the version member ``only`` (or every member) reports."""
    status = json.loads((FIX / "etcd" / "lab_tls_endpoint_status.json").read_text())
    for item in status:
        if version and (only is None or only in item["Endpoint"]):
            item["Status"]["version"] = version
    members = E.parse_member_list((FIX / "etcd" / "lab_tls_member_list.json").read_text())
    return E.cluster_findings(members, E.parse_endpoint_status(json.dumps(status)),
                              E.parse_endpoint_health((FIX / "etcd" / "lab_tls_endpoint_health.json").read_text()),
                              [], member_hosts=MEMBER_HOSTS)


def api_finding(version: str = VERSION["gitVersion"]) -> dict:
    return {"id": "control_plane_services.api", "target": "https://198.18.0.11:6443", "status": "ok",
            "details": {"version": version}}


def host_finding(host: str, **versions: str) -> dict:
    return V.host_finding({k.replace("_", "-"): v for k, v in versions.items()}, {}, host)


def nodes_with(**kubelets: str) -> list[dict]:
    nodes = copy.deepcopy(NODES)
    for node in nodes:
        if node["metadata"]["name"] in kubelets:
            node["status"]["nodeInfo"]["kubeletVersion"] = kubelets[node["metadata"]["name"]]
    return nodes


def lab_run(nodes=None, etcd=None, hosts=None, api=None) -> list[dict]:
    """The findings a lab run records, as version_skew_info reads them."""
    return ([api or api_finding()] + node_findings(NODES if nodes is None else nodes)
            + (etcd_findings() if etcd is None else etcd)
            + (hosts if hosts is not None else [host_finding("node1", kube_proxy="v1.30.14"),
                                                host_finding("node2", kube_proxy="v1.30.14"),
                                                host_finding("master1", kubectl="v1.30.14")]))


def by_id(findings):
    return {f["id"]: f for f in findings}


BUILTIN = S.known_bad(True, [], [])


def test_healthy_lab_is_clean_with_the_shipped_list():
    found = by_id(V.fleet_findings(lab_run(), BUILTIN))
    assert set(found) == {"versions.kube_apiserver", "versions.kubelet", "versions.kube_proxy", "versions.kubectl",
                          "versions.etcd"}
    assert {f["status"] for f in found.values()} == {"ok"}, [f["summary"] for f in found.values()]
    assert found["versions.kubelet"]["details"]["versions"] == {"node1": "v1.30.14", "node2": "v1.30.14"}
    assert found["versions.kubelet"]["details"]["max_skew"] == 3
    assert found["versions.etcd"]["details"]["versions"] == {"master1": "3.4.23", "node1": "3.4.23", "node2": "3.4.23"}
    assert found["versions.etcd"]["details"]["hosts"] == {"master1": "master1", "node1": "node1", "node2": "node2"}
    assert found["versions.kubelet"]["summary"] == \
        "kubelet v1.30.14 on 2 nodes, within the supported skew of kube-apiserver v1.30.14"


def test_lab_etcd_is_not_in_the_shipped_list():
    assert V.known_bad_matches("etcd", V.parse_version("3.4.23"), BUILTIN) == []


@pytest.mark.parametrize("kubelet, api, status, words", [
    ("v1.27.3", "v1.30.14", "ok", "within the supported skew"),  # 3 older: supported since 1.28
    ("v1.26.15", "v1.30.14", "warning", "node1 v1.26.15: 4 minor versions older than kube-apiserver v1.30.14 (supported: 3)"),
    ("v1.25.0", "v1.27.3", "ok", "within the supported skew"),   # 2 older: supported before 1.28 too
    ("v1.24.17", "v1.27.3", "warning", "node1 v1.24.17: 3 minor versions older than kube-apiserver v1.27.3 (supported: 2)"),
    ("v1.31.0", "v1.30.14", "warning", "node1 v1.31.0: newer than kube-apiserver v1.30.14 (never supported)"),
    ("v1.21.4", "v1.22.17", "warning", "node1 v1.21.4: known bad: CVE-2021-25741"),   # inside the skew, known bad
])
def test_kubelet_skew_policy(kubelet, api, status, words):
    findings = V.fleet_findings(lab_run(nodes=nodes_with(node1=kubelet, node2=api), api=api_finding(api)), BUILTIN)
    kubelet_finding = by_id(findings)["versions.kubelet"]
    assert kubelet_finding["status"] == status, kubelet_finding["summary"]
    assert words in kubelet_finding["summary"]
    assert list(kubelet_finding["details"]["problems"]) == ([] if status == "ok" else ["node1"])


def test_kube_proxy_and_kubectl():
    hosts = [host_finding("node1", kube_proxy="v1.31.2"), host_finding("node2", kube_proxy="v1.30.1"),
             host_finding("master1", kubectl="v1.28.4")]
    found = by_id(V.fleet_findings(lab_run(hosts=hosts), []))
    assert found["versions.kube_proxy"]["status"] == "warning"
    assert list(found["versions.kube_proxy"]["details"]["problems"]) == ["node1"]
    assert found["versions.kubectl"]["status"] == "warning"
    assert "master1 v1.28.4: 2 minor versions from kube-apiserver v1.30.14 (supported: 1)" in \
        found["versions.kubectl"]["summary"]
    # one minor either way is fine for kubectl
    found = by_id(V.fleet_findings(lab_run(hosts=[host_finding("master1", kubectl="v1.31.0")]), []))
    assert found["versions.kubectl"]["status"] == "ok"
    assert "versions.kube_proxy" not in found   # no host told a kube-proxy version: no finding


def test_etcd_members_on_different_versions():
    found = by_id(V.fleet_findings(lab_run(etcd=etcd_findings("3.4.27", only="198.18.0.22")), BUILTIN))
    etcd = found["versions.etcd"]
    assert etcd["status"] == "warning"
    assert etcd["summary"].startswith("etcd: 2 versions across 3 members (3.4.23, 3.4.27): run one version")


@pytest.mark.parametrize("version, status, reason", [
    ("3.5.1", "critical", "etcd-io/etcd#13766"),
    ("3.5.4", "warning", "defragmentation"),
    ("3.4.21", "warning", "auth is enabled"),
    ("3.5.6", "ok", None),
])
def test_etcd_known_bad(version, status, reason):
    etcd = by_id(V.fleet_findings(lab_run(etcd=etcd_findings(version)), BUILTIN))["versions.etcd"]
    assert etcd["status"] == status, etcd["summary"]
    if reason:
        assert reason in etcd["summary"]
        assert all(e["url"].startswith("https://github.com/") for e in etcd["details"]["known_bad"])
    else:
        assert "known_bad" not in etcd["details"]


def test_operator_file_lists_the_labs_etcd(tmp_path):
    own = tmp_path / "ours.yml"
    own.write_text("known_bad:\n  - {component: etcd, from: 3.4.23, fixed: 3.4.24, status: critical,"
                   " reason: our own outage of May}\n")
    etcd = by_id(V.fleet_findings(lab_run(), S.known_bad(True, [str(own)], [])))["versions.etcd"]
    assert etcd["status"] == "critical"
    assert etcd["summary"] == "etcd: master1 3.4.23: known bad: our own outage of May; node1 3.4.23: known bad: our " \
        "own outage of May; node2 3.4.23: known bad: our own outage of May"


def test_kwok_version_is_unknown_not_ok():
    etcd = by_id(V.fleet_findings(lab_run(nodes=nodes_with(node1="kwok-0.6.1")), []))["versions.kubelet"]
    assert etcd["status"] == "unknown"
    assert "'kwok-0.6.1' is not a release version" in etcd["summary"]


def test_api_down_skew_not_checked_but_known_bad_still_is():
    findings = [f for f in lab_run(nodes=nodes_with(node1="v1.22.1")) if f["id"] != "control_plane_services.api"]
    found = by_id(V.fleet_findings(findings, BUILTIN))
    assert "versions.kube_apiserver" not in found
    assert found["versions.kubelet"]["status"] == "warning"
    assert "skew not checked: the kube-apiserver version is unknown" in found["versions.kubelet"]["summary"]
    assert "CVE-2021-25741" in found["versions.kubelet"]["summary"]


@pytest.mark.parametrize("text, expected", [
    ("v1.30.14", (1, 30, 14)), ("1.30.14", (1, 30, 14)), ("v1.29.3-eks-1-29", (1, 29, 3)), ("3.4.23", (3, 4, 23)),
    ("kwok-0.6.1", None), ("", None), (None, None), ("v1.30", None),
])
def test_parse_version(text, expected):
    assert V.parse_version(text) == expected


def test_host_outputs_as_captured():
    assert V.parse_kube_proxy_version((FIX / "versions" / "lab_kube_proxy_version.txt").read_text()) == "v1.30.14"
    assert V.parse_kubectl_client_version((FIX / "versions" / "lab_kubectl_client.json").read_text()) == "v1.30.14"
    assert V.parse_kubectl_client_version("error: unknown flag") is None


class FakeModule:
    def __init__(self, installed: dict):
        self.installed = installed
        self.calls = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        del required
        self.calls.append((name, opt_dirs))
        return f"/app/kubernetes/server/bin/{name}" if name in self.installed else None

    def run_command(self, argv, environ_update=None):
        del environ_update
        return self.installed[argv[0].rsplit("/", 1)[-1]]


def test_host_check():
    module = FakeModule({"kube-proxy": (0, (FIX / "versions" / "lab_kube_proxy_version.txt").read_text(), "")})
    params = {"components": ["kube-proxy", "kubectl"], "kube_proxy": "kube-proxy", "kubectl": "kubectl",
              "bin_dirs": ["/app/kubernetes/server/bin"]}
    out = V.inspect(module, params, "node1")
    assert out["findings"] == [{"id": "versions.host", "category": "versions", "target": "node1", "host": "node1",
                                "status": "ok", "summary": "kube-proxy v1.30.14",
                                "details": {"versions": {"kube-proxy": "v1.30.14"}}}]
    assert module.calls[0] == ("kube-proxy", ["/app/kubernetes/server/bin"])
    broken = FakeModule({"kubectl": (1, "", "exec format error")})
    bad = V.inspect(broken, dict(params, components=["kubectl"]), "master1")["findings"][0]
    assert bad["status"] == "unknown" and "exec format error" in bad["summary"]


@pytest.mark.parametrize("entries, message", [
    ("x", "must be a list"),
    ([{"component": "containerd", "fixed": "1.6.1", "reason": "x"}], "component must be one of"),
    ([{"component": "etcd", "reason": "x"}], "needs from and/or fixed"),
    ([{"component": "etcd", "fixed": "3.5", "reason": "x"}], "fixed must be a version like 3.5.3, got '3.5'"),
    ([{"component": "etcd", "from": "3.5.3", "fixed": "3.5.0", "reason": "x"}], "is not before fixed"),
    ([{"component": "etcd", "fixed": "3.5.3", "reason": "x", "status": "ok"}], "status must be warning or critical"),
    ([{"component": "etcd", "fixed": "3.5.3"}], "reason must be a non-empty string"),
    ([{"component": "etcd", "fixed": "3.5.3", "reason": "x", "severity": "high"}], "unknown key(s) severity"),
])
def test_bad_known_bad_entries(entries, message):
    with pytest.raises(V.VersionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        V.load_known_bad(entries)


def test_bad_known_bad_file(tmp_path):
    with pytest.raises(V.VersionError, match="cannot read /nonexistent.yml"):
        S.known_bad(False, ["/nonexistent.yml"], [])
    bad = tmp_path / "bad.yml"
    bad.write_text("- {component: etcd, fixed: 3.5.3}\n")
    with pytest.raises(V.VersionError, match=rf"{bad}\[0\]: reason must be"):
        S.known_bad(False, [str(bad)], [])


def test_shipped_list_is_sourced():
    assert len(BUILTIN) >= 5
    assert all(e["url"] and e["url"].startswith("https://github.com/") for e in BUILTIN)


def skew_action(args: dict, hostvars: dict):
    """The version_skew_info action as Ansible runs it on localhost: everything real, no module is sent anywhere."""
    module = importlib.import_module("ansible_collections.kubeops.runbook.plugins.action.version_skew_info")
    task = types.SimpleNamespace(args=dict(args), async_val=0, check_mode=False, delegate_to=None, delegate_facts=False,
                                 run_once=False, action="kubeops.runbook.version_skew_info",
                                 get_name=lambda: "Compare the versions")
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp/x"))
    task_vars = {"inventory_hostname": "localhost", "ansible_facts": dict(hostvars["localhost"]["ansible_facts"]),
                 "hostvars": hostvars, "groups": {"all": [h for h in hostvars if h != "localhost"]}}
    plugin = module.ActionModule(task, connection, None, DataLoader(), Templar(loader=DataLoader(), variables=task_vars))
    return plugin.run(task_vars=task_vars)


def lab_hostvars() -> dict:
    """Where a daily inspection run leaves the findings: the API check's and the etcd check's on localhost / master1,
    each host's versions.host on that host."""
    findings = lab_run()
    local = [f for f in findings if f["id"] in ("control_plane_services.api", "nodes.ready")]
    etcd = [f for f in findings if f["id"].startswith("etcd.")]
    hosts = {f["host"]: f for f in findings if f["id"] == "versions.host"}
    return {"localhost": {"ansible_facts": {"kubeops_findings": local}},
            "master1": {"ansible_facts": {"kubeops_findings": etcd + [hosts["master1"]]}},
            "node1": {"ansible_facts": {"kubeops_findings": [hosts["node1"]]}},
            "node2": {"ansible_facts": {"kubeops_findings": [hosts["node2"]]}},
            "mw1": {}}


def test_action_reads_every_hosts_findings_and_records_on_localhost():
    hostvars = lab_hostvars()
    result = skew_action({}, hostvars)
    assert not result.get("failed")
    statuses = {f["id"]: f["status"] for f in result["findings"]}
    assert statuses == {"versions.kube_apiserver": "ok", "versions.kubelet": "ok", "versions.kube_proxy": "ok",
                        "versions.kubectl": "ok", "versions.etcd": "ok"}
    assert result["known_bad_entries"] == len(BUILTIN)
    # appended to what localhost already had
    assert result["ansible_facts"]["kubeops_findings"] == hostvars["localhost"]["ansible_facts"]["kubeops_findings"] \
        + result["findings"]


def test_action_bad_file_is_unknown_for_every_component(tmp_path):
    bad = tmp_path / "ours.yml"
    bad.write_text("- {component: etcd, from: 3.4.23, reason: ''}\n")
    result = skew_action({"known_bad_files": [str(bad)]}, lab_hostvars())
    assert result["failed"] is False
    assert {f["id"] for f in result["findings"]} == set(V.FINDING_IDS.values())
    assert {f["status"] for f in result["findings"]} == {"unknown"}
    assert result["findings"][0]["summary"] == f"check could not run: {bad}[0]: reason must be a non-empty string"
    result = skew_action({"kubectl_max_skew": "one"}, lab_hostvars())
    assert {f["status"] for f in result["findings"]} == {"unknown"}
    assert "kubectl_max_skew" in result["findings"][0]["summary"]


def test_action_in_a_merge_compares_the_slices_hosts_too(tmp_path):
    """The merge step of a sliced run: the merge itself ran only the cluster-wide checks; each host's kube-proxy and
    kubectl versions are in the slices' partials. Without them the host versions are missing (no kube-proxy known)."""
    from ansible_collections.kubeops.runbook.plugins.plugin_utils import _slices
    full = lab_hostvars()
    merge_only = {"localhost": full["localhost"],
                  "master1": {"ansible_facts": {"kubeops_findings": [
                      f for f in full["master1"]["ansible_facts"]["kubeops_findings"] if f["id"] != "versions.host"]}}}
    for hosts in (["master1"], ["node1", "node2"]):
        found = [f for h in hosts for f in full[h]["ansible_facts"]["kubeops_findings"] if f["id"] == "versions.host"]
        doc = _slices.partial("kubernetes", "2026-12-06T09:00:00Z", "2026-12-06T09:01:00Z",
                              {h: ["reachable", ""] for h in hosts}, found, {})
        (tmp_path / _slices.partial_name(doc)).write_text(json.dumps(doc), encoding="utf-8")
    alone = {f["id"]: f for f in skew_action({}, merge_only)["findings"]}
    merged = {f["id"]: f for f in skew_action({"slice_dir": str(tmp_path)}, merge_only)["findings"]}
    assert merged == {f["id"]: f for f in skew_action({}, full)["findings"]}
    assert "versions.kube_proxy" in merged and alone.get("versions.kube_proxy") != merged["versions.kube_proxy"]
    (tmp_path / "partial-bad.json").write_text("{", encoding="utf-8")
    broken = skew_action({"slice_dir": str(tmp_path)}, merge_only)["findings"]
    assert {f["status"] for f in broken} == {"unknown"} and "partial-bad.json" in broken[0]["summary"]
