# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart calico-node on named nodes, one node at a time. PRIVATE to the collection: not a public API.

The handbook's last incident step: when ``calicoctl node status`` shows a BGP peer that is not up, delete that
node's calico-node pod (``kubectl delete pod -n kube-system calico-node-xxxxx``); its DaemonSet brings it back and
BIRD starts again inside it. This module does that for the nodes it is given, in order, waiting for each new
pod to be Running and Ready before the next node. Which nodes are broken is decided from the BGP state of every
calico host (``broken_nodes()``, pure) - not every node that merely *sees* a broken peer.
"""
from __future__ import annotations

import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until


class CalicoRestartError(ValueError):
    """Bad input or nothing to restart; the message is for an operator."""


class CalicoRestartRefused(CalicoRestartError):
    """A guard said no; nothing was deleted."""


class Options(t.NamedTuple):
    nodes: tuple[str, ...]
    namespace: str = "kube-system"
    label_selector: str = "k8s-app=calico-node"
    max_unavailable: int = 0
    wait: bool = True
    wait_timeout: int = 180


def validate(opts: Options) -> None:
    if not opts.nodes or any(not isinstance(n, str) or not n.strip() for n in opts.nodes):
        raise CalicoRestartError(f"nodes must name at least one node, got {list(opts.nodes)!r}")
    if len(set(opts.nodes)) != len(opts.nodes):
        raise CalicoRestartError(f"nodes lists a node twice: {list(opts.nodes)!r}")
    if "=" not in opts.label_selector:
        raise CalicoRestartError(f"label_selector must be key=value, got {opts.label_selector!r}")
    if opts.max_unavailable < 0:
        raise CalicoRestartError(f"max_unavailable must be 0 or more, got {opts.max_unavailable}")
    if opts.wait_timeout < 1:
        raise CalicoRestartError(f"wait_timeout must be at least 1 second, got {opts.wait_timeout}")


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


def restart(api: P.PodApi, opts: Options, check_mode: bool, sleep: t.Callable[[float], None] = time.sleep,
            clock: t.Callable[[], float] = time.monotonic, interval: float = 2.0) -> dict:
    """Delete each node's calico-node pod in turn and wait for its replacement. Returns the module result."""
    validate(opts)
    restarted: list[dict] = []
    audit: list[dict] = []
    for node in opts.nodes:
        pods = [p for p in api.list_pods(label_selector=opts.label_selector)
                if (p.get("metadata") or {}).get("namespace") == opts.namespace]
        old = pod_on_node(pods, node)
        if old is None:
            raise CalicoRestartError(f"no calico-node pod on node {node} (label {opts.label_selector} in {opts.namespace}); "
                                     "nothing to restart there", )
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
            continue
        meta = old.get("metadata") or {}
        outcome = api.delete_pod(meta.get("namespace"), meta.get("name"), P.uid(old))
        entry["outcome"] = {"deleted": "restarted", "gone": "already gone", "replaced": "already replaced"}[outcome]
        started = clock()
        new: dict | None = None
        if opts.wait:
            def replacement() -> dict | None:
                current = [p for p in api.list_pods(label_selector=opts.label_selector)
                           if (p.get("metadata") or {}).get("namespace") == opts.namespace]
                pod = pod_on_node(current, node)
                return pod if pod is not None and P.uid(pod) != P.uid(old) and P.ready(pod) else None

            try:
                new = wait_until(replacement, opts.wait_timeout, interval,
                                 f"no Ready calico-node pod replaced {P.key(old)} on {node}", clock=clock, sleep=sleep)
            except WaitTimeout as exc:
                entry.update(ready=False, seconds=round(clock() - started, 1))
                restarted.append(entry)
                audit.append(record("restart_calico_node", node, before, {"pod": None, "ready": False}, pod=P.key(old)))
                raise CalicoRestartWaitFailed(f"deleted {P.key(old)} on {node} but {exc}", restarted, audit) from exc
        entry.update(new_pod=P.key(new) if new else None, new_uid=P.uid(new) if new else None,
                     ready=bool(new) if opts.wait else None, seconds=round(clock() - started, 1))
        restarted.append(entry)
        audit.append(record("restart_calico_node", node, before,
                            {"pod": entry["new_pod"], "uid": entry["new_uid"], "ready": entry["ready"]}, pod=P.key(old)))
    return {"changed": bool(restarted), "restarted": restarted, "audit": audit,
            "diff": {"before": {"calico_node_pods": {e["node"]: e["old_pod"] for e in restarted}},
                     "after": {"calico_node_pods": {e["node"]: e["new_pod"] or "(replaced by its DaemonSet)"
                                                    for e in restarted}}}}


class CalicoRestartWaitFailed(Exception):
    """A pod was deleted (audited) but no Ready replacement came; carries what was done."""

    def __init__(self, message: str, restarted: list[dict], audit: list[dict]):
        super().__init__(message)
        self.result = {"changed": True, "restarted": restarted, "audit": audit}
