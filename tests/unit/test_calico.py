"""calico BGP state (plugins/module_utils/_calico.py) on birdcl output captured on the lab's BIRD 1.6.8."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _calico as B

FIX = Path(__file__).parent / "fixtures" / "calico"
HOSTS = {"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"}


@pytest.mark.parametrize("name", ["master1_healthy_protocols.txt", "master1_healthy_protocols_all.txt"])
def test_parse_healthy(name):
    protocols = B.parse_bird_protocols((FIX / name).read_text())
    assert [p["name"] for p in protocols] == ["kernel1", "device1", "direct1", "Mesh_198_18_0_21", "Mesh_198_18_0_22"]
    peers = B.bgp_peers_from_bird(protocols)
    assert [(p["address"], p["established"]) for p in peers] == [("198.18.0.21", True), ("198.18.0.22", True)]
    assert peers[0]["since"] and peers[0]["state"] == "up"


@pytest.mark.parametrize("name", ["master1_node1_bird_stopped_protocols.txt", "master1_node1_bird_stopped_protocols_all.txt"])
def test_bird_stopped_on_node1_seen_from_master1(name):
    peers = B.bgp_peers_from_bird(B.parse_bird_protocols((FIX / name).read_text()))
    down = [p for p in peers if not p["established"]]
    assert [(p["address"], p["state"], p["info"]) for p in down] == [
        ("198.18.0.21", "start", "Passive Received: Administrative shutdown")]
    findings = B.bgp_findings(peers, "master1", "198.18.0.11", HOSTS)
    crit = [(f["host"], f["target"], f["status"]) for f in findings if f["status"] != "ok"]
    # critical on master1 (its session to node1) and for node1 (the other end)
    assert crit == [("master1", "198.18.0.21", "critical"), ("node1", "198.18.0.11", "critical")]
    mine = next(f for f in findings if f["host"] == "master1" and f["status"] == "critical")
    assert mine["summary"] == "BGP session with node1 (198.18.0.21) not Established: start Passive Received: Administrative shutdown"
    other = next(f for f in findings if f["host"] == "node1")
    assert other["details"]["reported_by"] == "master1"


def test_birdcl_against_a_stopped_bird():
    text = (FIX / "node1_bird_stopped_birdcl.txt").read_text()
    outputs = {"birdcl": (1, "", text.split("\nrc=")[0])}

    def run(argv):
        return outputs[Path(argv[0]).name]
    peers, findings, source = B.run_bgp_check(run, "node1", "/var/run/calico/bird.ctl", "/usr/sbin/birdcl", None)
    [item] = findings
    assert peers == [] and source == "birdcl"
    assert item["id"] == "calico.bird" and item["status"] == "critical" and "socket missing" in item["summary"]


def test_run_prefers_calicoctl_and_falls_back_to_birdcl():
    healthy = (FIX / "master1_healthy_protocols_all.txt").read_text()
    calls = []

    def run(argv):
        calls.append(argv[0])
        if argv[0].endswith("calicoctl"):
            return 1, "", "Failed to create Calico API client: no datastore"
        return 0, healthy, ""
    peers, findings, source = B.run_bgp_check(run, "master1", "/var/run/calico/bird.ctl", "/usr/sbin/birdcl",
                                              "/usr/local/bin/calicoctl", "198.18.0.11", HOSTS)
    assert calls == ["/usr/local/bin/calicoctl", "/usr/sbin/birdcl"] and source == "birdcl"
    assert {f["status"] for f in findings} == {"ok"} and len(peers) == 2


# calicoctl node status as documented by calico (https://docs.tigera.io/calico/latest/reference/calicoctl/node/status);
# calicoctl is not installed in the lab.
CALICOCTL = """Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+----------+--------------------------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |              INFO              |
+--------------+-------------------+-------+----------+--------------------------------+
| 172.17.8.102 | node-to-node mesh | up    | 23:30:04 | Established                    |
| 172.17.8.103 | node-to-node mesh | start | 23:30:05 | Connect Socket: Connection     |
+--------------+-------------------+-------+----------+--------------------------------+

IPv6 BGP status
No IPv6 peers found.
"""


def test_calicoctl_status():
    peers = B.parse_calicoctl_status(CALICOCTL)
    assert [(p["address"], p["established"]) for p in peers] == [("172.17.8.102", True), ("172.17.8.103", False)]
    with pytest.raises(B.CalicoError, match="not running"):
        B.parse_calicoctl_status("Calico process is not running.\n")


@pytest.mark.parametrize("name, address", [("Mesh_198_18_0_21", "198.18.0.21"), ("Node_10_0_0_1", "10.0.0.1"),
                                           ("Global_10_1_2_3_port_179", "10.1.2.3"), ("bgp1", None)])
def test_peer_address_from_name(name, address):
    assert B.peer_address_from_name(name) == address


@pytest.mark.parametrize("text", ["", "garbage", "Unable to connect to server control socket", "\x00\xff"])
def test_not_a_table(text):
    with pytest.raises(B.CalicoError):
        B.parse_bird_protocols(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data):
    try:
        B.parse_bird_protocols(data)
    except B.CalicoError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000))
def test_fuzz_truncated_output(cut):
    text = (FIX / "master1_healthy_protocols_all.txt").read_text()[:cut]
    try:
        B.bgp_peers_from_bird(B.parse_bird_protocols(text))
    except B.CalicoError:
        pass
