# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upstream_info
short_description: Check that every address nginx forwards to accepts connections
version_added: 1.1.0
description:
  - The handbook's incident step "check nginx's forwarding rules". Reads the whole configuration with C(nginx -T),
    collects every C(proxy_pass), C(grpc_pass), C(fastcgi_pass) and C(uwsgi_pass) target - expanding an C(upstream)
    block into its C(server) lines - and connects to each address (TCP, or the unix socket) from this host.
  - One C(middleware.nginx_upstream) finding per address - ok when it accepts a connection, critical when not,
    unknown when the target is built from a variable at request time; each names where it is used.
  - C(nginx -T) failing (a broken configuration) is critical; nginx not installed is unknown.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  nginx_bin:
    description: The nginx binary (a bare name is looked up in E(PATH) and C(/usr/sbin)).
    type: str
    default: nginx
  config_file:
    description: Main configuration file, when not the compiled-in default.
    type: path
  timeout:
    description: Seconds to wait for each connection.
    type: float
    default: 3
  command_timeout:
    description: Seconds C(nginx -T) may take.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Check nginx's forwarding targets
  kubeops.runbook.nginx_upstream_info:
  register: upstreams
"""

RETURN = r"""
findings:
  description: C(middleware.nginx_upstream) findings of the one model, one per target address.
  returned: always
  type: list
  elements: dict
  sample:
    - id: middleware.nginx_upstream
      category: middleware
      target: 198.18.0.11:6443
      host: mw1
      status: ok
      summary: "198.18.0.11:6443 accepts connections (1 ms; proxy_pass https://198.18.0.11:6443 in server 80 default_server developer-center location /)"
      details: {}
targets:
  description: The targets found, with where they are used and the probe result.
  returned: always
  type: list
  elements: dict
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import CmdResult
from ansible_collections.kubeops.runbook.plugins.module_utils._nginx_upstream import check, default_probe


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "nginx_bin": {"type": "str", "default": "nginx"},
            "config_file": {"type": "path"},
            "timeout": {"type": "float", "default": 3},
            "command_timeout": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["timeout"] <= 0 or p["command_timeout"] <= 0:
        module.fail_json(msg=f"timeout and command_timeout must be greater than zero, got {p['timeout']} and {p['command_timeout']}")

    def run(argv: list[str], env: dict | None) -> CmdResult:
        return CmdResult(*module.run_command(argv, environ_update=env or {}))

    def which(name: str) -> str | None:
        return module.get_bin_path(name, opt_dirs=["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"])

    findings, targets = check(run, which, p["nginx_bin"], p["config_file"], p["timeout"], default_probe,
                              platform.node(), p["command_timeout"])
    module.exit_json(changed=False, findings=findings, targets=targets)


if __name__ == "__main__":
    main()
