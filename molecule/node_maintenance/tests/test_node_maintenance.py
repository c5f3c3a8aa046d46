"""Verifier of the node_maintenance scenario (molecule's testinfra verifier).

After converge (node1 drained, then uncordoned, with a load balancer hook that logs its calls): both nodes are
schedulable; node1 left the load balancer before it was cordoned and came back after it was uncordoned; every pod that
was evicted is replaced (no pod of the lab is Pending or not Ready), node1's calico-node pod is the same pod; the audit
log and the two records (drain, uncordon) hold exactly those actions.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import testinfra
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
LAB_VARS = yaml.safe_load((PROJECT / "inventories" / "lab" / "hosts.yml").read_text())["all"]["vars"]
OUT = PROJECT / "reports" / "molecule-node-maintenance"


def kubectl(*args: str) -> dict:
    local = testinfra.get_host("local://")
    return json.loads(local.check_output(" ".join([LAB_VARS["kubeops_kubectl"], "--kubeconfig",
                                                   LAB_VARS["kubeops_kubeconfig"], *args, "-o", "json"])))


@pytest.fixture(scope="module")
def audit() -> list[dict]:
    return [line for line in map(json.loads, (OUT / "audit.log").read_text().splitlines()) if not line["check_mode"]]


def test_both_nodes_schedulable():
    assert {n["metadata"]["name"]: bool(n["spec"].get("unschedulable")) for n in kubectl("get", "nodes")["items"]} == \
        {"node1": False, "node2": False}


def test_every_evicted_pod_is_replaced_and_calico_node_untouched():
    pods = kubectl("get", "pods", "-A")["items"]
    bad = [p["metadata"]["name"] for p in pods if p["status"].get("phase") != "Running"]
    assert not bad, bad
    calico = [p["metadata"]["uid"] for p in pods if p["metadata"]["name"].startswith("calico-node-")
              and p["spec"]["nodeName"] == "node1"]
    assert calico == [(OUT / "calico-node1.uid").read_text().strip()]


def test_load_balancer_out_before_the_cordon_and_in_after_the_uncordon(audit):
    steps = [(line["action"], line["target"]) for line in audit if line["action"] != "evict"]
    assert steps == [("load balancer out", "node1"), ("cordon", "node1"), ("uncordon", "node1"), ("load balancer in", "node1")]
    assert [line.split()[1:3] for line in (OUT / "lb.log").read_text().splitlines()] == [["out", "node1"], ["in", "node1"]]


def test_evictions_audited_and_on_the_record(audit):
    evicted = [line for line in audit if line["action"] == "evict"]
    assert evicted and all(line["before"]["node"] == "node1" for line in evicted)
    # the prepared Deployment had one replica on node1
    assert [line for line in evicted if line["target"].startswith("molecule-node-maintenance/spread-")], evicted
    assert not [line for line in evicted if line["target"].startswith("kube-system/calico-node-")]
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("maintenance-*.json"))]
    assert [r["title"].split()[2] for r in records] == ["drain", "uncordon"]
    assert all(r["problems"] == [] and r["runbook"] == "node_maintenance" for r in records)
    drained = [a for e in records[0]["timeline"] for a in e["actions"] if a["action"] == "evict"]
    assert sorted(a["target"] for a in drained) == sorted(line["target"] for line in evicted)
