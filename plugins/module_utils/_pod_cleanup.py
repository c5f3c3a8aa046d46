# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Abnormal-pod cleanup: delete pods in a bad state so that their controllers replace them.
PRIVATE to the collection: not a public API.

The handbook's incident step "delete the pods in an abnormal state" (``kubectl delete pod -n developer-center
<pod>``), made safe for the conditions of an incident - partitioned nodes, stuck pods, yesterday's leftovers:

- ``classify()`` names the abnormal state of a pod (CrashLoopBackOff, Error, Unknown, Evicted, Terminating past
  a grace, Pending past a threshold, image pull back-off) or None; a healthy pod (Running, Ready, not being
  deleted) is never abnormal, whatever else it shows.
- ``select()`` picks the pods to delete in the given namespaces; pods without a controller (nothing would
  recreate them) and static pods' mirrors are left alone, bare pods unless explicitly allowed. A stuck pod that
  must not run twice (a StatefulSet's, or one with a PersistentVolumeClaim) is force-deleted only once its node is
  gone (no Node object) or the operator named it in ``confirmed_dead_nodes``; until then it is reported as waiting
  for its node - the node may still run it, and a second copy would write the same data.
- ``guard()`` refuses the whole run when more pods that are or may be running match than ``max_pods`` (a mass
  failure is another incident); pods already dead (Failed, Evicted, Succeeded) disturb nothing when removed and
  have their own, larger budget ``max_dead_pods``.
- ``cleanup()`` reads each pod again right before deleting it and deletes it only if it is still the same pod in
  the same state (UID and resourceVersion preconditions; stuck Terminating pods with grace period 0), then
  optionally waits until the controllers have Running, Ready replacements - for the pods whose node is Ready; a
  delete on a node that does not answer completes only when it answers again, so those are reported as pending.
  Each delete is audited as it is made; a failure after one carries what was done (``CleanupFailed``). In check
  mode it stops after the plan. Namespaces of the cluster's own components are refused unless allowed.
"""
from __future__ import annotations

import datetime as dt
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils import _protected
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

REASONS = ("CrashLoopBackOff", "Error", "Unknown", "Evicted", "Terminating", "Pending", "ImagePullBackOff")
DEFAULT_REASONS = ("CrashLoopBackOff", "Error", "Unknown", "Evicted", "Terminating", "Pending")
PULL_REASONS = ("ImagePullBackOff", "ErrImagePull")
DEAD_PHASES = ("Failed", "Succeeded")
DONE = ("deleted", "would delete")


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
    max_dead_pods: int = 50
    confirmed_dead_nodes: tuple[str, ...] = ()
    protected_namespaces: tuple[str, ...] = _protected.PROTECTED_NAMESPACES
    allow_protected_namespace: bool = False


def validate(opts: Options) -> None:
    if not opts.namespaces or any(not ns or not isinstance(ns, str) for ns in opts.namespaces):
        raise CleanupError(f"namespaces must name at least one namespace, got {list(opts.namespaces)!r}")
    bad = [r for r in opts.reasons if r not in REASONS]
    if bad or not opts.reasons:
        raise CleanupError(f"reasons {bad or list(opts.reasons)!r} must be taken from {', '.join(REASONS)}")
    for name in ("max_pods", "max_dead_pods", "pending_seconds", "terminating_seconds", "min_age_seconds", "wait_timeout"):
        value = getattr(opts, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CleanupError(f"{name} must be 0 or more, got {value!r}")
    if any(not isinstance(n, str) or not n.strip() for n in opts.confirmed_dead_nodes):
        raise CleanupError(f"confirmed_dead_nodes must be node names, got {list(opts.confirmed_dead_nodes)!r}")
    protected = _protected.hits(opts.namespaces, opts.protected_namespaces, opts.allow_protected_namespace)
    if protected:
        raise CleanupRefused(_protected.refusal("pod cleanup of namespaces " + ", ".join(opts.namespaces), protected))


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
    selected: list[dict]     # pods to delete: summary + reason + why + force + dead
    left_alone: list[dict]   # abnormal pods the module will not delete, with the reason why not


def _node_state(node: str | None, nodes: t.Mapping[str, bool] | None) -> str:
    """'ready', 'not ready', 'gone' (no Node object) or 'unknown' (the nodes were not read) of a pod's node."""
    if node is None or nodes is None:
        return "unknown" if node else "none"
    if node not in nodes:
        return "gone"
    return "ready" if nodes[node] else "not ready"


def _force_blocked(item: dict, pod: dict, opts: Options, nodes: t.Mapping[str, bool] | None) -> str | None:
    """Why a force delete of this pod must wait for its node, or None when it may go ahead.

    Kubernetes' own rule for StatefulSet pods, applied to every pod with its own data (a PVC): delete with grace
    period 0 only when the node is known to be gone - its Node object deleted, or the operator confirms the machine
    is off (``confirmed_dead_nodes``). A kubelet that does not confirm may still run the pod.
    """
    why = P.stateful(pod)
    node = item["node"]
    if not item["force"] or not why or node is None:
        return None
    state = _node_state(node, nodes)
    if state == "gone" or node in opts.confirmed_dead_nodes:
        return None
    shown = {"ready": "Ready, its kubelet has not confirmed the deletion", "not ready": "not Ready",
             "unknown": "state not read"}[state]
    return (f"waiting for node {node} ({shown}): {why}; it is force-deleted only once node {node} is gone (its Node "
            "deleted) or named in confirmed_dead_nodes - until then the node may still run it, and a replacement "
            "would be a second copy writing the same data")


def select(pods: list[dict], opts: Options, now: dt.datetime, nodes: t.Mapping[str, bool] | None = None) -> Selection:
    """The abnormal pods of ``opts.namespaces`` with one of ``opts.reasons``, split into delete / leave alone.

    ``nodes`` maps node names to Ready (``P.node_states``); a pod's node missing from it is gone. None: not read.
    """
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
        item = {**P.summary(pod), "reason": reason, "why": why, "force": reason == "Terminating",
                "dead": (pod.get("status") or {}).get("phase") in DEAD_PHASES and reason != "Terminating"}
        age = _age((pod.get("metadata") or {}).get("creationTimestamp"), now)
        blocked = _force_blocked(item, pod, opts, nodes)
        if opts.min_age_seconds and age is not None and age < opts.min_age_seconds and reason != "Terminating":
            left.append({**item, "left_alone": f"younger than min_age_seconds={opts.min_age_seconds} ({int(age)}s)"})
        elif P.is_mirror(pod):
            left.append({**item, "left_alone": "mirror of a static pod: the kubelet recreates it, deleting achieves nothing"})
        elif item["owner"] is None and not opts.allow_bare_pods:
            left.append({**item, "left_alone": "no controller would recreate it (set allow_bare_pods to delete it)"})
        elif blocked:
            left.append({**item, "left_alone": blocked, "waiting_for_node": item["node"]})
        else:
            selected.append(item)
    return Selection(selected, left)


def _names(items: list[dict]) -> str:
    names = ", ".join(f"{p['namespace']}/{p['name']}" for p in items[:5])
    return names + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def guard(selection: Selection, max_pods: int, max_dead_pods: int | None = None) -> None:
    """Refuse the whole run when more pods that are or may be running match than ``max_pods`` (a mass failure is a
    different incident), or more dead pods (Failed, Evicted, Succeeded) than ``max_dead_pods``."""
    live = [p for p in selection.selected if not p.get("dead")]
    dead = [p for p in selection.selected if p.get("dead")]
    if max_dead_pods is None:   # one budget for all (as before dead pods had their own)
        live, dead = selection.selected, []
    if len(live) > max_pods:
        besides = (f"; {len(dead)} dead pods (Evicted, Failed) are counted against max_dead_pods={max_dead_pods} "
                   "instead" if dead else "")
        raise CleanupRefused(f"{len(live)} abnormal pods match, more than max_pods={max_pods}: refusing to delete any "
                             f"({_names(live)}){besides}; so many failing pods is a wider incident, look at nodes and "
                             "dependencies first, or raise max_pods deliberately")
    if max_dead_pods is not None and len(dead) > max_dead_pods:
        raise CleanupRefused(f"{len(dead)} dead pods (Evicted, Failed) match, more than max_dead_pods={max_dead_pods}: "
                             f"refusing to delete any ({_names(dead)}); raise max_dead_pods deliberately to clear them")


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


def recheck(item: dict, fresh: dict | None, opts: Options, now: dt.datetime) -> str | None:
    """Why the pod read again right before its delete must be left alone ('gone', 'replaced', ...), or None.

    The LIST the plan came from may be seconds old; a pod that recovered since, was replaced under the same name, or
    is already being deleted by someone else is not deleted.
    """
    if fresh is None:
        return "gone"
    if P.uid(fresh) != item["uid"]:
        return "replaced"
    if (fresh.get("metadata") or {}).get("deletionTimestamp") and not item["force"]:
        return "already being deleted"
    verdict = classify(fresh, now, opts.pending_seconds, opts.terminating_seconds)
    if verdict is None or verdict[0] not in opts.reasons or (verdict[0] == "Terminating") != item["force"]:
        return "recovered"
    return None


def _delete(api: P.PodApi, item: dict, opts: Options, now: dt.datetime) -> str:
    """Read the pod again, delete it if it is still the pod in the state judged; the outcome."""
    fresh = api.read_pod(item["namespace"], item["name"])
    skip = recheck(item, fresh, opts, now)
    if skip:
        return skip
    version = (fresh.get("metadata") or {}).get("resourceVersion") if fresh else None
    outcome = api.delete_pod(item["namespace"], item["name"], item["uid"], 0 if item["force"] else None,
                             resource_version=version)
    return "changed since read" if outcome == "changed" else outcome


def _pending(done: list[dict], nodes: t.Mapping[str, bool] | None) -> tuple[list[dict], list[dict]]:
    """(deleted pods to wait for, deleted pods not waited for with why): only pods whose node is Ready are waited for."""
    waited, pending = [], []
    for item in done:
        state = _node_state(item["node"], nodes)
        if state in ("ready", "unknown", "none"):
            waited.append(item)
        else:
            pending.append({"pod": f"{item['namespace']}/{item['name']}", "node": item["node"],
                            "why": f"node {item['node']} is {'gone' if state == 'gone' else 'not Ready'}: "
                                   "its deletion and replacement are not waited for (they complete when the node "
                                   "answers again, or its Node is deleted)"})
    return waited, pending


def cleanup(api: P.PodApi, opts: Options, check_mode: bool, now: dt.datetime | None = None,
            sleep: t.Callable[[float], None] = time.sleep, clock: t.Callable[[], float] = time.monotonic,
            interval: float = 2.0) -> dict:
    """Plan, guard, delete and (optionally) wait. Returns the module result (changed, deleted, left_alone, audit).

    Raises CleanupRefused / CleanupError / PodError when nothing was changed, CleanupFailed (with the partial
    result: what was deleted, audited) when something failed after a delete.
    """
    validate(opts)
    now = now or dt.datetime.now(dt.timezone.utc)
    pods = api.list_pods(label_selector=opts.label_selector)
    nodes = P.node_states(api.list_nodes())
    selection = select(pods, opts, now, nodes)
    guard(selection, opts.max_pods, opts.max_dead_pods)
    deleted: list[dict] = []
    audit: list[dict] = []
    waiting = [p for p in selection.left_alone if p.get("waiting_for_node")]
    result: dict[str, t.Any] = {
        "changed": False,
        "deleted": deleted,
        "left_alone": selection.left_alone,
        "waiting_for_node": [{"pod": f"{p['namespace']}/{p['name']}", "node": p["waiting_for_node"]} for p in waiting],
        "matched": len(selection.selected),
        "audit": audit,
        "replacements": {},
    }
    for item in selection.selected:
        try:
            outcome = "would delete" if check_mode else _delete(api, item, opts, now)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # anything after a delete keeps its record
            if not any(d["outcome"] == "deleted" for d in deleted):
                raise
            raise CleanupFailed(f"deleted {_names([d for d in deleted if d['outcome'] == 'deleted'])} (audited), then "
                                f"{item['namespace']}/{item['name']} failed: {exc}", _finish(result, deleted)) from exc
        entry = {**item, "outcome": outcome}
        deleted.append(entry)
        if outcome in DONE:
            before = {"uid": item["uid"], "phase": item["phase"], "reason": item["reason"], "restarts": item["restarts"],
                      "node": item["node"]}
            audit.append(record("delete_pod", f"{item['namespace']}/{item['name']}", before,
                                {"deleted": True, "grace_period_seconds": 0 if item["force"] else "default"},
                                why=item["why"], owner=item["owner"]))
    _finish(result, deleted)
    done = [d for d in deleted if d["outcome"] == "deleted"]
    if not (opts.wait and done and not check_mode):
        return result
    try:
        waited, pending = _pending(done, nodes)
        result["replacements"] = {"done": True, "pending": pending}
        if waited:
            _wait(api, opts, waited, pods, result, sleep, clock, interval)
    except CleanupFailed:
        raise
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the deletes are done: fail WITH their records
        raise CleanupFailed(f"deleted {_names(done)} (audited), then waiting for their replacements failed: {exc}",
                            result) from exc
    return result


def _finish(result: dict, deleted: list[dict]) -> dict:
    """changed and diff from what was (or would be) deleted so far."""
    result["changed"] = any(d["outcome"] in DONE for d in deleted)
    names = sorted(f"{d['namespace']}/{d['name']}" for d in deleted)
    result["diff"] = {"before": {"abnormal_pods": names},
                      "after": {"abnormal_pods": sorted(f"{d['namespace']}/{d['name']}" for d in deleted
                                                        if d["outcome"] not in DONE)}}
    return result


def _wait(api: P.PodApi, opts: Options, waited: list[dict], pods: list[dict], result: dict,
          sleep: t.Callable[[float], None], clock: t.Callable[[], float], interval: float) -> None:
    """Wait until the waited-for pods are gone and their owners have their Ready pods back; CleanupFailed if not."""
    targets = _owner_targets(api, waited, pods)
    started = clock()

    def settled() -> dict | None:
        state = _replacement_state(api.list_pods(label_selector=opts.label_selector), waited, targets)
        return state if state["done"] else None

    try:
        state = wait_until(settled, opts.wait_timeout, interval, "replacement pods not Running and Ready",
                           clock=clock, sleep=sleep)
    except WaitTimeout as exc:
        last = _replacement_state(api.list_pods(label_selector=opts.label_selector), waited, targets)
        result["replacements"].update({"done": False, "owners": targets, **last})
        what = "; ".join([f"{k} {v}" for k, v in last["short"].items()]
                         + [f"{p} still present" for p in last["still_present"]])
        raise CleanupWaitFailed(f"deleted {len(waited)} pods but after {opts.wait_timeout}s their replacements are not "
                                f"all Running and Ready: {what or exc}", result) from exc
    result["replacements"].update({"done": True, "owners": targets, "ready": state["ready"],
                                   "seconds": round(clock() - started, 1)})


class CleanupFailed(Exception):
    """Pods were deleted (audited) and then something failed; carries the partial result (changed, audit)."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


class CleanupWaitFailed(CleanupFailed):
    """Pods were deleted (audited) but the replacements did not come; carries the partial result."""
