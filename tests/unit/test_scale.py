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
    (2, 0, {"allow_zero": True}, {"changed": True, "before": 2, "after": 0}),
    (0, 0, {}, {"changed": False, "before": 0, "after": 0}),                      # already at 0: nothing to refuse
    (1, 2, {"namespace": "kube-system", "allow_protected_namespace": True}, {"changed": True, "before": 1, "after": 2}),
    (1, 2, {"namespace": "kube-system", "protected_namespaces": []}, {"changed": True, "before": 1, "after": 2}),
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
    # the review's reproducers: replicas 0 in any namespace, kube-system included, without any confirmation
    ("Deployment", 0, {}, "replicas 0 for Deployment product/app stops every pod of it; refusing without allow_zero", True),
    ("Deployment", 0, {"namespace": "kube-system", "allow_zero": True}, "protected namespace kube-system", True),
    ("Deployment", 2, {"namespace": "kube-system"}, "protected namespace kube-system", True),   # even a no-op
    ("Deployment", 0, {"max_replicas": 0}, "refusing without allow_zero", True),
    ("Deployment", 3, {"max_replicas": -1}, "max_replicas -1 must be 0 or more", False),
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


def test_max_replicas_zero_is_a_bound_not_nothing():
    """max_replicas: 0 must hold (the role used to drop it as 'empty')."""
    with pytest.raises(S.ScaleRefused, match="above max_replicas 0"):
        S.plan_scale("Deployment", "product/app", 0, 1, max_replicas=0)


class FakeApps:
    """The AppsV1Api boundary: records patches, answers 409 when the resourceVersion is stale."""

    def __init__(self, resource_version="100"):
        self.resource_version = resource_version
        self.patches = []
        self.api_client = self

    @staticmethod
    def sanitize_for_serialization(obj):
        return obj

    def read_namespaced_deployment(self, name, namespace, _request_timeout=None):
        assert _request_timeout == (10.0, 30.0)
        return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": self.resource_version},
                "spec": {"replicas": 2}}

    def patch_namespaced_deployment(self, name, namespace, body, _request_timeout=None):
        assert _request_timeout == (10.0, 30.0)
        self.patches.append(body)
        if body.get("metadata", {}).get("resourceVersion") != self.resource_version:
            error = Exception("Conflict")
            error.status = 409
            raise error


def test_patch_carries_the_resource_version_read():
    apps = FakeApps()
    scaler = S.Scaler(apps)
    obj = scaler.read("Deployment", "product", "web")
    scaler.patch_replicas("Deployment", "product", "web", 3, obj["metadata"]["resourceVersion"])
    assert apps.patches == [{"spec": {"replicas": 3}, "metadata": {"resourceVersion": "100"}}]


def test_a_change_between_read_and_patch_is_refused():
    apps = FakeApps()
    scaler = S.Scaler(apps)
    obj = scaler.read("Deployment", "product", "web")
    apps.resource_version = "101"                         # an HPA or another operator moved it meanwhile
    with pytest.raises(S.ScaleRefused, match="changed after it was read \\(resourceVersion 100\\)"):
        scaler.patch_replicas("Deployment", "product", "web", 3, obj["metadata"]["resourceVersion"])


class Failed(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class FakeModule:
    """What scale() uses of an AnsibleModule: params, check mode, diff, fail_json."""

    def __init__(self, **params):
        self.params = {"kind": "Deployment", "namespace": "product", "name": "web", "replicas": 3, "min_replicas": None,
                       "max_replicas": None, "only_if_current": None, "allow_zero": False,
                       "protected_namespaces": list(S.PROTECTED_NAMESPACES), "allow_protected_namespace": False,
                       "wait": True, "wait_timeout": 0, **params}
        self.check_mode = False
        self._diff = False

    @staticmethod
    def fail_json(**result):
        raise Failed(result)


class StuckApps(FakeApps):
    """Patches apply; the rollout never completes (no new pod becomes Ready); or reads fail after the patch."""

    def __init__(self, fail_reads_after_patch=False):
        super().__init__()
        self.fail_reads_after_patch = fail_reads_after_patch

    def read_namespaced_deployment(self, name, namespace, _request_timeout=None):
        if self.patches and self.fail_reads_after_patch:
            error = Exception("Service Unavailable")
            error.status = 503
            raise error
        obj = super().read_namespaced_deployment(name, namespace, _request_timeout)
        replicas = self.patches[-1]["spec"]["replicas"] if self.patches else 2
        obj.update(kind="Deployment", spec={"replicas": replicas},
                   status={"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2})
        return obj


@pytest.mark.parametrize("fail_reads", [False, True])
def test_a_scale_whose_rollout_fails_is_reported_changed_with_its_audit_record(fail_reads):
    """The patch is made: a failing rollout (or an API failing while it is followed) fails the task WITH the change."""
    from ansible_collections.kubeops.runbook.plugins.modules import k8s_scale   # pylint: disable=import-outside-toplevel
    apps = StuckApps(fail_reads_after_patch=fail_reads)
    with pytest.raises(Failed) as info:
        k8s_scale.scale(FakeModule(), S.Scaler(apps))
    result = info.value.result
    assert result["changed"] is True and apps.patches and result["after"] == 3
    assert [(a["action"], a["target"], a["after"]) for a in result["audit"]] == [("scale", "product/Deployment/web", {"replicas": 3})]
    assert result["msg"].startswith("product/Deployment/web scaled to 3 but ")
