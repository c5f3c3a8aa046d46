"""Verifier of the daily_inspection scenario (molecule's testinfra verifier, testinfra's paramiko backend).

After converge (one daily inspection of the lab): the report on the controller follows the schema and a healthy lab
has nothing critical in it; every inspected host answered; on the hosts, the inspection left its state files
(private, root's) and nothing else behind: every unit it inspected is still running.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import testinfra
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
INVENTORY = yaml.safe_load((PROJECT / "inventories" / "lab" / "hosts.yml").read_text())["all"]
LAB_VARS = INVENTORY["vars"]
REPORT_DIR = PROJECT / "reports" / "molecule"
STATE_DIR = "/var/lib/kubeops"


def group_hosts(group: str) -> set[str]:
    """Hosts of an inventory group of the lab, children included."""
    node = INVENTORY["children"].get(group) or {}
    hosts = set(node.get("hosts") or {})
    for child in node.get("children") or {}:
        hosts |= group_hosts(child)
    return hosts


# What playbooks/daily_inspection.yml targets by default, and the units host_inspection checks per group.
INSPECTED = sorted(set().union(*(group_hosts(g) for g in ("kube_control_plane", "kube_node", "etcd", "calico",
                                                          "middleware"))))
UNITS = {"kube_control_plane": LAB_VARS["kubeops_control_plane_units"], "kube_node": LAB_VARS["kubeops_node_units"],
         "etcd": ["etcd"], "calico": ["bird"]}


def units_of(name: str) -> set[str]:
    return {f"{unit}.service" for group, units in UNITS.items() if name in group_hosts(group) for unit in units}


@pytest.fixture(scope="module")
def ssh_config():
    """Lab nodes are rebuilt with new host keys: do not check them (the lab's ansible.cfg does the same)."""
    with tempfile.NamedTemporaryFile("w", prefix="kubeops-molecule-", suffix=".ssh_config") as handle:
        handle.write("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
        handle.flush()
        yield handle.name


@pytest.fixture(scope="module", params=INSPECTED)
def node(request, ssh_config):
    """(inventory name, testinfra host over paramiko as the lab's root with the lab key)."""
    address = INVENTORY["hosts"][request.param]["ansible_host"]
    host = testinfra.get_host(f"paramiko://root@{address}", ssh_identity_file=LAB_VARS["ansible_ssh_private_key_file"],
                              ssh_config=ssh_config, timeout=30)
    return request.param, host


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads((REPORT_DIR / "latest.json").read_text())


def test_report_follows_the_schema(report):
    assert report["schema"] == "kubeops.runbook/inspection/v1"
    assert report["cluster"] == LAB_VARS["kubeops_cluster_name"]
    assert report["summary"]["status"] in ("ok", "warning", "unknown", "critical")
    assert report["findings"]
    assert isinstance(report["new_since_last"], list) and isinstance(report["resolved_since_last"], list)
    assert sorted(REPORT_DIR.glob("inspection-*.html"))


def test_healthy_lab_has_no_critical_finding(report):
    critical = [f"{f['id']}:{f['target']}@{f.get('host')}: {f['summary']}" for f in report["findings"]
                if f["status"] == "critical"]
    assert report["summary"]["critical"] == 0 and not critical, critical


def test_every_inspected_host_answered(report):
    reachable = sorted(f["target"] for f in report["findings"] if f["id"] == "host.reachable" and f["status"] == "ok")
    assert reachable == INSPECTED


def test_state_files_are_private_to_root(node):
    name, host = node
    files = ["log_scan.json"] + (["systemd_unit_info.json"] if units_of(name) else [])
    for state in files:
        state_file = host.file(f"{STATE_DIR}/{state}")
        assert state_file.is_file, f"{name}: no {state_file.path}"
        assert (state_file.user, state_file.mode) == ("root", 0o600), f"{name}: {state_file.path}"


def test_state_records_the_inspected_units(node):
    name, host = node
    expected = units_of(name)
    if not expected:
        pytest.skip(f"{name} runs none of the inspected units")
    state = json.loads(host.file(f"{STATE_DIR}/systemd_unit_info.json").content_string)
    assert expected <= set(state["last_inspection"])


def test_inspection_left_every_unit_running(node):
    name, host = node
    assert {unit: host.service(unit).is_running for unit in sorted(units_of(name))} == dict.fromkeys(
        sorted(units_of(name)), True)
