# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: host_inspection_info
short_description: The host side of the daily inspection in one call (units, logs, disks, certificates, middleware, BGP, etcd)
version_added: 2.0.0
description:
  - Runs, in one Python process on the host, every check of O(checks) one after the other and returns all their
    findings - one SSH round trip and one module start per host instead of one per check.
  - Each check is the check of a single-purpose module, with that module's options and the same code
    (M(kubeops.runbook.systemd_unit_info), M(kubeops.runbook.log_scan), M(kubeops.runbook.disk_usage_info),
    M(kubeops.runbook.cert_expiry_info), M(kubeops.runbook.host_hygiene_info), M(kubeops.runbook.nginx_info),
    M(kubeops.runbook.redis_info), M(kubeops.runbook.rabbitmq_info), M(kubeops.runbook.mysql_info),
    M(kubeops.runbook.tcp_service_info), M(kubeops.runbook.calico_bgp_info), M(kubeops.runbook.etcd_cluster_info),
    M(kubeops.runbook.etcd_backup_info)); the
    same options give the same findings either way.
  - V(middleware_log_scan) is M(kubeops.runbook.log_scan) of the given C(files) after the log files the
    configuration of nginx declares, as found by an V(nginx_info) check earlier in the same call (C(error_log)
    files, and with C(nginx_access_logs) the C(access_log) files as C(kind=access)); C(nginx_error_logs) and
    C(nginx_access_logs) default to V(true).
  - V(middleware_cert_expiry) (since 2.0.0) is M(kubeops.runbook.cert_expiry_info) of the given C(endpoints) after
    the TLS listeners (C(listen ... ssl)) of the configuration of nginx, as found by an V(nginx_info) check earlier
    in the same call; C(nginx_tls) (default V(true)) adds them.
  - A check whose options are invalid, that fails as its module would fail, or that crashes becomes V(unknown)
    findings for what it is about (the summary says why it could not run); the host's other checks still run.
  - Every finding is labelled with O(host_name), except those V(calico_bgp_info) labels itself (the peer's end of a
    broken BGP session is reported for the peer's host) and those of V(etcd_cluster_info), which are the cluster's
    (unlabelled unless they name a member). The action plugin records them in the host fact
    C(kubeops_findings) as the other inspection modules do, and sets the fact C(kubeops_inspection_done). When the
    host cannot be reached the task is unreachable (with C(ignore_unreachable), the report makes it a critical
    C(host.reachable) finding); when the module cannot run at all every check becomes V(unknown).
  - Secret options of the checks (O(checks[].options) that their module declares C(no_log), such as C(login_password))
    are moved by the action into O(secrets), which is C(no_log), so they are masked in the module's output and
    never logged on the host.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
options:
  checks:
    description:
      - The checks to run, in this order.
      - When the task gives none (since 2.0.0), the action builds the host's checks from the inspection's settings,
        as the host_inspection role's C(tasks/inspect.yml) runs them - the host's groups and the variables of the
        host_inspection role (C(host_inspection_*)), and with C(host_inspection_middleware), C(host_inspection_calico)
        and C(host_inspection_etcd) those of the middleware_inspection role (C(kubeops_nginx_*), C(kubeops_redis_*),
        ...) and the cluster_inspection role (C(cluster_inspection_*)). A setting those checks need that is
        undefined fails the task with a message naming it.
    type: list
    elements: dict
    suboptions:
      check:
        description:
          - Which check; the name of the single-purpose module that runs it alone, or V(middleware_log_scan),
            V(middleware_cert_expiry) or V(component_versions).
          - V(component_versions) (since 2.0.0) reads the versions of kube-proxy (C(kube-proxy --version)) and kubectl
            (C(kubectl version --client)) installed on the host, options C(components) (V(kube-proxy), V(kubectl)),
            C(kube_proxy), C(kubectl) (names or paths) and C(bin_dirs) (searched before PATH); one V(ok)
            C(versions.host) finding with them in its details, which M(kubeops.runbook.version_skew_info) compares
            across the fleet.
        type: str
        required: true
        choices: [systemd_unit_info, log_scan, disk_usage_info, cert_expiry_info, host_hygiene_info, nginx_info,
                  redis_info, rabbitmq_info, mysql_info, tcp_service_info, calico_bgp_info, etcd_cluster_info,
                  component_versions, etcd_backup_info, middleware_log_scan, middleware_cert_expiry]
      options:
        description:
          - The options of the check, as its single-purpose module takes them (without its deprecated C(host)).
          - State files (C(state_file) of V(systemd_unit_info) and V(log_scan)) are written outside check mode only.
        type: dict
        default: {}
  host_name:
    description: Host name put in the findings. The action passes the inventory name of the host.
    type: str
  secrets:
    description:
      - Secret options of the checks, by the index of the check in O(checks) (V("0"), V("1"), ...), merged into its
        options. The action fills it from O(checks); do not set it yourself.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details:
      - Changes nothing it inspects. Outside check mode the unit and log checks update their own state files on the
        host (the journal window, the log offsets); in check mode they read them and leave them alone.
  diff_mode:
    support: N/A
    details:
      - This action does not modify what it inspects.
  idempotent:
    support: full
    details:
      - The findings of two runs in a row differ only by what happened in between (the windows move on).
notes:
  - To add a check, see the registry in C(plugins/module_utils/_host_inspection.py) and docs/architecture.md.
"""

EXAMPLES = r"""
- name: Units, the messages log and disks of a node in one call
  kubeops.runbook.host_inspection_info:
    checks:
      - check: systemd_unit_info
        options: {units: [kubelet, kube-proxy, containerd], category: node_services}
      - check: log_scan
        options: {files: [{path: /var/log/messages, name: messages}]}
      - check: disk_usage_info
        options: {space_warning: 80, space_critical: 90}

- name: nginx and its logs (what its configuration declares) on the nginx host
  kubeops.runbook.host_inspection_info:
    checks:
      - check: nginx_info
        options: {probe_url: "http://127.0.0.1/healthz"}
      - check: middleware_log_scan
        options: {state_file: /var/lib/kubeops/middleware_log_scan.json}
"""

RETURN = r"""
findings:
  description: The findings of every check, in the order of O(checks) (the shape of every inspection module's).
  returned: always
  type: list
  elements: dict
  sample:
    - id: node_services.unit
      category: node_services
      target: kubelet
      host: node1
      status: ok
      summary: active (running) since 2026-11-22 08:01:02 UTC, no error log lines since -24h
      details: {unit: kubelet.service}
checks:
  description:
    - One entry per check of O(checks), in order, with C(check) (its name) and either C(error) (why it could not
      run) or the facts its single-purpose module returns besides C(findings) (for example C(units) and
      C(journal_since) of V(systemd_unit_info), C(files) of V(log_scan), C(nginx) of V(nginx_info)).
  returned: always
  type: list
  elements: dict
  sample:
    - {check: disk_usage_info, mounts: [{target: /, mountpoint: /, fstype: ext4}]}
    - {check: redis_info, error: "login_port: must be a TCP port (1-65535), got 70000"}
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _host_inspection


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "checks": {"type": "list", "elements": "dict", "options": {
                "check": {"type": "str", "required": True, "choices": list(_host_inspection.CHECKS)},
                "options": {"type": "dict", "default": {}},
            }},
            "host_name": {"type": "str"},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["checks"] is None:
        module.fail_json(msg="checks: none given (the action builds them from the inspection's settings, unless the "
                             "module runs without it)")
    findings, results = _host_inspection.run_checks(module, params["checks"], params["host_name"] or platform.node(),
                                                    params["secrets"])
    module.exit_json(changed=False, findings=findings, checks=results)


if __name__ == "__main__":
    main()
