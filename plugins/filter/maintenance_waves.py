# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_waves
short_description: Split hosts into the waves of a maintenance runbook
version_added: 2.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Splits a list of hosts into consecutive waves, in the order given, the way Ansible's C(serial) play keyword
    splits a play into batches.
  - O(serial) is a number of hosts per wave, or a percentage of all hosts (rounded down, at least one host).
  - Used by the C(kubeops.runbook.node_maintenance) role to cordon and drain nodes a few at a time.
options:
  _input:
    description: The hosts, in the order the waves take them.
    type: list
    elements: str
    required: true
  serial:
    description: Hosts per wave (V(2), V("2")) or a percentage of the hosts (V("25%")).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Waves of at most a quarter of the targeted nodes
  ansible.builtin.set_fact:
    waves: "{{ ansible_play_hosts_all | kubeops.runbook.maintenance_waves('25%') }}"
"""

RETURN = r"""
_value:
  description: The waves, each a list of hosts; empty when there is no host.
  type: list
  elements: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._maintenance import MaintenanceError, waves


def maintenance_waves(hosts: list, serial: object) -> list[list[str]]:
    try:
        return waves(hosts, serial)
    except MaintenanceError as exc:
        raise AnsibleFilterError(f"maintenance_waves: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"maintenance_waves": maintenance_waves}
