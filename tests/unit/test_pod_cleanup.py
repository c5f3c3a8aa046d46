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
class FakeApi:
    """Deletes remove the pod; after `replace_after` list calls, the controller's replacement is Ready."""

    def __init__(self, pods: list[dict], replace_after: int = 1, owners: dict | None = None):
        self.pods = pods
        self.deletes: list[tuple[str, str, str, int | None]] = []
        self.lists = 0
        self.replace_after = replace_after
        self.pending: list[dict] = []
        self.owners = owners or {}

    def list_pods(self, label_selector=None, field_selector=None):
        self.lists += 1
        if self.pending and self.lists > self.replace_after:
            self.pods += self.pending
            self.pending = []
        return copy.deepcopy(self.pods)

    def delete_pod(self, namespace, name, pod_uid, grace_period_seconds=None):
        self.deletes.append((namespace, name, pod_uid, grace_period_seconds))
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
