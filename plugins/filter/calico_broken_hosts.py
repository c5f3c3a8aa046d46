# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: calico_broken_hosts
short_description: The calico hosts whose BGP is broken, from every calico host's BGP state
version_added: 1.1.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Takes the M(kubeops.runbook.calico_bgp_info) result of every host of group C(calico) and names the hosts whose
    calico is broken - BIRD not answering, or every BGP session of the host down while its peers keep sessions up
    with others.
  - A host that only sees a broken peer as down is not broken itself, so restarting calico-node on the broken
    hosts alone repairs the mesh (the handbook restarts calico when C(calicoctl node status) shows a peer not up).
options:
  _input:
    description: Inventory host to its C(calico_bgp_info) result (a failed or unreachable result counts as BIRD not answering).
    type: dict
    required: true
  peer_hosts:
    description: Peer address to inventory host, the same mapping given to C(calico_bgp_info).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Which calico hosts need their calico-node restarted
  ansible.builtin.set_fact:
    broken: "{{ dict(groups['calico'] | zip(groups['calico'] | map('extract', hostvars, 'bgp'))) | kubeops.runbook.calico_broken_hosts(peer_hosts) }}"
"""

RETURN = r"""
_value:
  description: The broken hosts, sorted.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._calico_restart import bgp_state, broken_nodes


def calico_broken_hosts(results: Mapping, peer_hosts: Mapping | None = None) -> list[str]:
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(f"calico_broken_hosts: expects a dict of host to calico_bgp_info result, got {type(results).__name__}")
    if peer_hosts is not None and not isinstance(peer_hosts, Mapping):
        raise AnsibleFilterError(f"calico_broken_hosts: peer_hosts must be a dict, got {type(peer_hosts).__name__}")
    state = {str(host): bgp_state(dict(result) if isinstance(result, Mapping) else {"failed": True}, dict(peer_hosts or {}))
             for host, result in results.items()}
    return broken_nodes(state)


class FilterModule:
    def filters(self) -> dict:
        return {"calico_broken_hosts": calico_broken_hosts}
