# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: calico_bgp_info
short_description: Read calico's BGP sessions on a host and return findings
version_added: 1.0.0
description:
  - Runs C(calicoctl node status) when calicoctl is installed, else asks BIRD over calico's control socket
    (C(birdcl -s <socket> show protocols all)), the same data calicoctl reads (handbook seed 000 section 1.4 (9)).
  - Each BGP session not C(Established) is a critical C(calico.bgp_peer) finding on this host and, when
    O(peer_hosts) maps the peer address to an inventory host, a second one for the peer's host.
  - BIRD not answering on its socket is a critical C(calico.bird) finding; neither tool installed is C(unknown).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  socket:
    description: BIRD control socket calico's BIRD listens on.
    type: path
    default: /var/run/calico/bird.ctl
  birdcl_path:
    description: The C(birdcl) binary (a bare name is looked up in E(PATH)).
    type: str
    default: birdcl
  calicoctl_path:
    description:
      - The C(calicoctl) binary; used when found. Set to an empty string to always ask BIRD directly.
    type: str
    default: calicoctl
  host_name:
    description: Inventory name of this host, for the C(host) of findings (pass C(inventory_hostname)).
    type: str
    required: true
  local_address:
    description: This host's BGP address, named in the findings recorded for the peers' hosts.
    type: str
  peer_hosts:
    description: 'Peer address to inventory host name, for example C({"198.18.0.21": "node1"}).'
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Check the BGP mesh
  kubeops.runbook.calico_bgp_info:
    socket: "{{ kubeops_bird_socket }}"
    local_address: "{{ ansible_host }}"
    peer_hosts: "{{ dict(groups['calico'] | map('extract', hostvars, 'ansible_host') | zip(groups['calico'])) }}"
  register: bgp
"""

RETURN = r"""
findings:
  description: C(calico.bird) and C(calico.bgp_peer) findings of the one model.
  returned: always
  type: list
  elements: dict
  sample:
    - id: calico.bgp_peer
      category: calico
      target: 198.18.0.21
      host: master1
      status: critical
      summary: "BGP session with node1 (198.18.0.21) not Established: start Passive Received: Administrative shutdown"
      details: {}
peers:
  description: BGP sessions as read.
  returned: always
  type: list
  elements: dict
  contains:
    address: {description: Peer address., type: str}
    name: {description: BIRD protocol name or calicoctl peer type., type: str}
    state: {description: "Protocol state: up, start, ...", type: str}
    info: {description: BGP state and last error., type: str}
    since: {description: Time of the last state change., type: str}
    established: {description: Whether the session is Established., type: bool}
source:
  description: Where the state came from, C(calicoctl), C(birdcl) or C(none).
  returned: always
  type: str
  sample: birdcl
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _calico


def main() -> None:
    module = AnsibleModule(argument_spec=_calico.ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = _calico.inspect(module, module.params, module.params["host_name"])
    except _calico.CalicoError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
