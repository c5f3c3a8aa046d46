# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes inspection checks: API objects (plain dicts, as ``kubectl get -o json`` prints them) -> findings.

PRIVATE to the collection: not a public API. Every function here is pure: no API access, no clock unless
``now`` is passed in, so unit tests feed captured JSON.

Volume rule: nodes and deployments get one finding per object and check (ok included); pods, services, workload
policy and the other workload kinds (DaemonSets, StatefulSets, Jobs, CronJobs, PersistentVolumeClaims,
HorizontalPodAutoscalers) report only what is wrong plus ONE aggregate ok finding per namespace, so a cluster of a
few thousand pods gives a readable report.
"""
from __future__ import annotations

import datetime as dt
import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_capacity
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_tls_secrets
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, WARNING, by_threshold, could_not_run, finding,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._quantity import (
    QuantityError, jvm_max_heap, parse_quantity,
)

PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
BAD_WAITING_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                       "CreateContainerError", "InvalidImageName", "RunContainerError")
JVM_ENV_NAMES = ("JAVA_OPTS", "JVM_OPTS", "JAVA_TOOL_OPTIONS", "CATALINA_OPTS", "_JAVA_OPTIONS")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")

_READY_RATIO = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class CheckError(ValueError):
    """Bad input to a check (a threshold or a baseline); the message names it."""


# -- small helpers (also behind filter plugins) ---------------------------------------------------------------
def ready_ratio(value: object) -> dict:
    """'1/2' -> {'ready': 1, 'total': 2, 'all_ready': False}."""
    if not isinstance(value, str):
        raise CheckError(f"ready ratio must be a string like '1/2', got {value!r}")
    match = _READY_RATIO.match(value)
    if not match:
        raise CheckError(f"ready ratio must look like '1/2', got {value!r}")
    ready, total = int(match.group(1)), int(match.group(2))
    return {"ready": ready, "total": total, "all_ready": ready == total}


def restart_delta(current: dict, baseline: dict | None) -> list[dict]:
    """Pods whose restart count grew since the baseline: [{'pod': 'ns/name', 'old': 3, 'new': 9, 'delta': 6}].

    Pods absent from the baseline (new pods) and counts that went down (a pod recreated under the same
    name) are not increases.
    """
    if not isinstance(current, dict):
        raise CheckError(f"restart counts must be a dict of 'ns/pod' -> count, got {type(current).__name__}")
    if baseline is None:
        baseline = {}
    if not isinstance(baseline, dict):
        raise CheckError(f"restart_baseline must be a dict of 'ns/pod' -> count, got {type(baseline).__name__}")
    result = []
    for key in sorted(current):
        if key not in baseline:
            continue
        try:
            old, new = int(baseline[key]), int(current[key])
        except (TypeError, ValueError):
            raise CheckError(f"restart count of {key} is not a number: {baseline[key]!r} / {current[key]!r}") from None
        if new > old:
            result.append({"pod": key, "old": old, "new": new, "delta": new - old})
    return result


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _meta(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or "?"


def _conditions(obj: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}


# -- nodes ----------------------------------------------------------------------------------------------------
def node_findings(nodes: list[dict], node_hosts: dict | None = None) -> list[dict]:
    """nodes.ready per node; nodes.pressure / nodes.unschedulable per affected node plus one aggregate ok."""
    node_hosts = node_hosts or {}
    findings: list[dict] = []
    pressured: list[str] = []
    cordoned: list[str] = []
    for node in nodes:
        _ns, name = _meta(node)
        host = node_hosts.get(name, name)
        conds = _conditions(node)
        ready = conds.get("Ready") or {}
        state = ready.get("status", "Unknown")
        details = {"ready": state, "reason": ready.get("reason"), "message": ready.get("message"),
                   "last_heartbeat": ready.get("lastHeartbeatTime"),
                   "kubelet_version": ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")}
        if state == "True":
            findings.append(finding("nodes.ready", name, OK, "Ready", host=host, details=details))
        else:
            why = "kubelet stopped posting status" if state == "Unknown" else (ready.get("reason") or "not ready")
            findings.append(finding("nodes.ready", name, CRITICAL, f"NotReady ({why})", host=host, details=details))
        under = [c for c in PRESSURE_CONDITIONS if (conds.get(c) or {}).get("status") == "True"]
        if under:
            pressured.append(name)
            findings.append(finding("nodes.pressure", name, WARNING, f"under {', '.join(under)}", host=host,
                                    details={"conditions": under}))
        if (node.get("spec") or {}).get("unschedulable"):
            cordoned.append(name)
            taints = [tn.get("key") for tn in (node.get("spec") or {}).get("taints") or []]
            findings.append(finding("nodes.unschedulable", name, WARNING, "cordoned (SchedulingDisabled)", host=host,
                                    details={"taints": taints}))
    if nodes and not pressured:
        findings.append(finding("nodes.pressure", "cluster", OK, f"no memory/disk/PID pressure on {len(nodes)} nodes",
                                details={"nodes": len(nodes)}))
    if nodes and not cordoned:
        findings.append(finding("nodes.unschedulable", "cluster", OK, f"all {len(nodes)} nodes schedulable",
                                details={"nodes": len(nodes)}))
    return findings


# -- deployments ----------------------------------------------------------------------------------------------
def _in_namespaces(namespace: str, namespaces: t.Collection[str] | None) -> bool:
    return not namespaces or namespace in namespaces


def deployment_findings(deployments: list[dict], namespaces: t.Collection[str] | None = None,
                        critical_ratio: float = 0.5) -> list[dict]:
    """deployments.replicas per deployment: DESIRED = CURRENT = UP-TO-DATE = AVAILABLE, the gap in the summary.

    0 available (of a desired > 0) or available/desired below ``critical_ratio`` or a rollout past its
    progress deadline -> critical; any other gap -> warning.
    """
    if not 0 <= critical_ratio <= 1:
        raise CheckError(f"deployment_available_critical_ratio must be between 0 and 1, got {critical_ratio}")
    findings = []
    for dep in deployments:
        namespace, name = _meta(dep)
        if not _in_namespaces(namespace, namespaces):
            continue
        spec, status = dep.get("spec") or {}, dep.get("status") or {}
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        current = int(status.get("replicas") or 0)
        updated = int(status.get("updatedReplicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        progressing = _conditions(dep).get("Progressing") or {}
        deadline = progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded"
        counts = {"desired": desired, "current": current, "up_to_date": updated, "available": available}
        line = f"desired {desired}, current {current}, up-to-date {updated}, available {available}"
        gaps = []
        if current != desired:
            gaps.append(f"{desired - current} not created" if current < desired else f"{current - desired} surplus")
        if updated < desired:
            gaps.append(f"{desired - updated} not up-to-date")
        if available < desired:
            gaps.append(f"{desired - available} unavailable")
        if deadline:
            gaps.append("rollout exceeded its progress deadline")
        details = {**counts, "paused": bool(spec.get("paused")), "progressing": progressing.get("reason")}
        target = f"{namespace}/{name}"
        if not gaps:
            findings.append(finding("deployments.replicas", target, OK, line, details=details))
            continue
        status_word = WARNING
        if desired > 0 and (available == 0 or available / desired < critical_ratio or deadline):
            status_word = CRITICAL
        findings.append(finding("deployments.replicas", target, status_word, f"{line}: {', '.join(gaps)}", details=details))
    return findings


# -- pods -----------------------------------------------------------------------------------------------------
def pod_restart_count(pod: dict) -> int:
    status = pod.get("status") or {}
    return sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])


def pod_restart_counts(pods: list[dict]) -> dict[str, int]:
    """'ns/pod' -> total container restarts, the baseline for the next inspection."""
    return {"/".join(_meta(p)): pod_restart_count(p) for p in pods}


def pod_owner(pod: dict) -> str | None:
    """The controller of a pod as ``Kind/name``; a ReplicaSet of a Deployment is named by its Deployment."""
    meta = pod.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not ref or not ref.get("kind") or not ref.get("name"):
        return None
    kind, name = str(ref["kind"]), str(ref["name"])
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return f"Deployment/{name[:-len(template_hash) - 1]}"
    return f"{kind}/{name}"


def restart_snapshot(pods: list[dict], taken: dt.datetime) -> dict:
    """The restart baseline the next inspection compares with.

    ``{"taken": "<UTC>", "pods": {"ns/pod": {"uid", "restarts", "created", "owner"}}}``: the uid tells a recreated pod
    (same name, new uid: a StatefulSet's) from the same pod; ``taken`` tells which pods were created since.
    """
    out: dict[str, dict] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        out["/".join(_meta(pod))] = {"uid": meta.get("uid"), "restarts": pod_restart_count(pod),
                                     "created": meta.get("creationTimestamp"), "owner": pod_owner(pod)}
    return {"taken": taken.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "pods": out}


def baseline_pods(baseline: t.Any) -> tuple[dict[str, dict], dt.datetime | None]:
    """({'ns/pod': {'restarts', 'uid'?}}, time taken or None) from a baseline of ``restart_snapshot()`` or the
    1.0.0 form ``{'ns/pod': count}``."""
    if not baseline:
        return {}, None
    if not isinstance(baseline, dict):
        raise CheckError(f"restart_baseline must be a dict, got {type(baseline).__name__}")
    if isinstance(baseline.get("pods"), dict):
        taken = parse_time(baseline.get("taken"))
        if baseline.get("taken") and taken is None:
            raise CheckError(f"restart_baseline: taken must be a UTC time like 2025-01-01T09:00:00Z, got {baseline['taken']!r}")
        pods = {}
        for key, entry in baseline["pods"].items():
            if not isinstance(entry, dict):
                raise CheckError(f"restart_baseline: pods.{key} must be a dict with restarts, got {entry!r}")
            pods[str(key)] = entry
        return pods, taken
    return {str(k): {"restarts": v} for k, v in baseline.items()}, None


def restart_growth(pods: list[dict], baseline: t.Any) -> dict[str, dict]:
    """Pods whose restarts grew since the baseline: {'ns/pod': {'pod', 'old', 'new', 'delta', 'recreated', 'owner'}}.

    - The same pod (same name, and the same uid when the baseline knows it): new count minus the old one.
    - A pod that replaced another one, or any pod created after the baseline was taken (a recreated pod of the
      same Deployment or StatefulSet gets a new name or uid and starts at 0): every restart it has happened since
      the last inspection, so it is compared from 0.
    - Pods the baseline cannot speak for (older than it and not in it, or any new pod of a 1.0.0 baseline without
      its time) and counts that went down are not increases.
    """
    known, taken = baseline_pods(baseline)
    result: dict[str, dict] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        key = "/".join(_meta(pod))
        new = pod_restart_count(pod)
        entry = known.get(key)
        same = entry is not None and (not entry.get("uid") or not meta.get("uid") or entry.get("uid") == meta.get("uid"))
        if same:
            try:
                old = int(entry.get("restarts"))
            except (TypeError, ValueError):
                raise CheckError(f"restart count of {key} is not a number: {entry.get('restarts')!r}") from None
            recreated = False
        else:
            created = parse_time(meta.get("creationTimestamp"))
            if taken is None or created is None or created < taken:
                continue
            old, recreated = 0, True
        if new > old:
            result[key] = {"pod": key, "old": old, "new": new, "delta": new - old, "recreated": recreated,
                           "owner": pod_owner(pod)}
    return result


def pod_ready(pod: dict) -> tuple[int, int]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    total = len(spec.get("containers") or []) or len(status.get("containerStatuses") or [])
    ready = sum(1 for c in status.get("containerStatuses") or [] if c.get("ready"))
    return ready, total


def pod_findings(pods: list[dict], namespaces: t.Collection[str] | None = None, baseline: dict | None = None,
                 pending_seconds: int = 300, restart_warning: int = 1, restart_critical: int | None = 5,
                 node_hosts: dict | None = None, now: dt.datetime | None = None) -> list[dict]:
    """pods.phase / pods.ready / pods.waiting / pods.restarts for pods that are not fine; one ok per namespace."""
    if pending_seconds < 0:
        raise CheckError(f"pod_pending_seconds must be >= 0, got {pending_seconds}")
    if restart_warning is not None and restart_warning < 1:
        raise CheckError(f"restart_delta_warning must be >= 1, got {restart_warning}")
    node_hosts = node_hosts or {}
    now = now or dt.datetime.now(dt.timezone.utc)
    current = pod_restart_counts(pods)
    increases = restart_growth(pods, baseline)
    findings: list[dict] = []
    healthy: dict[str, int] = {}
    seen_ns: list[str] = []
    for pod in pods:
        namespace, name = _meta(pod)
        if not _in_namespaces(namespace, namespaces):
            continue
        if namespace not in seen_ns:
            seen_ns.append(namespace)
        key = f"{namespace}/{name}"
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        node = spec.get("nodeName")
        host = node_hosts.get(node, node) if node else None
        phase = status.get("phase") or "Unknown"
        ready, total = pod_ready(pod)
        base = {"phase": phase, "ready": f"{ready}/{total}", "node": node, "restarts": current.get(key, 0),
                # what the report needs to group a workload's or a Service's finding under a Node that is down
                "owner": pod_owner(pod), "labels": dict((pod.get("metadata") or {}).get("labels") or {})}
        bad = []
        if status.get("reason") == "Evicted":
            bad.append(finding("pods.waiting", key, CRITICAL, f"Evicted: {status.get('message') or ''}".strip(),
                               host=host, details={**base, "reason": "Evicted"}))
        elif phase == "Pending":
            started = parse_time(status.get("startTime")) or parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
            age = (now - started).total_seconds() if started else None
            scheduled = (_conditions(pod).get("PodScheduled") or {})
            why = scheduled.get("message") if scheduled.get("status") == "False" else None
            if age is None or age > pending_seconds:
                age_text = f"{int(age)}s" if age is not None else "an unknown time"
                bad.append(finding("pods.phase", key, CRITICAL, f"Pending for {age_text}" + (f": {why}" if why else ""),
                                   host=host, details={**base, "pending_seconds": age, "message": why}))
        elif phase == "Failed":
            bad.append(finding("pods.phase", key, CRITICAL, f"Failed ({status.get('reason') or 'no reason'})", host=host,
                               details={**base, "reason": status.get("reason")}))
        elif phase not in ("Running", "Succeeded"):
            bad.append(finding("pods.phase", key, CRITICAL, f"phase {phase}", host=host, details=base))
        waiting = [(c.get("name"), ((c.get("state") or {}).get("waiting") or {}).get("reason"))
                   for c in status.get("containerStatuses") or []]
        waiting = [(cname, reason) for cname, reason in waiting if reason in BAD_WAITING_REASONS]
        if waiting:
            text = ", ".join(f"{cname} {reason}" for cname, reason in waiting)
            bad.append(finding("pods.waiting", key, CRITICAL, text, host=host,
                               details={**base, "waiting": [{"container": c, "reason": r} for c, r in waiting]}))
        if phase == "Running" and total and ready < total:
            bad.append(finding("pods.ready", key, CRITICAL if ready == 0 else WARNING, f"READY {ready}/{total}",
                               host=host, details=base))
        elif phase == "Running" and (_conditions(pod).get("Ready") or {}).get("status") == "False":
            cond = _conditions(pod)["Ready"]
            bad.append(finding("pods.ready", key, WARNING,
                               f"READY {ready}/{total} but the pod is not Ready ({cond.get('reason') or 'condition Ready=False'})",
                               host=host, details={**base, "ready_condition": cond}))
        if key in increases:
            inc = increases[key]
            level = by_threshold(inc["delta"], restart_warning, restart_critical)
            if level != OK:
                since = (f" (pod created since, {inc['owner'] or 'no controller'})" if inc["recreated"] else "")
                bad.append(finding("pods.restarts", key, level,
                                   f"restarts {inc['old']} → {inc['new']} since last inspection{since}",
                                   host=host, details={**base, **inc}))
        if bad:
            findings.extend(bad)
        else:
            healthy[namespace] = healthy.get(namespace, 0) + 1
    for namespace in seen_ns:
        if healthy.get(namespace):
            findings.append(finding("pods.ready", f"{namespace}/*", OK,
                                    f"{healthy[namespace]} pods Running/Succeeded, ready, no restart increase",
                                    details={"pods": healthy[namespace]}))
    return findings


# -- services -------------------------------------------------------------------------------------------------
def service_findings(services: list[dict], endpoints: list[dict], namespaces: t.Collection[str] | None = None) -> list[dict]:
    """services.endpoints: a selector-backed service with no ready endpoint address is critical."""
    index = {"/".join(_meta(ep)): ep for ep in endpoints}
    findings = []
    ok_count: dict[str, int] = {}
    seen: list[str] = []
    for svc in services:
        namespace, name = _meta(svc)
        if not _in_namespaces(namespace, namespaces):
            continue
        spec = svc.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            continue
        if namespace not in seen:
            seen.append(namespace)
        key = f"{namespace}/{name}"
        subsets = (index.get(key) or {}).get("subsets") or []
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        if ready:
            ok_count[namespace] = ok_count.get(namespace, 0) + 1
            continue
        why = f"{not_ready} not-ready addresses" if not_ready else "no pod matches the selector or none is ready"
        findings.append(finding("services.endpoints", key, CRITICAL, f"selector-backed service has no ready endpoints ({why})",
                                details={"selector": spec["selector"], "ready_addresses": 0,
                                         "not_ready_addresses": not_ready, "endpoints_object": key in index}))
    for namespace in seen:
        if ok_count.get(namespace):
            findings.append(finding("services.endpoints", f"{namespace}/*", OK,
                                    f"{ok_count[namespace]} selector-backed services have ready endpoints",
                                    details={"services": ok_count[namespace]}))
    return findings


# -- workload policy (seed 000 §3.2) --------------------------------------------------------------------------
def _quantity_or_none(value: object) -> t.Any:
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except QuantityError:
        return None


def container_jvm_heap(container: dict) -> tuple[int | None, str | None]:
    """Largest -Xmx set in the container's JVM env vars or command/args, and where it was found."""
    found: tuple[int | None, str | None] = (None, None)
    for env in container.get("env") or []:
        if env.get("name") in JVM_ENV_NAMES:
            heap = jvm_max_heap(env.get("value"))
            if heap is not None and (found[0] is None or heap > found[0]):
                found = (heap, f"env {env['name']}")
    argv = " ".join(str(a) for a in (container.get("command") or []) + (container.get("args") or []))
    heap = jvm_max_heap(argv)
    if heap is not None and (found[0] is None or heap > found[0]):
        found = (heap, "command/args")
    return found


def workload_policy_findings(deployments: list[dict], namespaces: t.Collection[str] | None = None,
                             exclude_namespaces: t.Collection[str] = SYSTEM_NAMESPACES,
                             jvm_heap_max_ratio: float = 0.9) -> list[dict]:
    """workload_policy.requests_limits / .probes / .jvm_heap per container that breaks the handbook's rule."""
    if not 0 < jvm_heap_max_ratio <= 1:
        raise CheckError(f"jvm_heap_max_ratio must be in (0, 1], got {jvm_heap_max_ratio}")
    findings = []
    compliant: dict[str, int] = {}
    seen: list[str] = []
    for dep in deployments:
        namespace, name = _meta(dep)
        if not _in_namespaces(namespace, namespaces) or namespace in (exclude_namespaces or ()):
            continue
        if namespace not in seen:
            seen.append(namespace)
        pod_spec = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {})
        bad_before = len(findings)
        for container in pod_spec.get("containers") or []:
            cname = container.get("name") or "?"
            target = f"{namespace}/{name}/{cname}"
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            problems = []
            for res in ("cpu", "memory"):
                req, lim = requests.get(res), limits.get(res)
                if lim is None:
                    problems.append(f"no {res} limit")
                elif req is not None and _quantity_or_none(req) != _quantity_or_none(lim):
                    problems.append(f"{res} request {req} != limit {lim}")
            if problems:
                findings.append(finding("workload_policy.requests_limits", target, WARNING, "; ".join(problems),
                                        details={"requests": requests, "limits": limits}))
            missing = [p for p in ("livenessProbe", "readinessProbe") if not container.get(p)]
            if missing:
                findings.append(finding("workload_policy.probes", target, WARNING, f"missing {' and '.join(missing)}",
                                        details={"missing": missing}))
            heap, where = container_jvm_heap(container)
            limit = _quantity_or_none(limits.get("memory"))
            if heap is not None and limit:
                ratio = float(heap / limit)
                if ratio >= 1:
                    level, text = CRITICAL, "at or above"
                elif ratio > jvm_heap_max_ratio:
                    level, text = WARNING, f"above {jvm_heap_max_ratio:.0%} of"
                else:
                    level = None
                if level:
                    findings.append(finding("workload_policy.jvm_heap", target, level,
                                            f"-Xmx {heap // 2 ** 20}Mi ({where}) is {text} the memory limit {limits.get('memory')}",
                                            details={"xmx_bytes": heap, "limit_bytes": int(limit), "ratio": round(ratio, 3),
                                                     "source": where}))
        if len(findings) == bad_before:
            compliant[namespace] = compliant.get(namespace, 0) + 1
    for namespace in seen:
        if compliant.get(namespace):
            findings.append(finding("workload_policy.compliant", f"{namespace}/*", OK,
                                    f"{compliant[namespace]} deployments follow the resource/probe/JVM policy",
                                    details={"deployments": compliant[namespace]}))
    return findings


# -- calico-node pods -----------------------------------------------------------------------------------------
def calico_node_pod_findings(nodes: list[dict], pods: list[dict], namespace: str = "kube-system",
                             label: str = "k8s-app=calico-node", node_hosts: dict | None = None) -> list[dict]:
    """calico.node_pod per node: its calico-node pod exists, Running and Ready. No calico-node pod at all: none."""
    node_hosts = node_hosts or {}
    lkey, _sep, lvalue = label.partition("=")
    calico = [p for p in pods if _meta(p)[0] == namespace
              and ((p.get("metadata") or {}).get("labels") or {}).get(lkey) == lvalue]
    if not calico:
        return []
    by_node: dict[str, dict] = {}
    for pod in calico:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            by_node[node] = pod
    findings = []
    for node in nodes:
        _ns, name = _meta(node)
        host = node_hosts.get(name, name)
        pod = by_node.get(name)
        if pod is None:
            findings.append(finding("calico.node_pod", name, CRITICAL, "no calico-node pod on this node", host=host))
            continue
        ready, total = pod_ready(pod)
        phase = (pod.get("status") or {}).get("phase")
        details = {"pod": "/".join(_meta(pod)), "phase": phase, "ready": f"{ready}/{total}"}
        if phase == "Running" and total and ready == total:
            findings.append(finding("calico.node_pod", name, OK, f"{details['pod']} Running {ready}/{total}",
                                    host=host, details=details))
        else:
            findings.append(finding("calico.node_pod", name, CRITICAL, f"{details['pod']} {phase} {ready}/{total}",
                                    host=host, details=details))
    return findings


# -- namespaces -----------------------------------------------------------------------------------------------
def namespace_findings(namespaces: list[dict], expected: t.Collection[str] | None = None) -> list[dict]:
    """pods.namespace: an expected namespace missing or a namespace stuck Terminating; one aggregate ok otherwise."""
    findings = []
    phases = {_meta(ns)[1]: ((ns.get("status") or {}).get("phase") or "Active") for ns in namespaces}
    for name in sorted(expected or ()):
        if name not in phases:
            findings.append(finding("pods.namespace", name, CRITICAL, f"namespace {name} does not exist",
                                    details={"expected": True}))
    for name, phase in sorted(phases.items()):
        if phase != "Active":
            findings.append(finding("pods.namespace", name, WARNING, f"namespace {name} is {phase}",
                                    details={"phase": phase}))
    active = sorted(n for n, p in phases.items() if p == "Active")
    if active:
        findings.append(finding("pods.namespace", "cluster", OK, f"{len(active)} namespaces Active: {', '.join(active[:12])}"
                                + (" ..." if len(active) > 12 else ""), details={"namespaces": active}))
    return findings


# -- other workload kinds: DaemonSets, StatefulSets, Jobs, CronJobs, PVCs, HPAs --------------------------------
# These follow the pods rule: a finding per object that is not fine, plus ONE aggregate ok per namespace, because a
# cluster of 2,000 nodes has thousands of Jobs and claims and an operator reads the ones that are wrong.
def _count(value: object) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckError(f"{name} must be a whole number of seconds >= 0, got {value!r}")
    return value


def spec_changed_at(obj: dict) -> dt.datetime | None:
    """When the object itself (not its status) was last written: the newest ``managedFields`` time of a write that
    was not to a subresource. A rollout of a DaemonSet or StatefulSet starts then; None when the API gave no
    managedFields (``kubectl get`` hides them unless ``--show-managed-fields``; the API's LIST returns them)."""
    times = [parse_time(entry.get("time")) for entry in (obj.get("metadata") or {}).get("managedFields") or []
             if isinstance(entry, dict) and not entry.get("subresource")]
    known = [when for when in times if when is not None]
    return max(known) if known else None


def _age(when: dt.datetime | None, now: dt.datetime) -> float | None:
    return (now - when).total_seconds() if when is not None else None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    seconds = int(seconds)
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600}h"
    if seconds >= 120:
        return f"{seconds // 60}m"
    return f"{seconds}s"


class _PerNamespace:
    """Collects the not-ok findings of a check and counts the fine objects per namespace for the aggregate ok."""

    def __init__(self, fid: str, noun: str, text: str) -> None:
        self.fid, self.noun, self.text = fid, noun, text
        self.findings: list[dict] = []
        self.healthy: dict[str, int] = {}
        self.seen: list[str] = []

    def each(self, objects: list[dict], namespaces: t.Collection[str] | None) -> t.Iterator[tuple[dict, str, str]]:
        """(object, namespace, name) of the objects in the namespaces checked."""
        for obj in objects:
            namespace, name = _meta(obj)
            if _in_namespaces(namespace, namespaces):
                if namespace not in self.seen:
                    self.seen.append(namespace)
                yield obj, namespace, name

    def fine(self, namespace: str) -> None:
        self.healthy[namespace] = self.healthy.get(namespace, 0) + 1

    def bad(self, target: str, status: str, summary: str, details: dict) -> None:
        self.findings.append(finding(self.fid, target, status, summary, details=details))

    def result(self) -> list[dict]:
        return self.findings + [finding(self.fid, f"{ns}/*", OK, f"{self.healthy[ns]} {self.noun} {self.text}",
                                        details={self.noun: self.healthy[ns]})
                                for ns in self.seen if self.healthy.get(ns)]


def _rollout(obj: dict, rolling: bool, grace: int, now: dt.datetime) -> tuple[bool, float | None]:
    """(within the grace period, seconds since the spec changed) of a rollout in progress."""
    age = _age(spec_changed_at(obj), now)
    return rolling and age is not None and age <= grace, age


def daemonset_findings(daemonsets: list[dict], namespaces: t.Collection[str] | None = None,
                       rollout_grace_seconds: int = 600, now: dt.datetime | None = None) -> list[dict]:
    """daemonsets.pods: DESIRED = CURRENT = READY = UP-TO-DATE, nothing misscheduled; one aggregate ok per namespace.

    None ready of a desired count above 0 -> critical. Any other gap -> warning, except while a rollout (the
    controller has not observed the newest generation, or pods are not up-to-date yet) is younger than
    ``rollout_grace_seconds``, counted from the last write of the DaemonSet's spec.
    """
    grace = _seconds("rollout_grace_seconds", rollout_grace_seconds)
    now = now or dt.datetime.now(dt.timezone.utc)
    out = _PerNamespace("daemonsets.pods", "daemonsets", "have every desired pod scheduled, ready and up-to-date")
    for ds, namespace, name in out.each(daemonsets, namespaces):
        status = ds.get("status") or {}
        desired, current = _count(status.get("desiredNumberScheduled")), _count(status.get("currentNumberScheduled"))
        ready, updated = _count(status.get("numberReady")), _count(status.get("updatedNumberScheduled"))
        available, unavailable = _count(status.get("numberAvailable")), _count(status.get("numberUnavailable"))
        misscheduled = _count(status.get("numberMisscheduled"))
        generation = _count((ds.get("metadata") or {}).get("generation"))
        observed = _count(status.get("observedGeneration"))
        gaps = []
        if current < desired:
            gaps.append(f"{desired - current} not scheduled")
        if ready < desired:
            gaps.append(f"{desired - ready} not ready")
        elif unavailable:
            gaps.append(f"{unavailable} unavailable")
        if updated < desired:
            gaps.append(f"{desired - updated} not up-to-date")
        if observed < generation:
            gaps.append(f"the controller has not observed generation {generation} (it has {observed})")
        if misscheduled:
            gaps.append(f"{misscheduled} running on nodes they should not run on")
        in_grace, age = _rollout(ds, observed < generation or updated < desired, grace, now)
        details = {"desired": desired, "current": current, "ready": ready, "up_to_date": updated,
                   "available": available, "unavailable": unavailable, "misscheduled": misscheduled,
                   "generation": generation, "observed_generation": observed, "spec_changed_seconds_ago": age}
        line = f"desired {desired}, current {current}, ready {ready}, up-to-date {updated}, available {available}"
        target = f"{namespace}/{name}"
        if desired > 0 and ready == 0:
            others = [gap for gap in gaps if not gap.endswith(" not ready")]
            out.bad(target, CRITICAL, f"{line}: none ready" + "".join(f", {gap}" for gap in others), details)
        elif not gaps or (in_grace and not misscheduled):
            out.fine(namespace)
        else:
            since = f" (spec changed {_duration(age)} ago)" if updated < desired or observed < generation else ""
            out.bad(target, WARNING, f"{line}: {', '.join(gaps)}{since}", details)
    return out.result()


def statefulset_findings(statefulsets: list[dict], namespaces: t.Collection[str] | None = None,
                         rollout_grace_seconds: int = 600, now: dt.datetime | None = None) -> list[dict]:
    """statefulsets.replicas: READY = replicas and every pod on the update revision; one aggregate ok per namespace.

    None ready of a desired count above 0 -> critical. Pods missing or not ready, or pods left on the current
    revision while ``updateRevision`` differs (a stuck rollout) -> warning once the last write of the spec (a rollout
    or a scale) is older than ``rollout_grace_seconds``. A partitioned rolling update (``partition`` > 0) keeps old
    pods on purpose: not stuck.
    """
    grace = _seconds("rollout_grace_seconds", rollout_grace_seconds)
    now = now or dt.datetime.now(dt.timezone.utc)
    out = _PerNamespace("statefulsets.replicas", "statefulsets", "have every replica ready on the update revision")
    for sts, namespace, name in out.each(statefulsets, namespaces):
        spec, status = sts.get("spec") or {}, sts.get("status") or {}
        desired = _count(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        current, ready = _count(status.get("replicas")), _count(status.get("readyReplicas"))
        updated = _count(status.get("updatedReplicas"))
        strategy = spec.get("updateStrategy") or {}
        partition = _count((strategy.get("rollingUpdate") or {}).get("partition"))
        current_rev, update_rev = status.get("currentRevision"), status.get("updateRevision")
        generation = _count((sts.get("metadata") or {}).get("generation"))
        observed = _count(status.get("observedGeneration"))
        revision_behind = bool(desired and current_rev and update_rev and current_rev != update_rev and not partition)
        age = _age(spec_changed_at(sts), now)
        gaps = []
        if current != desired:
            gaps.append(f"{desired - current} not created" if current < desired else f"{current - desired} surplus")
        if ready < desired:
            gaps.append(f"{desired - ready} not ready")
        if revision_behind:
            how = " (updateStrategy OnDelete: pods update when deleted)" if strategy.get("type") == "OnDelete" else ""
            gaps.append(f"{max(desired - updated, 0)} pods on revision {current_rev}, not {update_rev}: rollout not "
                        f"finished {_duration(age)} after the spec changed{how}")
        elif observed < generation:
            gaps.append(f"the controller has not observed generation {generation} (it has {observed})")
        details = {"desired": desired, "current": current, "ready": ready, "updated": updated,
                   "current_revision": current_rev, "update_revision": update_rev, "partition": partition,
                   "update_strategy": strategy.get("type") or "RollingUpdate", "generation": generation,
                   "observed_generation": observed, "spec_changed_seconds_ago": age}
        line = f"replicas {desired}, current {current}, ready {ready}, updated {updated}"
        target = f"{namespace}/{name}"
        if desired > 0 and ready == 0:
            out.bad(target, CRITICAL, f"{line}: none ready", details)
        elif not gaps or (age is not None and age <= grace):   # a rollout or a scale the pods are catching up with
            out.fine(namespace)
        else:
            out.bad(target, WARNING, f"{line}: {', '.join(gaps)}", details)
    return out.result()


def _controller(obj: dict) -> tuple[str, str] | None:
    refs = [r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if isinstance(r, dict)]
    ref = next((r for r in refs if r.get("controller")), None)
    return (str(ref.get("kind")), str(ref.get("name"))) if ref else None


def job_findings(jobs: list[dict], cronjobs: list[dict] | None = None,
                 namespaces: t.Collection[str] | None = None) -> list[dict]:
    """jobs.failed: a Job with condition Failed=True is a warning; one aggregate ok per namespace.

    A failed Job of a CronJob whose ``lastSuccessfulTime`` is later than the failure is not reported: a later run
    of the same CronJob succeeded (the Job is kept only by ``failedJobsHistoryLimit``).
    """
    succeeded_at = {"/".join(_meta(cj)): parse_time((cj.get("status") or {}).get("lastSuccessfulTime"))
                    for cj in cronjobs or []}
    out = _PerNamespace("jobs.failed", "jobs", "running, complete, or failed before a later success of their CronJob")
    for job, namespace, name in out.each(jobs, namespaces):
        failed = _conditions(job).get("Failed") or {}
        if failed.get("status") != "True":
            out.fine(namespace)
            continue
        owner = _controller(job)
        cronjob = f"{namespace}/{owner[1]}" if owner and owner[0] == "CronJob" else None
        failed_at = parse_time(failed.get("lastTransitionTime"))
        later = succeeded_at.get(cronjob) if cronjob else None
        if later is not None and failed_at is not None and later > failed_at:
            out.fine(namespace)
            continue
        status = job.get("status") or {}
        why = failed.get("reason") or "Failed"
        message = failed.get("message")
        out.bad(f"{namespace}/{name}", WARNING,
                f"failed ({why}{': ' + message if message else ''})" + (f", CronJob {owner[1]}" if cronjob else ""),
                {"reason": failed.get("reason"), "message": message, "failed_at": failed.get("lastTransitionTime"),
                 "cronjob": owner[1] if cronjob else None, "failed_pods": _count(status.get("failed")),
                 "succeeded_pods": _count(status.get("succeeded")),
                 "backoff_limit": (job.get("spec") or {}).get("backoffLimit")})
    return out.result()


def cronjob_findings(cronjobs: list[dict], namespaces: t.Collection[str] | None = None, failing_seconds: int = 3600,
                     active_seconds: int = 86400, now: dt.datetime | None = None) -> list[dict]:
    """cronjobs.runs: runs that stopped succeeding, or a run that does not end; one aggregate ok per namespace.

    Without parsing the schedule (no cron parser among the collection's dependencies), two conservative rules:

    - no run is active and the last scheduled run is later than the last success (or, never succeeded, than the
      CronJob's creation) by more than ``failing_seconds``: the runs since have not succeeded -> warning;
    - a run is active and the last run was scheduled more than ``active_seconds`` ago: the active run has been
      going at least that long -> warning.

    A suspended CronJob is ok. A schedule that stopped firing altogether is not detected (that needs the schedule).
    """
    failing = _seconds("cronjob_failing_seconds", failing_seconds)
    active_limit = _seconds("cronjob_active_seconds", active_seconds)
    now = now or dt.datetime.now(dt.timezone.utc)
    out = _PerNamespace("cronjobs.runs", "cronjobs", "suspended or succeeding on schedule")
    for cj, namespace, name in out.each(cronjobs, namespaces):
        spec, status = cj.get("spec") or {}, cj.get("status") or {}
        scheduled = parse_time(status.get("lastScheduleTime"))
        succeeded = parse_time(status.get("lastSuccessfulTime"))
        active = [a.get("name") for a in status.get("active") or [] if isinstance(a, dict)]
        details = {"schedule": spec.get("schedule"), "suspend": bool(spec.get("suspend")),
                   "last_schedule": status.get("lastScheduleTime"), "last_success": status.get("lastSuccessfulTime"),
                   "active": active}
        problems = []
        if spec.get("suspend") or scheduled is None:
            out.fine(namespace)
            continue
        if active:
            running = _age(scheduled, now)
            if running is not None and running > active_limit:
                problems.append(f"{len(active)} run(s) active, the newest scheduled {_duration(running)} ago "
                                f"({', '.join(active[:3])})")
        else:
            since = succeeded or parse_time((cj.get("metadata") or {}).get("creationTimestamp"))
            if since is not None and scheduled > since and (scheduled - since).total_seconds() > failing:
                last = (f"last success {_duration(_age(succeeded, now))} ago" if succeeded
                        else "no run has succeeded since it was created")
                problems.append(f"the runs scheduled up to {status.get('lastScheduleTime')} did not succeed; {last}")
        if problems:
            out.bad(f"{namespace}/{name}", WARNING, "; ".join(problems), details)
        else:
            out.fine(namespace)
    return out.result()


def pvc_findings(claims: list[dict], namespaces: t.Collection[str] | None = None, pending_seconds: int = 600,
                 now: dt.datetime | None = None) -> list[dict]:
    """persistentvolumeclaims.phase: Lost -> critical, Pending longer than ``pending_seconds`` -> warning."""
    pending_limit = _seconds("pvc_pending_seconds", pending_seconds)
    now = now or dt.datetime.now(dt.timezone.utc)
    out = _PerNamespace("persistentvolumeclaims.phase", "claims", "Bound (or Pending for less than the threshold)")
    for pvc, namespace, name in out.each(claims, namespaces):
        spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
        phase = status.get("phase") or "Pending"
        details = {"phase": phase, "storage_class": spec.get("storageClassName"), "volume": spec.get("volumeName"),
                   "requested": ((spec.get("resources") or {}).get("requests") or {}).get("storage")}
        target = f"{namespace}/{name}"
        if phase == "Lost":
            out.bad(target, CRITICAL, f"Lost: its PersistentVolume {spec.get('volumeName') or '?'} no longer exists",
                    details)
        elif phase == "Pending":
            age = _age(parse_time((pvc.get("metadata") or {}).get("creationTimestamp")), now)
            if age is None or age > pending_limit:
                out.bad(target, WARNING, f"Pending for {_duration(age)} (storage class "
                        f"{spec.get('storageClassName') or 'default'}, {details['requested'] or '?'})",
                        {**details, "pending_seconds": age})
            else:
                out.fine(namespace)
        else:
            out.fine(namespace)
    return out.result()


def hpa_findings(hpas: list[dict], namespaces: t.Collection[str] | None = None) -> list[dict]:
    """horizontalpodautoscalers.scaling (autoscaling/v2): at maxReplicas, or AbleToScale / ScalingActive False.

    At its maximum is a warning unless minReplicas = maxReplicas (a fixed size on purpose). ScalingActive False
    with reason ScalingDisabled (the target was scaled to 0 by hand) is not a problem.
    """
    out = _PerNamespace("horizontalpodautoscalers.scaling", "autoscalers", "able to scale and below their maximum")
    for hpa, namespace, name in out.each(hpas, namespaces):
        spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
        maximum = _count(spec.get("maxReplicas"))
        minimum = _count(spec.get("minReplicas") if spec.get("minReplicas") is not None else 1)
        current, desired = _count(status.get("currentReplicas")), _count(status.get("desiredReplicas"))
        conds = _conditions(hpa)
        ref = spec.get("scaleTargetRef") or {}
        problems = []
        if maximum and current >= maximum and minimum < maximum:
            limited = conds.get("ScalingLimited") or {}
            wants = " and wants more" if limited.get("status") == "True" and limited.get("reason") == "TooManyReplicas" else ""
            problems.append(f"at its maximum ({current}/{maximum} replicas){wants}")
        for ctype in ("AbleToScale", "ScalingActive"):
            cond = conds.get(ctype) or {}
            if cond.get("status") == "False" and not (ctype == "ScalingActive" and cond.get("reason") == "ScalingDisabled"):
                problems.append(f"{ctype} False ({cond.get('reason') or 'no reason'}"
                                + (f": {cond['message']}" if cond.get("message") else "") + ")")
        if problems:
            out.bad(f"{namespace}/{name}", WARNING, "; ".join(problems),
                    {"target": f"{ref.get('kind', '?')}/{ref.get('name', '?')}", "min": minimum, "max": maximum,
                     "current": current, "desired": desired,
                     "conditions": {k: v.get("status") for k, v in conds.items()}})
        else:
            out.fine(namespace)
    return out.result()


# -- orchestration: one LIST per kind, then the pure checks ---------------------------------------------------
CHECKS = ("nodes", "deployments", "pods", "services", "workload_policy", "calico_node_pods", "namespaces",
          "daemonsets", "statefulsets", "jobs", "cronjobs", "persistentvolumeclaims", "horizontalpodautoscalers",
          "capacity", "node_usage")
# What the daily inspection runs; "namespaces" is asked for by the incident runbook.
DEFAULT_CHECKS = tuple(c for c in CHECKS if c != "namespaces")
KINDS_FOR = {"nodes": ("nodes",), "deployments": ("deployments",), "pods": ("pods",),
             "services": ("services", "endpoints"), "workload_policy": ("deployments",),
             "calico_node_pods": ("nodes", "pods"), "namespaces": ("namespaces",),
             "daemonsets": ("daemonsets",), "statefulsets": ("statefulsets",), "jobs": ("jobs", "cronjobs"),
             "cronjobs": ("cronjobs",), "persistentvolumeclaims": ("persistentvolumeclaims",),
             "horizontalpodautoscalers": ("horizontalpodautoscalers",),
             "capacity": ("nodes", "pods"), "node_usage": ("nodes",)}
# The finding id of each check whose kinds a cluster may not serve (autoscaling/v2 before 1.23) or a user may not be
# allowed to list: a LIST that fails for one of them is an unknown finding of that check, and the others still run.
OPTIONAL_CHECK_IDS = {"daemonsets": "daemonsets.pods", "statefulsets": "statefulsets.replicas", "jobs": "jobs.failed",
                      "cronjobs": "cronjobs.runs", "persistentvolumeclaims": "persistentvolumeclaims.phase",
                      "horizontalpodautoscalers": "horizontalpodautoscalers.scaling"}


def _workload_kind_findings(checks: list[str], objects: dict[str, list[dict]], unlisted: dict[str, str],
                            namespaces: t.Collection[str] | None, options: dict) -> list[dict]:
    """The checks of OPTIONAL_CHECK_IDS: their findings, or an unknown finding when one of their kinds was not listed."""
    now = options.get("now") or dt.datetime.now(dt.timezone.utc)
    grace = options.get("rollout_grace_seconds", 600)
    run = {
        "daemonsets": lambda: daemonset_findings(objects["daemonsets"], namespaces, grace, now),
        "statefulsets": lambda: statefulset_findings(objects["statefulsets"], namespaces, grace, now),
        "jobs": lambda: job_findings(objects["jobs"], objects["cronjobs"], namespaces),
        "cronjobs": lambda: cronjob_findings(objects["cronjobs"], namespaces, options.get("cronjob_failing_seconds", 3600),
                                             options.get("cronjob_active_seconds", 86400), now),
        "persistentvolumeclaims": lambda: pvc_findings(objects["persistentvolumeclaims"], namespaces,
                                                       options.get("pvc_pending_seconds", 600), now),
        "horizontalpodautoscalers": lambda: hpa_findings(objects["horizontalpodautoscalers"], namespaces),
    }
    findings: list[dict] = []
    for check in checks:
        if check not in OPTIONAL_CHECK_IDS:
            continue
        missing = [unlisted[kind] for kind in KINDS_FOR[check] if kind in unlisted]
        if missing:
            findings += could_not_run([(OPTIONAL_CHECK_IDS[check], "cluster")], "; ".join(missing), "k8s_cluster_info", None)
        else:
            findings += run[check]()
    return findings


def inspect_cluster(api_client: t.Any, options: dict, lister: t.Callable | None = None) -> dict:
    """Run the selected checks with one paginated LIST per kind; the API's unreachability is a finding.

    Returns {findings, pod_restarts, restart_snapshot, objects, api_requests, server_version}; restart_snapshot is
    None when the pods could not be listed (the caller keeps its last good baseline then). ``lister(api_client, kind,
    page_size, timeout, from_cache=...)`` defaults to ``_k8s.list_all``; the LISTs are read from the API server's
    watch cache unless ``options["consistent_read"]`` (see ``_k8s.list_all``).
    """
    from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
    lister = lister or _k8s.list_all
    try:
        _k8s_capacity.validate(options)
    except _k8s_capacity.CapacityError as exc:
        raise CheckError(str(exc)) from None
    checks = [c for c in CHECKS if c in (options.get("checks") or DEFAULT_CHECKS)]
    namespaces = options.get("namespaces") or None
    node_hosts = options.get("node_hosts") or {}
    timeout = options.get("request_timeout") or 30
    page_size = options.get("page_size") or _k8s.DEFAULT_PAGE_SIZE
    host = getattr(getattr(api_client, "configuration", None), "host", None) or "kubernetes"
    objects: dict[str, list[dict]] = {}
    requests: dict[str, int] = {}
    unlisted: dict[str, str] = {}   # kind -> why its LIST failed (optional checks only)
    findings: list[dict] = []
    version = None
    try:
        version = _k8s.server_version(api_client, timeout)
        for check in checks:
            for kind in KINDS_FOR[check]:
                if kind in objects or kind in unlisted:
                    continue
                try:
                    result = lister(api_client, kind, page_size, timeout,
                                    from_cache=not options.get("consistent_read", False))
                except _k8s.K8sConfigError:
                    raise
                except _k8s.K8sError as exc:
                    if check not in OPTIONAL_CHECK_IDS:
                        raise
                    unlisted[kind] = f"cannot list {kind}: {exc}"
                    continue
                objects[kind], requests[kind] = result.items, result.requests
    except _k8s.K8sConfigError:
        raise
    except _k8s.K8sError as exc:
        findings.append(finding("control_plane_services.api", host, CRITICAL, str(exc),
                                category="control_plane_services", details={"server": host}))
        return {"findings": findings, "pod_restarts": {}, "restart_snapshot": None,
                "objects": {k: len(v) for k, v in objects.items()}, "api_requests": requests, "server_version": version}
    findings.append(finding("control_plane_services.api", host, OK,
                            f"Kubernetes API answers ({version.get('gitVersion', '?')})",
                            details={"server": host, "version": version.get("gitVersion")}))
    if "nodes" in checks:
        findings += node_findings(objects["nodes"], node_hosts)
    if "deployments" in checks:
        findings += deployment_findings(objects["deployments"], namespaces, options.get("deployment_available_critical_ratio", 0.5))
    if "pods" in checks:
        findings += pod_findings(objects["pods"], namespaces, options.get("restart_baseline") or {},
                                 options.get("pod_pending_seconds", 300), options.get("restart_delta_warning", 1),
                                 options.get("restart_delta_critical"), node_hosts)
    if "services" in checks:
        findings += service_findings(objects["services"], objects["endpoints"], namespaces)
    if "workload_policy" in checks:
        findings += workload_policy_findings(objects["deployments"], namespaces,
                                             options.get("workload_policy_exclude_namespaces", SYSTEM_NAMESPACES),
                                             options.get("jvm_heap_max_ratio", 0.9))
    if "calico_node_pods" in checks:
        findings += calico_node_pod_findings(objects["nodes"], objects["pods"], options.get("calico_namespace", "kube-system"),
                                             options.get("calico_node_label", "k8s-app=calico-node"), node_hosts)
    if "namespaces" in checks:
        findings += namespace_findings(objects["namespaces"], options.get("expected_namespaces") or ())
    findings += _workload_kind_findings(checks, objects, unlisted, namespaces, options)
    findings += _k8s_capacity.cluster_findings(checks, objects, options, api_client, requests=requests)
    # TLS Secrets of the namespaces asked for (tls_secret_namespaces; none asked, nothing listed)
    try:
        tls = _k8s_tls_secrets.inspect(api_client, lister, options, page_size, timeout)
    except ValueError as exc:
        raise CheckError(str(exc)) from None
    findings += tls["findings"]
    listed = {k: len(v) for k, v in objects.items()}
    if tls["requests"]:
        listed["secrets"], requests["secrets"] = tls["objects"], tls["requests"]
    restarts = pod_restart_counts(objects["pods"]) if "pods" in objects else {}
    snapshot = restart_snapshot(objects["pods"], options.get("now") or dt.datetime.now(dt.timezone.utc)) \
        if "pods" in objects else None
    return {"findings": findings, "pod_restarts": restarts, "restart_snapshot": snapshot,
            "objects": listed, "api_requests": requests, "server_version": version}
