# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Kubernetes Node an inventory host is. PRIVATE to the collection: not a public API.

An inventory name is not always the Node's name (a kubelet started with ``--hostname-override``, an FQDN, a
renamed host). ``node_for_host()`` finds the Node of a host from the Node list (``kubectl get nodes -o json``): by
name, else by its ``kubernetes.io/hostname`` label, else by an ``InternalIP`` among the host's addresses - and says
which, whether the Node is a control-plane node and whether it is cordoned now. More than one Node for one host is
ambiguous and said so, never guessed.
"""
from __future__ import annotations

import typing as t

HOSTNAME_LABEL = "kubernetes.io/hostname"
CONTROL_PLANE_KEYS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def _items(nodes: t.Any) -> list[dict]:
    if isinstance(nodes, t.Mapping):
        nodes = nodes.get("items")
    if not isinstance(nodes, list) or not all(isinstance(n, t.Mapping) for n in nodes):
        raise ValueError("expects the Node list (kubectl get nodes -o json)")
    return [dict(n) for n in nodes]


def _name(node: dict) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def internal_ips(node: dict) -> list[str]:
    return [str(a.get("address")) for a in (node.get("status") or {}).get("addresses") or []
            if isinstance(a, t.Mapping) and a.get("type") == "InternalIP" and a.get("address")]


def is_control_plane(node: dict) -> bool:
    """A control-plane role label, or a control-plane NoSchedule/NoExecute taint."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    taints = (node.get("spec") or {}).get("taints") or []
    return any(k in labels for k in CONTROL_PLANE_KEYS) or any(
        isinstance(x, t.Mapping) and x.get("key") in CONTROL_PLANE_KEYS for x in taints)


def node_for_host(nodes: t.Any, name: str, addresses: t.Iterable[str] = ()) -> dict:
    """{node, by, control_plane, unschedulable, ambiguous}: the Node of the host called ``name`` (its Node name, its
    hostname label, or an InternalIP among ``addresses``); ``node`` None when none is, ``ambiguous`` lists the Nodes
    when one criterion finds more than one."""
    items = _items(nodes)
    wanted = {str(a) for a in addresses or () if a}
    criteria = (
        ("name", lambda n: _name(n) == name),
        ("hostname_label", lambda n: ((n.get("metadata") or {}).get("labels") or {}).get(HOSTNAME_LABEL) == name),
        ("internal_ip", lambda n: bool(wanted & set(internal_ips(n)))),
    )
    for by, matches in criteria:
        found = [n for n in items if matches(n)]
        if len(found) > 1:
            return {"node": None, "by": by, "control_plane": False, "unschedulable": False,
                    "ambiguous": sorted(_name(n) for n in found)}
        if found:
            node = found[0]
            return {"node": _name(node), "by": by, "control_plane": is_control_plane(node),
                    "unschedulable": bool((node.get("spec") or {}).get("unschedulable")), "ambiguous": []}
    return {"node": None, "by": None, "control_plane": False, "unschedulable": False, "ambiguous": []}
