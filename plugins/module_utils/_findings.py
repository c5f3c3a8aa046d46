# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one findings model of the collection. PRIVATE to the collection: not a public API.

Every check returns a list of findings of this shape::

    {"id": "pods.restarts", "category": "pods", "target": "product/pod-x", "host": "node1",
     "status": "warning", "summary": "restarts 3 -> 9 since last inspection", "details": {...}}
"""
from __future__ import annotations

import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._redact import redact_data, redact_text

OK = "ok"
WARNING = "warning"
UNKNOWN = "unknown"
CRITICAL = "critical"

# Order from best to worst. A check that could not run (unknown) ranks above a warning:
# nobody knows what it would have found.
STATUSES = (OK, WARNING, UNKNOWN, CRITICAL)
_RANK = {s: i for i, s in enumerate(STATUSES)}

CATEGORIES = (
    "control_plane_services", "node_services", "nodes", "deployments", "pods", "services",
    "middleware", "logs", "disk", "calico", "etcd", "certificates", "workload_policy", "host",
    "backups", "daemonsets", "statefulsets", "jobs", "cronjobs", "persistentvolumeclaims", "horizontalpodautoscalers",
    "versions",
    "capacity",
)


class FindingError(ValueError):
    """A finding was built with a bad value."""


def rank(status: str) -> int:
    try:
        return _RANK[status]
    except KeyError:
        raise FindingError(f"unknown finding status {status!r}; expected one of {', '.join(STATUSES)}") from None


def worst(statuses: t.Iterable[str], default: str = OK) -> str:
    """Worst of the given statuses (default when there are none)."""
    result = default
    for status in statuses:
        if rank(status) > rank(result):
            result = status
    return result


def finding(fid: str, target: str, status: str, summary: str, host: str | None = None,
            details: dict | None = None, category: str | None = None) -> dict:
    """Build one finding; the category is the first part of the dotted id unless given.

    Credentials in URLs (``user:password@``, ``?token=``) are redacted from the target, summary and details, so
    that no task output, report or notification built from findings shows them.
    """
    if not fid or "." not in fid:
        raise FindingError(f"finding id {fid!r} must be dotted: <category>.<check>")
    rank(status)
    category = category or fid.split(".", 1)[0]
    if category not in CATEGORIES:
        raise FindingError(f"finding category {category!r} is not one of {', '.join(CATEGORIES)}")
    return {
        "id": fid,
        "category": category,
        "target": redact_text(str(target)),
        "host": host,
        "status": status,
        "summary": redact_text(summary) if isinstance(summary, str) else summary,
        "details": redact_data(details) if details else {},
    }


def from_dict(item: t.Any, host: str | None = None) -> dict:
    """A finding received as data (from a module result or a host fact), validated and rebuilt by ``finding()``.

    ``host`` labels a finding that has none. Raises FindingError naming what is wrong.
    """
    if not isinstance(item, t.Mapping):
        raise FindingError(f"a finding must be a mapping, got {type(item).__name__}")
    missing = [k for k in ("id", "target", "status") if item.get(k) in (None, "")]
    if missing:
        raise FindingError(f"finding {item.get('id')!r} lacks {', '.join(missing)}")
    details = item.get("details")
    if details is not None and not isinstance(details, t.Mapping):
        raise FindingError(f"finding {item['id']!r}: details must be a mapping, got {type(details).__name__}")
    return finding(str(item["id"]), str(item["target"]), str(item["status"]), str(item.get("summary") or ""),
                   host=item.get("host") or host, details=dict(details or {}), category=item.get("category") or None)


MAX_ERROR = 300


def one_line(text: t.Any, limit: int = MAX_ERROR) -> str:
    """An error message as one line of at most ``limit`` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def could_not_run(targets: t.Iterable[tuple[str, str]], error: str, module: str, host: str | None,
                  reason: str = "failed") -> list[dict]:
    """``unknown`` findings for a check that could not run, one per (finding id, target) it is about.

    ``reason`` is ``failed`` (the check failed: bad option, missing tool, crash) or ``unreachable`` (the host stopped
    answering during the check)."""
    summary = (f"host stopped answering during the check: {error}" if reason == "unreachable"
               else f"check could not run: {error}")
    return [finding(fid, target, UNKNOWN, summary, host=host, details={"module": module, "reason": reason, "error": error})
            for fid, target in targets]


def finding_key(item: dict) -> str:
    """Stable identity of a finding across runs: ``id:target``, plus ``@host`` when the host adds to it."""
    key = f"{item['id']}:{item['target']}"
    host = item.get("host")
    if host and host != item["target"]:
        key += f"@{host}"
    return key


def summarize(findings: t.Iterable[dict]) -> dict:
    counts = {s: 0 for s in STATUSES}
    for item in findings:
        counts[item["status"]] += 1
    present = [s for s in STATUSES if counts[s]]
    return {"status": worst(present), **counts}


def by_threshold(value: float | None, warning: float | None, critical: float | None) -> str:
    """Status of a value against 'higher is worse' thresholds (None disables a level)."""
    if value is None:
        return UNKNOWN
    if critical is not None and value >= critical:
        return CRITICAL
    if warning is not None and value >= warning:
        return WARNING
    return OK


def by_threshold_below(value: float | None, warning: float | None, critical: float | None) -> str:
    """Status of a value against 'lower is worse' thresholds (e.g. days until expiry)."""
    if value is None:
        return UNKNOWN
    if critical is not None and value <= critical:
        return CRITICAL
    if warning is not None and value <= warning:
        return WARNING
    return OK
