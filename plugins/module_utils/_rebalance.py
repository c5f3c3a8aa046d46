# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The performance incident's "shrink first, then grow": move replicas from the least loaded workloads (within
their floors) to the most loaded, never above a total replica budget. PRIVATE to the collection.

``plan()`` is pure: given each workload's replicas, floor, ceiling and load, it returns the changes with the reason
of each, decreases before increases. Load is the CPU used per replica as a share of the CPU requested (1.0 = the
pods use exactly what they request); with ``n`` replicas a workload's projected load is ``load * current / n``
(the same work spread over n replicas). ``Applier`` applies a plan: every decrease first, each waited for until
the pods are really gone (Terminating pods still hold their resources), then the increases. At no moment do the
workloads have more pods than ``max(total before, budget)``.
"""
from __future__ import annotations

import json
import math
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _protected
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._quantity import QuantityError, parse_quantity
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

KINDS = ("Deployment", "StatefulSet")
MAX_STEPS = 100000


class RebalanceError(ValueError):
    """Bad input; the message names the bad value."""


class RebalanceRefused(RebalanceError):
    """No safe plan exists (budget below the floors) or the cluster moved under the plan; nothing more is changed."""


class Workload(t.NamedTuple):
    namespace: str
    name: str
    kind: str
    replicas: int
    min_replicas: int
    max_replicas: int | None
    load: float

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def projected(self, n: int) -> float:
        return math.inf if n <= 0 else self.load * self.replicas / n


def _pct(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value * 100:.0f}%"


def validate(workloads: list[Workload], budget: int, target: float) -> None:
    if not workloads:
        raise RebalanceError("workloads must list at least one workload")
    seen: set[str] = set()
    for w in workloads:
        if w.key in seen:
            raise RebalanceError(f"workload {w.key} is listed twice")
        seen.add(w.key)
        if w.kind not in KINDS:
            raise RebalanceError(f"workload {w.key}: kind {w.kind!r} must be one of {', '.join(KINDS)}")
        if w.min_replicas < 1:
            raise RebalanceError(f"workload {w.key}: min_replicas must be at least 1, got {w.min_replicas}")
        if w.max_replicas is not None and w.max_replicas < w.min_replicas:
            raise RebalanceError(f"workload {w.key}: max_replicas {w.max_replicas} is below min_replicas {w.min_replicas}")
        if not isinstance(w.load, (int, float)) or math.isnan(w.load) or math.isinf(w.load) or w.load < 0:
            raise RebalanceError(f"workload {w.key}: load must be a number 0 or more (1.0 = 100% of the CPU request), "
                                 f"got {w.load!r}")
        if w.replicas < 0:
            raise RebalanceError(f"workload {w.key}: current replicas {w.replicas} is negative")
    if not 0 < target <= 10:
        raise RebalanceError(f"target_load must be above 0 (1.0 = 100% of the request), got {target}")
    floors = sum(w.min_replicas for w in workloads)
    if budget < floors:
        raise RebalanceRefused(f"budget {budget} is below the sum of the floors ({floors}): no plan can respect both")


def plan(workloads: list[Workload], budget: int, target: float = 0.7) -> dict:
    """The changes that bring every workload's projected load to at most ``target`` where the budget allows."""
    validate(workloads, budget, target)
    by_key = {w.key: w for w in workloads}
    count = {w.key: w.replicas for w in workloads}
    gave: dict[str, list[str]] = {w.key: [] for w in workloads}    # who a workload gets replicas from
    floor_raise = {w.key: max(0, w.min_replicas - w.replicas) for w in workloads}
    for key, extra in floor_raise.items():   # below its floor: back to the floor first
        count[key] += extra
        if extra:
            gave[key] += ["its floor"] * extra

    def projected(key: str, n: int | None = None) -> float:
        return by_key[key].projected(count[key] if n is None else n)

    def donors(exclude: str, strict_target: bool) -> list[str]:
        out = [k for k in sorted(count) if k != exclude and count[k] > by_key[k].min_replicas
               and (not strict_target or projected(k, count[k] - 1) <= target)]
        return sorted(out, key=lambda k: (projected(k, count[k] - 1), k))

    # Over budget already (or after restoring floors): shed from the least loaded first, floors permitting.
    while sum(count.values()) > budget:
        candidates = donors("", strict_target=False)
        if not candidates:
            raise RebalanceRefused(f"the workloads have {sum(count.values())} replicas, more than the budget {budget}, "
                                   "and every one is at its floor")
        count[candidates[0]] -= 1
    steps = 0
    while steps < MAX_STEPS:
        steps += 1
        hot = [k for k in sorted(count) if projected(k) > target
               and (by_key[k].max_replicas is None or count[k] < by_key[k].max_replicas)]
        if not hot:
            break
        hottest = max(hot, key=lambda k: (projected(k), k))
        if sum(count.values()) < budget:
            count[hottest] += 1
            gave[hottest].append("unused budget")
            continue
        candidates = donors(hottest, strict_target=True)
        if not candidates:
            break
        count[candidates[0]] -= 1
        count[hottest] += 1
        gave[hottest].append(candidates[0])
    changes = []
    for w in workloads:
        after = count[w.key]
        if after == w.replicas:
            continue
        if after < w.replicas:
            why = (f"load {_pct(w.load)} of its CPU request at {w.replicas} replicas: {after} keep it at "
                   f"{_pct(w.projected(after))} (target {_pct(target)}, floor {w.min_replicas})")
        else:
            sources = sorted(set(gave[w.key]))
            ceiling = f", ceiling {w.max_replicas}" if w.max_replicas is not None else ""
            why = (f"load {_pct(w.load)} of its CPU request at {w.replicas} replicas: {after} bring it to "
                   f"{_pct(w.projected(after))} (target {_pct(target)}{ceiling}); replicas from {', '.join(sources)}")
        changes.append({"namespace": w.namespace, "name": w.name, "kind": w.kind, "before": w.replicas, "after": after,
                        "delta": after - w.replicas, "load_before": round(w.load, 4),
                        "load_after": round(w.projected(after), 4), "why": why})
    decreases = sorted((c for c in changes if c["delta"] < 0), key=lambda c: (c["load_before"], c["namespace"], c["name"]))
    increases = sorted((c for c in changes if c["delta"] > 0), key=lambda c: (-c["load_before"], c["namespace"], c["name"]))
    unmet = [{"namespace": by_key[k].namespace, "name": by_key[k].name, "load_after": round(projected(k), 4),
              "why": ("at its ceiling" if by_key[k].max_replicas is not None and count[k] >= by_key[k].max_replicas
                      else "no replica left in the budget or above any other workload's floor")}
             for k in sorted(count) if projected(k) > target]
    total_before = sum(w.replicas for w in workloads)
    total_after = sum(count.values())
    return {"changes": decreases + increases, "decreases": decreases, "increases": increases, "unmet": unmet,
            "total_before": total_before, "total_after": total_after, "budget": budget, "target_load": target,
            "peak": max(total_before, total_after)}


def plan_lines(result: dict) -> list[str]:
    """The plan as an operator reads it (also what --check prints)."""
    lines = [f"budget {result['budget']} replicas: {result['total_before']} now, {result['total_after']} after, "
             f"never more than {result['peak']} on the way"]
    for i, change in enumerate(result["changes"], 1):
        verb = "shrink" if change["delta"] < 0 else "grow"
        lines.append(f"{i}. {verb} {change['namespace']}/{change['name']} {change['before']} -> {change['after']}: {change['why']}")
    if not result["changes"]:
        lines.append("no change: every workload is at or below the target load, or nothing can move within the floors")
    for item in result["unmet"]:
        lines.append(f"still above target: {item['namespace']}/{item['name']} at {_pct(item['load_after'])} ({item['why']})")
    return lines


# -- load from the metrics API --------------------------------------------------------------------------------
def selector_string(selector: dict | None) -> str:
    """A LabelSelector object as the string the API takes (matchLabels and matchExpressions)."""
    if not selector:
        raise RebalanceError("the workload has no selector")
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    if not parts:
        raise RebalanceError("the workload's selector is empty")
    return ",".join(parts)


def matches(labels: dict, selector: dict) -> bool:
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def loads_from_metrics(workloads: list[dict], pods: list[dict], pod_metrics: list[dict]) -> dict[str, float]:
    """CPU used / CPU requested per workload (``namespace/name``), from one LIST of pods and one of PodMetrics."""
    usage: dict[tuple[str, str], float] = {}
    for item in pod_metrics:
        meta = item.get("metadata") or {}
        total = 0.0
        for container in item.get("containers") or []:
            try:
                total += float(parse_quantity((container.get("usage") or {}).get("cpu", "0")))
            except QuantityError:
                continue
        usage[(meta.get("namespace"), meta.get("name"))] = total
    loads: dict[str, float] = {}
    for wl in workloads:
        meta, spec = wl.get("metadata") or {}, wl.get("spec") or {}
        namespace, selector = meta.get("namespace"), spec.get("selector") or {}
        key = f"{namespace}/{meta.get('name')}"
        used = requested = 0.0
        measured = 0
        for pod in pods:
            pmeta = pod.get("metadata") or {}
            if pmeta.get("namespace") != namespace or pmeta.get("deletionTimestamp") \
                    or (pod.get("status") or {}).get("phase") != "Running" or not matches(pmeta.get("labels"), selector):
                continue
            for container in (pod.get("spec") or {}).get("containers") or []:
                try:
                    requested += float(parse_quantity(((container.get("resources") or {}).get("requests") or {}).get("cpu", "0")))
                except QuantityError:
                    continue
            if (namespace, pmeta.get("name")) in usage:
                used += usage[(namespace, pmeta.get("name"))]
                measured += 1
        if not measured:
            raise RebalanceError(f"no metrics for the pods of {key} in metrics.k8s.io: give its load instead")
        if requested <= 0:
            raise RebalanceError(f"the pods of {key} request no CPU, so their load cannot be judged: give its load instead")
        loads[key] = used / requested
    return loads


# -- applying ----------------------------------------------------------------------------------------------
class Applier:
    """Applies a plan through a scaler boundary: decreases first, each until its pods are gone; then increases.

    ``scaler`` provides ``read(kind, ns, name) -> dict``, ``patch_replicas(kind, ns, name, replicas,
    resource_version)`` (raises on a conflict) and ``count_pods(ns, selector) -> int`` (pods that exist, Terminating
    ones included) and ``ready_pods(ns, selector) -> int``.
    """

    def __init__(self, scaler: t.Any, wait_timeout: int = 300, interval: float = 2.0,
                 sleep: t.Callable[[float], None] = time.sleep, clock: t.Callable[[], float] = time.monotonic,
                 wait_for_ready: bool = True):
        self.scaler = scaler
        self.wait_timeout = wait_timeout
        self.interval = interval
        self.sleep = sleep
        self.clock = clock
        self.wait_for_ready = wait_for_ready

    def apply(self, result: dict) -> tuple[list[dict], list[dict]]:
        """(applied steps, audit records). Raises RebalanceRefused / WaitTimeout part-way; what was done is in ``self.done``."""
        self.done: list[dict] = []
        self.audit: list[dict] = []
        for change in result["decreases"] + result["increases"]:
            obj = self.scaler.read(change["kind"], change["namespace"], change["name"])
            current = int((obj.get("spec") or {}).get("replicas", 1))
            if current != change["before"]:
                raise RebalanceRefused(f"{change['namespace']}/{change['name']} has {current} replicas, not {change['before']} "
                                       "as planned: someone else is scaling it; stopping here (decreases already applied "
                                       "keep the total within the budget)")
            selector = selector_string((obj.get("spec") or {}).get("selector"))
            self.scaler.patch_replicas(change["kind"], change["namespace"], change["name"], change["after"],
                                       (obj.get("metadata") or {}).get("resourceVersion"))
            started = self.clock()
            self.audit.append(record("scale", f"{change['namespace']}/{change['kind']}/{change['name']}",
                                     {"replicas": change["before"]}, {"replicas": change["after"]},
                                     why=change["why"], load=change["load_before"]))
            step = {**change, "seconds": None}
            self.done.append(step)
            if change["delta"] < 0:
                wait_until(lambda c=change, s=selector: self.scaler.count_pods(c["namespace"], s) <= c["after"] or None,
                           self.wait_timeout, self.interval,
                           f"pods of {change['namespace']}/{change['name']} not down to {change['after']}",
                           clock=self.clock, sleep=self.sleep)
            elif self.wait_for_ready:
                wait_until(lambda c=change, s=selector: self.scaler.ready_pods(c["namespace"], s) >= c["after"] or None,
                           self.wait_timeout, self.interval,
                           f"{change['namespace']}/{change['name']} not {change['after']} Ready pods",
                           clock=self.clock, sleep=self.sleep)
            step["seconds"] = round(self.clock() - started, 1)
        return self.done, self.audit


LOAD_SOURCES = ("auto", "metrics", "given")


def rebalance(scaler: t.Any, specs: list[dict], budget: int | None, target: float, load_source: str, check_mode: bool,
              applier: Applier | None = None, protected_namespaces: t.Collection[str] = _protected.PROTECTED_NAMESPACES,
              allow_protected_namespace: bool = False) -> dict:
    """Read the workloads, find their loads, plan, and (unless check mode) apply. Returns the module result.

    A workload in a protected namespace (kube-system...) is refused before anything is read, unless allowed.
    """
    if load_source not in LOAD_SOURCES:
        raise RebalanceError(f"load_source {load_source!r} must be one of {', '.join(LOAD_SOURCES)}")
    for spec in specs:
        protected = _protected.hits([spec.get("namespace")], protected_namespaces, allow_protected_namespace)
        if protected:
            raise RebalanceRefused(_protected.refusal(f"workload {spec.get('namespace')}/{spec.get('name')}", protected))
    objects = {}
    for spec in specs:
        kind = spec.get("kind") or "Deployment"
        if kind not in KINDS:
            raise RebalanceError(f"workload {spec.get('namespace')}/{spec.get('name')}: kind {kind!r} must be one of {', '.join(KINDS)}")
        if not spec.get("namespace") or not spec.get("name"):
            raise RebalanceError(f"every workload needs a namespace and a name, got {spec!r}")
        objects[f"{spec['namespace']}/{spec['name']}"] = scaler.read(kind, spec["namespace"], spec["name"])
    given = {f"{s['namespace']}/{s['name']}": s.get("load") for s in specs}
    loads: dict[str, float] = {}
    sources: dict[str, str] = {}
    need_metrics = [k for k, v in given.items() if load_source == "metrics" or (load_source == "auto" and v is None)]
    metrics = None
    if need_metrics:
        metrics = scaler.pod_metrics()
        if metrics is None:
            if load_source == "metrics":
                raise RebalanceError("load_source=metrics but the cluster does not serve metrics.k8s.io (no metrics-server)")
            raise RebalanceError(f"no load given for {', '.join(need_metrics)} and the cluster does not serve metrics.k8s.io: "
                                 "give each workload's load (1.0 = 100% of its CPU request)")
        measured = loads_from_metrics([objects[k] for k in need_metrics], scaler.all_pods(), metrics)
        loads.update(measured)
        sources.update({k: "metrics.k8s.io" for k in measured})
    for key, value in given.items():
        if key in loads:
            continue
        if value is None:
            raise RebalanceError(f"no load for {key} (load_source=given)")
        try:
            loads[key] = float(value)
        except (TypeError, ValueError):
            raise RebalanceError(f"workload {key}: load must be a number (1.0 = 100% of the CPU request), got {value!r}") from None
        sources[key] = "given"
    workloads = []
    for spec in specs:
        key = f"{spec['namespace']}/{spec['name']}"
        current = int(((objects[key].get("spec") or {}).get("replicas")) if (objects[key].get("spec") or {}).get("replicas") is not None else 1)
        workloads.append(Workload(spec["namespace"], spec["name"], spec.get("kind") or "Deployment", current,
                                  int(spec.get("min_replicas") if spec.get("min_replicas") is not None else 1),
                                  spec.get("max_replicas"), loads[key]))
    result = plan(workloads, budget if budget is not None else sum(w.replicas for w in workloads), target)
    for change in result["changes"]:
        change["load_from"] = sources[f"{change['namespace']}/{change['name']}"]
    out: dict[str, t.Any] = {"plan": result, "plan_lines": plan_lines(result), "load_from": sources,
                             "changed": bool(result["changes"]), "applied": [], "audit": []}
    if check_mode or not result["changes"]:
        out["audit"] = [record("scale", f"{c['namespace']}/{c['kind']}/{c['name']}", {"replicas": c["before"]},
                               {"replicas": c["after"]}, why=c["why"], load=c["load_before"]) for c in result["changes"]]
        return out
    applier = applier or Applier(scaler)
    try:
        out["applied"], out["audit"] = applier.apply(result)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # what was applied keeps its record, whatever failed
        out["applied"], out["audit"] = list(getattr(applier, "done", [])), list(getattr(applier, "audit", []))
        out["changed"] = bool(out["applied"])
        if not out["applied"] and not isinstance(exc, (RebalanceError, WaitTimeout)):
            raise
        raise RebalanceApplyFailed(str(exc), out) from exc
    return out


class RebalanceApplyFailed(Exception):
    """Part of the plan was applied (and audited) when a step failed; carries the partial result."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


class KubeScaler:
    """The API boundary of the rebalance (official client, plain dicts, a timeout on every request)."""

    def __init__(self, api_client: t.Any, timeout: float = 30):
        self.api_client = api_client
        self.timeout = float(timeout)

    def _timeouts(self) -> tuple[float, float]:
        return (min(self.timeout, 10.0), self.timeout)

    def _apps(self) -> t.Any:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        return k8s_client.AppsV1Api(self.api_client)

    @staticmethod
    def _suffix(kind: str) -> str:
        return "namespaced_deployment" if kind == "Deployment" else "namespaced_stateful_set"

    def _error(self, exc: BaseException, what: str) -> RebalanceError:
        from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import describe_error  # pylint: disable=import-outside-toplevel
        status = getattr(exc, "status", None)
        if status == 404:
            return RebalanceError(f"{what}: not found")
        if status == 409:
            return RebalanceRefused(f"{what}: it changed since it was read (someone else is scaling it); stopping here")
        return RebalanceError(f"{what}: {describe_error(exc, getattr(self.api_client.configuration, 'host', None))}")

    def read(self, kind: str, namespace: str, name: str) -> dict:
        try:
            response = getattr(self._apps(), f"read_{self._suffix(kind)}")(name, namespace, _preload_content=False,
                                                                           _request_timeout=self._timeouts())
            return json.loads(response.data)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            raise self._error(exc, f"{kind} {namespace}/{name}") from exc

    def patch_replicas(self, kind: str, namespace: str, name: str, replicas: int, resource_version: str | None) -> None:
        """Set spec.replicas; with ``resource_version`` the API refuses (409) if the object changed since it was read."""
        body: dict[str, t.Any] = {"spec": {"replicas": replicas}}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            getattr(self._apps(), f"patch_{self._suffix(kind)}")(name, namespace, body, _request_timeout=self._timeouts())
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            raise self._error(exc, f"scaling {kind} {namespace}/{name} to {replicas}") from exc

    def _pods(self, namespace: str, selector: str) -> list[dict]:
        from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
        items = _k8s.list_all(self.api_client, "pods", timeout=self.timeout, label_selector=selector).items
        return [p for p in items if (p.get("metadata") or {}).get("namespace") == namespace]

    def count_pods(self, namespace: str, selector: str) -> int:
        return len(self._pods(namespace, selector))

    def ready_pods(self, namespace: str, selector: str) -> int:
        from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_pods import ready  # pylint: disable=import-outside-toplevel
        return sum(1 for p in self._pods(namespace, selector) if ready(p))

    def all_pods(self) -> list[dict]:
        from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
        return _k8s.list_all(self.api_client, "pods", timeout=self.timeout).items

    def pod_metrics(self) -> list[dict] | None:
        """Every PodMetrics of metrics.k8s.io in one LIST; None when the cluster does not serve that API."""
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        try:
            response = k8s_client.CustomObjectsApi(self.api_client).list_cluster_custom_object(
                "metrics.k8s.io", "v1beta1", "pods", _preload_content=False, _request_timeout=self._timeouts())
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            if getattr(exc, "status", None) in (404, 503):
                return None
            raise
        return json.loads(response.data).get("items") or []


__all__ = ["Applier", "KubeScaler", "RebalanceApplyFailed", "RebalanceError", "RebalanceRefused", "WaitTimeout", "Workload",
           "loads_from_metrics", "plan", "plan_lines", "rebalance", "selector_string"]
