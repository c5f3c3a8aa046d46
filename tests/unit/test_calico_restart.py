"""calico-node restart (plugins/module_utils/_calico_restart.py): which hosts are broken, and the restart loop."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.filter.calico_broken_hosts import calico_broken_hosts
from ansible_collections.kubeops.runbook.plugins.module_utils import _calico as B
from ansible_collections.kubeops.runbook.plugins.module_utils import _calico_restart as R
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P

FIX = Path(__file__).parent / "fixtures"
PEERS = {"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"}


def bgp_result(host: str, fixture: str | None, rc: int = 0) -> dict:
    """calico_bgp_info's result for a host, computed from a real captured birdcl output."""
    text = (FIX / "calico" / fixture).read_text() if fixture else ""

    def run(argv):
        return (rc, text, "") if rc == 0 else (rc, "", text)
    peers, findings, source = B.run_bgp_check(run, host, "/var/run/calico/bird.ctl", "birdcl", None,
                                              {v: k for k, v in PEERS.items()}[host], PEERS)
    return {"peers": peers, "findings": findings, "source": source}


def test_only_the_host_whose_bird_is_down_is_broken():
    # node1's bird stopped: master1 sees node1 down (captured); node2 sees the same; node1 does not answer.
    results = {"master1": bgp_result("master1", "master1_node1_bird_stopped_protocols_all.txt"),
               "node2": bgp_result("master1", "master1_node1_bird_stopped_protocols_all.txt"),
               "node1": bgp_result("node1", "node1_bird_stopped_birdcl.txt", rc=1)}
    # node2's view: its peers are master1 (up) and node1 (down) - rename the captured master1 view accordingly
    for peer in results["node2"]["peers"]:
        if peer["address"] == "198.18.0.22":
            peer["address"] = "198.18.0.11"
    assert R.bgp_state(results["node1"], PEERS)["answering"] is False
    assert calico_broken_hosts(results, PEERS) == ["node1"]


def test_healthy_mesh_has_no_broken_host():
    results = {h: bgp_result("master1", "master1_healthy_protocols_all.txt") for h in ("master1", "node1", "node2")}
    assert calico_broken_hosts(results, PEERS) == []


@pytest.mark.parametrize("state,broken", [
    # a host whose BIRD runs but has every session down, while the others keep one up
    ({"a": {"answering": True, "peers": [{"peer_host": "b", "established": False}, {"peer_host": "c", "established": False}]},
      "b": {"answering": True, "peers": [{"peer_host": "a", "established": False}, {"peer_host": "c", "established": True}]},
      "c": {"answering": True, "peers": [{"peer_host": "a", "established": False}, {"peer_host": "b", "established": True}]}},
     ["a"]),
    # two BIRDs down: the third sees both down but is not broken itself
    ({"a": {"answering": False}, "b": {"answering": False},
      "c": {"answering": True, "peers": [{"peer_host": "a", "established": False}, {"peer_host": "b", "established": False}]}},
     ["a", "b"]),
    # two hosts that see only each other down: the first is named, the caller re-reads before the second
    ({"a": {"answering": True, "peers": [{"peer_host": "b", "established": False}]},
      "b": {"answering": True, "peers": [{"peer_host": "a", "established": False}]}}, ["a"]),
    # a host with no sessions at all is not judged broken by this rule
    ({"a": {"answering": True, "peers": []}}, []),
])
def test_broken_nodes(state, broken):
    assert R.broken_nodes(state) == broken


def test_unreachable_or_failed_result_counts_as_not_answering():
    assert calico_broken_hosts({"a": {"unreachable": True}, "b": "garbage"}, {}) == ["a", "b"]


# -- the restart loop --------------------------------------------------------------------------------------
def calico_pods() -> list[dict]:
    pods = json.loads((FIX / "k8s" / "healthy_pods.json").read_text())["items"]
    return [p for p in pods if (p["metadata"].get("labels") or {}).get("k8s-app") == "calico-node"]


class FakeApi:
    def __init__(self, pods, ready_after=1):
        self.pods = copy.deepcopy(pods)
        self.deletes = []
        self.lists = 0
        self.ready_after = ready_after
        self.queue = []

    def list_pods(self, label_selector=None, field_selector=None):
        self.lists += 1
        if self.queue and self.lists > self.ready_after:
            self.pods += self.queue
            self.queue = []
        return copy.deepcopy(self.pods)

    def delete_pod(self, namespace, name, pod_uid, grace_period_seconds=None):
        self.deletes.append((namespace, name, pod_uid))
        old = next(p for p in self.pods if P.uid(p) == pod_uid)
        self.pods.remove(old)
        new = copy.deepcopy(old)
        new["metadata"].update(name=name[:-5] + "zzzzz", uid=pod_uid + "-new", creationTimestamp="2030-01-01T00:00:00Z")
        self.queue.append(new)
        return "deleted"


def ticking():
    ticks = iter(range(0, 10 ** 6))
    return lambda: next(ticks)


def test_restart_one_node_waits_for_ready_replacement_and_leaves_the_other():
    pods = calico_pods()
    node1 = next(p for p in pods if P.node_of(p) == "node1")
    other = next(p for p in pods if P.node_of(p) == "node2")
    api = FakeApi(pods, ready_after=3)
    result = R.restart(api, R.Options(("node1",)), check_mode=False, sleep=lambda s: None, clock=ticking())
    assert api.deletes == [("kube-system", node1["metadata"]["name"], P.uid(node1))]
    entry = result["restarted"][0]
    assert entry["ready"] is True and entry["new_uid"] == P.uid(node1) + "-new" and entry["outcome"] == "restarted"
    assert P.uid(other) in {P.uid(p) for p in api.pods}
    assert len(result["audit"]) == 1 and result["audit"][0]["target"] == "node1"


def test_check_mode_deletes_nothing():
    api = FakeApi(calico_pods())
    result = R.restart(api, R.Options(("node1", "node2")), check_mode=True)
    assert not api.deletes and [e["outcome"] for e in result["restarted"]] == ["would restart"] * 2


def test_refuses_when_another_calico_pod_is_not_ready():
    pods = calico_pods()
    sick = next(p for p in pods if P.node_of(p) == "node2")
    for cond in sick["status"]["conditions"]:
        if cond["type"] == "Ready":
            cond["status"] = "False"
    api = FakeApi(pods)
    with pytest.raises(R.CalicoRestartRefused, match="1 calico-node pod\\(s\\) on other nodes are not Ready"):
        R.restart(api, R.Options(("node1",)), check_mode=False)
    assert not api.deletes


def test_no_pod_on_node_and_bad_input_are_one_line_errors():
    with pytest.raises(R.CalicoRestartError, match="no calico-node pod on node master1"):
        R.restart(FakeApi(calico_pods()), R.Options(("master1",)), check_mode=True)
    with pytest.raises(R.CalicoRestartError, match="lists a node twice"):
        R.validate(R.Options(("node1", "node1")))


def test_wait_timeout_keeps_the_audit_of_the_delete():
    api = FakeApi(calico_pods(), ready_after=10 ** 6)
    with pytest.raises(R.CalicoRestartWaitFailed) as info:
        R.restart(api, R.Options(("node1",), wait_timeout=10), check_mode=False, sleep=lambda s: None, clock=ticking())
    assert len(api.deletes) == 1 and len(info.value.result["audit"]) == 1


# -- partial failures and calico-kube-controllers (issue 16) -----------------------------------------------------
class FailingApi(FakeApi):
    def __init__(self, pods, fail_delete=None, **kw):
        super().__init__(pods, **kw)
        self.fail_delete, self.calls = fail_delete, 0

    def delete_pod(self, namespace, name, pod_uid, grace_period_seconds=None):
        self.calls += 1
        if self.calls == self.fail_delete:
            raise P.PodError(f"cannot delete pod {namespace}/{name}: Kubernetes API at https://198.18.0.11:6443 "
                             "answered HTTP 503 Service Unavailable")
        return super().delete_pod(namespace, name, pod_uid, grace_period_seconds)


@pytest.mark.parametrize("nodes,fail_delete,why", [
    (("node1", "master1"), None, "no calico-node pod on node master1"),   # a node without a calico pod after a restart
    (("node1", "node2"), 2, "HTTP 503"),                                  # the API refusing the second delete
])
def test_a_failure_after_a_restart_keeps_it_changed_and_audited(nodes, fail_delete, why):
    api = FailingApi(calico_pods(), fail_delete=fail_delete)
    with pytest.raises(Exception, match=why) as info:     # 1.1.0: a bare error, node1's restart not reported
        R.restart(api, R.Options(nodes), check_mode=False, sleep=lambda s: None, clock=ticking())
    result = getattr(info.value, "result", {})
    assert result.get("changed") is True, info.value
    assert [a["target"] for a in result["audit"]] == ["node1"] and result["audit"][0]["after"]["ready"] is True
    assert [e["node"] for e in result["restarted"]] == ["node1"]
    assert str(info.value).startswith("restarted node1 (audited), then calico-node on ")


def kube_controllers() -> dict:
    pods = json.loads((FIX / "k8s" / "healthy_pods.json").read_text())["items"]
    return next(p for p in pods if p["metadata"]["name"].startswith("calico-kube-controllers"))


def not_ready(pod: dict) -> dict:
    for cond in pod["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["status"] = "False"
    pod["status"]["containerStatuses"][0].update(ready=False, restartCount=6)
    return pod


@pytest.mark.parametrize("pod,log,restart,why", [
    (kube_controllers, "kube_controllers_healthy.log", False, "Ready and its last log lines show no datastore error"),
    (kube_controllers, "kube_controllers_datastore_errors.log", True,
     "Ready but its log shows datastore errors: 2026-12-06 10:03:06.120 [ERROR][1] client.go 272: Error getting cluster"),
    (kube_controllers, None, False, "Ready and its log could not be read"),
    (lambda: not_ready(kube_controllers()), None, True, "is not Ready (phase Running, 6 restarts)"),
    (lambda: None, None, False, "no calico-kube-controllers pod"),
])
def test_kube_controllers_restarted_only_when_not_ready_or_its_datastore_fails(pod, log, restart, why):
    text = (FIX / "calico" / log).read_text() if log else None
    needed, reason = R.kube_controllers_verdict(pod(), text, "HTTP 502" if log is None else None)
    assert needed is restart and why in reason, reason


def test_a_warning_or_info_line_about_the_datastore_is_not_an_error():
    text = (FIX / "calico" / "kube_controllers_datastore_errors.log").read_text()
    errors = R.datastore_errors(text)
    assert len(errors) == 3 and all("[ERROR]" in e for e in errors)
    assert R.datastore_errors((FIX / "calico" / "kube_controllers_healthy.log").read_text()) == []


class ControllersApi(FakeApi):
    def __init__(self, pods, log=None, **kw):
        super().__init__(pods, **kw)
        self.log = log

    def read_log(self, namespace, name, tail_lines=200):
        if self.log is None:
            raise P.PodError(f"cannot read the log of pod {namespace}/{name}: Kubernetes API answered HTTP 502")
        return self.log


def test_restart_kube_controllers_when_its_log_shows_datastore_errors():
    kc = kube_controllers()
    api = ControllersApi([kc], log=(FIX / "calico" / "kube_controllers_datastore_errors.log").read_text(), ready_after=2)
    result = R.restart(api, R.Options((), kube_controllers=True), check_mode=False, sleep=lambda s: None, clock=ticking())
    assert api.deletes == [("kube-system", kc["metadata"]["name"], P.uid(kc))]
    entry = result["kube_controllers"]
    assert entry["outcome"] == "restarted" and entry["ready"] is True and entry["new_uid"] == P.uid(kc) + "-new"
    assert result["changed"] and [a["action"] for a in result["audit"]] == ["restart_calico_kube_controllers"]
    # a healthy one, or one whose log cannot be read, is left alone
    for log in ((FIX / "calico" / "kube_controllers_healthy.log").read_text(), None):
        api = ControllersApi([kube_controllers()], log=log)
        result = R.restart(api, R.Options((), kube_controllers=True), check_mode=False)
        assert not api.deletes and result["changed"] is False and result["kube_controllers"]["outcome"] == "left alone"


def test_kube_controllers_check_mode_names_it_and_deletes_nothing():
    api = ControllersApi([not_ready(kube_controllers())])
    result = R.restart(api, R.Options((), kube_controllers=True), check_mode=True)
    assert not api.deletes and result["kube_controllers"]["outcome"] == "would restart" and result["changed"]
