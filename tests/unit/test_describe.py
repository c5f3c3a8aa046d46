"""k8s_describe_info (plugins/module_utils/_describe.py) and the namespaces check of _k8s_checks."""
from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _describe as D
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import namespace_findings

FIX = Path(__file__).parent / "fixtures" / "k8s"
NOW = dt.datetime(2026, 11, 22, 6, 30, tzinfo=dt.timezone.utc)


def load(name: str) -> list[dict]:
    return json.loads((FIX / name).read_text())["items"]


def crashlooping(pods: list[dict]) -> dict:
    pod = next(p for p in pods if p["metadata"]["name"].startswith("developer-center-web"))
    pod["status"]["conditions"] = [dict(c, status="False") if c["type"] in ("Ready", "ContainersReady") else c
                                   for c in pod["status"]["conditions"]]
    pod["status"]["containerStatuses"][0].update(
        ready=False, restartCount=7, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
        lastState={"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-11-22T06:29:00Z"}})
    return pod


def event(pod: dict, reason: str, count: int, last: str, etype: str = "Warning") -> dict:
    return {"metadata": {"namespace": pod["metadata"]["namespace"], "name": f"{pod['metadata']['name']}.{reason}"},
            "involvedObject": {"kind": "Pod", "namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                               "uid": pod["metadata"]["uid"]},
            "reason": reason, "message": "Back-off restarting failed container", "type": etype, "count": count,
            "firstTimestamp": "2026-11-22T06:00:00Z", "lastTimestamp": last, "source": {"component": "kwok_controller"}}


def test_describes_only_unhealthy_pods_with_events_newest_first():
    pods = load("healthy_pods.json")
    pod = crashlooping(pods)
    events = [event(pod, "BackOff", 12, "2026-11-22T06:29:00Z"), event(pod, "Unhealthy", 1, "2026-11-22T06:10:00Z")]
    other = copy.deepcopy(events[0])
    other["involvedObject"]["uid"] = "an-older-pod-of-the-same-name"
    blocks, findings, left = D.describe(pods, events + [other], load("healthy_deployments.json"),
                                        namespaces=["developer-center"], now=NOW)
    assert [b["name"] for b in blocks] == [pod["metadata"]["name"]] and left == 0
    block = blocks[0]
    assert [e["reason"] for e in block["events"]] == ["BackOff", "Unhealthy"]
    c = block["containers"][0]
    assert c["restart_count"] == 7 and c["state"]["reason"] == "CrashLoopBackOff" and c["last_state"]["exitCode"] == 1
    f = findings[0]
    assert f["id"] == "pods.describe" and f["status"] == "critical" and f["host"] == block["node"]
    assert "CrashLoopBackOff, 7 restarts" in f["summary"] and "latest BackOff" in f["summary"] and "(x12)" in f["summary"]
    assert D.log_targets(block) == [(c["name"], True)]   # the crashed instance's log


def test_names_describe_exactly_those_objects_and_max_objects_bounds():
    pods = load("healthy_pods.json")
    name = f"{pods[0]['metadata']['namespace']}/{pods[0]['metadata']['name']}"
    blocks, findings, _left = D.describe(pods, [], [], names=[name])
    assert [f"{b['namespace']}/{b['name']}" for b in blocks] == [name] and findings[0]["status"] == "ok"
    for p in pods:
        p["status"]["phase"] = "Pending"
    blocks, _findings, left = D.describe(pods, [], [], max_objects=3)
    assert len(blocks) == 3 and left == len(pods) - 3


def test_deployment_with_nothing_available_is_critical_with_replicaset_events():
    deps = load("healthy_deployments.json")
    dep = next(d for d in deps if d["metadata"]["name"] == "app-base")
    dep["status"]["availableReplicas"] = 0
    rs_event = {"metadata": {"namespace": "developer-center"}, "type": "Warning", "reason": "FailedCreate",
                "message": "pods \"app-base-x\" is forbidden: exceeded quota", "count": 3, "lastTimestamp": "2026-11-22T06:20:00Z",
                "involvedObject": {"kind": "ReplicaSet", "namespace": "developer-center", "name": "app-base-5895f66d44"}}
    _blocks, findings, _left = D.describe([], [rs_event], deps, namespaces=["developer-center"])
    f = next(f for f in findings if f["target"] == "developer-center/app-base")
    assert f["status"] == "critical" and "FailedCreate" in f["summary"]


def test_clip_log_and_bad_input():
    assert D.clip_log("a\nb\nc\n", 2) == ["b", "c"]
    assert D.clip_log("x" * 600, 1)[0].endswith("…")
    with pytest.raises(D.DescribeError, match="max_objects must be at least 1"):
        D.describe([], [], [], max_objects=0)


def test_namespace_findings():
    namespaces = [{"metadata": {"name": n}, "status": {"phase": "Active"}} for n in ("default", "product", "kube-system")]
    namespaces.append({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}})
    findings = namespace_findings(namespaces, ["developer-center", "product"])
    by = {(f["target"], f["status"]) for f in findings}
    assert ("developer-center", "critical") in by and ("old", "warning") in by and ("cluster", "ok") in by
    assert ("product", "critical") not in by
