"""Which Node an inventory host is (plugins/module_utils/_k8s_nodes.py, filter k8s_node_for_host), on the lab's Node
list (tests/unit/fixtures/k8s/healthy_nodes.json); the variations below are that capture with a field changed."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.filter.k8s_node_for_host import k8s_node_for_host
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_nodes import node_for_host

NODES = json.loads((Path(__file__).parent / "fixtures" / "k8s" / "healthy_nodes.json").read_text())


def variant(change) -> dict:
    nodes = copy.deepcopy(NODES)
    for node in nodes["items"]:
        change(node)
    return nodes


def renamed(node: dict) -> None:
    """node1 registered as k8snode01.example.com (--hostname-override), keeping its address."""
    if node["metadata"]["name"] == "node1":
        node["metadata"]["name"] = "k8snode01.example.com"
        node["metadata"]["labels"]["kubernetes.io/hostname"] = "k8snode01.example.com"


@pytest.mark.parametrize("nodes, name, addresses, node, by", [
    (NODES, "node1", ["198.18.0.21"], "node1", "name"),
    # the review's case: the Node is not called as the inventory host; 1.1.0 found nothing and skipped the drain
    (variant(renamed), "node1", ["198.18.0.21"], "k8snode01.example.com", "internal_ip"),
    (variant(lambda n: n["metadata"].__setitem__("name", n["metadata"]["name"] + ".lab")), "node2", [], "node2.lab",
     "hostname_label"),
    (variant(renamed), "node1", ["198.18.0.99"], None, None),       # nothing matches
    (NODES, "spare1", ["198.18.0.41"], None, None),
])
def test_the_node_of_a_host(nodes, name, addresses, node, by):
    found = node_for_host(nodes, name, addresses)
    assert (found["node"], found["by"], found["ambiguous"]) == (node, by, [])


def test_a_control_plane_node_is_said_so_by_label_or_taint():
    labelled = variant(lambda n: n["metadata"]["labels"].__setitem__("node-role.kubernetes.io/control-plane", ""))
    tainted = variant(lambda n: n["spec"].__setitem__("taints", [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]))
    assert node_for_host(labelled, "node2", [])["control_plane"] is True
    assert node_for_host(tainted, "node2", [])["control_plane"] is True
    assert node_for_host(NODES, "node2", [])["control_plane"] is False


def test_the_cordon_state_is_read():
    cordoned = variant(lambda n: n["spec"].__setitem__("unschedulable", True) if n["metadata"]["name"] == "node2" else None)
    assert node_for_host(cordoned, "node2", [])["unschedulable"] is True
    assert node_for_host(cordoned, "node1", [])["unschedulable"] is False


def test_two_nodes_for_one_host_are_ambiguous_not_guessed():
    same_ip = variant(lambda n: n["status"].__setitem__("addresses", [{"type": "InternalIP", "address": "198.18.0.21"}]))
    found = node_for_host(same_ip, "k8snode01", ["198.18.0.21"])
    assert found["node"] is None and found["by"] == "internal_ip" and found["ambiguous"] == ["node1", "node2"]


def test_filter_takes_the_list_or_its_items_and_says_what_is_wrong():
    assert k8s_node_for_host(NODES["items"], "node2", "198.18.0.22")["node"] == "node2"
    with pytest.raises(AnsibleFilterError, match="expects the Node list"):
        k8s_node_for_host("not json", "node2")
    with pytest.raises(AnsibleFilterError, match="name must be the host's name"):
        k8s_node_for_host(NODES, "")
