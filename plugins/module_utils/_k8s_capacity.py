# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity and headroom of the nodes, from the nodes and pods the cluster inspection already lists.

PRIVATE to the collection: not a public API. The checks are pure (plain dicts as the API returns them), except
``node_metrics()``, the one LIST of NodeMetrics (metrics.k8s.io) the usage check makes.

- ``capacity.requests`` per node: the requests of the node's pods that hold resources (bound to it and not Succeeded
  or Failed) against its allocatable CPU and memory, and their number against its allocatable pods.
- ``capacity.pool`` per node pool (the nodes sharing a value of a label, or every node that is not a control-plane
  one): can the pool lose its largest node and still place the requests of the pods that run on it?
- ``capacity.usage`` per node: the usage metrics.k8s.io reports against the allocatable.
"""
from __future__ import annotations

import json
import typing as t
from decimal import Decimal

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    OK, UNKNOWN, WARNING, by_threshold, could_not_run, finding, worst,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._quantity import QuantityError, parse_quantity

RESOURCES = ("cpu", "memory")
# Taints that keep ordinary pods off control-plane nodes: such nodes are no part of the default pool.
CONTROL_PLANE_TAINTS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
DONE_PHASES = ("Succeeded", "Failed")
ALL_NODES_POOL = "pool:all"


class CapacityError(ValueError):
    """Bad thresholds; the message names the option."""


def validate(options: dict) -> None:
    for kind in ("requests", "usage"):
        warn, crit = options.get(f"capacity_{kind}_warning"), options.get(f"capacity_{kind}_critical")
        for name, value in ((f"capacity_{kind}_warning", warn), (f"capacity_{kind}_critical", crit)):
            if value is not None and not 0 < value <= 100:
                raise CapacityError(f"{name} must be a percentage above 0 and at most 100, got {value}")
        if warn is not None and crit is not None and warn > crit:
            raise CapacityError(f"capacity_{kind}_warning {warn} is above capacity_{kind}_critical {crit}")


# -- quantities -----------------------------------------------------------------------------------------------
def _quantity(value: t.Any) -> Decimal:
    try:
        return parse_quantity(value) if value not in (None, "") else Decimal(0)
    except QuantityError:
        return Decimal(0)


def _requests(container: dict) -> dict[str, Decimal]:
    requests = ((container.get("resources") or {}).get("requests")) or {}
    return {r: _quantity(requests.get(r)) for r in RESOURCES}


def pod_requests(pod: dict) -> dict[str, Decimal]:
    """The requests a pod holds on its node, as the scheduler counts them.

    The larger of (its containers plus its sidecars, init containers with ``restartPolicy: Always``) and each other
    init container (plus the sidecars started before it), plus the pod's ``overhead``.
    """
    spec = pod.get("spec") or {}
    total = {r: Decimal(0) for r in RESOURCES}
    for container in spec.get("containers") or []:
        for res, value in _requests(container).items():
            total[res] += value
    sidecars = {r: Decimal(0) for r in RESOURCES}
    init_peak = {r: Decimal(0) for r in RESOURCES}
    for container in spec.get("initContainers") or []:
        own = _requests(container)
        if container.get("restartPolicy") == "Always":
            for res in RESOURCES:
                sidecars[res] += own[res]
                init_peak[res] = max(init_peak[res], sidecars[res])
        else:
            for res in RESOURCES:
                init_peak[res] = max(init_peak[res], own[res] + sidecars[res])
    overhead = spec.get("overhead") or {}
    return {res: max(total[res] + sidecars[res], init_peak[res]) + _quantity(overhead.get(res)) for res in RESOURCES}


def holds_resources(pod: dict) -> bool:
    """Bound to a node and not finished: Pending with a nodeName, Running, Unknown."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (pod.get("status") or {}).get("phase") not in DONE_PHASES


def node_allocatable(node: dict) -> dict[str, Decimal]:
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    return {res: _quantity(allocatable.get(res)) for res in (*RESOURCES, "pods")}


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name") or "?"


def requests_by_node(pods: list[dict]) -> dict[str, dict[str, Decimal]]:
    """node name -> {cpu, memory, pods}: the sum of what the node's resource-holding pods request, and their number."""
    out: dict[str, dict[str, Decimal]] = {}
    for pod in pods:
        if not holds_resources(pod):
            continue
        used = out.setdefault(pod["spec"]["nodeName"], {res: Decimal(0) for res in (*RESOURCES, "pods")})
        for res, value in pod_requests(pod).items():
            used[res] += value
        used["pods"] += 1
    return out


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return None if whole <= 0 else round(float(part * 100 / whole), 1)


def _show(res: str, value: Decimal) -> str:
    if res == "memory":
        return f"{float(value) / 2 ** 30:.1f}Gi"
    if res == "cpu":
        return f"{float(value):g}"
    return f"{int(value)}"


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# -- per node: requests vs allocatable ------------------------------------------------------------------------
def request_findings(nodes: list[dict], pods: list[dict], warning: float | None = 85, critical: float | None = 95,
                     node_hosts: dict | None = None, used_by: dict[str, dict[str, Decimal]] | None = None) -> list[dict]:
    """capacity.requests, one per node: CPU and memory requests and the pod count against the allocatable.
    ``used_by``: ``requests_by_node(pods)`` when the caller has it already."""
    node_hosts = node_hosts or {}
    used_by = requests_by_node(pods) if used_by is None else used_by
    findings = []
    for node in nodes:
        name = _name(node)
        alloc = node_allocatable(node)
        used = used_by.get(name, {res: Decimal(0) for res in (*RESOURCES, "pods")})
        parts, statuses, details = [], [], {}
        for res in (*RESOURCES, "pods"):
            pct = _pct(used[res], alloc[res])
            label = "requested" if res != "pods" else "pods"
            if pct is None:
                parts.append(f"{res}: no allocatable {res} reported")
                statuses.append(UNKNOWN)
            else:
                parts.append(f"{res} {pct:g}% {label} ({_show(res, used[res])} of {_show(res, alloc[res])})"
                             if res != "pods" else f"pods {int(used[res])} of {int(alloc[res])} ({pct:g}%)")
                statuses.append(by_threshold(pct, warning, critical))
            details[res] = {"requested" if res != "pods" else "count": _num(used[res]),
                            "allocatable": _num(alloc[res]), "percent": pct}
        status = worst(statuses)
        summary = ", ".join(parts)
        if (node.get("spec") or {}).get("unschedulable"):
            summary += " (cordoned)"
        findings.append(finding("capacity.requests", name, status, summary, host=node_hosts.get(name, name),
                                details={**details, "warning": warning, "critical": critical,
                                         "cordoned": bool((node.get("spec") or {}).get("unschedulable"))}))
    return findings


# -- per pool: can it lose its largest node -------------------------------------------------------------------
def _control_plane(node: dict) -> bool:
    return any(taint.get("key") in CONTROL_PLANE_TAINTS and taint.get("effect") in ("NoSchedule", "NoExecute")
               for taint in (node.get("spec") or {}).get("taints") or [] if isinstance(taint, dict))


def node_pools(nodes: list[dict], label: str | None) -> dict[str, list[dict]]:
    """Pool target -> its nodes: by the value of ``label`` (nodes without it are in no pool), or without a label
    one pool ``pool:all`` of every node without a control-plane NoSchedule taint."""
    pools: dict[str, list[dict]] = {}
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if label:
            if label not in labels:
                continue
            pools.setdefault(f"pool:{label}={labels[label]}", []).append(node)
        elif not _control_plane(node):
            pools.setdefault(ALL_NODES_POOL, []).append(node)
    return pools


def pool_findings(nodes: list[dict], pods: list[dict], label: str | None = None,
                  used_by: dict[str, dict[str, Decimal]] | None = None) -> list[dict]:
    """capacity.pool, one per pool: the requests of the pods on its nodes (cordoned ones included: a drain sends them
    to the others) against the allocatable of its schedulable nodes minus the largest one, per resource.
    ``used_by``: ``requests_by_node(pods)`` when the caller has it already."""
    used_by = requests_by_node(pods) if used_by is None else used_by
    findings = []
    for target, members in sorted(node_pools(nodes, label).items()):
        schedulable = [n for n in members if not (n.get("spec") or {}).get("unschedulable")]
        cordoned = sorted(_name(n) for n in members if (n.get("spec") or {}).get("unschedulable"))
        alloc = [node_allocatable(n) for n in schedulable]
        biggest = max(range(len(alloc)), key=lambda i: (alloc[i]["cpu"], alloc[i]["memory"]), default=None)
        largest, largest_alloc = (schedulable[biggest], alloc[biggest]) if biggest is not None else (None, None)
        short, details = [], {}
        for res in (*RESOURCES, "pods"):
            total = sum((a[res] for a in alloc), Decimal(0))
            spare = total - (largest_alloc[res] if largest_alloc is not None else Decimal(0))
            requested = sum((used_by.get(_name(n), {}).get(res, Decimal(0)) for n in members), Decimal(0))
            details[res] = {"requested": _num(requested), "allocatable": _num(total),
                            "without_largest": _num(spare)}
            if requested > spare:
                short.append(f"{res} {_show(res, requested)} requested, {_show(res, spare)} left without it")
        nodes_text = f"{len(schedulable)} schedulable node(s)"
        if cordoned:
            nodes_text += f", cordoned and not counted: {', '.join(cordoned)}"
        details.update({"nodes": sorted(_name(n) for n in schedulable), "cordoned": cordoned,
                        "largest": _name(largest) if largest is not None else None})
        if short:
            findings.append(finding("capacity.pool", target, WARNING,
                                    f"cannot lose its largest node {details['largest'] or '-'}: {'; '.join(short)} "
                                    f"({nodes_text})", details=details))
        else:
            findings.append(finding("capacity.pool", target, OK,
                                    f"can lose its largest node {details['largest']} and still place its requests "
                                    f"({nodes_text})", details=details))
    return findings


# -- per node: usage from metrics.k8s.io ----------------------------------------------------------------------
class NotServed(Exception):
    """The cluster does not serve metrics.k8s.io (no metrics-server registered)."""


def node_metrics(api_client: t.Any, timeout: t.Any) -> list[dict]:
    """Every NodeMetrics in one LIST. Raises NotServed when the API group is not registered (HTTP 404), and
    _k8s.K8sError for any other failure (a registered metrics-server that does not answer is HTTP 503)."""
    # pylint: disable=import-outside-toplevel
    from kubernetes import client as k8s_client
    from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s
    try:
        response = k8s_client.CustomObjectsApi(api_client).list_cluster_custom_object(
            "metrics.k8s.io", "v1beta1", "nodes", _preload_content=False, _request_timeout=timeout)
        return json.loads(response.data).get("items") or []
    except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
        if getattr(exc, "status", None) == 404:
            raise NotServed("metrics.k8s.io is not served by this cluster (no metrics-server)") from exc
        raise _k8s.K8sError(f"metrics.k8s.io: {_k8s.describe_error(exc, None)}") from exc


def usage_findings(nodes: list[dict], metrics: list[dict], warning: float | None = 85, critical: float | None = 95,
                   node_hosts: dict | None = None) -> list[dict]:
    """capacity.usage, one per node: CPU and memory in use (metrics.k8s.io) against the allocatable."""
    node_hosts = node_hosts or {}
    by_node = {_name(m): (m.get("usage") or {}) for m in metrics}
    findings = []
    for node in nodes:
        name = _name(node)
        host = node_hosts.get(name, name)
        usage = by_node.get(name)
        if usage is None:
            findings.append(finding("capacity.usage", name, UNKNOWN, "metrics.k8s.io reports no usage for this node",
                                    host=host))
            continue
        alloc = node_allocatable(node)
        parts, statuses, details = [], [], {}
        for res in RESOURCES:
            used = _quantity(usage.get(res))
            pct = _pct(used, alloc[res])
            statuses.append(by_threshold(pct, warning, critical))
            parts.append(f"{res} {pct:g}% used ({_show(res, used)} of {_show(res, alloc[res])})" if pct is not None
                         else f"{res}: no allocatable {res} reported")
            details[res] = {"used": _num(used), "allocatable": _num(alloc[res]), "percent": pct}
        findings.append(finding("capacity.usage", name, worst(statuses), ", ".join(parts), host=host,
                                details={**details, "warning": warning, "critical": critical}))
    return findings


# -- the checks, as k8s_cluster_info runs them ----------------------------------------------------------------
def cluster_findings(checks: t.Collection[str], objects: dict[str, list[dict]], options: dict,
                     api_client: t.Any = None, metrics_lister: t.Callable[[], list[dict]] | None = None,
                     requests: dict[str, int] | None = None) -> list[dict]:
    """The findings of the checks ``capacity`` (requests per node, headroom per pool) and ``node_usage``.

    ``metrics_lister()`` defaults to ``node_metrics(api_client, ...)``, counted as ``requests["node_metrics"]``. metrics.k8s.io not registered at all is an ok
    ``capacity.usage`` finding that says usage was not measured (a cluster without metrics-server is a choice, not a
    fault, and an unknown every day would hide the real ones); registered but failing, or refused, is unknown.
    """
    validate(options)
    node_hosts = options.get("node_hosts") or {}
    findings: list[dict] = []
    nodes = objects.get("nodes") or []
    if "capacity" in checks:
        pods = objects.get("pods") or []
        used_by = requests_by_node(pods)   # once for both: 12,000 pods' requests parsed twice cost 0.3 s at 2,000 nodes
        findings += request_findings(nodes, pods, options.get("capacity_requests_warning", 85),
                                     options.get("capacity_requests_critical", 95), node_hosts, used_by=used_by)
        findings += pool_findings(nodes, pods, options.get("capacity_pool_label") or None, used_by=used_by)
    if "node_usage" in checks:
        try:
            if metrics_lister is not None:
                metrics = metrics_lister()
            else:
                from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
                if requests is not None:
                    requests["node_metrics"] = requests.get("node_metrics", 0) + 1
                metrics = node_metrics(api_client, _k8s.request_timeout(options.get("request_timeout") or 30))
        except NotServed as exc:
            findings.append(finding("capacity.usage", "cluster", OK, f"usage not measured: {exc}",
                                    details={"served": False}))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # K8sError and whatever the client raises
            findings += could_not_run([("capacity.usage", "cluster")], str(exc), "k8s_cluster_info", None)
        else:
            findings += usage_findings(nodes, metrics, options.get("capacity_usage_warning", 85),
                                       options.get("capacity_usage_critical", 95), node_hosts)
    return findings
