# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_info
short_description: Health of a redis server through redis-cli (PING and INFO), as an inspection finding
version_added: 1.0.0
description:
  - Runs C(redis-cli PING) and C(redis-cli INFO) on the host against O(login_host):O(login_port) and returns one
    C(middleware.redis) finding.
  - V(critical) when redis does not answer PING (refused, timed out, authentication failed), when the last RDB
    background save or the AOF write failed, when a replica lost its master, or when memory or clients cross
    their critical thresholds. V(warning) for the warning thresholds, a role other than O(expected_role), or a
    password given to a server that has none.
  - V(unknown) when C(redis-cli) is not installed on the host (the check could not run).
  - The password is passed to C(redis-cli) in the C(REDISCLI_AUTH) environment variable, never on the command line,
    and is never returned.
  - When redis runs on the inspected host itself (O(login_host) is a loopback address), a second finding,
    C(middleware.redis_overcommit), reads C(/proc/sys/vm/overcommit_memory) and is V(warning) unless it is C(1), the
    value redis asks for (with C(0) or C(2) the fork of a background save or of a replica's full resync can fail
    under memory pressure, and redis then refuses writes). Its details carry the fix. redis logs the same advice
    at start-up (C(WARNING Memory overcommit must be enabled!)); the middleware inspection's log scan leaves that
    line out, so the problem is reported once.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  login_host:
    description: Address redis listens on, as seen from the inspected host.
    type: str
    default: 127.0.0.1
  login_port:
    description: Port of redis.
    type: int
    default: 6379
  login_password:
    description: Password (C(requirepass)) of redis; omit when redis has none.
    type: str
  redis_cli:
    description: Name or path of the redis client.
    type: str
    default: redis-cli
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
  memory_warning_percent:
    description: C(used_memory) at or above this percentage of C(maxmemory) is a V(warning). Ignored when C(maxmemory) is 0 (no limit).
    type: float
    default: 80
  memory_critical_percent:
    description: C(used_memory) at or above this percentage of C(maxmemory) is V(critical).
    type: float
    default: 90
  clients_warning:
    description: This many C(connected_clients) or more is a V(warning); unset to disable.
    type: int
    default: 1000
  clients_critical:
    description: This many C(connected_clients) or more is V(critical); unset to disable.
    type: int
  expected_role:
    description: Role redis should have; another role is a V(warning). Unset to accept any role.
    type: str
    choices: [master, replica, slave]
  command_timeout:
    description: Seconds each C(redis-cli) call may take (enforced with C(timeout) when the host has it).
    type: int
    default: 30
  check_overcommit:
    version_added: 2.0.0
    description:
      - Report C(middleware.redis_overcommit) from the host's C(vm.overcommit_memory) when O(login_host) is a
        loopback address (redis on this host). A redis on another host is not judged by this host's setting.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Check redis
  kubeops.runbook.redis_info:
    login_port: "{{ kubeops_redis_port }}"
    login_password: "{{ kubeops_redis_password | default(omit) }}"
  register: redis

- name: A replica with stricter memory thresholds
  kubeops.runbook.redis_info:
    login_port: 30001
    expected_role: replica
    memory_warning_percent: 70
    memory_critical_percent: 85
"""

RETURN = r"""
findings:
  description:
    - One C(middleware.redis) finding; its target is C(redis:<port>).
    - And, for a redis on this host, C(middleware.redis_overcommit) with target C(vm.overcommit_memory).
  returned: always
  type: list
  elements: dict
  sample:
    - id: middleware.redis
      category: middleware
      target: "redis:6379"
      host: mw1
      status: critical
      summary: "not reachable: Could not connect to Redis at 127.0.0.1:6379: Connection refused"
      details: {address: "127.0.0.1:6379", ping: "not reachable: ..."}
redis:
  description: Facts read from redis (empty values when redis did not answer).
  returned: always
  type: dict
  sample:
    address: "127.0.0.1:6379"
    ping: PONG
    version: 7.0.15
    role: master
    used_memory: 1013512
    used_memory_human: 989.76K
    maxmemory: 0
    connected_clients: 1
    rdb_last_bgsave_status: ok
    aof_enabled: false
"""

import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_redis
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import MiddlewareError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_middleware_redis.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _middleware_redis.inspect(module, module.params, module.params["host"] or platform.node())
    except MiddlewareError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
