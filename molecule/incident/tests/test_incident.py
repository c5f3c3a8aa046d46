"""Verifier of the incident scenario (molecule's testinfra verifier).

After converge (incident_k8s_unreachable.yml with its defaults on a lab broken by `python -m lab fault inject all`):
developer-center's pods are all Running and app-base has 2 available replicas; every BGP session of every calico
host is Established (node1's BIRD came back with its new calico-node pod); the incident record and the audit log
hold exactly the five actions of the repair, and the record's status is that of a repaired cluster.
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
REPORT_DIR = PROJECT / "reports" / "molecule-incident"
CALICO = sorted(INVENTORY["children"]["calico"]["hosts"])


def kubectl(*args: str) -> dict:
    local = testinfra.get_host("local://")
    out = local.check_output(" ".join([LAB_VARS["kubeops_kubectl"], "--kubeconfig", LAB_VARS["kubeops_kubeconfig"], *args]))
    return json.loads(out)


@pytest.fixture(scope="module")
def ssh_config():
    with tempfile.NamedTemporaryFile("w", prefix="kubeops-molecule-", suffix=".ssh_config") as handle:
        handle.write("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
        handle.flush()
        yield handle.name


@pytest.fixture(scope="module")
def record() -> dict:
    files = sorted(REPORT_DIR.glob("incident-*.json"))
    assert files, f"no incident record in {REPORT_DIR}"
    return json.loads(files[-1].read_text())


def test_developer_center_repaired():
    pods = kubectl("get", "pods", "-n", "developer-center", "-o", "json")["items"]
    assert pods and all(p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp") for p in pods)
    app_base = kubectl("get", "deployment", "-n", "developer-center", "app-base", "-o", "json")
    assert app_base["spec"]["replicas"] == 2 and app_base["status"].get("availableReplicas") == 2


@pytest.mark.parametrize("name", CALICO)
def test_bgp_established_again(name, ssh_config):
    host = testinfra.get_host(f"paramiko://root@{INVENTORY['hosts'][name]['ansible_host']}",
                              ssh_identity_file=LAB_VARS["ansible_ssh_private_key_file"], ssh_config=ssh_config, timeout=30)
    assert host.service("bird").is_running
    rows = [line for line in host.check_output(f"birdcl -s {LAB_VARS['kubeops_bird_socket']} show protocols").splitlines()
            if line.startswith("Mesh_")]
    assert rows and all("Established" in line for line in rows), rows


def test_record_and_audit_log_hold_the_five_actions(record):
    assert record["schema"] == "kubeops.runbook/incident/v1" and record["check_mode"] is False
    assert record["problems"] == [] and record["actions"] == 5
    actions = sorted((a["action"], a["target"]) for e in record["timeline"] for a in e["actions"])
    assert [a for a, _t in actions] == ["delete_pod"] * 3 + ["restart_calico_node", "scale"]
    assert ("restart_calico_node", "node1") in actions and ("scale", "developer-center/Deployment/app-base") in actions
    audit = [json.loads(line) for line in (REPORT_DIR / "audit.log").read_text().splitlines()]
    assert sorted(line["action"] for line in audit) == [a for a, _t in actions]
    assert (REPORT_DIR / Path(sorted(REPORT_DIR.glob("incident-*.json"))[-1].name).with_suffix(".html")).exists()


def test_record_status_is_the_repaired_state(record):
    wrong = [f"{f['id']}:{f['target']}@{f.get('host')}: {f['summary']}" for f in record["findings"]
             if f["status"] != "ok" and f["category"] in ("calico", "pods", "deployments")]
    assert not wrong, wrong
    assert {"pods.waiting", "calico.bird"} <= {s["id"] for s in record["seen"]}
