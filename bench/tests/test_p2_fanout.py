"""bench/p2_fanout.py's inventory of aliases and its projection (no lab needed)."""
from __future__ import annotations

import types

import yaml

from bench import p2_fanout

LAB = {"all": {"hosts": {"master1": {"ansible_host": "198.18.0.11"}, "node1": {"ansible_host": "198.18.0.21"},
                         "node2": {"ansible_host": "198.18.0.22"}, "mw1": {"ansible_host": "198.18.0.31"},
                         "mw2": {"ansible_host": "198.18.0.32"}, "spare1": {"ansible_host": "198.18.0.41"}},
               "vars": {"ansible_user": "root"},
               "children": {"kube_control_plane": {"hosts": {"master1": None}},
                            "kube_node": {"hosts": {"node1": None, "node2": None}},
                            "etcd": {"hosts": {"master1": None, "node1": None, "node2": None}},
                            "calico": {"hosts": {"master1": None, "node1": None, "node2": None}},
                            "middleware": {"hosts": {"mw1": None, "mw2": None}},
                            "spare": {"hosts": {"spare1": None}}}}}


def test_aliases_are_workers_with_their_own_state_and_connection(tmp_path):
    source = tmp_path / "hosts.yml"
    source.write_text(yaml.safe_dump(LAB))
    out = tmp_path / "inventory-200.yml"
    names = p2_fanout.alias_inventory(types.SimpleNamespace(inventory=source), 200, ["node1", "node2"],
                                      ["kube_node", "calico"], out)
    data = yaml.safe_load(out.read_text())
    assert len(names) == 195 and len(set(names)) == 195
    inspected = {h for g in p2_fanout.DEFAULT_HOSTS.split(":") for h in data["all"]["children"][g]["hosts"]}
    assert len(inspected) == 200 and "spare1" not in inspected
    first, second = data["all"]["hosts"][names[0]], data["all"]["hosts"][names[1]]
    assert (first["ansible_host"], second["ansible_host"]) == ("198.18.0.21", "198.18.0.22")
    assert first["host_inspection_state_dir"] == f"{p2_fanout.ALIAS_STATE}/{names[0]}"
    assert first["ansible_control_path"] == f"%(directory)s/{names[0]}"
    assert names[0] not in data["all"]["children"]["etcd"]["hosts"]      # a 2,000-node cluster has 3-5 etcd members
    assert names[0] in data["all"]["children"]["calico"]["hosts"]


def test_projection_is_the_line_through_both_sizes():
    small, big = {"hosts": 5, "s": 5.0}, {"hosts": 200, "s": 44.0}
    assert p2_fanout.project(small, big, "s") == 44.0 + 0.2 * 1800
