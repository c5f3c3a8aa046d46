# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``kubectl describe`` shows of the pods and deployments that are not healthy, as findings.
PRIVATE to the collection: not a public API.

The handbook's incident step "look at the pod's start-up information" (``kubectl describe pod -n
developer-center app-base-...``): recent Warning events, conditions, each container's state, last state and
restart count, and the last lines of its log where the API can give them. Pure functions turn the objects of
one LIST per kind (pods, events, deployments) into describe blocks; ``DescribeApi`` reads the logs.
"""
from __future__ import annotations

import datetime as dt
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CRITICAL, WARNING, finding
from ansible_collections.kubeops.runbook.plugins.module_utils._pod_cleanup import classify

LOG_LINE_MAX = 500


class DescribeError(ValueError):
    """Bad input; the message names the bad value."""


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def event_time(event: dict) -> str:
    return (event.get("lastTimestamp") or event.get("eventTime") or (event.get("series") or {}).get("lastObservedTime")
            or event.get("firstTimestamp") or _meta(event).get("creationTimestamp") or "")


def _event(event: dict) -> dict:
    source = event.get("source") or {}
    return {"type": event.get("type"), "reason": event.get("reason"), "message": (event.get("message") or "").strip(),
            "count": int(event.get("count") or (event.get("series") or {}).get("count") or 1), "last": event_time(event),
            "object": f"{(event.get('involvedObject') or {}).get('kind')}/{(event.get('involvedObject') or {}).get('name')}",
            "source": source.get("component") or event.get("reportingComponent")}


def events_for(events: list[dict], namespace: str, kinds_names: t.Callable[[str, str], bool], uid: str | None = None,
               limit: int = 10) -> list[dict]:
    """The newest events about an object (``kinds_names(kind, name)`` says which involved objects count)."""
    mine = []
    for event in events:
        obj = event.get("involvedObject") or {}
        if obj.get("namespace", _meta(event).get("namespace")) != namespace:
            continue
        if not kinds_names(obj.get("kind") or "", obj.get("name") or ""):
            continue
        if uid and obj.get("uid") and obj.get("uid") != uid:
            continue
        mine.append(event)
    mine.sort(key=event_time, reverse=True)
    return [_event(e) for e in mine[:limit]]


def _state(state: dict | None) -> dict:
    state = state or {}
    for name in ("waiting", "running", "terminated"):
        if name in state and state[name] is not None:
            detail = state[name] or {}
            out = {"state": name}
            for key in ("reason", "message", "exitCode", "startedAt", "finishedAt"):
                if detail.get(key) not in (None, ""):
                    out[key] = detail[key]
            return out
    return {}


def describe_pod(pod: dict, events: list[dict], max_events: int = 10) -> dict:
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    containers = []
    for c in list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or []):
        containers.append({"name": c.get("name"), "ready": bool(c.get("ready")), "restart_count": int(c.get("restartCount") or 0),
                           "state": _state(c.get("state")), "last_state": _state(c.get("lastState")),
                           "image": c.get("image")})
    return {
        "kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid"),
        "node": spec.get("nodeName"), "phase": status.get("phase"), "reason": status.get("reason"),
        "message": status.get("message"), "deleting_since": meta.get("deletionTimestamp"),
        "owner": P.controller_of(pod), "restarts": P.restarts(pod),
        "conditions": [{k: c.get(k) for k in ("type", "status", "reason", "message") if c.get(k) is not None}
                       for c in status.get("conditions") or []],
        "containers": containers,
        "events": events_for(events, meta.get("namespace"), lambda k, n: k == "Pod" and n == meta.get("name"),
                             meta.get("uid"), max_events),
        "logs": {},
    }


def describe_deployment(dep: dict, events: list[dict], max_events: int = 10) -> dict:
    meta, spec, status = _meta(dep), dep.get("spec") or {}, dep.get("status") or {}
    name = meta.get("name") or ""
    return {
        "kind": "Deployment", "namespace": meta.get("namespace"), "name": name,
        "replicas": {"desired": int(spec.get("replicas") if spec.get("replicas") is not None else 1),
                     "current": int(status.get("replicas") or 0), "up_to_date": int(status.get("updatedReplicas") or 0),
                     "available": int(status.get("availableReplicas") or 0), "ready": int(status.get("readyReplicas") or 0)},
        "conditions": [{k: c.get(k) for k in ("type", "status", "reason", "message") if c.get(k) is not None}
                       for c in status.get("conditions") or []],
        "events": events_for(events, meta.get("namespace"),
                             lambda k, n: (k == "Deployment" and n == name) or (k == "ReplicaSet" and n.startswith(name + "-")),
                             None, max_events),
    }


def pod_unhealthy(pod: dict) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase != "Succeeded" and not P.ready(pod)


def deployment_unhealthy(dep: dict) -> bool:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    desired = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    progressing = {c.get("type"): c for c in status.get("conditions") or []}.get("Progressing") or {}
    return int(status.get("availableReplicas") or 0) < desired or progressing.get("reason") == "ProgressDeadlineExceeded"


def pod_summary(block: dict, abnormal: tuple[str, str] | None) -> str:
    parts = [abnormal[1] if abnormal else f"{block['phase']}, not ready"]
    crashed = [c for c in block["containers"] if c["last_state"].get("state") == "terminated"]
    if crashed and not abnormal:
        last = crashed[0]["last_state"]
        parts.append(f"container {crashed[0]['name']} last exited {last.get('reason') or '?'} ({last.get('exitCode')})")
    warnings = [e for e in block["events"] if e["type"] == "Warning"]
    if warnings:
        latest = warnings[0]
        parts.append(f"{len(warnings)} Warning event{'s' if len(warnings) != 1 else ''}, latest {latest['reason']}: "
                     f"{latest['message'][:160]}" + (f" (x{latest['count']})" if latest["count"] > 1 else ""))
    return "; ".join(parts)


def describe(pods: list[dict], events: list[dict], deployments: list[dict], namespaces: t.Collection[str] | None = None,
             names: t.Collection[str] | None = None, include_deployments: bool = True, max_objects: int = 20,
             max_events: int = 10, now: dt.datetime | None = None) -> tuple[list[dict], list[dict], int]:
    """(describe blocks, findings, objects left out because of max_objects) of what is not healthy.

    With ``names`` (``namespace/name`` of pods or deployments) exactly those are described, healthy or not.
    """
    if max_objects < 1:
        raise DescribeError(f"max_objects must be at least 1, got {max_objects}")
    if max_events < 0:
        raise DescribeError(f"max_events must be 0 or more, got {max_events}")
    now = now or dt.datetime.now(dt.timezone.utc)
    wanted = set(names or ())

    def chosen(obj: dict, unhealthy: bool) -> bool:
        meta = _meta(obj)
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if wanted:
            return key in wanted
        return unhealthy and (not namespaces or meta.get("namespace") in namespaces)

    blocks: list[dict] = []
    findings: list[dict] = []
    candidates = [("pod", p) for p in sorted(pods, key=P.key) if chosen(p, pod_unhealthy(p))]
    if include_deployments:
        candidates += [("deployment", d) for d in sorted(deployments, key=P.key) if chosen(d, deployment_unhealthy(d))]
    skipped = max(0, len(candidates) - max_objects)
    for what, obj in candidates[:max_objects]:
        if what == "pod":
            block = describe_pod(obj, events, max_events)
            abnormal = classify(obj, now)
            status = CRITICAL if abnormal or block["phase"] in ("Failed", "Unknown") else WARNING
            if not pod_unhealthy(obj):
                status = "ok"
            findings.append(finding("pods.describe", f"{block['namespace']}/{block['name']}", status,
                                    pod_summary(block, abnormal) if status != "ok" else "Running and Ready",
                                    host=block["node"], details=block))
        else:
            block = describe_deployment(obj, events, max_events)
            r = block["replicas"]
            line = f"desired {r['desired']}, available {r['available']}, up-to-date {r['up_to_date']}"
            warnings = [e for e in block["events"] if e["type"] == "Warning"]
            if warnings:
                line += f"; latest Warning {warnings[0]['reason']}: {warnings[0]['message'][:160]}"
            status = (CRITICAL if r["available"] == 0 and r["desired"] > 0 else WARNING) if deployment_unhealthy(obj) else "ok"
            findings.append(finding("deployments.describe", f"{block['namespace']}/{block['name']}", status, line,
                                    details=block))
        blocks.append(block)
    return blocks, findings, skipped


def clip_log(text: str, tail_lines: int) -> list[str]:
    lines = text.splitlines()[-tail_lines:] if tail_lines else []
    return [line if len(line) <= LOG_LINE_MAX else line[:LOG_LINE_MAX] + "…" for line in lines]


def log_targets(block: dict) -> list[tuple[str, bool]]:
    """(container, previous) to read: the previous instance of a container that crashed, else the current one."""
    out = []
    for c in block.get("containers") or []:
        previous = c["last_state"].get("state") == "terminated" and c["state"].get("state") != "running"
        out.append((c["name"], previous))
    return out


class DescribeApi:
    """Reads the objects (one paginated LIST per kind) and container logs, with a timeout on every request."""

    def __init__(self, api_client: t.Any, timeout: float = 30):
        self.api_client = api_client
        self.timeout = float(timeout)
        self.requests: dict[str, int] = {}

    def list(self, kind: str, field_selector: str | None = None) -> list[dict]:
        from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
        result = _k8s.list_all(self.api_client, kind, timeout=self.timeout, field_selector=field_selector)
        self.requests[kind] = self.requests.get(kind, 0) + result.requests
        return result.items

    def log(self, namespace: str, name: str, container: str, tail_lines: int, previous: bool) -> str:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        self.requests["logs"] = self.requests.get("logs", 0) + 1
        response = k8s_client.CoreV1Api(self.api_client).read_namespaced_pod_log(
            name, namespace, container=container, tail_lines=tail_lines, previous=previous, _preload_content=False,
            _request_timeout=(min(self.timeout, 10.0), self.timeout))
        return response.data.decode("utf-8", errors="replace")


def add_logs(api: DescribeApi, blocks: list[dict], tail_lines: int) -> None:
    """Fill each pod block's ``logs`` (container -> last lines, or the reason they are unavailable)."""
    from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import describe_error  # pylint: disable=import-outside-toplevel
    for block in blocks:
        if block.get("kind") != "Pod" or not tail_lines:
            continue
        for container, previous in log_targets(block):
            try:
                text = api.log(block["namespace"], block["name"], container, tail_lines, previous)
                block["logs"][container] = {"previous": previous, "lines": clip_log(text, tail_lines)}
            except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
                reason = describe_error(exc).replace("Kubernetes API answered", "the API answered")
                block["logs"][container] = {"previous": previous, "unavailable": reason[:300]}
