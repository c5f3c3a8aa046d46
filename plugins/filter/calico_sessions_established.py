# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: calico_sessions_established
short_description: Whether a calico host's BGP sessions are all Established
version_added: 1.1.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - True when BIRD (or calicoctl) answered and every BGP session in a M(kubeops.runbook.calico_bgp_info) result is
    Established - except the sessions with O(ignore_hosts), peers known to be broken themselves.
  - The incident runbook waits on it after restarting a node's calico-node pod.
options:
  _input:
    description: The C(calico_bgp_info) result of one host.
    type: dict
    required: true
  peer_hosts:
    description: Peer address to inventory host, the same mapping given to C(calico_bgp_info).
    type: dict
    default: {}
  ignore_hosts:
    description: Inventory hosts whose sessions do not count.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Wait until node1's BGP sessions are Established
  kubeops.runbook.calico_bgp_info:
    host_name: node1
  register: bgp
  until: bgp | kubeops.runbook.calico_sessions_established
  retries: 24
  delay: 5
"""

RETURN = r"""
_value:
  description: Whether every counted session is Established (false when BIRD does not answer or there is no session).
  type: bool
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._calico_restart import sessions_established


def calico_sessions_established(result: Mapping, peer_hosts: Mapping | None = None, ignore_hosts: list | None = None) -> bool:
    if not isinstance(result, Mapping):
        raise AnsibleFilterError(f"calico_sessions_established: expects a calico_bgp_info result, got {type(result).__name__}")
    return sessions_established(dict(result), dict(peer_hosts or {}), list(ignore_hosts or []))


class FilterModule:
    def filters(self) -> dict:
        return {"calico_sessions_established": calico_sessions_established}
