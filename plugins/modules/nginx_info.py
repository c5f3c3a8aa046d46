# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_info
short_description: Health of nginx (master process, configuration test, HTTP probe), as an inspection finding
version_added: 1.0.0
description:
  - Looks for the nginx master process (through O(pid_file), else by scanning C(/proc)), runs C(nginx -T) (the
    configuration test of C(nginx -t), which also prints the configuration) and, when O(probe_url) is set, sends
    one HTTP GET to it. Returns one C(middleware.nginx) finding.
  - Returns the log files the configuration declares (every C(error_log) and C(access_log) of every block), ready to
    pass to M(kubeops.runbook.log_scan), so the logs scanned are the ones this nginx writes. A variable in a path
    (C(tomcat_access.$logdate.log)) becomes a C(*) glob.
  - V(critical) when the master process is not running, when C(nginx -t) reports a configuration error (the
    summary carries the error line, for example C(unknown directive "locaton" in /etc/nginx/conf.d/x.conf:2)),
    or when the probe gets no answer or a status code outside O(expected_status).
  - V(warning) when C(nginx -t) passes with warnings. V(unknown) when the nginx binary is missing or C(nginx -t)
    cannot read its files (run as root).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  nginx_bin:
    description: Name or path of the nginx binary.
    type: str
    default: nginx
  config_file:
    description: Configuration file to test (C(nginx -T -c)); the binary's default when unset.
    type: path
  pid_file:
    description: Pid file of the nginx master.
    type: path
    default: /run/nginx.pid
  probe_url:
    description: URL to GET (C(kubeops_nginx_probe_url)); no HTTP probe when unset. Redirects are not followed.
    type: str
  expected_status:
    description: HTTP status codes of a healthy probe.
    type: list
    elements: int
    default: [200]
  probe_timeout:
    description: Seconds the HTTP probe may take.
    type: float
    default: 5
  validate_certs:
    description: Verify the TLS certificate of an https O(probe_url).
    type: bool
    default: true
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
  command_timeout:
    description: Seconds C(nginx -T) may take (enforced with C(timeout) when the host has it).
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Check nginx and probe its health endpoint
  kubeops.runbook.nginx_info:
    probe_url: "{{ kubeops_nginx_probe_url }}"
  register: nginx

- name: Accept a redirect from the portal page
  kubeops.runbook.nginx_info:
    probe_url: http://127.0.0.1/
    expected_status: [200, 301, 302]
"""

RETURN = r"""
findings:
  description: One C(middleware.nginx) finding (target C(nginx)).
  returned: always
  type: list
  elements: dict
  sample:
    - id: middleware.nginx
      category: middleware
      target: nginx
      host: mw1
      status: critical
      summary: 'nginx -t failed: unknown directive "locaton" in /etc/nginx/sites-enabled/default:2'
      details: {}
nginx:
  description: The facts behind the finding.
  returned: always
  type: dict
  contains:
    master:
      description: Where the master process was found (C(running), C(pid), C(source) V(pid_file) or V(proc), C(pid_file_problem)).
      type: dict
      returned: always
    config_test:
      description: Result of the configuration test (C(ok), C(errors), C(warnings)); null when nginx is not installed.
      type: dict
      returned: always
    logs:
      description:
        - The log files the configuration declares, as M(kubeops.runbook.log_scan) C(files) entries (C(path), C(name)
          V(nginx_<file name>)), in C(error) (C(error_log)) and C(access) (C(access_log)). Syslog, C(stderr),
          C(memory:), C(off) and devices are left out; a relative path is under nginx's C(--prefix).
      type: dict
      returned: when the configuration test passed
    probe:
      description: The HTTP probe (C(url), C(status), C(error), C(elapsed_ms), C(expected_status)).
      type: dict
      returned: when O(probe_url) is set
  sample:
    master: {running: true, pid: 77, source: pid_file, pid_file_problem: null}
    config_test: {ok: true, errors: [], warnings: []}
    logs:
      error: [{path: /data/iuap/logs/nginx/developer-center_error.log, name: nginx_developer_center_error}]
      access: [{path: "/data/iuap/logs/nginx/tomcat_access.*.log", name: nginx_tomcat_access}]
    probe: {url: "http://127.0.0.1/healthz", status: 200, error: null, elapsed_ms: 3, expected_status: [200]}
"""

import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_nginx
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import MiddlewareError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_middleware_nginx.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _middleware_nginx.inspect(module, module.params, module.params["host"] or platform.node())
    except MiddlewareError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
