# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can the cluster take the next disruption? PRIVATE to the collection: not a public API.

The stop conditions between the waves of a node maintenance, as findings:

- ``pods.ready_ratio`` (cluster): the share of the pods that should run (not finished, not being deleted) that are
  Ready, against ``min_ready_percent``;
- ``deployments.available`` per Deployment of the watched namespaces: available replicas against the Deployment's
  own minimum - ``spec.replicas`` less what its rolling update may take down (``maxUnavailable``, 25 % by default,
  rounded down as the Deployment controller rounds it; none for ``Recreate``).

``assess()`` is pure (pods and deployments as plain dicts); ``ok`` is true when no finding is critical.
"""
from __future__ import annotations

import math
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CRITICAL, OK, finding


class AvailabilityError(ValueError):
    """Bad input; the message names the bad value."""


def _int_or_percent(value: t.Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise AvailabilityError(f"cannot read {value!r} as a number or a percentage") from None
        scaled = total * percent / 100
        return int(math.ceil(scaled) if round_up else math.floor(scaled))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AvailabilityError(f"cannot read {value!r} as a number or a percentage") from None


def min_available(deployment: dict) -> int:
    """How many replicas the Deployment needs available to be Available (its minimum availability)."""
    spec = deployment.get("spec") or {}
    replicas = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return replicas
    rolling = strategy.get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the controller's own rule: a rollout must be able to make progress
    return max(0, replicas - min(unavailable, replicas))


def ready_pods(pods: list[dict]) -> dict:
    """Ready pods among those that should run: not Succeeded/Failed and not being deleted."""
    counted = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
               and not (p.get("metadata") or {}).get("deletionTimestamp")]
    not_ready = sorted(P.key(p) for p in counted if not P.ready(p))
    total = len(counted)
    ready = total - len(not_ready)
    percent = round(100.0 * ready / total, 1) if total else 100.0
    return {"ready": ready, "total": total, "percent": percent, "not_ready": not_ready}


def assess(pods: list[dict], deployments: list[dict], namespaces: t.Collection[str] = (),
           min_ready_percent: float = 90.0) -> dict:
    """{ok, findings, reasons, ready}: the stop conditions now."""
    if isinstance(min_ready_percent, bool) or not 0 <= float(min_ready_percent) <= 100:
        raise AvailabilityError(f"min_ready_percent must be between 0 and 100, got {min_ready_percent!r}")
    findings: list[dict] = []
    reasons: list[str] = []
    ready = ready_pods(pods)
    shown = ", ".join(ready["not_ready"][:10]) + (f" and {len(ready['not_ready']) - 10} more" if len(ready["not_ready"]) > 10 else "")
    line = (f"{ready['ready']} of {ready['total']} pods Ready ({ready['percent']}%, at least {min_ready_percent}% wanted)"
            + (f"; not Ready: {shown}" if ready["not_ready"] else ""))
    status = OK if ready["percent"] >= float(min_ready_percent) else CRITICAL
    if status != OK:
        reasons.append(line)
    findings.append(finding("pods.ready_ratio", "cluster", status, line,
                            details={**ready, "not_ready": ready["not_ready"][:50], "min_ready_percent": min_ready_percent}))
    wanted = set(namespaces or ())
    for dep in sorted(deployments, key=P.key):
        meta = dep.get("metadata") or {}
        if meta.get("namespace") not in wanted:
            continue
        minimum = min_available(dep)
        spec, dstatus = dep.get("spec") or {}, dep.get("status") or {}
        replicas = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
        available = int(dstatus.get("availableReplicas") or 0)
        target = P.key(dep)
        text = f"{available} of {replicas} replicas available, at least {minimum} needed"
        level = OK if available >= minimum else CRITICAL
        if level != OK:
            reasons.append(f"{target}: {text}")
        findings.append(finding("deployments.available", target, level, text,
                                details={"replicas": replicas, "available": available, "min_available": minimum}))
    missing = sorted(wanted - {(d.get("metadata") or {}).get("namespace") for d in deployments})
    for namespace in missing:
        findings.append(finding("deployments.available", f"{namespace}/*", OK, "no Deployment in this namespace",
                                details={"namespace": namespace}))
    return {"ok": not reasons, "findings": findings, "reasons": reasons, "ready": ready}
