"""Unit tests of etcd member add/remove plans (plugins/module_utils/_etcd_member.py) on real etcdctl 3.4.23 output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_member as M
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import parse_endpoint_status
from ansible_collections.kubeops.runbook.plugins.modules.etcd_member import run_member

FIX = Path(__file__).parent / "fixtures" / "etcd_ops"
THREE = M.parse_member_list_simple((FIX / "member_list_3.simple").read_text())
ALL_HEALTHY = {u for m in THREE for u in m["client_urls"]}
E3_DOWN = ALL_HEALTHY - {"http://127.0.0.1:32383"}


def test_parse_simple_real_capture():
    assert [m["name"] for m in THREE] == ["e2", "e1", "e3"]
    assert THREE[1] == {"id": "44d604f0a7561ced", "status": "started", "name": "e1", "peer_urls": ["http://127.0.0.1:32380"],
                        "client_urls": ["http://127.0.0.1:32379"], "is_learner": False}


def test_parse_simple_unstarted_learner():
    members = M.parse_member_list_simple((FIX / "member_list_learner_unstarted.simple").read_text())
    learner = members[-1]
    assert learner == {"id": "f44dd2132dbc6fde", "status": "unstarted", "name": "", "peer_urls": ["http://127.0.0.1:32386"],
                       "client_urls": [], "is_learner": True}


@pytest.mark.parametrize("text", ["", (FIX / "member_list_3.json").read_text(), "zz, started, a, b, c, false",
                                  "44d604f0a7561ced, started, e1, http://x:1"])
def test_parse_simple_rejects(text):
    with pytest.raises(M.MemberError):
        M.parse_member_list_simple(text)


@given(st.text(max_size=300))
def test_parse_simple_fuzz(text):
    try:
        M.parse_member_list_simple(text)
    except M.MemberError:
        pass


def test_parse_added_real_capture():
    added = M.parse_added((FIX / "member_add_learner.stdout").read_text())
    assert added["id"] == "777851f16cb9ec6a"
    assert added["ETCD_INITIAL_CLUSTER_STATE"] == "existing"
    assert "e4=http://127.0.0.1:32386" in added["ETCD_INITIAL_CLUSTER"]
    with pytest.raises(M.MemberError):
        M.parse_added((FIX / "member_add_peer_taken.stdout").read_text())


def test_parse_added_short_id_is_space_padded():
    # an ID with a leading zero nibble: etcdctl pads it to 16 columns with a space ("Member  28df...")
    added = M.parse_added((FIX / "member_add_learner_short_id.stdout").read_text())
    assert added["id"] == "28df466d5f6ee4c"
    assert added["ETCD_NAME"] == "e4"
    listed = M.parse_member_list_simple((FIX / "member_list_short_id.simple").read_text())
    assert added["id"] in [m["id"] for m in listed if m["is_learner"]]


@pytest.mark.parametrize("name,peer,healthy,action", [
    ("e4", "http://127.0.0.1:32386", ALL_HEALTHY, "add"),
    ("e1", "http://127.0.0.1:32380", ALL_HEALTHY, "none"),     # already there: no change
    ("e1", "http://127.0.0.1:32380", E3_DOWN, "none"),         # even when unhealthy: nothing to do
])
def test_plan_add(name, peer, healthy, action):
    assert M.plan_add(THREE, healthy, name, peer)["action"] == action


def test_plan_add_promotes_existing_learner():
    members = M.parse_member_list_simple((FIX / "member_list_learner_unstarted.simple").read_text())
    assert M.plan_add(members, ALL_HEALTHY, "e4", "http://127.0.0.1:32386")["action"] == "promote"


@pytest.mark.parametrize("name,peer,healthy,match", [
    ("e4", "http://127.0.0.1:32386", E3_DOWN, "not healthy .*e3"),
    ("e4", "http://127.0.0.1:32380", ALL_HEALTHY, "taken by member e1"),
    ("e1", "http://127.0.0.1:32399", ALL_HEALTHY, "named e1 exists"),
])
def test_plan_add_refuses(name, peer, healthy, match):
    with pytest.raises(M.MemberRefused, match=match):
        M.plan_add(THREE, healthy, name, peer)


def test_plan_add_refuses_second_add_while_one_unstarted():
    members = M.parse_member_list_simple((FIX / "member_list_learner_unstarted.simple").read_text())
    with pytest.raises(M.MemberRefused, match="never started"):
        M.plan_add(members, ALL_HEALTHY, "e5", "http://127.0.0.1:32388")


@pytest.mark.parametrize("name,peer", [("", "http://a:1"), ("bad name", "http://a:1"), ("e4", "a:2380"), ("e4", None)])
def test_plan_add_bad_input(name, peer):
    with pytest.raises(M.MemberError):
        M.plan_add(THREE, ALL_HEALTHY, name, peer)


@pytest.mark.parametrize("target,healthy,action", [
    ("e3", ALL_HEALTHY, "remove"),
    ("e3", E3_DOWN, "remove"),       # removing the broken one keeps 2 of 2 healthy
    ("e9", ALL_HEALTHY, "none"),     # already gone
])
def test_plan_remove(target, healthy, action):
    assert M.plan_remove(THREE, healthy, target)["action"] == action


def test_plan_remove_refuses_when_quorum_would_be_lost():
    with pytest.raises(M.MemberRefused, match="below the quorum of 2"):
        M.plan_remove(THREE, E3_DOWN, "e2")


def test_plan_remove_refuses_last_member():
    with pytest.raises(M.MemberRefused, match="last member"):
        M.plan_remove(THREE[:1], ALL_HEALTHY, "e2")


def test_plan_remove_learner_is_always_safe():
    members = M.parse_member_list_simple((FIX / "member_list_learner_unstarted.simple").read_text())
    assert M.plan_remove(members, E3_DOWN, peer_url="http://127.0.0.1:32386")["action"] == "remove"


@pytest.mark.parametrize("name,peer,match", [
    # the review's reproducer: e3's name with e2's peer URL removed e2 while the audit said e3
    ("e3", "http://127.0.0.1:32382", "name e3 is member 90c6dff3c23458a8 but peer_url http://127.0.0.1:32382 is member e2"),
    ("e3", "http://127.0.0.1:39999", "member e3 \\(90c6dff3c23458a8\\) has peer URLs http://127.0.0.1:32384, not"),
    ("e9", "http://127.0.0.1:32382", "peer_url http://127.0.0.1:32382 is member e2 \\(2827485ae853a7f1\\), not e9"),
])
def test_plan_remove_refuses_when_name_and_peer_url_disagree(name, peer, match):
    with pytest.raises(M.MemberRefused, match=match):
        M.plan_remove(THREE, ALL_HEALTHY, name, peer)


@pytest.mark.parametrize("name,peer,expected", [
    ("e3", "http://127.0.0.1:32384", "90c6dff3c23458a8"),     # both agree
    (None, "http://127.0.0.1:32384", "90c6dff3c23458a8"),
    ("e3", None, "90c6dff3c23458a8"),
    ("e4", "http://127.0.0.1:32386", "f44dd2132dbc6fde"),     # unstarted: no name yet, its peer URL says who it is
])
def test_plan_remove_target_when_name_and_peer_url_agree(name, peer, expected):
    members = M.parse_member_list_simple((FIX / "member_list_learner_unstarted.simple").read_text())
    assert M.plan_remove(members, ALL_HEALTHY, name, peer)["member"]["id"] == expected


def test_initial_cluster():
    members = M.parse_member_list_simple((FIX / "member_list_learner_unstarted.simple").read_text())
    assert M.initial_cluster(members, "e4", "http://127.0.0.1:32386") == (
        "e2=http://127.0.0.1:32382,e1=http://127.0.0.1:32380,e3=http://127.0.0.1:32384,e4=http://127.0.0.1:32386")
    assert M.initial_cluster(THREE, "e4", "http://127.0.0.1:32386").endswith(",e4=http://127.0.0.1:32386")


class Replay:
    """Process boundary: answers etcdctl calls with captured outputs, in order."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, argv, env):
        self.calls.append(argv)
        return self.answers.pop(0)


def _base(*args, endpoints=None, output_json=False):
    return ["etcdctl", f"--endpoints={','.join(endpoints)}", *(["-w", "json"] if output_json else []), *args], {"ETCDCTL_API": "3"}


def test_cluster_retries_recent_restart_then_adds():
    run = Replay([(1, "", (FIX / "member_add_unhealthy_recent_restart.stdout").read_text()),
                  (0, (FIX / "member_add_learner.stdout").read_text(), "")])
    cluster = M.Cluster(run, _base, ["http://127.0.0.1:32379"], sleep=lambda s: None)
    assert M.parse_added(cluster.add_learner("e4", "http://127.0.0.1:32386"))["id"] == "777851f16cb9ec6a"
    assert run.calls[-1][-4:] == ["add", "e4", "--peer-urls=http://127.0.0.1:32386", "--learner"]


def test_cluster_promote_waits_until_in_sync():
    run = Replay([(1, "", (FIX / "member_promote_unstarted.stdout").read_text())] * 2
                 + [(0, (FIX / "member_promote_ok.stdout").read_text(), "")])
    M.Cluster(run, _base, ["http://x:1"], sleep=lambda s: None).promote("777851f16cb9ec6a", timeout=60)
    assert len(run.calls) == 3


def test_cluster_promote_gives_up_after_timeout():
    run = Replay([(1, "", (FIX / "member_promote_unstarted.stdout").read_text())] * 3)
    with pytest.raises(M.MemberError, match="in sync with leader"):
        M.Cluster(run, _base, ["http://x:1"], sleep=lambda s: None).promote("777851f16cb9ec6a", timeout=0)


def test_cluster_other_errors_fail_at_once():
    run = Replay([(1, "", (FIX / "member_remove_missing.stdout").read_text())])
    with pytest.raises(M.MemberError, match="member not found"):
        M.Cluster(run, _base, ["http://x:1"], sleep=lambda s: None).remove("777851f16cb9ec6a")


def test_cluster_health_from_real_capture():
    from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import parse_endpoint_health
    run = Replay([(1, (FIX / "endpoint_health_one_down.json").read_text(), "")])
    healthy = M.Cluster(run, _base, ["http://x:1"]).healthy_urls(THREE, parse_endpoint_health)
    assert healthy == E3_DOWN


class FakeModule:
    """The parts of AnsibleModule that run_member uses."""

    def __init__(self, **params):
        self.params = {"state": "present", "promote": False, "wait_timeout": 60, **params}
        self.check_mode = False
        self._diff = False
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def _add_run(add_output):
    """The calls of one add: member list, endpoint health, member add, member list."""
    return Replay([(0, (FIX / "member_list_3.simple").read_text(), ""),
                   (0, (FIX / "endpoint_health_ok.json").read_text(), ""),
                   (0, add_output, ""),
                   (0, (FIX / "member_list_learner_unstarted.simple").read_text(), "")])


def test_run_member_adds_a_learner_with_an_audit_record():
    module = FakeModule(name="e4", peer_url="http://127.0.0.1:32386")
    run = _add_run((FIX / "member_add_learner.stdout").read_text())
    result = run_member(module, M.Cluster(run, _base, ["http://127.0.0.1:32379"], sleep=lambda s: None))
    assert result["changed"] and not result.get("failed") and not module.warnings
    assert result["member"]["id"] == "f44dd2132dbc6fde" and result["member"]["is_learner"]
    assert "e4=http://127.0.0.1:32386" in result["initial_cluster"]
    assert result["audit"][0]["actions"] == ["add learner e4 http://127.0.0.1:32386"]


def test_run_member_trusts_the_member_list_over_an_unreadable_add_output():
    # exit code 0 means etcd added the member: output it cannot read is a warning, the member list decides
    module = FakeModule(name="e4", peer_url="http://127.0.0.1:32386")
    run = _add_run("Member added in some future format\n")
    result = run_member(module, M.Cluster(run, _base, ["http://127.0.0.1:32379"], sleep=lambda s: None))
    assert not result.get("failed") and result["member"]["id"] == "f44dd2132dbc6fde"
    assert len(module.warnings) == 1 and "unexpected output" in module.warnings[0]


def test_run_member_reports_an_add_the_list_does_not_show_as_failed_with_what_was_done():
    module = FakeModule(name="e4", peer_url="http://127.0.0.1:32386")
    run = Replay(_add_run((FIX / "member_add_learner.stdout").read_text()).answers[:3]
                 + [(0, (FIX / "member_list_3.simple").read_text(), "")])
    result = run_member(module, M.Cluster(run, _base, ["http://127.0.0.1:32379"], sleep=lambda s: None))
    assert result["failed"] and "shows no member with peer URL http://127.0.0.1:32386 after member add" in result["msg"]
    assert result["audit"][0]["actions"] == ["add learner e4 http://127.0.0.1:32386"]


# -- which member is the host to remove: a handbook-shaped cluster whose member names and peer URLs differ from the
# inventory (members etcd-master1/etcd-node1/etcd-node2, DNS-style peer URLs), captured from real etcd 3.4.23
DNS = M.parse_member_list_simple((FIX / "member_list_dns.simple").read_text())
DNS_CLUSTER_ID = json.loads((FIX / "member_list_dns.json").read_text())["header"]["cluster_id"]
DNS_HEALTHY = {"http://127.0.0.1:46379", "http://127.0.0.1:46381", "http://127.0.0.1:46383"}
NODE1_URL = "http://127.0.0.1:46381"


def own(name: str, endpoint: str = NODE1_URL) -> dict | None:
    return M.identity_from_status(0, (FIX / name).read_text(), "", endpoint, parse_endpoint_status)


def no_dns(host: str) -> set[str]:
    raise OSError("Name or service not known")


def test_the_hosts_own_etcd_names_its_member_whatever_the_inventory_calls_it():
    """The review's case: inventory host node1 (peer URL by IP) is member etcd-node1 with a DNS peer URL. 1.1.0 found
    no member, said 'no change' and the role stopped etcd there. The ID node1's etcd reports finds the member."""
    assert M.plan_remove(DNS, DNS_HEALTHY, "node1", "http://198.18.0.21:46382")["action"] == "none"   # what 1.1.0 saw
    plan = M.plan_remove(DNS, DNS_HEALTHY, "node1", "http://198.18.0.21:46382", own=own("endpoint_status_own_dns.json"),
                         cluster_id=DNS_CLUSTER_ID, resolve=no_dns)
    assert plan["action"] == "remove" and plan["identified_by"] == "member_id"
    assert (plan["member"]["id"], plan["member"]["name"]) == ("a574de1d6a56694", "etcd-node1")


def test_an_etcd_of_another_cluster_is_refused():
    with pytest.raises(M.MemberRefused, match=r"belongs to another cluster \(ID 71021858967a252c, this one is f91c10a8f762993d\)"):
        M.plan_remove(DNS, DNS_HEALTHY, "node1", None, own=own("endpoint_status_other_cluster.json", "http://127.0.0.1:46385"),
                      cluster_id=DNS_CLUSTER_ID)


def test_an_etcd_of_this_cluster_the_member_list_lacks_is_refused():
    """The host runs an etcd of this cluster but no member matches (here: the list read after that member was removed)."""
    after = M.parse_member_list_simple((FIX / "member_list_dns_after_remove.simple").read_text())
    with pytest.raises(M.MemberRefused, match="is member a574de1d6a56694 of this cluster, which the member list does not show"):
        M.plan_remove(after, DNS_HEALTHY, "node1", None, own=own("endpoint_status_own_dns.json"), cluster_id=DNS_CLUSTER_ID)


def test_a_name_naming_another_member_than_the_hosts_etcd_is_refused():
    with pytest.raises(M.MemberRefused, match=r"name etcd-node2 is member etcd-node2 \(926c9453a3e9a42e\) but the etcd answering on "
                                              r"http://127.0.0.1:46381 is member etcd-node1 \(a574de1d6a56694\)"):
        M.plan_remove(DNS, DNS_HEALTHY, "etcd-node2", None, own=own("endpoint_status_own_dns.json"), cluster_id=DNS_CLUSTER_ID)


def test_an_etcd_that_does_not_answer_is_no_identity():
    stderr = (FIX / "endpoint_status_nothing_listens.stderr").read_text()
    assert M.identity_from_status(1, "[]\n", stderr, "http://127.0.0.1:46399", parse_endpoint_status) is None
    assert M.identity_from_status(0, "garbage", "", "http://127.0.0.1:46399", parse_endpoint_status) is None
    assert M.error_text("", stderr) == "Failed to get the status of endpoint http://127.0.0.1:46399 (context deadline exceeded)"


@pytest.mark.parametrize("addresses, resolved, expected", [
    (["198.18.0.21"], {"localhost": {"127.0.0.1"}}, None),                          # the IP is on no peer URL
    (["node1.example"], {"localhost": {"127.0.0.1"}, "node1.example": {"198.18.0.21"}}, None),
    (["127.0.0.2"], {"localhost": {"127.0.0.1"}}, None),
])
def test_peer_urls_are_compared_by_address_after_resolving(addresses, resolved, expected):
    plan = M.plan_remove(DNS, DNS_HEALTHY, "node1", None, addresses=addresses, resolve=lambda h: resolved.get(h, set()))
    assert plan["member"] == expected and plan["identified_by"] is None


def test_a_peer_url_on_the_hosts_address_finds_the_member_and_several_are_refused():
    three = M.parse_member_list_simple((FIX / "member_list_3.simple").read_text())   # peer URLs on 127.0.0.1:3238x
    # every member of the DNS capture resolves to 127.0.0.1 (one machine): the host's address matches them all
    with pytest.raises(M.MemberRefused, match="members etcd-node1, etcd-master1, etcd-node2 all have peer URLs on localhost"):
        M.plan_remove(DNS, DNS_HEALTHY, "node1", None, addresses=["localhost"], resolve=lambda h: {"127.0.0.1"})
    one = [m for m in three if m["name"] == "e3"] + [dict(m, peer_urls=["http://e2.example:32382"]) for m in three if m["name"] == "e2"]
    plan = M.plan_remove(one, {"http://127.0.0.1:32383", "http://127.0.0.1:32381"}, "node2", None,
                         addresses=["198.18.0.22", "node2"], resolve=lambda h: {"198.18.0.22"} if h in ("e2.example", "node2") else set())
    assert plan["member"]["name"] == "e2" and plan["identified_by"] == "peer_url_address"


def test_run_member_removes_the_member_the_hosts_etcd_reports_with_its_audit_record():
    module = FakeModule(name="node1", peer_url="http://198.18.0.21:46382", state="absent", member_endpoint=NODE1_URL,
                        host_addresses=["198.18.0.21"])
    run = Replay([(0, (FIX / "member_list_dns.simple").read_text(), ""),
                  (0, (FIX / "endpoint_health_dns.json").read_text(), ""),
                  (0, (FIX / "endpoint_status_own_dns.json").read_text(), ""),
                  (0, (FIX / "member_list_dns.json").read_text(), ""),
                  (0, (FIX / "member_remove_dns.stdout").read_text(), ""),
                  (0, (FIX / "member_list_dns_after_remove.simple").read_text(), "")])
    result = run_member(module, M.Cluster(run, _base, sorted(DNS_HEALTHY), sleep=lambda s: None), resolve=no_dns)
    assert result["changed"] and not result.get("failed") and result["member"] is None
    assert result["identified_by"] == "member_id" and result["not_a_member"] is False
    assert result["host_etcd"] == {"answered": True, "endpoint": NODE1_URL, "cluster_id": "f91c10a8f762993d",
                                   "member_id": "a574de1d6a56694", "this_cluster": True}
    assert run.calls[2][-3:] == ["json", "endpoint", "status"] and run.calls[4][-3:] == ["member", "remove", "a574de1d6a56694"]
    assert result["audit"][0]["actions"] == ["remove member etcd-node1 (a574de1d6a56694)"]
    assert result["audit"][0]["identified_by"] == "member_id" and result["audit"][0]["target"] == "etcd-node1"


def test_run_member_says_not_a_member_when_nothing_answers_and_nothing_matches():
    module = FakeModule(name="node1", peer_url="http://198.18.0.21:46382", state="absent",
                        member_endpoint="http://127.0.0.1:46399", host_addresses=["198.18.0.21"])
    run = Replay([(0, (FIX / "member_list_dns.simple").read_text(), ""),
                  (0, (FIX / "endpoint_health_dns.json").read_text(), ""),
                  (1, "[]\n", (FIX / "endpoint_status_nothing_listens.stderr").read_text())])
    result = run_member(module, M.Cluster(run, _base, sorted(DNS_HEALTHY), sleep=lambda s: None), resolve=no_dns)
    assert not result["changed"] and result["not_a_member"] is True and result["audit"] == []
    assert result["host_etcd"]["answered"] is False and "context deadline exceeded" in result["host_etcd"]["error"]


def test_run_member_reports_a_removal_whatever_fails_after_it():
    """The member was removed, then reading the list back failed in a way no one planned for (here the runner itself
    raised): the result is failed AND changed with the audit record of the removal, not a bare traceback."""
    module = FakeModule(name="e3", peer_url=None, state="absent")

    class Breaks(Replay):
        def __call__(self, argv, env):
            if argv[-3:] == ["list", "-w", "simple"] and len(self.calls) >= 3:
                raise RuntimeError("etcdctl vanished")
            return super().__call__(argv, env)

    run = Breaks([(0, (FIX / "member_list_3.simple").read_text(), ""),
                  (0, (FIX / "endpoint_health_ok.json").read_text(), ""),
                  (0, (FIX / "member_remove_ok.stdout").read_text(), "")])
    result = run_member(module, M.Cluster(run, _base, sorted(ALL_HEALTHY), sleep=lambda s: None))
    assert result["failed"] and result["changed"] and "etcdctl vanished (after: remove member e3" in result["msg"]
    assert result["audit"][0]["actions"] == ["remove member e3 (90c6dff3c23458a8)"]
