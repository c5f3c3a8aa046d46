# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: host_check_options
short_description: The host-dependent options of a host's certificate and version checks
version_added: 2.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - The options of the host inspection's certificate and version checks that depend on the host's groups, by the rules
    the one call of M(kubeops.runbook.host_inspection_info) builds its checks with, for the tasks that run those checks
    one module at a time.
  - C(kubeconfigs), the kubeconfigs of the host's groups (and of C(all)) in C(host_inspection_cert_kubeconfigs).
  - C(endpoints), the HTTPS endpoints whose certificates are read from the host when C(host_inspection_cert_endpoints)
    is true, the apiserver's (C(host_inspection_cert_apiserver_endpoint)) on a C(kube_control_plane) host, and on an
    C(etcd) host the URLs of C(kubeops_etcd_endpoints) it serves (its C(ansible_host) or inventory name in the URL),
    presented with C(kubeops_etcd_cert) and C(kubeops_etcd_key).
  - C(version_components), the components whose installed versions the host reports, C(kube-proxy) on a C(kube_node)
    host and C(kubectl) on a C(kube_control_plane) host.
options:
  _input:
    description:
      - The settings, by variable name - C(host_inspection_cert_kubeconfigs), C(host_inspection_cert_endpoints),
        C(host_inspection_cert_apiserver_endpoint), and optionally C(ansible_host), C(kubeops_etcd_endpoints),
        C(kubeops_etcd_cert) and C(kubeops_etcd_key).
      - A setting a rule needs that is missing or of the wrong shape is an error naming it.
    type: dict
    required: true
  host:
    description: The host's inventory name.
    type: str
    required: true
  group_names:
    description: The host's groups.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Check certificate expiry, with the kubeconfigs and endpoints of this host
  kubeops.runbook.cert_expiry_info:
    dirs: [/etc/kubernetes/pki]
    kubeconfigs: "{{ _options.kubeconfigs }}"
    endpoints: "{{ _options.endpoints }}"
  vars:
    _options: >-
      {{ {'host_inspection_cert_kubeconfigs': host_inspection_cert_kubeconfigs,
          'host_inspection_cert_endpoints': true,
          'host_inspection_cert_apiserver_endpoint': '127.0.0.1:6443',
          'kubeops_etcd_endpoints': kubeops_etcd_endpoints | default([])}
         | kubeops.runbook.host_check_options(inventory_hostname, group_names) }}
"""

RETURN = r"""
_value:
  description: C(kubeconfigs) (list of paths), C(endpoints) (list of C(address), C(name) and, for etcd, C(client_cert)
    and C(client_key)) and C(version_components) (list of names).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _host_checks


def host_check_options(settings, host, group_names) -> dict:
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"host_check_options: the settings must be a mapping, got {type(settings).__name__}")
    if not isinstance(host, str) or not host:
        raise AnsibleFilterError(f"host_check_options: host must be the host's inventory name, got {host!r}")
    if isinstance(group_names, str) or not isinstance(group_names, (list, tuple)):
        raise AnsibleFilterError(f"host_check_options: group_names must be a list, got {group_names!r}")
    groups = list(group_names)

    def read(name):
        return settings[name]

    s = _host_checks.Settings(read, lambda _host: "")
    try:
        return {"kubeconfigs": _host_checks.cert_kubeconfigs(s, groups + ["all"]),
                "endpoints": _host_checks.cert_endpoints(s, host, groups),
                "version_components": _host_checks.version_components(groups)}
    except _host_checks.SettingsError as exc:
        raise AnsibleFilterError(f"host_check_options for {host}: {exc}") from None


class FilterModule:
    def filters(self) -> dict:
        return {"host_check_options": host_check_options}
