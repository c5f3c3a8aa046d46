"""Abnormal-pod cleanup (plugins/module_utils/_pod_cleanup.py): classification, selection, guard, delete, wait."""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils import _pod_cleanup as C

FIX = Path(__file__).parent / "fixtures" / "k8s"
NOW = dt.datetime(2026, 11, 22, 6, 30, tzinfo=dt.timezone.utc)


def healthy() -> list[dict]:
    return json.loads((FIX / "healthy_pods.json").read_text())["items"]


def pod(name_prefix: str) -> dict:
    return copy.deepcopy(next(p for p in healthy() if p["metadata"]["name"].startswith(name_prefix)))


def crashloop(p: dict, restarts: int = 7) -> dict:
    p["status"]["phase"] = "Running"
    for c in p["status"]["conditions"]:
        if c["type"] in ("Ready", "ContainersReady"):
            c["status"] = "False"
    p["status"]["containerStatuses"][0].update({
        "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": "CrashLoopBackOff",
                                                                        "message": "back-off 5m0s restarting failed container"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-11-22T06:29:00Z"}}})
    return p


def evicted(p: dict) -> dict:
    p["status"].update({"phase": "Failed", "reason": "Evicted",
                        "message": "The node was low on resource: ephemeral-storage."})
    return p


def terminating(p: dict, seconds_ago: int) -> dict:
    stamp = (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p["metadata"]["deletionTimestamp"] = stamp
    p["metadata"]["deletionGracePeriodSeconds"] = 30
    return p


def pending(p: dict, age: int) -> dict:
    p["metadata"]["creationTimestamp"] = (NOW - dt.timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}],
                   "containerStatuses": [{"name": p["spec"]["containers"][0]["name"], "ready": False, "restartCount": 0,
                                          "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    return p


def opts(**kw) -> C.Options:
    return C.Options(**{"namespaces": ("developer-center",), **kw})


# -- classify ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,reason,why", [
    (lambda: crashloop(pod("developer-center-web")), "CrashLoopBackOff", "7 restarts, last exit Error (1)"),
    (lambda: evicted(pod("app-base")), "Evicted", "low on resource: ephemeral-storage"),
    (lambda: terminating(pod("app-base"), 120), "Terminating", "120s past its grace period"),
    (lambda: pending(pod("app-base"), 900), "Pending", "Pending for 900s"),
    (lambda: {**pod("app-base"), "status": {"phase": "Unknown"}}, "Unknown", "phase Unknown"),
    (lambda: {**pod("app-base"), "status": {"phase": "Failed", "reason": "DeadlineExceeded"}}, "Error", "DeadlineExceeded"),
])
def test_classify_abnormal(make, reason, why):
    got = C.classify(make(), NOW)
    assert got is not None and got[0] == reason and why in got[1], got


@pytest.mark.parametrize("make", [
    lambda: pod("app-base"),                          # healthy
    lambda: terminating(pod("app-base"), 10),         # Terminating, still within the allowance
    lambda: pending(pod("app-base"), 60),             # Pending, young
])
def test_classify_not_abnormal(make):
    assert C.classify(make(), NOW) is None


def test_healthy_pod_never_abnormal_even_with_a_bad_last_state():
    p = pod("app-base")
    p["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"reason": "Error", "exitCode": 137}}
    p["status"]["containerStatuses"][0]["restartCount"] = 40
    assert P.ready(p) and C.classify(p, NOW) is None


# -- select / guard ------------------------------------------------------------------------------------------
def broken_cluster() -> list[dict]:
    pods = [p for p in healthy() if not p["metadata"]["name"].startswith(("developer-center-web", "app-base"))]
    web = crashloop(pod("developer-center-web"))
    base_ok = pod("app-base")
    base_evicted = evicted(pod("app-base"))
    base_evicted["metadata"].update(name="app-base-5895f66d44-evict", uid="uid-evicted")
    base_stuck = terminating(pod("app-base"), 300)
    base_stuck["metadata"].update(name="app-base-5895f66d44-stuck", uid="uid-stuck")
    bare = crashloop(pod("app-base"))
    bare["metadata"].update(name="debug-shell", uid="uid-bare", ownerReferences=[])
    product_crash = crashloop(pod("oltp-gateway"))   # abnormal, but not in the namespaces asked for
    return pods + [web, base_ok, base_evicted, base_stuck, bare, product_crash]


def test_select_in_namespaces_only_with_controllers():
    sel = C.select(broken_cluster(), opts(), NOW)
    web = pod("developer-center-web")["metadata"]["name"]
    picked = {(p["name"], p["reason"], p["force"]) for p in sel.selected}
    assert picked == {(web, "CrashLoopBackOff", False), ("app-base-5895f66d44-evict", "Evicted", False),
                      ("app-base-5895f66d44-stuck", "Terminating", True)}
    assert all(p["namespace"] == "developer-center" for p in sel.selected)
    assert [p["name"] for p in sel.left_alone] == ["debug-shell"]
    assert "no controller" in sel.left_alone[0]["left_alone"]


def test_select_bare_pods_when_allowed_and_reasons_filter():
    sel = C.select(broken_cluster(), opts(allow_bare_pods=True, reasons=("CrashLoopBackOff",)), NOW)
    assert sorted(p["name"] for p in sel.selected) == sorted(["debug-shell", next(
        p["metadata"]["name"] for p in healthy() if p["metadata"]["name"].startswith("developer-center-web"))])


def test_select_mirror_pods_left_alone():
    p = crashloop(pod("app-base"))
    p["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    sel = C.select([p], opts(allow_bare_pods=True), NOW)
    assert not sel.selected and "static pod" in sel.left_alone[0]["left_alone"]


def test_guard_refuses_in_one_line():
    sel = C.select(broken_cluster(), opts(), NOW)
    with pytest.raises(C.CleanupRefused) as info:
        C.guard(sel, 2)
    msg = str(info.value)
    assert "3 abnormal pods match, more than max_pods=2: refusing to delete any" in msg and "\n" not in msg
    C.guard(sel, 3)


@pytest.mark.parametrize("kw,match", [
    ({"namespaces": ()}, "namespaces must name at least one namespace"),
    ({"reasons": ("Crashy",)}, "reasons ['Crashy'] must be taken from"),
    ({"max_pods": -1}, "max_pods must be 0 or more, got -1"),
])
def test_validate(kw, match):
    with pytest.raises(C.CleanupError, match=re.escape(match)):
        C.validate(opts(**kw))


# -- cleanup against a fake API ------------------------------------------------------------------------------
def nodes() -> list[dict]:
    return json.loads((FIX / "healthy_nodes.json").read_text())["items"]


class FakeApi:
    """Deletes remove the pod; after `replace_after` list calls, the controller's replacement is Ready."""

    def __init__(self, pods: list[dict], replace_after: int = 1, owners: dict | None = None,
                 node_list: list[dict] | None = None):
        self.pods = pods
        self.deletes: list[tuple[str, str, str, int | None]] = []
        self.versions: list[str | None] = []
        self.lists = 0
        self.replace_after = replace_after
        self.pending: list[dict] = []
        self.owners = owners or {}
        self.node_list = nodes() if node_list is None else node_list

    def list_nodes(self):
        return copy.deepcopy(self.node_list)

    def read_pod(self, namespace, name):
        found = [p for p in self.pods if p["metadata"]["namespace"] == namespace and p["metadata"]["name"] == name]
        return copy.deepcopy(found[0]) if found else None

    def list_pods(self, label_selector=None, field_selector=None):
        self.lists += 1
        if self.pending and self.lists > self.replace_after:
            self.pods += self.pending
            self.pending = []
        return copy.deepcopy(self.pods)

    def delete_pod(self, namespace, name, pod_uid, grace_period_seconds=None, resource_version=None):
        self.deletes.append((namespace, name, pod_uid, grace_period_seconds))
        self.versions.append(resource_version)
        victim = next(p for p in self.pods if P.uid(p) == pod_uid)
        self.pods.remove(victim)
        fresh = pod("app-base") if name.startswith("app-base") else pod("developer-center-web")
        fresh["metadata"].update(name=name + "-new", uid=pod_uid + "-new")
        self.pending.append(fresh)
        return "deleted"

    def read_owner(self, kind, namespace, name):
        return self.owners.get(name, {"spec": {"replicas": 1}})


def test_check_mode_plans_and_changes_nothing():
    api = FakeApi(broken_cluster())
    result = C.cleanup(api, opts(), check_mode=True, now=NOW)
    assert result["changed"] and not api.deletes
    assert {d["outcome"] for d in result["deleted"]} == {"would delete"}
    assert len(result["audit"]) == 3 and all(a["action"] == "delete_pod" for a in result["audit"])


def test_refusal_deletes_nothing():
    api = FakeApi(broken_cluster())
    with pytest.raises(C.CleanupRefused):
        C.cleanup(api, opts(max_pods=1), check_mode=False, now=NOW)
    assert not api.deletes


def test_real_run_deletes_with_uid_and_force_only_for_stuck_and_waits():
    api = FakeApi(broken_cluster(), owners={"app-base-5895f66d44": {"spec": {"replicas": 1}}})
    clock = iter(range(0, 1000, 2))
    result = C.cleanup(api, opts(wait=True), check_mode=False, now=NOW, sleep=lambda s: None,
                       clock=lambda: next(clock))
    by_name = {d[1]: d for d in api.deletes}
    assert by_name["app-base-5895f66d44-stuck"][3] == 0
    assert by_name["app-base-5895f66d44-evict"][3] is None and by_name["app-base-5895f66d44-evict"][2] == "uid-evicted"
    assert result["replacements"]["done"] is True
    assert [a["target"] for a in result["audit"]] == sorted(a["target"] for a in result["audit"])
    again = C.cleanup(api, opts(), check_mode=False, now=NOW)
    assert again["changed"] is False and again["audit"] == []


def test_wait_timeout_reports_what_is_missing():
    api = FakeApi(broken_cluster(), replace_after=10 ** 6)
    ticks = iter(range(0, 10 ** 6, 5))
    with pytest.raises(C.CleanupWaitFailed) as info:
        C.cleanup(api, opts(wait=True, wait_timeout=20), check_mode=False, now=NOW, sleep=lambda s: None,
                  clock=lambda: next(ticks))
    assert "replacements are not all Running and Ready" in str(info.value)
    assert len(info.value.result["audit"]) == 3    # the deletes happened and stay audited


# -- incident conditions: a partitioned node, system namespaces, partial failures, leftovers (issue 16) ---------
PART = Path(__file__).parent / "fixtures" / "incident"
PART_NOW = dt.datetime(2026, 12, 6, 9, 50, 30, tzinfo=dt.timezone.utc)   # ~65 s after app-db-0's grace period ended


def partitioned() -> tuple[list[dict], list[dict]]:
    """The lab during `python -m lab fault inject partition`: node2 unreachable, app-db-0 evicted and Terminating."""
    return (json.loads((PART / "node2_partitioned_pods.json").read_text())["items"],
            json.loads((PART / "node2_partitioned_nodes.json").read_text())["items"])


def ticks(step: int = 2):
    clock = iter(range(0, 10 ** 6, step))
    return lambda: next(clock)


class PartitionApi(FakeApi):
    """As the API behaves while nodes do not answer: a graceful delete of a pod there only marks it Terminating
    (no kubelet confirms it); its ReplicaSet still starts a replacement elsewhere. Grace period 0 removes it."""

    def __init__(self, pods, silent_nodes=("node2",), **kw):
        super().__init__(pods, **kw)
        self.silent = set(silent_nodes)

    def delete_pod(self, namespace, name, pod_uid, grace_period_seconds=None, resource_version=None):
        victim = next(p for p in self.pods if P.uid(p) == pod_uid)
        if P.node_of(victim) in self.silent and grace_period_seconds != 0:
            self.deletes.append((namespace, name, pod_uid, grace_period_seconds))
            self.versions.append(resource_version)
            victim["metadata"]["deletionTimestamp"] = PART_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
            fresh = pod("app-base")
            fresh["metadata"].update(name=name + "-new", uid=pod_uid + "-new")
            self.pending.append(fresh)
            return "deleted"
        return super().delete_pod(namespace, name, pod_uid, grace_period_seconds, resource_version)


def test_statefulset_pod_stuck_on_a_partitioned_node_is_left_waiting_for_its_node():
    pods, node_list = partitioned()
    api = PartitionApi(pods, node_list=node_list)
    result = C.cleanup(api, opts(terminating_seconds=5, wait=True, wait_timeout=60), check_mode=False, now=PART_NOW,
                       sleep=lambda s: None, clock=ticks())
    assert api.deletes == [] and result["changed"] is False and result["audit"] == []
    assert result["waiting_for_node"] == [{"pod": "developer-center/app-db-0", "node": "node2"}]
    left = next(p for p in result["left_alone"] if p["name"] == "app-db-0")
    assert left["reason"] == "Terminating" and left["waiting_for_node"] == "node2"
    assert left["left_alone"].startswith("waiting for node node2 (not Ready): a pod of StatefulSet app-db; mounts "
                                         "PersistentVolumeClaim data-app-db-0"), left["left_alone"]
    # check mode predicts the same: nothing to delete
    planned = C.cleanup(PartitionApi(partitioned()[0], node_list=node_list), opts(terminating_seconds=5), check_mode=True,
                        now=PART_NOW)
    assert planned["changed"] is False and planned["waiting_for_node"] == result["waiting_for_node"]


@pytest.mark.parametrize("how", ["confirmed", "node deleted"])
def test_statefulset_pod_is_force_deleted_once_its_node_is_known_gone(how):
    pods, node_list = partitioned()
    kw = {"confirmed_dead_nodes": ("node2",)} if how == "confirmed" else {}
    if how == "node deleted":
        node_list = [n for n in node_list if n["metadata"]["name"] != "node2"]
    sts = next(p for p in pods if p["metadata"]["name"] == "app-db-0")
    api = PartitionApi(pods, node_list=node_list)
    result = C.cleanup(api, opts(terminating_seconds=5, **kw), check_mode=False, now=PART_NOW)
    assert api.deletes == [("developer-center", "app-db-0", P.uid(sts), 0)]
    assert result["changed"] and result["waiting_for_node"] == []
    assert result["audit"][0]["after"] == {"deleted": True, "grace_period_seconds": 0}


def test_any_pod_with_a_claim_waits_for_its_node_even_a_ready_one():
    p = terminating(pod("app-base"), 300)
    p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "app-base-data"}}]
    api = FakeApi([p])
    result = C.cleanup(api, opts(), check_mode=False, now=NOW)
    assert not api.deletes and result["waiting_for_node"] == [{"pod": P.key(p), "node": P.node_of(p)}]
    assert f"waiting for node {P.node_of(p)} (Ready, its kubelet has not confirmed the deletion)" in \
        result["left_alone"][0]["left_alone"]
    # a stateless pod stuck Terminating is force-deleted as before
    plain = terminating(pod("app-base"), 300)
    api = FakeApi([plain])
    C.cleanup(api, opts(), check_mode=False, now=NOW)
    assert api.deletes == [("developer-center", P.key(plain).split("/")[1], P.uid(plain), 0)]


def system_crashloop() -> list[dict]:
    kc = next(p for p in healthy() if p["metadata"]["name"].startswith("calico-kube-controllers"))
    return [crashloop(copy.deepcopy(kc))]


@pytest.mark.parametrize("namespaces,protected", [
    (("kube-system",), None),
    (("developer-center", "kube-public"), None),
    (("calico-system",), ("kube-system", "calico-system")),
])
def test_system_namespaces_are_refused_without_the_option(namespaces, protected):
    api = FakeApi(system_crashloop())
    kw = {"protected_namespaces": protected} if protected else {}
    with pytest.raises(C.CleanupRefused, match="protected namespace") as info:
        C.cleanup(api, C.Options(namespaces=namespaces, **kw), check_mode=True, now=NOW)
    assert "allow_protected_namespace=true" in str(info.value) and "\n" not in str(info.value)
    assert api.lists == 0 and not api.deletes


def test_system_namespace_with_the_option():
    api = FakeApi(system_crashloop())
    result = C.cleanup(api, C.Options(namespaces=("kube-system",), allow_protected_namespace=True), check_mode=False, now=NOW)
    assert [d[1] for d in api.deletes] == [system_crashloop()[0]["metadata"]["name"]] and result["changed"]


class FailingApi(FakeApi):
    """The API answers 503 to the n-th DELETE (or to every LIST after the deletes)."""

    def __init__(self, pods, fail_delete: int | None = None, fail_lists_after: int | None = None, **kw):
        super().__init__(pods, **kw)
        self.fail_delete, self.fail_lists_after, self.delete_calls = fail_delete, fail_lists_after, 0

    def delete_pod(self, namespace, name, pod_uid, grace_period_seconds=None, resource_version=None):
        self.delete_calls += 1
        if self.delete_calls == self.fail_delete:
            raise P.PodError(f"cannot delete pod {namespace}/{name}: Kubernetes API at https://198.18.0.11:6443 "
                             "answered HTTP 503 Service Unavailable")
        return super().delete_pod(namespace, name, pod_uid, grace_period_seconds, resource_version)

    def list_pods(self, label_selector=None, field_selector=None):
        if self.fail_lists_after is not None and self.lists >= self.fail_lists_after:
            raise P.PodError("Kubernetes API at https://198.18.0.11:6443 answered HTTP 503 Service Unavailable")
        return super().list_pods(label_selector, field_selector)


def test_a_503_on_the_second_delete_keeps_the_first_delete_changed_and_audited():
    api = FailingApi(broken_cluster(), fail_delete=2)
    with pytest.raises(Exception) as info:      # 1.1.0 raised the bare PodError: the first delete was not reported
        C.cleanup(api, opts(), check_mode=False, now=NOW)
    result = getattr(info.value, "result", {})
    assert type(info.value).__name__ == "CleanupFailed", info.value
    assert result["changed"] is True and len(api.deletes) == 1
    assert [a["target"] for a in result["audit"]] == [f"developer-center/{api.deletes[0][1]}"]
    assert [d["outcome"] for d in result["deleted"]] == ["deleted"]
    msg = str(info.value)
    assert msg.startswith(f"deleted developer-center/{api.deletes[0][1]} (audited), then ") and "HTTP 503" in msg
    assert "\n" not in msg


def test_a_503_on_the_first_delete_changed_nothing():
    api = FailingApi(broken_cluster(), fail_delete=1)
    with pytest.raises(P.PodError, match="HTTP 503"):
        C.cleanup(api, opts(), check_mode=False, now=NOW)
    assert not api.deletes


def test_the_api_failing_while_waiting_keeps_every_delete_audited():
    api = FailingApi(broken_cluster(), fail_lists_after=1)
    with pytest.raises(Exception, match="HTTP 503") as info:
        C.cleanup(api, opts(wait=True), check_mode=False, now=NOW, sleep=lambda s: None, clock=ticks())
    result = getattr(info.value, "result", {})
    assert result.get("changed") is True and len(result.get("audit") or []) == 3, info.value
    assert "waiting for their replacements failed" in str(info.value)


def evicted_leftovers(count: int) -> list[dict]:
    out = []
    for i in range(count):
        p = evicted(pod("app-base"))
        p["metadata"].update(name=f"app-base-5895f66d44-ev{i:03d}", uid=f"uid-ev{i}")
        out.append(p)
    return out


def test_yesterdays_evicted_pods_have_their_own_budget():
    pods = evicted_leftovers(8) + [crashloop(pod("developer-center-web"))]
    api = FakeApi(pods)
    result = C.cleanup(api, opts(), check_mode=False, now=NOW)   # max_pods=5: 1 live pod, 8 dead ones
    assert len(api.deletes) == 9 and result["changed"] and len(result["audit"]) == 9
    with pytest.raises(C.CleanupRefused, match="51 dead pods \\(Evicted, Failed\\) match, more than max_dead_pods=50"):
        C.cleanup(FakeApi(evicted_leftovers(51)), opts(), check_mode=False, now=NOW)
    live = [crashloop(pod("developer-center-web")) for _i in range(6)]
    for i, p in enumerate(live):
        p["metadata"].update(name=f"developer-center-web-6b55b58b47-c{i}", uid=f"uid-c{i}")
    with pytest.raises(C.CleanupRefused, match="6 abnormal pods match, more than max_pods=5: .*8 dead pods .* counted "
                                               "against max_dead_pods=50 instead"):
        C.cleanup(FakeApi(live + evicted_leftovers(8)), opts(), check_mode=False, now=NOW)


def test_pods_on_a_node_that_does_not_answer_are_not_waited_for():
    pods, node_list = partitioned()
    unknown = next(p for p in pods if p["metadata"]["name"].startswith("app-base"))
    unknown["spec"]["nodeName"] = "node2"
    unknown["status"]["phase"] = "Unknown"
    api = PartitionApi(pods, node_list=node_list)
    result = C.cleanup(api, opts(terminating_seconds=5, wait=True, wait_timeout=180), check_mode=False, now=PART_NOW,
                       sleep=lambda s: None, clock=ticks())
    assert [d[1] for d in api.deletes] == [unknown["metadata"]["name"]] and api.deletes[0][3] is None
    assert result["replacements"]["done"] is True
    assert result["replacements"]["pending"] == [
        {"pod": P.key(unknown), "node": "node2",
         "why": "node node2 is not Ready: its deletion and replacement are not waited for (they complete when the node "
                "answers again, or its Node is deleted)"}]


def test_a_pod_that_recovered_since_the_list_is_not_deleted():
    sick = crashloop(pod("developer-center-web"))
    api = FakeApi([sick])
    api.read_pod = lambda namespace, name: pod("developer-center-web")   # Ready again when read right before the delete
    result = C.cleanup(api, opts(), check_mode=False, now=NOW)
    assert not api.deletes and result["changed"] is False and result["deleted"][0]["outcome"] == "recovered"


def test_the_delete_carries_the_resource_version_read_just_before():
    sick = crashloop(pod("developer-center-web"))
    sick["metadata"]["resourceVersion"] = "4711"
    api = FakeApi([sick])
    C.cleanup(api, opts(), check_mode=False, now=NOW)
    assert api.versions == ["4711"]
