# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods as the remediations see them: state helpers (pure) and the API boundary that lists, deletes and reads
owners. PRIVATE to the collection: not a public API.

Pods are plain dicts, as ``kubectl get pod -o json`` prints them. ``PodApi`` is the one place that talks to the
API for the pod remediations; every call carries a timeout, lists are ONE paginated LIST for the whole cluster
(``_k8s.list_all``), and every delete carries a UID precondition, so a remediation only ever deletes the very
pod it looked at (a StatefulSet pod recreated under the same name is a different pod); with the resourceVersion
it read just before, also only the pod in the very state it judged.
"""
from __future__ import annotations

import datetime as dt
import json
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s

# Controllers that recreate a deleted pod, and the API that reads them.
OWNER_READERS: dict[str, tuple[str, str]] = {
    "ReplicaSet": ("AppsV1Api", "read_namespaced_replica_set"),
    "DaemonSet": ("AppsV1Api", "read_namespaced_daemon_set"),
    "StatefulSet": ("AppsV1Api", "read_namespaced_stateful_set"),
    "ReplicationController": ("CoreV1Api", "read_namespaced_replication_controller"),
    "Job": ("BatchV1Api", "read_namespaced_job"),
}
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


class PodError(Exception):
    """The API refused or could not be reached; the message is for an operator."""


def parse_time(value: str | None) -> dt.datetime | None:
    """An API timestamp (RFC 3339, with or without fractions) as an aware datetime; None when absent or bad."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def key(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or '?'}"


def uid(pod: dict) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def node_of(pod: dict) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")


def claims(pod: dict) -> list[str]:
    """Names of the PersistentVolumeClaims the pod mounts (its own data, which must never have two writers)."""
    out = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = (volume or {}).get("persistentVolumeClaim") or {}
        if claim.get("claimName"):
            out.append(str(claim["claimName"]))
    return out


def stateful(pod: dict) -> str | None:
    """Why the pod must not run twice (owned by a StatefulSet, or mounting a PVC), or None."""
    owner = controller_of(pod) or {}
    parts = []
    if owner.get("kind") == "StatefulSet":
        parts.append(f"a pod of StatefulSet {owner.get('name')}")
    pvcs = claims(pod)
    if pvcs:
        parts.append(f"mounts PersistentVolumeClaim{'s' if len(pvcs) > 1 else ''} {', '.join(pvcs)}")
    return "; ".join(parts) or None


def node_states(nodes: list[dict]) -> dict[str, bool]:
    """Node name -> whether its Ready condition is True (False for False, Unknown or missing)."""
    out = {}
    for node in nodes:
        name = (node.get("metadata") or {}).get("name")
        if not name:
            continue
        conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []
                      if isinstance(c, dict)}
        out[str(name)] = conditions.get("Ready") == "True"
    return out


def controller_of(pod: dict) -> dict | None:
    """The ownerReference marked controller (kind, name, uid), or None for a bare pod."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return {"kind": ref.get("kind"), "name": ref.get("name"), "uid": ref.get("uid")}
    return None


def is_mirror(pod: dict) -> bool:
    """A static pod's mirror: deleting it through the API achieves nothing, the kubelet recreates it."""
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def restarts(pod: dict) -> int:
    status = pod.get("status") or {}
    return sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])


def ready(pod: dict) -> bool:
    """Running, Ready condition True, every container ready, not being deleted."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") != "Running":
        return False
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or [] if isinstance(c, dict)}
    containers = status.get("containerStatuses") or []
    expected = len((pod.get("spec") or {}).get("containers") or []) or len(containers)
    return conditions.get("Ready") == "True" and len(containers) >= expected and all(c.get("ready") for c in containers)


def summary(pod: dict) -> dict:
    """What an operator wants to see of a pod in a plan or an audit line."""
    status = pod.get("status") or {}
    return {"namespace": (pod.get("metadata") or {}).get("namespace"), "name": (pod.get("metadata") or {}).get("name"),
            "uid": uid(pod), "node": node_of(pod), "phase": status.get("phase"), "restarts": restarts(pod),
            "owner": controller_of(pod)}


def desired_of(owner_kind: str, owner: dict) -> int | None:
    """How many pods the owner wants (None when the owner does not say, e.g. a Job)."""
    spec, status = owner.get("spec") or {}, owner.get("status") or {}
    if owner_kind == "DaemonSet":
        return int(status.get("desiredNumberScheduled") or 0)
    if owner_kind in ("ReplicaSet", "StatefulSet", "ReplicationController"):
        return int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    return None


class PodApi:
    """The API boundary of the pod remediations (official client; plain dicts in and out)."""

    def __init__(self, api_client: t.Any, timeout: float = 30, page_size: int = _k8s.DEFAULT_PAGE_SIZE):
        self.api_client = api_client
        self.timeout = float(timeout)
        self.page_size = page_size
        self.requests = 0

    def _client(self, name: str) -> t.Any:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        return getattr(k8s_client, name)(self.api_client)

    def _timeouts(self) -> tuple[float, float]:
        """(connect, read) timeout of every request: an API that accepts and never answers cannot hang us."""
        return (min(self.timeout, 10.0), self.timeout)

    def _host(self) -> str | None:
        return getattr(getattr(self.api_client, "configuration", None), "host", None)

    def list_pods(self, label_selector: str | None = None, field_selector: str | None = None) -> list[dict]:
        """ONE paginated LIST of pods for the whole cluster (selectors applied by the API server)."""
        try:
            result = _k8s.list_all(self.api_client, "pods", self.page_size, self.timeout,
                                   label_selector=label_selector or None, field_selector=field_selector or None)
        except _k8s.K8sError as exc:
            raise PodError(str(exc)) from exc
        self.requests += result.requests
        return result.items

    def list_nodes(self) -> list[dict]:
        """ONE paginated LIST of the nodes."""
        try:
            result = _k8s.list_all(self.api_client, "nodes", self.page_size, self.timeout)
        except _k8s.K8sError as exc:
            raise PodError(f"cannot list the nodes: {exc}") from exc
        self.requests += result.requests
        return result.items

    def read_pod(self, namespace: str, name: str) -> dict | None:
        """The pod as it is now (a plain dict), None when it is gone."""
        self.requests += 1
        try:
            response = self._client("CoreV1Api").read_namespaced_pod(name, namespace, _preload_content=False,
                                                                     _request_timeout=self._timeouts())
            return json.loads(response.data)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            if getattr(exc, "status", None) == 404:
                return None
            raise PodError(f"cannot read pod {namespace}/{name}: {_k8s.describe_error(exc, self._host())}") from exc

    def delete_pod(self, namespace: str, name: str, pod_uid: str, grace_period_seconds: int | None = None,
                   resource_version: str | None = None) -> str:
        """Delete one pod if it is still the pod with ``pod_uid`` (and, given, still at ``resource_version``).

        Returns 'deleted', 'gone' (404), 'replaced' (409 on the UID alone: another pod has the name) or 'changed'
        (409 with a resourceVersion: the pod changed since it was read).
        """
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        body = k8s_client.V1DeleteOptions(
            preconditions=k8s_client.V1Preconditions(uid=pod_uid, resource_version=resource_version or None),
            grace_period_seconds=grace_period_seconds)
        self.requests += 1
        try:
            self._client("CoreV1Api").delete_namespaced_pod(name, namespace, body=body,
                                                            _request_timeout=self._timeouts())
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            status = getattr(exc, "status", None)
            if status == 404:
                return "gone"
            if status == 409:
                return "changed" if resource_version else "replaced"
            raise PodError(f"cannot delete pod {namespace}/{name}: {_k8s.describe_error(exc, self._host())}") from exc
        return "deleted"

    def read_log(self, namespace: str, name: str, tail_lines: int = 200) -> str:
        """The last lines of the pod's (first) container log; PodError when the API cannot give them."""
        self.requests += 1
        try:
            response = self._client("CoreV1Api").read_namespaced_pod_log(
                name, namespace, tail_lines=tail_lines, _preload_content=False, _request_timeout=self._timeouts())
            return response.data.decode("utf-8", errors="replace")
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            raise PodError(f"cannot read the log of pod {namespace}/{name}: "
                           f"{_k8s.describe_error(exc, self._host())}") from exc

    def read_owner(self, kind: str, namespace: str, name: str) -> dict | None:
        """The owner object as a dict; None when the kind is unknown to us or the owner is gone."""
        reader = OWNER_READERS.get(kind)
        if reader is None:
            return None
        api_name, method = reader
        self.requests += 1
        try:
            response = getattr(self._client(api_name), method)(name, namespace, _preload_content=False,
                                                               _request_timeout=self._timeouts())
            return json.loads(response.data)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            if getattr(exc, "status", None) == 404:
                return None
            raise PodError(f"cannot read {kind} {namespace}/{name}: {_k8s.describe_error(exc, self._host())}") from exc
