# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scaling Deployments and StatefulSets within bounds. PRIVATE to the collection: not a public API."""
from __future__ import annotations

import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _protected
from ansible_collections.kubeops.runbook.plugins.module_utils._protected import PROTECTED_NAMESPACES
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

KINDS = ("Deployment", "StatefulSet")


class ScaleError(Exception):
    """Bad input or the API refused; the message is for an operator."""


class ScaleRefused(ScaleError):
    """A guard refused the change (out of bounds, current replicas not what the caller expected)."""


def plan_scale(kind: str, name: str, current: int, replicas: int, min_replicas: int | None = None,
               max_replicas: int | None = None, only_if_current: int | None = None, namespace: str | None = None,
               allow_zero: bool = False, protected_namespaces: t.Collection[str] = PROTECTED_NAMESPACES,
               allow_protected_namespace: bool = False) -> dict:
    """{changed, before, after}; raises ScaleRefused when a guard or the bounds say no.

    Guards that take an explicit option to pass: a workload in a protected namespace (kube-system...) is never
    touched without ``allow_protected_namespace``; scaling to 0 (an outage of that workload) needs ``allow_zero``.
    """
    if kind not in KINDS:
        raise ScaleError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
    if replicas < 0:
        raise ScaleError(f"replicas {replicas} must be 0 or more")
    for option, value in (("min_replicas", min_replicas), ("max_replicas", max_replicas), ("only_if_current", only_if_current)):
        if value is not None and value < 0:
            raise ScaleError(f"{option} {value} must be 0 or more")
    if min_replicas is not None and max_replicas is not None and min_replicas > max_replicas:
        raise ScaleError(f"min_replicas {min_replicas} is greater than max_replicas {max_replicas}")
    protected = _protected.hits([namespace] if namespace else [], protected_namespaces, allow_protected_namespace)
    if protected:
        raise ScaleRefused(_protected.refusal(f"{kind} {name}", protected))
    if min_replicas is not None and replicas < min_replicas:
        raise ScaleRefused(f"replicas {replicas} for {kind} {name} is below min_replicas {min_replicas}; refusing")
    if max_replicas is not None and replicas > max_replicas:
        raise ScaleRefused(f"replicas {replicas} for {kind} {name} is above max_replicas {max_replicas}; refusing")
    if current == replicas:
        return {"changed": False, "before": current, "after": current}
    if replicas == 0 and not allow_zero:
        raise ScaleRefused(f"replicas 0 for {kind} {name} stops every pod of it; refusing without allow_zero=true")
    if only_if_current is not None and current != only_if_current:
        raise ScaleRefused(f"{kind} {name} has {current} replicas, not {only_if_current} as only_if_current requires; "
                           f"refusing to scale to {replicas}")
    return {"changed": True, "before": current, "after": replicas}


def rollout_state(obj: dict) -> dict:
    """{done, reason, ...} of a Deployment/StatefulSet (as plain dict from the API)."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    want = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    observed = int(status.get("observedGeneration") or 0)
    generation = int(meta.get("generation") or 0)
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    state = {"replicas": want, "ready": ready, "updated": updated, "current": total, "available": available}
    if observed < generation:
        return {**state, "done": False, "reason": "controller has not observed the change yet"}
    if obj.get("kind") == "Deployment" or "availableReplicas" in status or "strategy" in spec:
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
                return {**state, "done": False, "failed": True, "reason": "progress deadline exceeded"}
    if updated < want:
        return {**state, "done": False, "reason": f"{updated} of {want} updated"}
    if total > want:
        return {**state, "done": False, "reason": f"{total - want} old replicas pending termination"}
    if ready < want:
        return {**state, "done": False, "reason": f"{ready} of {want} ready"}
    return {**state, "done": True, "reason": f"{ready} of {want} ready"}


class Scaler:
    """The API boundary: read the workload and patch its replicas through the official client's AppsV1Api.

    Every call has a timeout; the patch carries the resourceVersion that was read, so it only applies when nobody
    changed the workload in between (the API answers 409 Conflict otherwise) - ``only_if_current`` is atomic.
    """

    def __init__(self, apps_api: t.Any, timeout: float = 30):
        self.api = apps_api
        self.timeout = (min(float(timeout), 10.0), float(timeout))

    def _call(self, kind: str, verb: str) -> t.Callable:
        suffix = "namespaced_deployment" if kind == "Deployment" else "namespaced_stateful_set"
        return getattr(self.api, f"{verb}_{suffix}")

    def read(self, kind: str, namespace: str, name: str) -> dict:
        try:
            obj = self._call(kind, "read")(name, namespace, _request_timeout=self.timeout)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            if getattr(exc, "status", None) == 404:
                raise ScaleError(f"{kind} {namespace}/{name} not found") from None
            raise
        return self.api.api_client.sanitize_for_serialization(obj)

    def patch_replicas(self, kind: str, namespace: str, name: str, replicas: int, resource_version: str | None) -> None:
        body: dict[str, t.Any] = {"spec": {"replicas": replicas}}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            self._call(kind, "patch")(name, namespace, body, _request_timeout=self.timeout)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            if getattr(exc, "status", None) == 409:
                raise ScaleRefused(f"{kind} {namespace}/{name} changed after it was read (resourceVersion "
                                   f"{resource_version}); refusing to scale it to {replicas}: read it again and decide") from None
            raise


def wait_rollout(read: t.Callable[[], dict], timeout: float, interval: float = 2,
                 sleep: t.Callable[[float], None] = time.sleep) -> dict:
    """Rollout state once done or failed, or the last state seen when ``timeout`` seconds have passed."""
    seen: dict[str, dict] = {}

    def finished() -> dict | None:
        seen["state"] = rollout_state(read())
        return seen["state"] if seen["state"]["done"] or seen["state"].get("failed") else None

    try:
        return wait_until(finished, timeout, interval, sleep=sleep)
    except WaitTimeout:
        return seen["state"]
