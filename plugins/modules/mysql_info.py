# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: mysql_info
short_description: Health of a MySQL or MariaDB server through mysqladmin, as an inspection finding
version_added: 1.0.0
description:
  - Runs C(mysqladmin ping status) on the host and returns one C(middleware.mysql) finding with uptime, connected
    threads and slow queries.
  - V(critical) when the server cannot be reached, when authentication fails (the summary says
    C(authentication failed for user ...)), or when the connected threads reach O(threads_critical).
    V(warning) for O(threads_warning) and O(slow_queries_warning).
  - V(unknown) when C(mysqladmin) is not installed on the host.
  - The credentials are written to a temporary option file (mode 0600) passed with C(--defaults-extra-file) and
    removed right after; the password never appears on a command line or in the result.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  login_user:
    description: Account to connect with (a monitoring account needs no privileges for C(status)).
    type: str
  login_password:
    description: Password of O(login_user).
    type: str
  login_host:
    description: Connect over TCP to this address; the local socket is used when unset.
    type: str
  login_port:
    description: TCP port, used with O(login_host).
    type: int
    default: 3306
  login_unix_socket:
    description: Socket file to connect through (wins over O(login_host)).
    type: path
  mysqladmin_bin:
    description: Name or path of C(mysqladmin) (C(mariadb-admin) works as well).
    type: str
    default: mysqladmin
  connect_timeout:
    description: Seconds to wait for the connection.
    type: int
    default: 10
  threads_warning:
    description: This many connected threads or more is a V(warning); unset to disable.
    type: int
    default: 100
  threads_critical:
    description: This many connected threads or more is V(critical); unset to disable.
    type: int
    default: 300
  slow_queries_warning:
    description: This many slow queries since the server started, or more, is a V(warning); unset (default) to disable.
    type: int
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
  command_timeout:
    description: Seconds C(mysqladmin) may take (enforced with C(timeout) when the host has it).
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Check the platform database
  kubeops.runbook.mysql_info:
    login_user: "{{ kubeops_mysql_user }}"
    login_password: "{{ kubeops_mysql_password }}"
  register: mysql

- name: Check a database on another port over TCP
  kubeops.runbook.mysql_info:
    login_user: monitor
    login_password: "{{ vault_mysql_monitor_password }}"
    login_host: 127.0.0.1
    login_port: 3307
    threads_warning: 500
    threads_critical: 900
"""

RETURN = r"""
findings:
  description: One C(middleware.mysql) finding; its target is C(mysql:local), C(mysql:<host>:<port>) or C(mysql:<socket>).
  returned: always
  type: list
  elements: dict
  sample:
    - id: middleware.mysql
      category: middleware
      target: "mysql:local"
      host: mw1
      status: critical
      summary: "authentication failed for user kubeops_monitor: the server is up but refused the credentials"
      details: {user: kubeops_monitor, alive: false}
mysql:
  description: The facts behind the finding (the numbers only when the server answered).
  returned: always
  type: dict
  sample:
    user: kubeops_monitor
    alive: true
    uptime_seconds: 2271
    threads: 1
    questions: 12
    slow_queries: 0
    opens: 33
    open_tables: 26
    queries_per_second_avg: 0.005
"""

import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_mysql
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import MiddlewareError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_middleware_mysql.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _middleware_mysql.inspect(module, module.params, module.params["host"] or platform.node())
    except MiddlewareError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
