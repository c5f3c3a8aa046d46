"""Unit tests of bounded scaling (plugins/module_utils/_scale.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _scale as S

FIX = Path(__file__).parent / "fixtures" / "scale"


@pytest.mark.parametrize("current,replicas,kw,expected", [
    (2, 3, {}, {"changed": True, "before": 2, "after": 3}),
    (3, 3, {"max_replicas": 5}, {"changed": False, "before": 3, "after": 3}),
    (2, 0, {}, {"changed": True, "before": 2, "after": 0}),
    (2, 4, {"only_if_current": 2, "min_replicas": 1, "max_replicas": 4}, {"changed": True, "before": 2, "after": 4}),
    (4, 4, {"only_if_current": 2}, {"changed": False, "before": 4, "after": 4}),   # already there: no refusal
])
def test_plan_scale(current, replicas, kw, expected):
    assert S.plan_scale("Deployment", "product/app", current, replicas, **kw) == expected


@pytest.mark.parametrize("kind,replicas,kw,match,refused", [
    ("Deployment", 6, {"max_replicas": 5}, "above max_replicas 5", True),
    ("StatefulSet", 1, {"min_replicas": 2}, "below min_replicas 2", True),
    ("Deployment", 3, {"only_if_current": 1}, "has 2 replicas, not 1", True),
    ("Deployment", -1, {}, "replicas -1", False),
    ("DaemonSet", 1, {}, "kind 'DaemonSet'", False),
    ("Deployment", 3, {"min_replicas": 4, "max_replicas": 2}, "min_replicas 4 is greater", False),
])
def test_plan_scale_refuses(kind, replicas, kw, match, refused):
    with pytest.raises(S.ScaleError, match=match) as info:
        S.plan_scale(kind, "product/app", 2, replicas, **kw)
    assert isinstance(info.value, S.ScaleRefused) is refused


def _deploy(want, generation=2, observed=2, **status):
    return {"kind": "Deployment", "metadata": {"generation": generation}, "spec": {"replicas": want, "strategy": {}},
            "status": {"observedGeneration": observed, **status}}


@pytest.mark.parametrize("obj,done,reason", [
    (_deploy(2, replicas=2, updatedReplicas=2, readyReplicas=2, availableReplicas=2), True, "2 of 2 ready"),
    (_deploy(3, observed=1, replicas=2, updatedReplicas=2, readyReplicas=2), False, "not observed"),
    (_deploy(3, replicas=3, updatedReplicas=3, readyReplicas=2), False, "2 of 3 ready"),
    (_deploy(1, replicas=3, updatedReplicas=1, readyReplicas=1), False, "2 old replicas"),
    (_deploy(0), True, "0 of 0 ready"),
    (_deploy(2, replicas=2, updatedReplicas=1, readyReplicas=2, conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]),
     False, "progress deadline"),
])
def test_rollout_state(obj, done, reason):
    state = S.rollout_state(obj)
    assert state["done"] is done and reason in state["reason"]


def test_rollout_state_real_objects():
    """Deployments/StatefulSets as the lab's apiserver returned them (kubectl get -o json)."""
    for path in sorted(FIX.glob("*.json")):
        obj = json.loads(path.read_text())
        state = S.rollout_state(obj)
        expected = path.stem.endswith("_done")
        assert state["done"] is expected, (path.name, state)
