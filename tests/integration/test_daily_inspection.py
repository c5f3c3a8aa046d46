"""playbooks/daily_inspection.yml on the lab: the report it writes, unreachable hosts, history, --check.

Each test writes into its own report directory (inspection_report_dir), so runs do not mix with `make demo`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

PLAYBOOK = "playbooks/daily_inspection.yml"


def run(lab, report_dir: Path, check: bool = False, extra_args: list[str] | None = None) -> dict:
    proc = lab.playbook(PLAYBOOK, extra_vars={"inspection_report_dir": str(report_dir)}, check=check,
                        extra_args=extra_args)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    latest = report_dir / "latest.json"
    assert latest.is_file(), proc.stdout[-3000:]
    return json.loads(latest.read_text(encoding="utf-8"))


def keys(report: dict) -> set[str]:
    out = set()
    for f in report["findings"]:
        key = f"{f['id']}:{f['target']}"
        if f.get("host") and f["host"] != f["target"]:
            key += f"@{f['host']}"
        out.add(key)
    return out


def wrong(report: dict, status: str = "critical") -> list[str]:
    return [f"{f['id']} {f['target']} @{f['host']}: {f['summary']}" for f in report["findings"] if f["status"] == status]


@pytest.fixture(scope="module")
def healthy_run(lab, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("reports")
    first = run(lab, report_dir)
    second = run(lab, report_dir)
    return report_dir, first, second


def test_healthy_lab_report(healthy_run, lab):
    report_dir, first, _second = healthy_run
    assert first["schema"] == "kubeops.runbook/inspection/v1"
    assert first["cluster"] == "lab"
    assert first["started"] <= first["finished"]
    files = sorted(p.name for p in report_dir.iterdir())
    assert len([n for n in files if n.endswith(".json") and n.startswith("inspection-")]) == 2
    assert len([n for n in files if n.endswith(".html")]) == 2 and len([n for n in files if n.endswith(".md")]) == 2
    assert "history.sqlite" in files
    assert wrong(first) == [], "critical findings on a healthy lab"
    # every inspected host is there and answered
    reach = {f["target"]: f["status"] for f in first["findings"] if f["id"] == "host.reachable"}
    assert reach == {h: "ok" for h in ("master1", "node1", "node2", "mw1", "mw2")}
    # the host roles and the cluster role all contributed
    categories = {f["category"] for f in first["findings"]}
    assert {"control_plane_services", "node_services", "middleware", "host"} <= categories, categories
    # the fleet's versions, compared once before the report (kube-proxy on node1/node2, kubectl on master1)
    assert {f["id"] for f in first["findings"] if f["category"] == "versions"} == {
        "versions.host", "versions.kube_apiserver", "versions.kubelet", "versions.kube_proxy", "versions.kubectl",
        "versions.etcd"}
    html = next(report_dir.glob("inspection-*.html")).read_text(encoding="utf-8")
    assert "<script" not in html.lower()


def test_second_run_of_a_healthy_lab_is_clean(healthy_run):
    _report_dir, first, second = healthy_run
    assert second["previous"] is not None and second["previous"]["finished"] == first["finished"]
    assert second["new_since_last"] == [], wrong(second, "warning") + wrong(second, "unknown")
    assert keys(second) == keys(first)
    # the steady state of a healthy lab: nothing to look at
    assert wrong(second, "critical") + wrong(second, "warning") == []
    assert second["summary"]["status"] in ("ok", "unknown"), second["summary"]
    # the history has both runs for the trend chart
    assert [r["status"] for r in second["trends"]["runs"]] == [first["summary"]["status"], second["summary"]["status"]]


def test_check_mode_same_findings(healthy_run, lab, tmp_path):
    _report_dir, first, _second = healthy_run
    checked = run(lab, tmp_path / "reports", check=True)
    assert keys(checked) == keys(first)
    assert wrong(checked) == []


def test_unreachable_host_is_a_critical_finding(lab, tmp_path):
    extra = tmp_path / "ghost.yml"
    extra.write_text(yaml.safe_dump({"all": {"children": {"kube_node": {"hosts": {
        "ghost": {"ansible_host": "198.18.0.99", "ansible_ssh_common_args": "-o ConnectTimeout=5"}}}}}}))
    report = run(lab, tmp_path / "reports", extra_args=["-i", str(extra)])
    ghost = [f for f in report["findings"] if f["id"] == "host.reachable" and f["target"] == "ghost"]
    assert len(ghost) == 1
    assert ghost[0]["status"] == "critical" and ghost[0]["category"] == "host"
    assert ghost[0]["details"]["reason"] == "unreachable"
    assert report["summary"]["status"] == "critical"
    assert "host.reachable:ghost" in report["new_since_last"]
    # the real hosts were still inspected
    assert {f["target"] for f in report["findings"] if f["id"] == "host.reachable" and f["status"] == "ok"} == {
        "master1", "node1", "node2", "mw1", "mw2"}


def test_first_etcd_host_unreachable_etcd_is_checked_from_the_next(lab, tmp_path):
    """master1, the first etcd host, checks the cluster's etcd in its call. When it does not answer, the play after the
    host play checks etcd from the first etcd host that answered (node1); the controller's API check is unaffected."""
    gone = tmp_path / "master1_gone.yml"
    gone.write_text(yaml.safe_dump({"all": {"hosts": {"master1": {
        "ansible_host": "198.18.0.99", "ansible_ssh_common_args": "-o ConnectTimeout=5"}}}}))
    report = run(lab, tmp_path / "reports", extra_args=["-i", str(gone)])
    found = {(f["id"], f["target"]): f for f in report["findings"]}
    assert found[("host.reachable", "master1")]["status"] == "critical"
    quorum = [f for f in report["findings"] if f["id"] == "etcd.quorum"]
    assert len(quorum) == 1 and quorum[0]["status"] != "unknown", quorum
    assert {f["target"] for f in report["findings"] if f["id"] == "nodes.ready"} == {"node1", "node2"}
    assert found[("host.kubectl_skew", "kubectl")]["status"] == "ok"


def test_a_pattern_that_leaves_the_controller_out_still_inspects_the_api(lab, tmp_path):
    """An intersection in inspection_hosts also removes localhost, the controller's lane, from the host play: the play
    after it checks the Kubernetes API and kubectl from the controller instead."""
    report = run(lab, tmp_path / "reports", extra_args=["-e", "inspection_hosts=all:&kube_node"])
    reached = {f["target"] for f in report["findings"] if f["id"] == "host.reachable"}
    assert reached == {"node1", "node2"}
    assert {f["target"] for f in report["findings"] if f["id"] == "nodes.ready"} == {"node1", "node2"}
    assert [f["status"] for f in report["findings"] if f["id"] == "host.kubectl_skew"] == ["ok"]
    assert [f["status"] for f in report["findings"] if f["id"] == "etcd.quorum"] == ["ok"]   # node1's call


def test_a_check_that_fails_on_a_host_keeps_that_hosts_other_findings(lab, tmp_path):
    """One check's input is broken on node1 (disk thresholds that contradict each other, in node1's host vars): the
    disk check becomes an unknown finding naming the bad value, and node1's other checks still run and report."""
    extra = tmp_path / "broken.yml"
    extra.write_text(yaml.safe_dump({"all": {"hosts": {"node1": {
        "host_inspection_disk_space_warning": 95, "host_inspection_disk_space_critical": 90}}}}))
    report = run(lab, tmp_path / "reports", extra_args=["-i", str(extra)])
    node1 = [f for f in report["findings"] if f["host"] == "node1"]
    [disk] = [f for f in node1 if f["id"] == "disk.space"]
    assert disk["status"] == "unknown" and disk["summary"].startswith("check could not run: space_warning: 95")
    # every other check of node1 ran: units, logs, certificates, hygiene, calico
    ids = {f["id"] for f in node1 if f["status"] != "unknown"}
    assert {"node_services.unit", "logs.messages", "certificates.expiry", "host.may_detach_mounts", "calico.bird"} <= ids
    assert [f["status"] for f in node1 if f["id"] == "host.reachable"] == ["ok"]
    # and the other hosts' disks were measured as usual
    assert any(f["id"] == "disk.space" and f["host"] == "node2" and f["status"] == "ok" for f in report["findings"])
