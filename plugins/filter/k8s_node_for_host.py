# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: k8s_node_for_host
short_description: The Kubernetes Node of an inventory host, found by name, hostname label or InternalIP
version_added: 2.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Takes the Node list (C(kubectl get nodes -o json)) and finds the Node of one host - the Node called O(name), else the
    Node whose C(kubernetes.io/hostname) label is O(name), else the Node with an C(InternalIP) among O(addresses).
  - Says how it was found, whether the Node is a control-plane node (role label or taint) and whether it is cordoned.
    Two Nodes for one criterion are returned as C(ambiguous), never guessed.
options:
  _input:
    description: The Node list, as C(kubectl get nodes -o json) prints it (or its C(items)).
    type: dict
    required: true
  name:
    description: The host's name (inventory name, or C(k8s_worker_name)).
    type: str
    required: true
  addresses:
    description: The host's addresses (C(ansible_host)).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Which Node is this worker
  ansible.builtin.set_fact:
    worker_node: "{{ nodes.stdout | from_json | kubeops.runbook.k8s_node_for_host(inventory_hostname, [ansible_host]) }}"
"""

RETURN = r"""
_value:
  description: C(node) (the Node's name, or V(null)), C(by) (V(name), V(hostname_label), V(internal_ip) or V(null)),
    C(control_plane), C(unschedulable) and C(ambiguous) (the Nodes one criterion found when it found several).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_nodes import node_for_host


def k8s_node_for_host(nodes, name, addresses=None) -> dict:
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError(f"k8s_node_for_host: name must be the host's name, got {name!r}")
    if isinstance(addresses, str):
        addresses = [addresses]
    try:
        return node_for_host(nodes, name, addresses or [])
    except ValueError as exc:
        raise AnsibleFilterError(f"k8s_node_for_host: {exc}, got {type(nodes).__name__}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"k8s_node_for_host": k8s_node_for_host}
