# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Namespaces the remediations do not touch unless told so. PRIVATE to the collection: not a public API.

The cluster's own components live there (coredns, calico-kube-controllers, kube-proxy): deleting or scaling them
during an incident widens it. ``k8s_scale``, ``k8s_pod_cleanup`` and ``k8s_rebalance`` refuse a target in one of
these namespaces unless their ``allow_protected_namespace`` option is set; each takes the list as
``protected_namespaces`` (add e.g. ``calico-system`` or ``tigera-operator`` where the calico operator runs).
"""
from __future__ import annotations

import typing as t

PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def hits(namespaces: t.Iterable[str], protected: t.Collection[str] = PROTECTED_NAMESPACES,
         allowed: bool = False) -> list[str]:
    """The namespaces of ``namespaces`` that are protected (in order, once each); empty when ``allowed``."""
    if allowed:
        return []
    wanted = set(protected or ())
    return list(dict.fromkeys(ns for ns in namespaces if ns in wanted))


def refusal(what: str, namespaces: t.Sequence[str]) -> str:
    """One line: what is refused, and the option that allows it."""
    plural = "s" if len(namespaces) > 1 else ""
    return (f"{what} is in the protected namespace{plural} {', '.join(namespaces)}; refusing "
            "(set allow_protected_namespace=true if that is really meant)")
