# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Abnormal-pod cleanup: delete pods in a bad state so that their controllers replace them.
PRIVATE to the collection: not a public API.

The handbook's incident step "delete the pods in an abnormal state" (``kubectl delete pod -n developer-center
<pod>``), made safe:

- ``classify()`` names the abnormal state of a pod (CrashLoopBackOff, Error, Unknown, Evicted, Terminating past
  a grace, Pending past a threshold, image pull back-off) or None; a healthy pod (Running, Ready, not being
  deleted) is never abnormal, whatever else it shows.
- ``select()`` picks the pods to delete in the given namespaces; pods without a controller (nothing would
  recreate them) and static pods' mirrors are left alone, bare pods unless explicitly allowed.
- ``guard()`` refuses the whole run when more pods match than ``max_pods``: a mass failure is another incident.
- ``cleanup()`` deletes (UID precondition; stuck Terminating pods with grace period 0) and optionally waits until
  the controllers have Running, Ready replacements. In check mode it stops after the plan.
"""
from __future__ import annotations

import datetime as dt
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

REASONS = ("CrashLoopBackOff", "Error", "Unknown", "Evicted", "Terminating", "Pending", "ImagePullBackOff")
DEFAULT_REASONS = ("CrashLoopBackOff", "Error", "Unknown", "Evicted", "Terminating", "Pending")
PULL_REASONS = ("ImagePullBackOff", "ErrImagePull")


class CleanupError(ValueError):
    """Bad input; the message names the bad value."""


class CleanupRefused(CleanupError):
    """A guard said no; nothing was deleted."""


class Options(t.NamedTuple):
    namespaces: tuple[str, ...]
    reasons: tuple[str, ...] = DEFAULT_REASONS
    label_selector: str | None = None
    max_pods: int = 5
    pending_seconds: int = 300
    terminating_seconds: int = 60
    min_age_seconds: int = 0
    allow_bare_pods: bool = False
    wait: bool = False
    wait_timeout: int = 180


def validate(opts: Options) -> None:
    if not opts.namespaces or any(not ns or not isinstance(ns, str) for ns in opts.namespaces):
        raise CleanupError(f"namespaces must name at least one namespace, got {list(opts.namespaces)!r}")
    bad = [r for r in opts.reasons if r not in REASONS]
    if bad or not opts.reasons:
        raise CleanupError(f"reasons {bad or list(opts.reasons)!r} must be taken from {', '.join(REASONS)}")
    for name in ("max_pods", "pending_seconds", "terminating_seconds", "min_age_seconds", "wait_timeout"):
        value = getattr(opts, name)
        if not isinstance(value, int) or value < 0:
            raise CleanupError(f"{name} must be 0 or more, got {value!r}")


def _age(stamp: str | None, now: dt.datetime) -> float | None:
    when = P.parse_time(stamp)
    return (now - when).total_seconds() if when else None


def classify(pod: dict, now: dt.datetime, pending_seconds: int = 300, terminating_seconds: int = 60) -> tuple[str, str] | None:
    """(reason, why) of an abnormal pod, or None. ``why`` is one line an operator reads in the plan."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    deleting = meta.get("deletionTimestamp")
    if deleting:
        # deletionTimestamp is the request time plus the grace period: past it, the kubelet should have confirmed.
        late = _age(deleting, now)
        if late is not None and late > terminating_seconds:
            return "Terminating", f"Terminating {int(late)}s past its grace period (kubelet never confirmed)"
        return None
    if P.ready(pod):
        return None
    phase = status.get("phase") or "Unknown"
    if phase == "Failed" and status.get("reason") == "Evicted":
        return "Evicted", f"Evicted: {status.get('message') or 'no message'}".strip()
    if phase == "Unknown":
        return "Unknown", "phase Unknown (its node stopped reporting)"
    if phase == "Failed":
        return "Error", f"Failed ({status.get('reason') or 'a container exited with an error'})"
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    for container in statuses:
        state = container.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        if waiting == "CrashLoopBackOff":
            last = ((container.get("lastState") or {}).get("terminated") or {})
            exit_text = f", last exit {last.get('reason') or '?'} ({last.get('exitCode')})" if last else ""
            return "CrashLoopBackOff", (f"container {container.get('name')} CrashLoopBackOff, "
                                        f"{int(container.get('restartCount') or 0)} restarts{exit_text}")
        if waiting in PULL_REASONS:
            return "ImagePullBackOff", f"container {container.get('name')} {waiting}"
        terminated = state.get("terminated") or {}
        if terminated.get("reason") == "Error":
            return "Error", f"container {container.get('name')} terminated with Error (exit {terminated.get('exitCode')})"
    if phase == "Pending":
        age = _age(meta.get("creationTimestamp"), now)
        if age is None or age > pending_seconds:
            age_text = f"{int(age)}s" if age is not None else "an unknown time"
            return "Pending", f"Pending for {age_text} (more than {pending_seconds}s)"
    return None


class Selection(t.NamedTuple):
    selected: list[dict]     # pods to delete: summary + reason + why + force
    left_alone: list[dict]   # abnormal pods the module will not delete, with the reason why not


def select(pods: list[dict], opts: Options, now: dt.datetime) -> Selection:
    """The abnormal pods of ``opts.namespaces`` with one of ``opts.reasons``, split into delete / leave alone."""
    selected: list[dict] = []
    left: list[dict] = []
    wanted = set(opts.reasons)
    for pod in sorted(pods, key=P.key):
        if (pod.get("metadata") or {}).get("namespace") not in opts.namespaces:
            continue
        verdict = classify(pod, now, opts.pending_seconds, opts.terminating_seconds)
        if verdict is None or verdict[0] not in wanted:
            continue
        reason, why = verdict
        item = {**P.summary(pod), "reason": reason, "why": why, "force": reason == "Terminating"}
        age = _age((pod.get("metadata") or {}).get("creationTimestamp"), now)
        if opts.min_age_seconds and age is not None and age < opts.min_age_seconds and reason != "Terminating":
            left.append({**item, "left_alone": f"younger than min_age_seconds={opts.min_age_seconds} ({int(age)}s)"})
        elif P.is_mirror(pod):
            left.append({**item, "left_alone": "mirror of a static pod: the kubelet recreates it, deleting achieves nothing"})
        elif item["owner"] is None and not opts.allow_bare_pods:
            left.append({**item, "left_alone": "no controller would recreate it (set allow_bare_pods to delete it)"})
        else:
            selected.append(item)
    return Selection(selected, left)


def guard(selection: Selection, max_pods: int) -> None:
    """Refuse the whole run when more pods match than ``max_pods``; a mass failure is a different incident."""
    count = len(selection.selected)
    if count > max_pods:
        names = ", ".join(f"{p['namespace']}/{p['name']}" for p in selection.selected[:5])
        more = f" and {count - 5} more" if count > 5 else ""
        raise CleanupRefused(f"{count} abnormal pods match, more than max_pods={max_pods}: refusing to delete any "
                             f"({names}{more}); so many failing pods is a wider incident, look at nodes and "
                             "dependencies first, or raise max_pods deliberately")


def _owner_targets(api: P.PodApi, deleted: list[dict], pods_before: list[dict]) -> dict[str, dict]:
    """Per owner of a deleted pod: how many Ready pods to wait for (its desired count, at most before + deleted)."""
    targets: dict[str, dict] = {}
    for item in deleted:
        owner = item["owner"]
        if not owner:
            continue
        okey = f"{item['namespace']}/{owner['kind']}/{owner['name']}"
        if okey in targets:
            targets[okey]["deleted"] += 1
            continue
        obj = api.read_owner(owner["kind"], item["namespace"], owner["name"])
        desired = P.desired_of(owner["kind"], obj) if obj else None
        healthy = sum(1 for p in pods_before if P.ready(p) and (P.controller_of(p) or {}).get("uid") == owner["uid"])
        targets[okey] = {"namespace": item["namespace"], "uid": owner["uid"], "kind": owner["kind"],
                         "name": owner["name"], "desired": desired, "healthy_before": healthy, "deleted": 1}
    for target in targets.values():
        if target["desired"] is None:   # a Job or an owner that is gone: nothing to wait for
            target["want"] = 0
        else:
            target["want"] = min(target["desired"], target["healthy_before"] + target["deleted"])
    return targets


def _replacement_state(pods: list[dict], deleted: list[dict], targets: dict[str, dict]) -> dict:
    uids = {p["uid"] for p in deleted if p.get("outcome") == "deleted"}
    still_there = sorted(P.key(p) for p in pods if P.uid(p) in uids)
    ready_by_owner = {okey: sum(1 for p in pods if P.ready(p) and (P.controller_of(p) or {}).get("uid") == target["uid"])
                      for okey, target in targets.items()}
    short = {okey: f"{ready_by_owner[okey]}/{target['want']} Ready" for okey, target in targets.items()
             if ready_by_owner[okey] < target["want"]}
    return {"done": not still_there and not short, "still_present": still_there, "ready": ready_by_owner,
            "short": short}


def cleanup(api: P.PodApi, opts: Options, check_mode: bool, now: dt.datetime | None = None,
            sleep: t.Callable[[float], None] = time.sleep, clock: t.Callable[[], float] = time.monotonic,
            interval: float = 2.0) -> dict:
    """Plan, guard, delete and (optionally) wait. Returns the module result (changed, deleted, left_alone, audit)."""
    validate(opts)
    now = now or dt.datetime.now(dt.timezone.utc)
    pods = api.list_pods(label_selector=opts.label_selector)
    selection = select(pods, opts, now)
    guard(selection, opts.max_pods)
    deleted: list[dict] = []
    audit: list[dict] = []
    for item in selection.selected:
        outcome = "would delete" if check_mode else api.delete_pod(
            item["namespace"], item["name"], item["uid"], 0 if item["force"] else None)
        entry = {**item, "outcome": outcome}
        deleted.append(entry)
        if outcome in ("deleted", "would delete"):
            before = {"uid": item["uid"], "phase": item["phase"], "reason": item["reason"], "restarts": item["restarts"],
                      "node": item["node"]}
            audit.append(record("delete_pod", f"{item['namespace']}/{item['name']}", before,
                                {"deleted": True, "grace_period_seconds": 0 if item["force"] else "default"},
                                why=item["why"], owner=item["owner"]))
    changed = any(d["outcome"] in ("deleted", "would delete") for d in deleted)
    result: dict[str, t.Any] = {
        "changed": changed,
        "deleted": deleted,
        "left_alone": selection.left_alone,
        "matched": len(selection.selected),
        "audit": audit,
        "replacements": {},
        "diff": {"before": {"abnormal_pods": sorted(f"{d['namespace']}/{d['name']}" for d in deleted)},
                 "after": {"abnormal_pods": sorted(f"{d['namespace']}/{d['name']}" for d in deleted
                                                   if d["outcome"] not in ("deleted", "would delete"))}},
    }
    done = [d for d in deleted if d["outcome"] == "deleted"]
    if opts.wait and done and not check_mode:
        targets = _owner_targets(api, done, pods)
        started = clock()

        def settled() -> dict | None:
            state = _replacement_state(api.list_pods(label_selector=opts.label_selector), done, targets)
            return state if state["done"] else None

        try:
            state = wait_until(settled, opts.wait_timeout, interval, "replacement pods not Running and Ready",
                               clock=clock, sleep=sleep)
        except WaitTimeout as exc:
            last = _replacement_state(api.list_pods(label_selector=opts.label_selector), done, targets)
            result["replacements"] = {"done": False, "owners": targets, **last}
            what = "; ".join([f"{k} {v}" for k, v in last["short"].items()]
                             + [f"{p} still present" for p in last["still_present"]])
            raise CleanupWaitFailed(f"deleted {len(done)} pods but after {opts.wait_timeout}s their replacements are not "
                                    f"all Running and Ready: {what or exc}", result) from exc
        result["replacements"] = {"done": True, "owners": targets, "ready": state["ready"],
                                  "seconds": round(clock() - started, 1)}
    return result


class CleanupWaitFailed(Exception):
    """Pods were deleted (audited) but the replacements did not come; carries the partial result."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result
