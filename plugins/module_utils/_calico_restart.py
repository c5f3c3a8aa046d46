# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart calico-node on named nodes, one node at a time. PRIVATE to the collection: not a public API.

The handbook's last incident step: when ``calicoctl node status`` shows a BGP peer that is not up, delete that
node's calico-node pod (``kubectl delete pod -n kube-system calico-node-xxxxx``); its DaemonSet brings it back and
BIRD starts again inside it. This module does that for the nodes it is given, in order, waiting for each new
pod to be Running and Ready before the next node. Which nodes are broken is decided from the BGP state of every
calico host (``broken_nodes()``, pure) - not every node that merely *sees* a broken peer.

The handbook's step also restarts calico-kube-controllers; ``kube_controllers_verdict()`` (pure) allows that only
when it is not Ready or its log shows datastore errors, and ``restart()`` does it after the nodes. Every restart is
audited as it is made: a failure after one (the API answering 503, a node without a calico-node pod) raises
``CalicoRestartFailed`` carrying what was restarted.
"""
from __future__ import annotations

import re
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until


class CalicoRestartError(ValueError):
    """Bad input or nothing to restart; the message is for an operator."""


class CalicoRestartRefused(CalicoRestartError):
    """A guard said no; nothing was deleted."""


KUBE_CONTROLLERS_LABEL = "k8s-app=calico-kube-controllers"
# An error line of calico-kube-controllers (its own "[ERROR]"/"[FATAL]" format, or logfmt/json levels) about its
# datastore: the Kubernetes API it stores everything in (unreachable, refusing, timing out, not authorising).
_ERROR_LINE = re.compile(r"\[(ERROR|FATAL|PANIC)\]|level=(error|fatal|panic)|\"level\":\s*\"(error|fatal|panic)\"", re.I)
_DATASTORE = re.compile(r"datastore|apiserver|clusterinformation|dial tcp|connection refused|i/o timeout|"
                        r"context deadline exceeded|unauthorized|forbidden|no route to host|tls handshake", re.I)


class Options(t.NamedTuple):
    nodes: tuple[str, ...]
    namespace: str = "kube-system"
    label_selector: str = "k8s-app=calico-node"
    max_unavailable: int = 0
    wait: bool = True
    wait_timeout: int = 180
    kube_controllers: bool = False
    kube_controllers_label_selector: str = KUBE_CONTROLLERS_LABEL
    log_lines: int = 200


def validate(opts: Options) -> None:
    if (not opts.nodes and not opts.kube_controllers) or any(not isinstance(n, str) or not n.strip() for n in opts.nodes):
        raise CalicoRestartError(f"nodes must name at least one node (or kube_controllers be set), got {list(opts.nodes)!r}")
    if len(set(opts.nodes)) != len(opts.nodes):
        raise CalicoRestartError(f"nodes lists a node twice: {list(opts.nodes)!r}")
    for name in ("label_selector", "kube_controllers_label_selector"):
        if "=" not in getattr(opts, name):
            raise CalicoRestartError(f"{name} must be key=value, got {getattr(opts, name)!r}")
    if opts.max_unavailable < 0:
        raise CalicoRestartError(f"max_unavailable must be 0 or more, got {opts.max_unavailable}")
    if opts.wait_timeout < 1:
        raise CalicoRestartError(f"wait_timeout must be at least 1 second, got {opts.wait_timeout}")
    if opts.log_lines < 1:
        raise CalicoRestartError(f"log_lines must be at least 1, got {opts.log_lines}")


def broken_nodes(bgp: dict[str, dict]) -> list[str]:
    """Hosts whose calico is broken, from every calico host's BGP state; sorted.

    ``bgp`` maps each calico host to ``{"answering": bool, "peers": [{"peer_host": name|None, "established": bool}]}``
    (the ``calico_bgp_info`` result: answering is False when BIRD does not answer on its socket). A host is broken
    when its BIRD does not answer, or when it has sessions and none of them is Established while its peers keep
    Established sessions with others. A host that only sees the broken one as down is not broken itself.
    """
    broken = {host for host, state in bgp.items() if not state.get("answering")}
    for host, state in bgp.items():
        if host in broken:
            continue
        peers = state.get("peers") or []
        if not peers or any(p.get("established") for p in peers):
            continue
        # every session of this host is down: it is the broken one unless each of its peers is broken already
        # (two hosts that only see each other down are equally suspect: the first is named; the caller reads the
        # BGP state again after restarting it and goes on only if the other is still down)
        others = [p.get("peer_host") for p in peers if p.get("peer_host")]
        if not others or any(o not in broken for o in others):
            broken.add(host)
    return sorted(broken)


def bgp_state(result: dict, peer_hosts: dict | None = None) -> dict:
    """``calico_bgp_info``'s result as ``broken_nodes()`` wants it: answering, and each peer's host and state.

    ``peer_hosts`` maps peer addresses to inventory hosts (the same mapping given to ``calico_bgp_info``).
    """
    peer_hosts = peer_hosts or {}
    findings = result.get("findings") or []
    bird_bad = any(f.get("id") == "calico.bird" and f.get("status") != "ok" for f in findings if isinstance(f, dict))
    answering = not result.get("failed") and not result.get("unreachable") and result.get("source") not in (None, "none") \
        and not bird_bad
    peers = [{"peer_host": p.get("peer_host") or peer_hosts.get(p.get("address")), "address": p.get("address"), "established": bool(p.get("established"))}
             for p in result.get("peers") or [] if isinstance(p, dict)]
    return {"answering": answering, "peers": peers}


def sessions_established(result: dict, peer_hosts: dict | None = None, ignore_hosts: t.Collection[str] = ()) -> bool:
    """BIRD answers and every BGP session of the host is Established, except those with ``ignore_hosts``
    (peers known to be broken themselves, which cannot be Established until they are repaired)."""
    state = bgp_state(result, peer_hosts)
    if not state["answering"] or not state["peers"]:
        return False
    return all(p["established"] for p in state["peers"] if p["peer_host"] not in set(ignore_hosts))


def pod_on_node(pods: list[dict], node: str) -> dict | None:
    """The calico-node pod of a node that is not being deleted (newest when several)."""
    mine = [p for p in pods if P.node_of(p) == node and not (p.get("metadata") or {}).get("deletionTimestamp")]
    mine.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    return mine[-1] if mine else None


def unavailable_elsewhere(pods: list[dict], node: str) -> list[str]:
    return sorted(P.key(p) for p in pods if P.node_of(p) != node and not P.ready(p))


def datastore_errors(log_text: str, limit: int = 3) -> list[str]:
    """The error lines of a calico-kube-controllers log that are about its datastore (at most ``limit``, last first)."""
    found = [line.strip() for line in log_text.splitlines() if _ERROR_LINE.search(line) and _DATASTORE.search(line)]
    return [line[:300] for line in reversed(found[-limit:])]


def kube_controllers_verdict(pod: dict | None, log_text: str | None, log_problem: str | None = None) -> tuple[bool, str]:
    """(restart?, why) for calico-kube-controllers: only when it is not Ready or its log shows datastore errors."""
    if pod is None:
        return False, "no calico-kube-controllers pod: nothing to restart"
    if not P.ready(pod):
        phase = (pod.get("status") or {}).get("phase") or "Unknown"
        return True, f"{P.key(pod)} is not Ready (phase {phase}, {P.restarts(pod)} restarts)"
    if log_text is None:
        return False, f"{P.key(pod)} is Ready and its log could not be read ({log_problem or 'no log'}): left alone"
    errors = datastore_errors(log_text)
    if errors:
        return True, f"{P.key(pod)} is Ready but its log shows datastore errors: {errors[0]}"
    return False, f"{P.key(pod)} is Ready and its last log lines show no datastore error: left alone"


def _in_namespace(api: P.PodApi, namespace: str, label_selector: str) -> list[dict]:
    return [p for p in api.list_pods(label_selector=label_selector) if (p.get("metadata") or {}).get("namespace") == namespace]


def _newest(pods: list[dict]) -> dict | None:
    alive = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    alive.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    return alive[-1] if alive else None


def restart(api: P.PodApi, opts: Options, check_mode: bool, sleep: t.Callable[[float], None] = time.sleep,
            clock: t.Callable[[], float] = time.monotonic, interval: float = 2.0) -> dict:
    """Delete each node's calico-node pod in turn and wait for its replacement; then calico-kube-controllers if asked
    and needed. Returns the module result; CalicoRestartFailed (with what was done) when a step fails after a change."""
    validate(opts)
    restarted: list[dict] = []
    audit: list[dict] = []
    result: dict[str, t.Any] = {"changed": False, "restarted": restarted, "audit": audit}
    step = ""
    try:
        for node in opts.nodes:
            step = f"calico-node on {node}"
            _restart_node(api, opts, node, check_mode, restarted, audit, sleep, clock, interval)
        if opts.kube_controllers:
            step = "calico-kube-controllers"
            _restart_kube_controllers(api, opts, check_mode, audit, result, sleep, clock, interval)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # anything after a restart keeps its record
        if check_mode or not audit:     # nothing was deleted: the error as it is
            raise
        if isinstance(exc, CalicoRestartFailed):   # a wait that timed out: it says what it deleted
            exc.result = CalicoRestartFailed(str(exc), restarted, audit, result.get("kube_controllers")).result
            raise
        raise CalicoRestartFailed(f"restarted {', '.join(a['target'] for a in audit)} (audited), then {step} failed: "
                                  f"{exc}", restarted, audit, result.get("kube_controllers")) from exc
    kc = result.get("kube_controllers") or {}
    result["changed"] = bool(restarted) or kc.get("outcome") in ("restarted", "would restart")
    result["diff"] = {"before": {"calico_node_pods": {e["node"]: e["old_pod"] for e in restarted}},
                      "after": {"calico_node_pods": {e["node"]: e["new_pod"] or "(replaced by its DaemonSet)"
                                                     for e in restarted}}}
    if kc.get("outcome") in ("restarted", "would restart"):
        result["diff"]["before"]["calico_kube_controllers"] = kc["old_pod"]
        result["diff"]["after"]["calico_kube_controllers"] = kc.get("new_pod") or "(replaced by its Deployment)"
    return result


def _restart_node(api: P.PodApi, opts: Options, node: str, check_mode: bool, restarted: list[dict], audit: list[dict],
                  sleep: t.Callable[[float], None], clock: t.Callable[[], float], interval: float) -> None:
    pods = _in_namespace(api, opts.namespace, opts.label_selector)
    old = pod_on_node(pods, node)
    if old is None:
        raise CalicoRestartError(f"no calico-node pod on node {node} (label {opts.label_selector} in {opts.namespace}); "
                                 "nothing to restart there")
    owner = P.controller_of(old)
    if not owner or owner.get("kind") != "DaemonSet":
        raise CalicoRestartRefused(f"{P.key(old)} on {node} is not managed by a DaemonSet; deleting it would not bring it "
                                   "back: refusing")
    down = unavailable_elsewhere(pods, node)
    if len(down) > opts.max_unavailable:
        raise CalicoRestartRefused(f"refusing to restart calico-node on {node}: {len(down)} calico-node pod(s) on other "
                                   f"nodes are not Ready ({', '.join(down[:5])}), more than max_unavailable="
                                   f"{opts.max_unavailable}; one node at a time")
    entry = {"node": node, "old_pod": P.key(old), "old_uid": P.uid(old), "new_pod": None, "new_uid": None,
             "ready": None, "seconds": None}
    before = {"pod": P.key(old), "uid": P.uid(old), "ready": P.ready(old), "restarts": P.restarts(old)}
    if check_mode:
        entry["outcome"] = "would restart"
        restarted.append(entry)
        audit.append(record("restart_calico_node", node, before, {"pod": "replaced by its DaemonSet"}, pod=P.key(old)))
        return

    def replacement() -> dict | None:
        pod = pod_on_node(_in_namespace(api, opts.namespace, opts.label_selector), node)
        return pod if pod is not None and P.uid(pod) != P.uid(old) and P.ready(pod) else None

    _replace(api, opts, old, entry, audit, record("restart_calico_node", node, before, {}, pod=P.key(old)), replacement,
             f"no Ready calico-node pod replaced {P.key(old)} on {node}", sleep, clock, interval, restarted)


def _replace(api: P.PodApi, opts: Options, old: dict, entry: dict, audit: list[dict], audit_record: dict,
             replacement: t.Callable[[], dict | None], missing: str, sleep: t.Callable[[float], None],
             clock: t.Callable[[], float], interval: float, done: list[dict] | None = None) -> None:
    """Delete ``old`` (its controller starts a new pod) - audited (and ``entry`` put in ``done``) as soon as it is
    deleted - and, with ``opts.wait``, wait until ``replacement()`` finds the Ready new pod; ``entry`` and the audit
    record say what happened."""
    meta = old.get("metadata") or {}
    outcome = api.delete_pod(meta.get("namespace"), meta.get("name"), P.uid(old))
    entry["outcome"] = {"deleted": "restarted", "gone": "already gone", "replaced": "already replaced"}[outcome]
    if done is not None:
        done.append(entry)
    audit_record["after"] = {"pod": None, "ready": None}
    audit.append(audit_record)
    started = clock()
    new: dict | None = None
    if opts.wait:
        try:
            new = wait_until(replacement, opts.wait_timeout, interval, missing, clock=clock, sleep=sleep)
        except WaitTimeout as exc:
            entry.update(ready=False, seconds=round(clock() - started, 1))
            audit_record["after"] = {"pod": None, "ready": False}
            raise CalicoRestartWaitFailed(f"deleted {P.key(old)} but {exc}", [], audit) from exc
    entry.update(new_pod=P.key(new) if new else None, new_uid=P.uid(new) if new else None,
                 ready=bool(new) if opts.wait else None, seconds=round(clock() - started, 1))
    audit_record["after"] = {"pod": entry["new_pod"], "uid": entry["new_uid"], "ready": entry["ready"]}


def _restart_kube_controllers(api: P.PodApi, opts: Options, check_mode: bool, audit: list[dict], result: dict,
                              sleep: t.Callable[[float], None], clock: t.Callable[[], float], interval: float) -> None:
    """calico-kube-controllers restarted (deleted, its Deployment replaces it) when it is not Ready or its log shows
    datastore errors; ``result["kube_controllers"]`` says what was done and why."""
    old = _newest(_in_namespace(api, opts.namespace, opts.kube_controllers_label_selector))
    log_text, problem = None, None
    if old is not None and P.ready(old):
        try:
            log_text = api.read_log(opts.namespace, (old.get("metadata") or {}).get("name"), opts.log_lines)
        except P.PodError as exc:
            problem = str(exc)
    needed, why = kube_controllers_verdict(old, log_text, problem)
    entry: dict[str, t.Any] = {"old_pod": P.key(old) if old else None, "old_uid": P.uid(old) if old else None,
                               "new_pod": None, "new_uid": None, "ready": None, "seconds": None, "why": why,
                               "outcome": "left alone"}
    result["kube_controllers"] = entry
    if not needed or old is None:
        return
    owner = P.controller_of(old)
    if not owner or owner.get("kind") != "ReplicaSet":
        raise CalicoRestartRefused(f"{P.key(old)} is not managed by a Deployment; deleting it would not bring it back: "
                                   "refusing")
    before = {"pod": P.key(old), "uid": P.uid(old), "ready": P.ready(old), "restarts": P.restarts(old)}
    if check_mode:
        entry["outcome"] = "would restart"
        audit.append(record("restart_calico_kube_controllers", P.key(old), before,
                            {"pod": "replaced by its Deployment"}, why=why))
        return

    def replacement() -> dict | None:
        pods = _in_namespace(api, opts.namespace, opts.kube_controllers_label_selector)
        return _newest([p for p in pods if P.uid(p) != P.uid(old) and P.ready(p)])

    _replace(api, opts, old, entry, audit, record("restart_calico_kube_controllers", P.key(old), before, {}, why=why),
             replacement, f"no Ready calico-kube-controllers pod replaced {P.key(old)}", sleep, clock, interval)


class CalicoRestartFailed(Exception):
    """A pod was deleted (audited) and then something failed; carries what was done (changed, restarted, audit)."""

    def __init__(self, message: str, restarted: list[dict], audit: list[dict], kube_controllers: dict | None = None):
        super().__init__(message)
        self.result = {"changed": True, "restarted": restarted, "audit": audit}
        if kube_controllers is not None:
            self.result["kube_controllers"] = kube_controllers


class CalicoRestartWaitFailed(CalicoRestartFailed):
    """A pod was deleted (audited) but no Ready replacement came; carries what was done."""
