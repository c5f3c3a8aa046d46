# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rabbitmq_info
short_description: Health of a RabbitMQ node through rabbitmq-diagnostics, as an inspection finding
version_added: 1.0.0
description:
  - Runs C(rabbitmq-diagnostics -q status --formatter json) on the host, one Erlang VM start, and returns one
    C(middleware.rabbitmq) finding from what the node reports (whether it answers, its resource alarms, listeners and
    file descriptors).
  - V(critical) when the node is not running, when a memory, disk or file descriptor alarm is raised (RabbitMQ
    blocks publishers then), when an expected listener (O(expected_listeners)) is missing, or when file descriptor
    usage crosses O(fd_critical_percent).
  - V(unknown) when C(rabbitmq-diagnostics) is not installed, or cannot authenticate to the node because it cannot
    read the Erlang cookie (run the task as root, C(become=true)).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  diagnostics_bin:
    description: Name or path of C(rabbitmq-diagnostics).
    type: str
    default: rabbitmq-diagnostics
  node:
    description: Node to inspect (C(-n)), for example V(rabbit@mw1); the local default node when unset.
    type: str
  expected_listeners:
    description: Listener protocols that must be present (as C(status) names them, for example V(amqp), V(http), V(clustering)).
    type: list
    elements: str
    default: [amqp]
  fd_warning_percent:
    description: File descriptor usage (percent of the limit) that is a V(warning).
    type: float
    default: 80
  fd_critical_percent:
    description: File descriptor usage (percent of the limit) that is V(critical).
    type: float
    default: 95
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
  command_timeout:
    description: Seconds each C(rabbitmq-diagnostics) call may take (enforced with C(timeout) when the host has it).
    type: int
    default: 60
notes:
  - The RabbitMQ management API is not used; C(rabbitmq-diagnostics) works without the management plugin.
"""

EXAMPLES = r"""
- name: Check the local RabbitMQ node
  kubeops.runbook.rabbitmq_info:
  become: true
  register: rabbitmq

- name: Check a named node and require the management listener
  kubeops.runbook.rabbitmq_info:
    node: rabbit1@mqnode1
    expected_listeners: [amqp, http]
"""

RETURN = r"""
findings:
  description: One C(middleware.rabbitmq) finding; its target is O(node), or C(rabbitmq) when O(node) is unset.
  returned: always
  type: list
  elements: dict
  sample:
    - id: middleware.rabbitmq
      category: middleware
      target: rabbitmq
      host: mw1
      status: critical
      summary: "resource alarm: memory (publishers are blocked)"
      details: {running: true, local_alarms: [memory]}
rabbitmq:
  description: The facts behind the finding (only C(node) and C(running) when the node is down).
  returned: always
  type: dict
  sample:
    node: null
    running: true
    local_alarms: []
    version: 3.10.8
    listeners: ["clustering:25672", "amqp:5672"]
    memory_used: 127242240
    memory_limit: 10110600806
    disk_free: 77582073856
    disk_free_limit: 50000000
    alarms: []
    file_descriptors_used: 2
    file_descriptors_limit: 19903
    file_descriptors_percent: 0.0
"""

import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_rabbitmq
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import MiddlewareError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_middleware_rabbitmq.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _middleware_rabbitmq.inspect(module, module.params, module.params["host"] or platform.node())
    except MiddlewareError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
