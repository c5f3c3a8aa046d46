"""The stop conditions between maintenance waves (plugins/module_utils/_availability.py) on the lab's pods and
Deployments (tests/unit/fixtures/drain: lab_pods.json, lab_deployments.json) and the lab with node2's kubelet stopped
(tests/unit/fixtures/k8s/node2_kubelet_stopped_pods.json)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _availability as A

FIX = Path(__file__).parent / "fixtures"
PODS = json.loads((FIX / "drain" / "lab_pods.json").read_text())["items"]
DEPLOYMENTS = json.loads((FIX / "drain" / "lab_deployments.json").read_text())["items"]


def deployment(name: str) -> dict:
    return copy.deepcopy(next(d for d in DEPLOYMENTS if d["metadata"]["name"] == name))


def test_the_healthy_lab_holds():
    result = A.assess(PODS, DEPLOYMENTS, ["product", "developer-center"], 90)
    assert result["ok"] is True and result["reasons"] == []
    assert result["ready"] == {"ready": len(PODS), "total": len(PODS), "percent": 100.0, "not_ready": []}
    available = [f for f in result["findings"] if f["id"] == "deployments.available"]
    assert len(available) == 7 and all(f["status"] == "ok" for f in available)
    assert {f["target"]: f["summary"] for f in available}["product/oltp-gateway-1-3-0"] == \
        "2 of 2 replicas available, at least 2 needed"


def test_pods_of_a_stopped_kubelet_fall_below_the_threshold():
    pods = json.loads((FIX / "k8s" / "node2_kubelet_stopped_pods.json").read_text())["items"]
    ready = A.ready_pods(pods)
    assert ready["not_ready"] and ready["ready"] < ready["total"]
    result = A.assess(pods, [], (), min_ready_percent=99)
    assert result["ok"] is False
    assert result["reasons"][0].startswith(f"{ready['ready']} of {ready['total']} pods Ready")
    assert result["findings"][0]["status"] == "critical" and result["findings"][0]["id"] == "pods.ready_ratio"


def test_a_deployment_below_its_minimum_stops_and_one_at_it_does_not():
    low = deployment("oltp-gateway-1-3-0")
    low["status"]["availableReplicas"] = 1
    result = A.assess(PODS, [low], ["product"])
    assert result["ok"] is False and result["reasons"] == [
        "product/oltp-gateway-1-3-0: 1 of 2 replicas available, at least 2 needed"]
    four = deployment("oltp-gateway-1-3-0")
    four["spec"]["replicas"], four["status"]["availableReplicas"] = 4, 3
    assert A.assess(PODS, [four], ["product"])["ok"] is True     # 25% of 4 may be unavailable
    assert A.assess(PODS, [four], ["developer-center"])["ok"] is True  # not watched


@pytest.mark.parametrize("replicas, strategy, minimum", [
    (2, None, 2),                                                            # 25% of 2 rounds down to 0
    (4, None, 3),
    (10, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%", "maxSurge": 1}}, 5),
    (3, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}, 2),
    (3, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}, 2),  # the controller's rule
    (3, {"type": "Recreate"}, 3),
    (0, None, 0),
])
def test_min_available(replicas, strategy, minimum):
    dep = deployment("oltp-gateway-1-3-0")
    dep["spec"]["replicas"] = replicas
    if strategy is None:
        dep["spec"].pop("strategy", None)
    else:
        dep["spec"]["strategy"] = strategy
    assert A.min_available(dep) == minimum


def test_terminating_and_finished_pods_do_not_count():
    pods = copy.deepcopy(PODS[:3])
    pods[0]["metadata"]["deletionTimestamp"] = "2026-12-06T09:55:10Z"
    pods[1]["status"]["phase"] = "Succeeded"
    assert A.ready_pods(pods)["total"] == 1


def test_a_watched_namespace_without_deployments_is_said_so():
    result = A.assess(PODS, DEPLOYMENTS, ["kubeops-empty"])
    assert [(f["target"], f["summary"]) for f in result["findings"][1:]] == [("kubeops-empty/*", "no Deployment in this namespace")]


@pytest.mark.parametrize("bad", [-1, 101, True])
def test_bad_threshold(bad):
    with pytest.raises(A.AvailabilityError, match="min_ready_percent must be between 0 and 100"):
        A.assess(PODS, [], (), bad)
