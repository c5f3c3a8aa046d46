# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cause first: the findings that follow from a host that is down or a node that is NotReady. PRIVATE to the
collection, controller-only (the report step).

A host that is down makes a report of unrelated-looking criticals: its ``host.reachable``, its Node NotReady, the BGP
sessions of every other node to it, its etcd member, the etcd quorum warning, its pods. ``attribute`` finds the
roots and marks the findings that follow from them with ``caused_by: <root key>``; the report shows them under their
root. Nothing is removed or re-rated: the JSON keeps every finding with its status, and the counts count them all.

Roots, each with the names and addresses it is known by:

- a host that is down: ``host.reachable`` critical because the host never answered (``unreachable``) or stopped
  answering during the run (``lost``); a host on which a task failed answered and is no root. Known by its
  inventory name, its Node's name (the ``nodes.*`` and ``pods.*`` findings of the cluster checks carry both: the
  Node's name as target or ``details.node``, the inventory host as ``host``, mapped as ``k8s_node_for_host`` does)
  and its addresses (``ansible_host``, given by the caller).
- a Node NotReady (``nodes.ready`` critical) whose host is not down. Only the Node's own consequences follow from
  it (its other ``nodes.*`` findings, its pods); its host's services do not (a stopped kubelet is the cause of a
  NotReady node, not a consequence).

What follows from a host that is down (matched exactly on names and addresses, never on parts of a string):

- every finding not ok whose ``host`` is that host (its Node, its pods, its etcd member, what it could still report);
- ``calico.*`` findings naming it as the peer: ``details.address`` (or the target) one of its addresses,
  or ``details.peer_host`` its name;
- ``etcd.*`` findings naming its member: target its inventory or Node name, or a client/peer URL on its address;
- the ``etcd.quorum`` finding when every unhealthy member the quorum counts is a member that follows from the same
  root (members - healthy = the critical ``etcd.member`` findings, all of that root).

What follows from a Node NotReady (or the Node of a host that is down): ``nodes.*`` findings about that Node,
``pods.*`` findings of pods on it (``details.node``), and then:

- a workload's finding (``deployments.*``, ``statefulsets.*``, ``daemonsets.*``) when every pod of that workload that
  is not ok (``details.owner`` of the pod findings) follows from the same root, and they are exactly as many as the
  replicas the finding says are missing (desired - available, or - ready);
- a Service's ``services.endpoints`` when the pods not ok that its selector selects (``details.labels``) all follow
  from the same root.

A finding that names two roots, or none, stays where it is. The work is linear: one pass to index the roots' names
and addresses, one pass over the findings that are not ok, with set lookups.
"""
from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CRITICAL, OK, finding_key

DOWN_REASONS = ("unreachable", "lost")


def _url_host(value: t.Any) -> str | None:
    if not isinstance(value, str) or "://" not in value:
        return None
    try:
        return urlsplit(value).hostname
    except ValueError:
        return None


class _Roots:
    """The roots of a report and the names, Node names and addresses that point at each."""

    def __init__(self, findings: t.Sequence[dict], addresses: t.Mapping[str, t.Iterable[str]]):
        self.keys: dict[str, str] = {}            # root id (host or node:<name>) -> root finding key
        self.items: dict[str, dict] = {}          # root id -> root finding
        self.by_host: dict[str, str] = {}         # inventory host (down) -> root id
        self.by_name: dict[str, str] = {}         # inventory or Node name of a host that is down -> root id
        self.by_address: dict[str, str] = {}      # address of a host that is down -> root id
        self.by_node: dict[str, str] = {}         # Node name (NotReady, or of a host that is down) -> root id
        node_host: dict[str, str] = {}            # Node name -> inventory host, from the cluster checks
        not_ready: list[dict] = []
        for item in findings:
            fid, host, details = item["id"], item.get("host"), item.get("details") or {}
            if fid == "host.reachable" and item["status"] == CRITICAL and details.get("reason") in DOWN_REASONS:
                root = str(item["target"])
                self.keys[root], self.items[root] = finding_key(item), item
                self.by_host[root] = self.by_name[root] = root
            elif item["category"] == "nodes" and host and item["target"] != "cluster":
                node_host.setdefault(str(item["target"]), host)
            elif item["category"] == "pods" and host and isinstance(details.get("node"), str):
                node_host.setdefault(details["node"], host)
            if fid == "nodes.ready" and item["status"] == CRITICAL:
                not_ready.append(item)
        for node, host in node_host.items():
            if host in self.by_host:
                self.by_name.setdefault(node, host)
                self.by_node.setdefault(node, host)
        for host in self.by_host:
            for address in addresses.get(host) or ():
                self.by_address.setdefault(str(address), host)
        for item in not_ready:
            node = str(item["target"])
            if node in self.by_node or (item.get("host") or node) in self.by_host:
                continue      # the Node of a host that is down: it follows from the host
            root = f"node:{node}"
            self.keys[root], self.items[root] = finding_key(item), item
            self.by_node[node] = root

    def of(self, item: dict) -> str | None:
        """The root a finding follows from, None when none or more than one."""
        found: set[str] = set()
        fid, category, target = item["id"], item["category"], str(item["target"])
        host, details = item.get("host"), item.get("details") or {}
        if host in self.by_host:
            found.add(self.by_host[host])
        if category == "nodes" and target in self.by_node:
            found.add(self.by_node[target])
        if category == "pods" and details.get("node") in self.by_node:
            found.add(self.by_node[details["node"]])
        if category == "calico":
            for value in (details.get("address"), target if fid == "calico.bgp_peer" else None):
                if value in self.by_address:
                    found.add(self.by_address[value])
            if details.get("peer_host") in self.by_name:
                found.add(self.by_name[details["peer_host"]])
        if category == "etcd" and fid != "etcd.quorum":
            if target in self.by_name:
                found.add(self.by_name[target])
            for url in list(details.get("client_urls") or ()) + list(details.get("peer_urls") or ()):
                address = _url_host(url)
                if address in self.by_address:
                    found.add(self.by_address[address])
        return found.pop() if len(found) == 1 else None


WORKLOADS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


def _missing(details: t.Mapping) -> int | None:
    """Replicas a workload finding says are not there: desired - available (or - ready)."""
    have = details.get("available", details.get("ready"))
    try:
        return int(details.get("desired")) - int(have)
    except (TypeError, ValueError):
        return None


class _Pods:
    """The pods not ok of the report, by their workload and by namespace, each with the root it follows from."""

    def __init__(self) -> None:
        self.by_owner: dict[tuple[str, str], dict[str, set]] = {}   # (category, ns/name) -> {"roots", "pods"}
        self.by_namespace: dict[str, list[tuple[dict, str | None]]] = {}

    def add(self, item: dict, root: str | None) -> None:
        details = item.get("details") or {}
        namespace, _sep, name = str(item["target"]).partition("/")
        owner = details.get("owner")
        if isinstance(owner, str) and "/" in owner:
            kind, _sep, owner_name = owner.partition("/")
            if kind in WORKLOADS:
                entry = self.by_owner.setdefault((WORKLOADS[kind], f"{namespace}/{owner_name}"), {"roots": set(), "pods": set()})
                entry["roots"].add(root)
                entry["pods"].add(name)
        labels = details.get("labels")
        if isinstance(labels, t.Mapping):
            self.by_namespace.setdefault(namespace, []).append((labels, root))

    def workload_root(self, item: dict) -> str | None:
        """The root of a workload finding: every pod of the workload that is not ok follows from that one root,
        and they are as many as the replicas the finding says are missing."""
        entry = self.by_owner.get((item["category"], str(item["target"])))
        if not entry or len(entry["roots"]) != 1 or None in entry["roots"]:
            return None
        if _missing(item.get("details") or {}) != len(entry["pods"]):
            return None
        return next(iter(entry["roots"]))

    def service_root(self, item: dict) -> str | None:
        """The root of a Service's endpoints finding: the pods its selector selects that are not ok all follow from
        that one root (at least one)."""
        selector = (item.get("details") or {}).get("selector")
        if not isinstance(selector, t.Mapping) or not selector:
            return None
        namespace = str(item["target"]).partition("/")[0]
        roots = {root for labels, root in self.by_namespace.get(namespace, ())
                 if all(labels.get(k) == v for k, v in selector.items())}
        return next(iter(roots)) if len(roots) == 1 and None not in roots else None


def attribute(findings: t.Sequence[dict], addresses: t.Mapping[str, t.Iterable[str]] | None = None) -> list[dict]:
    """The findings, those that follow from a root marked ``caused_by: <root key>`` and each root marked
    ``consequences: <count>`` (copies; the order and every other field unchanged).

    ``addresses``: {inventory host: its addresses} (``ansible_host`` and any other), to recognise a host that is
    down in the BGP peers and etcd URLs of the others.
    """
    roots = _Roots(findings, addresses or {})
    if not roots.keys:
        return list(findings)
    root_keys = set(roots.keys.values())
    caused: dict[int, str] = {}
    etcd_members: dict[str | None, int] = {}
    later: list[int] = []      # what is decided from the others: the quorum, workloads and Services
    pods = _Pods()
    for index, item in enumerate(findings):
        if item["status"] == OK:
            continue
        key = finding_key(item)
        if key in root_keys:
            continue
        if item["id"] == "etcd.quorum" or item["category"] in WORKLOADS.values() or item["id"] == "services.endpoints":
            later.append(index)
            continue
        root = roots.of(item)
        if item["id"] == "etcd.member" and item["status"] == CRITICAL:
            etcd_members[root] = etcd_members.get(root, 0) + 1
        if item["category"] == "pods":
            pods.add(item, root)
        if root is not None:
            caused[index] = roots.keys[root]
    quorum = []
    for index in later:
        item = findings[index]
        if item["id"] == "etcd.quorum":
            quorum.append(index)
            continue
        root = pods.service_root(item) if item["id"] == "services.endpoints" else pods.workload_root(item)
        if root is not None:
            caused[index] = roots.keys[root]
    for index in quorum:
        details = findings[index].get("details") or {}
        try:
            unhealthy = int(details.get("members")) - int(details.get("healthy"))
        except (TypeError, ValueError):
            continue
        attributed = [root for root in etcd_members if root is not None]
        if unhealthy > 0 and len(etcd_members) == 1 and attributed and etcd_members[attributed[0]] == unhealthy:
            caused[index] = roots.keys[attributed[0]]
    counts: dict[str, int] = {}
    for key in caused.values():
        counts[key] = counts.get(key, 0) + 1
    result = []
    for index, item in enumerate(findings):
        if index in caused:
            item = dict(item, caused_by=caused[index])
        else:
            key = finding_key(item)
            if key in root_keys:
                item = dict(item, consequences=counts.get(key, 0))
        result.append(item)
    return result


def headline(findings: t.Sequence[dict]) -> list[dict]:
    """The roots of a report for its first lines, most consequences first: {key, item, consequences, what}."""
    out = []
    for item in findings:
        if "consequences" not in item:
            continue
        host = item.get("host") or item["target"]
        what = f"{host} is down" if item["id"] == "host.reachable" else f"Node {item['target']} is NotReady"
        out.append({"key": finding_key(item), "item": item, "consequences": int(item["consequences"]), "what": what})
    out.sort(key=lambda r: (-r["consequences"], r["key"]))
    return out


def mark(report: dict, addresses: t.Mapping[str, t.Iterable[str]] | None = None) -> dict:
    """The report with its findings attributed (``attribute``) and ``report["causes"]``: one entry per root that
    something follows from, most consequences first: {key, what, status, consequences}. The summary is unchanged:
    it counts every finding, consequences included."""
    findings = attribute(report["findings"], addresses)
    causes = [{"key": root["key"], "what": root["what"], "status": root["item"]["status"],
               "consequences": root["consequences"]} for root in headline(findings) if root["consequences"]]
    return dict(report, findings=findings, causes=causes)


def line(causes: t.Sequence[t.Mapping], limit: int = 3) -> str:
    """The report's first line about its causes: "node2 is down (7 findings follow from it)", the ``limit`` with
    most consequences, then how many more."""
    parts = [f"{c['what']} ({c['consequences']} finding{'s follow' if c['consequences'] != 1 else ' follows'} from it)"
             for c in causes[:limit]]
    if len(causes) > limit:
        parts.append(f"{len(causes) - limit} more cause{'s' if len(causes) - limit != 1 else ''}")
    return "; ".join(parts)
