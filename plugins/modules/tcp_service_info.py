# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tcp_service_info
short_description: TCP probe of a service (the license server), with an optional expected banner, as an inspection finding
version_added: 1.0.0
description:
  - Connects from the host to O(address):O(port) within O(timeout) and, when O(banner) is set, reads up to
    O(banner_bytes) bytes (stopping early once the banner arrived). Returns one C(middleware.<name>) finding.
  - V(critical) when the connection is refused, times out or the address is unreachable; V(warning) when the
    service accepts the connection but does not send O(banner).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  name:
    description: Name of the service; the finding id is C(middleware.<name>) and its target C(<name>:<port>).
    type: str
    default: license_server
  address:
    description: Address to connect to, as seen from the inspected host.
    type: str
    default: 127.0.0.1
  port:
    description: TCP port of the service.
    type: int
    required: true
  timeout:
    description: Seconds allowed for connecting and, with O(banner), for receiving it.
    type: float
    default: 5
  banner:
    description: Text the service must send after the connection is accepted (matched anywhere in what was read).
    type: str
  banner_bytes:
    description: At most this many bytes are read when looking for O(banner).
    type: int
    default: 256
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
"""

EXAMPLES = r"""
- name: Check the license server
  kubeops.runbook.tcp_service_info:
    port: "{{ kubeops_license_server_port }}"
    banner: "{{ kubeops_license_server_banner | default(omit) }}"
  register: license_server

- name: Plain TCP check of another service
  kubeops.runbook.tcp_service_info:
    name: zookeeper
    port: 2181
    timeout: 2
"""

RETURN = r"""
findings:
  description: One C(middleware.<name>) finding.
  returned: always
  type: list
  elements: dict
  sample:
    - id: middleware.license_server
      category: middleware
      target: "license_server:7788"
      host: mw1
      status: critical
      summary: "127.0.0.1:7788: connection refused"
      details: {address: 127.0.0.1, port: 7788, connected: false, elapsed_ms: 0, error: connection refused}
probe:
  description: Result of the probe.
  returned: always
  type: dict
  sample: {connected: true, error: null, banner: "LICENSE-SERVER READY", elapsed_ms: 2}
"""

import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_middleware.TCP_ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _middleware.inspect_tcp(module, module.params, module.params["host"] or platform.node())
    except _middleware.MiddlewareError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
