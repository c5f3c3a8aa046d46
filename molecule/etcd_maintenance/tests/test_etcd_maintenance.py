"""Verifier of the etcd_maintenance scenario (molecule's testinfra verifier, master1 over paramiko).

After converge (etcd_maintenance.yml with compaction): one verified snapshot in the scenario's own directory, taken
before the first change; the three members defragmented one at a time, the leader of the start last, each with its size
before and after on the record; every member healthy, no alarm raised.
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
OUT = PROJECT / "reports" / "molecule-etcd-maintenance"
TLS = f"--cacert={LAB_VARS['kubeops_etcd_cacert']} --cert={LAB_VARS['kubeops_etcd_cert']} --key={LAB_VARS['kubeops_etcd_key']}"


@pytest.fixture(scope="module")
def master1():
    with tempfile.NamedTemporaryFile("w", prefix="kubeops-molecule-", suffix=".ssh_config") as handle:
        handle.write("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
        handle.flush()
        yield testinfra.get_host(f"paramiko://root@{INVENTORY['hosts']['master1']['ansible_host']}",
                                 ssh_identity_file=LAB_VARS["ansible_ssh_private_key_file"], ssh_config=handle.name,
                                 timeout=30)


@pytest.fixture(scope="module")
def record() -> dict:
    files = sorted(OUT.glob("maintenance-*.json"))
    assert files, f"no maintenance record in {OUT}"
    return json.loads(files[-1].read_text())


@pytest.fixture(scope="module")
def audit() -> list[dict]:
    return [line for line in map(json.loads, (OUT / "audit.log").read_text().splitlines()) if not line["check_mode"]]


def test_snapshot_first_then_compaction_then_each_member_leader_last(audit, record):
    assert [line["action"] for line in audit] == ["etcd_snapshot", "etcd compact"] + ["etcd defrag"] * 3
    defrags = [line for line in audit if line["action"] == "etcd defrag"]
    assert sorted(line["target"] for line in defrags) == ["master1", "node1", "node2"]
    leader = next(e for e in record["timeline"] if e["title"].startswith("Checks before")).get("message").split(";")[0]
    assert leader == f"leader {defrags[-1]['target']}" and defrags[-1]["role"] == "leader"
    assert [line["role"] for line in defrags[:2]] == ["follower", "follower"]


def test_the_record_has_the_space_freed_per_member(record):
    assert record["runbook"] == "etcd_maintenance" and record["problems"] == [] and record["summary"]["status"] == "ok"
    members = [e for e in record["timeline"] if e["title"].startswith("Defragment ")]
    assert len(members) == 3 and all(" freed " in e["message"] and e["outcome"] == "changed" for e in members)
    assert all(a["after"]["db_size"] <= a["before"]["db_size"] for e in members for a in e["actions"])


def test_one_verified_snapshot(master1):
    files = master1.check_output("ls /var/backups/etcd-molecule").split()
    assert len([f for f in files if f.endswith(".db")]) == 1 and len([f for f in files if f.endswith(".verified.json")]) == 1


def test_every_member_healthy_and_no_alarm(master1):
    endpoints = ",".join(LAB_VARS["kubeops_etcd_endpoints"])
    health = json.loads(master1.check_output(f"ETCDCTL_API=3 etcdctl {TLS} --endpoints={endpoints} endpoint health -w json"))
    assert len(health) == 3 and all(h["health"] for h in health)
    assert master1.check_output(f"ETCDCTL_API=3 etcdctl {TLS} --endpoints={LAB_VARS['kubeops_etcd_endpoints'][0]} alarm list").strip() == ""
