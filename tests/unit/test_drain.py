"""Cordon, drain and uncordon (plugins/module_utils/_drain.py) on the lab's nodes, pods and PodDisruptionBudgets and
the Eviction API's real answers (tests/unit/fixtures/drain/README.md). The API boundary (NodeApi) is replaced by a
fake that serves those captures and deletes an evicted pod the next time the node's pods are listed, as the lab's
kwok kubelet does."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _drain as D

FIX = Path(__file__).parent / "fixtures" / "drain"
K8S = Path(__file__).parent / "fixtures" / "k8s"


def load(name: str, where: Path = FIX) -> dict:
    return json.loads((where / name).read_text())


def items(name: str, where: Path = FIX) -> list[dict]:
    return load(name, where)["items"]


def answer(name: str) -> tuple[int, dict]:
    data = load(f"{name}.json")
    return data["status"], data["body"]


NODES = items("lab_nodes.json")
NODE1_PODS = items("lab_pods_node1.json")
CAPTURE_PODS = items("capture_pods_before.json")     # the two pods of deployment capture, one on each node
PDB_ALLOWS_ONE = items("pdbs_max_unavailable_1.json")
PDB_ALLOWS_NONE = items("pdbs_min_available_2.json")


def node(name: str) -> dict:
    return copy.deepcopy(next(n for n in NODES if n["metadata"]["name"] == name))


def opts(*names: str, **kwargs) -> D.Options:
    return D.Options(tuple({"name": n, "address": None} for n in names), interval=1, **kwargs)


class FakeApi:
    """NodeApi on captures: ``answers(pod, attempt)`` gives the eviction's (status, body), 201 by default."""

    def __init__(self, nodes: list[dict], pods: dict[str, list[dict]], pdbs: list[dict] | None = None, answers=None):
        self.nodes = {n["metadata"]["name"]: copy.deepcopy(n) for n in nodes}
        self.pods = {name: copy.deepcopy(p) for name, p in pods.items()}
        self.pdbs = pdbs or []
        self.answers = answers or (lambda pod, attempt: answer("evict_201"))
        self.calls: list[tuple[str, str]] = []
        self.attempts: dict[str, int] = {}

    def list_nodes(self) -> list[dict]:
        return list(self.nodes.values())

    def list_pods_on(self, name: str) -> list[dict]:
        # an evicted pod is gone by the next look (kwok confirms the deletion at once)
        self.pods[name] = [p for p in self.pods.get(name, []) if not p["metadata"].get("deletionTimestamp")]
        return copy.deepcopy(self.pods[name])

    def list_pdbs(self) -> list[dict]:
        return self.pdbs

    def read_node(self, name: str) -> dict:
        return self.nodes[name]

    def set_unschedulable(self, name: str, value: bool) -> None:
        self.calls.append(("cordon" if value else "uncordon", name))
        self.nodes[name].setdefault("spec", {})["unschedulable"] = value or None

    def evict(self, pod: dict, grace_period=None) -> tuple[int, dict]:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        self.attempts[key] = self.attempts.get(key, 0) + 1
        status, body = self.answers(pod, self.attempts[key])
        self.calls.append(("evict", key))
        if status in (200, 201):
            for p in self.pods[pod["spec"]["nodeName"]]:
                if p["metadata"]["uid"] == pod["metadata"]["uid"]:
                    p["metadata"]["deletionTimestamp"] = "2026-12-06T09:55:10Z"
        return status, body


def ticking(step: float = 1.0):
    """A clock that moves ``step`` seconds each time it is read, and a sleep that does nothing."""
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]
    return clock, (lambda _s: None)


# -- finding the Node of an inventory host ----------------------------------------------------------------------
def test_resolve_by_name_hostname_label_and_address():
    renamed = node("node2")
    renamed["metadata"]["name"] = "k8s-worker-b.example"   # the label still says node2, as kubeadm clusters have it
    by_ip = node("node1")
    by_ip["metadata"]["name"] = "ip-198-18-0-21"
    by_ip["metadata"]["labels"]["kubernetes.io/hostname"] = "ip-198-18-0-21"
    found = D.resolve([by_ip, renamed], [{"name": "node2", "address": "198.18.0.22"},
                                         {"name": "node1", "address": "198.18.0.21"}])
    assert found == [{"host": "node2", "node": "k8s-worker-b.example", "by": "hostname label"},
                     {"host": "node1", "node": "ip-198-18-0-21", "by": "address"}]
    assert D.resolve(NODES, [{"name": "node1", "address": "198.18.0.99"}])[0]["by"] == "name"


def test_a_host_that_matches_no_node_or_several_is_never_guessed():
    with pytest.raises(D.DrainError, match=r"no Node matches inventory host mw1 \(address 198.18.0.31\)"):
        D.resolve(NODES, [{"name": "mw1", "address": "198.18.0.31"}])
    twin = node("node2")
    twin["metadata"]["name"] = "node2-twin"
    twin["metadata"]["labels"]["kubernetes.io/hostname"] = "node2-twin"
    twin["status"]["addresses"] = [{"type": "InternalIP", "address": "198.18.0.22"}]
    with pytest.raises(D.DrainRefused, match=r"matches 2 Nodes by address \(node2, node2-twin\)"):
        D.resolve([node("node1"), node("node2"), twin], [{"name": "spare", "address": "198.18.0.22"}])
    with pytest.raises(D.DrainError, match="same Node node1"):
        D.resolve(NODES, [{"name": "node1"}, {"name": "198.18.0.21"}])


# -- the pods of a node -----------------------------------------------------------------------------------------
def test_lab_node1_plan_evicts_the_replicaset_pods_and_leaves_calico_node_alone():
    plan = D.plan_pods(NODE1_PODS, [])
    assert [f"{p['namespace']}/{p['name']}" for p in plan["skipped"]] == ["kube-system/calico-node-dl4ff"]
    assert plan["skipped"][0]["why"] == "DaemonSet pod (calico-node)"
    assert len(plan["evict"]) == 12 and not plan["blockers"] and not plan["terminating"]
    assert all(p["why"].startswith("ReplicaSet ") for p in plan["evict"])


def test_budgets_of_the_captured_pods():
    pod = CAPTURE_PODS[0]
    assert D.budgets_of(pod, PDB_ALLOWS_NONE) == [{"name": "kubeops-drain-capture/capture-pdb", "disruptions_allowed": 0,
                                                   "current_healthy": 2, "desired_healthy": 2}]
    assert D.budgets_of(pod, PDB_ALLOWS_ONE)[0]["disruptions_allowed"] == 1
    assert D.budgets_of(NODE1_PODS[0], PDB_ALLOWS_ONE) == []


@pytest.mark.parametrize("selector, labels, expected", [
    ({"matchLabels": {"app": "x"}}, {"app": "x", "tier": "web"}, True),
    ({"matchLabels": {"app": "x"}}, {"app": "y"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "y"]}]}, {"app": "y"}, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, {"app": "x"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {}, True),
    ({}, {"app": "x"}, True),
    (None, {"app": "x"}, False),
])
def test_selector_matches(selector, labels, expected):
    assert D.selector_matches(selector, labels) is expected


EMPTYDIR_AND_BARE = {p["metadata"]["name"]: p for p in items("pods_emptydir_bare.json")}


def test_emptydir_and_bare_pods_block_unless_allowed():
    pod = EMPTYDIR_AND_BARE["capture-5b45cbc9b9-fkdpb"]
    assert D.classify(pod)[0] == "block" and "delete_emptydir_data" in D.classify(pod)[1]
    assert D.classify(pod, delete_emptydir_data=True) == ("evict", "ReplicaSet capture-5b45cbc9b9, emptyDir scratch deleted")
    bare = EMPTYDIR_AND_BARE["capture-bare"]
    assert D.classify(bare) == ("block", "no controller would recreate it; set allow_bare_pods to evict it")
    assert D.classify(bare, allow_bare_pods=True) == ("evict", "bare pod (allow_bare_pods)")
    finished = copy.deepcopy(bare)
    finished["status"]["phase"] = "Succeeded"
    assert D.classify(finished) == ("evict", "finished (Succeeded)")


# -- the Eviction API's answers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("capture, outcome, why", [
    ("evict_201", "evicted", "evicted"),
    ("evict_429_pdb", "blocked", "Cannot evict pod as it would violate the pod's disruption budget. (The disruption budget "
                                 "capture-pdb needs 2 healthy pods and has 2 currently)"),
    ("evict_429_after_one", "blocked", "Cannot evict pod as it would violate the pod's disruption budget. (The disruption "
                                       "budget capture-pdb needs 1 healthy pods and has 1 currently)"),
    ("evict_404", "gone", 'pods "capture-no-such-pod" not found'),
])
def test_eviction_outcome(capture, outcome, why):
    status, body = answer(capture)
    assert D.eviction_outcome(status, json.dumps(body).encode()) == (outcome, why)


def test_eviction_outcome_of_other_answers():
    status, body = answer("evict_409_uid")
    outcome, why = D.eviction_outcome(status, body)
    assert outcome == "replaced" and "the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match" in why
    status, body = answer("evict_500_two_budgets")
    assert D.eviction_outcome(status, body) == ("failed", "HTTP 500: This pod has more than one PodDisruptionBudget, which "
                                                          "the eviction subresource does not support.")
    assert D.eviction_outcome(503, "not json at all") == ("failed", "HTTP 503: not json at all")


def test_two_budgets_on_one_pod_fail_the_drain_at_once():
    """A 500 is not waited for: no retry cures two budgets over one pod."""
    target = "product/ihs-conclude-1-3-0-b547fbcb-9k6qq"

    def answers(pod, attempt):
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        return answer("evict_500_two_budgets") if key == target else answer("evict_201")

    api = lab(answers=answers)
    clock, sleep = ticking()
    with pytest.raises(D.DrainFailed, match=f"cannot evict pod {target} from node1: HTTP 500: This pod has more than one "
                                            "PodDisruptionBudget.*; node1 stay cordoned"):
        D.run(api, opts("node1", timeout=300), check_mode=False, clock=clock, sleep=sleep)
    assert api.attempts[target] == 1


# -- the runs ---------------------------------------------------------------------------------------------------
def lab(pods_node1: list[dict] | None = None, **kwargs) -> FakeApi:
    return FakeApi(NODES, {"node1": NODE1_PODS if pods_node1 is None else pods_node1, "node2": []}, **kwargs)


def test_check_mode_plans_and_changes_nothing():
    api = lab()
    result = D.run(api, opts("node1"), check_mode=True)
    assert api.calls == [] and result["changed"] is True
    assert len(result["evicted"]) == 12 and all(e["outcome"] == "would evict" for e in result["evicted"])
    assert [a["action"] for a in result["audit"]] == ["cordon"] + ["evict"] * 12
    assert result["lines"][0].startswith("node1: evict 12 pod(s): developer-center/app-base-5895f66d44-x7x4l")
    assert result["lines"][0].endswith(" - left alone: kube-system/calico-node-dl4ff")


def test_drain_cordons_first_evicts_everything_but_the_daemonset_pod_and_audits_each():
    api = lab()
    clock, sleep = ticking()
    result = D.run(api, opts("node1"), check_mode=False, clock=clock, sleep=sleep)
    assert api.calls[0] == ("cordon", "node1")
    evicted = [key for call, key in api.calls if call == "evict"]
    assert len(evicted) == 12 and "kube-system/calico-node-dl4ff" not in evicted
    assert [a["action"] for a in result["audit"]] == ["cordon"] + ["evict"] * 12
    assert result["audit"][0] == {"action": "cordon", "target": "node1", "before": {"unschedulable": False},
                                  "after": {"unschedulable": True}, "inventory_host": "node1"}
    assert result["nodes"][0]["unschedulable"] is True and result["blocked"] == []
    again = D.run(api, opts("node1"), check_mode=False, clock=clock, sleep=sleep)
    assert again["changed"] is False and again["audit"] == []


def test_a_budget_that_blocks_is_waited_for_and_the_eviction_retried():
    """The captured 429 twice for one pod, then its eviction is accepted."""
    target = "product/oltp-gateway-1-3-0-6bdc7d7b75-8r6mf"

    def answers(pod, attempt):
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        return answer("evict_429_after_one") if key == target and attempt <= 2 else answer("evict_201")

    api = lab(answers=answers)
    clock, sleep = ticking()
    result = D.run(api, opts("node1", timeout=60), check_mode=False, clock=clock, sleep=sleep)
    assert api.attempts[target] == 3 and len(result["evicted"]) == 12
    assert [e["name"] for e in result["evicted"]][-1] == target.split("/")[1]


def test_a_wave_that_cannot_finish_names_the_pods_that_blocked_and_stays_cordoned():
    target = "product/oltp-gateway-1-3-0-6bdc7d7b75-8r6mf"

    def answers(pod, attempt):
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        return answer("evict_429_pdb") if key == target else answer("evict_201")

    api = lab(answers=answers)
    clock, sleep = ticking(2.0)
    with pytest.raises(D.DrainFailed) as failed:
        D.run(api, opts("node1", timeout=30), check_mode=False, clock=clock, sleep=sleep)
    message = str(failed.value)
    assert message.startswith("drain of node1 not finished after 30s: 1 pod(s) still there: "
                              f"{target} on node1 (Cannot evict pod as it would violate the pod's disruption budget. "
                              "(The disruption budget capture-pdb needs 2 healthy pods and has 2 currently))")
    assert message.endswith("node1 stay cordoned")
    assert ("uncordon", "node1") not in api.calls and api.nodes["node1"]["spec"]["unschedulable"] is True
    result = failed.value.result
    assert [a["action"] for a in result["audit"]] == ["cordon"] + ["evict"] * 11
    assert [b["name"] for b in result["blocked"]] == [target.split("/")[1]]


def test_pods_that_cannot_be_evicted_refuse_before_the_cordon():
    api = lab(NODE1_PODS + [p for p in EMPTYDIR_AND_BARE.values() if p["spec"]["nodeName"] == "node1"])
    with pytest.raises(D.DrainRefused, match=r"refusing to drain: 2 pod\(s\) cannot be evicted: "
                                             r"kubeops-drain-capture/capture-5b45cbc9b9-fkdpb on node1: uses emptyDir scratch "
                                             r".*; kubeops-drain-capture/capture-bare on node1: no controller"):
        D.run(api, opts("node1"), check_mode=False)
    assert api.calls == []


def test_control_plane_node_refused_unless_allowed():
    master = node("node1")
    master["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
    api = FakeApi([master, node("node2")], {"node1": NODE1_PODS, "node2": []})
    with pytest.raises(D.DrainRefused, match=r"node1 is a control-plane node; refusing to drain it"):
        D.run(api, opts("node1"), check_mode=True)
    assert D.run(api, opts("node1", allow_control_plane=True), check_mode=True)["changed"] is True


def test_too_few_nodes_left_refuse():
    api = lab()
    with pytest.raises(D.DrainRefused, match=r"cordoning node1, node2 would leave 0 schedulable Ready worker node\(s\) "
                                             r"\(none\), fewer than min_remaining_nodes=1"):
        D.run(api, opts("node1", "node2"), check_mode=True)
    with pytest.raises(D.DrainRefused, match="cordoning node2 would leave 0"):
        D.run(api, D.Options(({"name": "node2"},), assume_cordoned=({"name": "node1"},)), check_mode=True)
    assert D.run(api, opts("node1", "node2", min_remaining_nodes=0), check_mode=True)["changed"] is True


def test_uncordon_waits_for_ready_and_leaves_a_notready_node_cordoned():
    stopped = next(n for n in items("node2_kubelet_stopped_nodes.json", K8S) if n["metadata"]["name"] == "node2")
    stopped["spec"]["unschedulable"] = True
    api = FakeApi([node("node1"), stopped], {})
    clock, sleep = ticking(5.0)
    with pytest.raises(D.DrainRefused, match=r"node2 not Ready after 20s; left cordoned"):
        D.run(api, opts("node2", state="uncordon", timeout=20), check_mode=False, clock=clock, sleep=sleep)
    assert api.calls == []
    ready = node("node2")
    ready["spec"]["unschedulable"] = True
    api = FakeApi([node("node1"), ready], {})
    result = D.run(api, opts("node2", state="uncordon"), check_mode=False)
    assert api.calls == [("uncordon", "node2")]
    assert result["audit"] == [{"action": "uncordon", "target": "node2", "before": {"unschedulable": True},
                                "after": {"unschedulable": False}, "inventory_host": "node2"}]
    assert D.run(api, opts("node2", state="uncordon"), check_mode=False)["changed"] is False


@pytest.mark.parametrize("bad, message", [
    (D.Options(()), "nodes must name at least one node"),
    (D.Options(({"name": "a"}, {"name": "a"})), "nodes lists a node twice"),
    (D.Options(({"name": "a"},), state="reboot"), "state 'reboot' must be one of drain, cordon, uncordon"),
    (D.Options(({"name": "a"},), timeout=-1), "timeout must be 0 or more, got -1"),
])
def test_bad_options_name_the_value(bad, message):
    with pytest.raises(D.DrainError, match=message):
        D.validate(bad)
