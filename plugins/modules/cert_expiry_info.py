# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: cert_expiry_info
short_description: Days left of x509 certificates under directories, as inspection findings
version_added: 1.0.0
description:
  - Finds PEM certificates in the files under O(dirs) (Kubernetes and etcd certificate directories) and in O(paths),
    and returns one C(certificates.expiry) finding per file with the days left until its first certificate expires.
  - Private keys, certificate requests and files that are not certificates are skipped. A C(.pem), C(.crt),
    C(.cer) or C(.cert) file that holds no readable PEM certificate is V(unknown), an expired certificate is
    V(critical). A directory that does not exist or holds no certificate gives an V(unknown) finding.
  - In each kubeconfig of O(kubeconfigs), the client certificate of each user (C(client-certificate-data) or the file
    C(client-certificate) names) is checked the same way, one finding per user named C(<kubeconfig> (user <name>)).
    The kubeconfig's keys and tokens are never read into a finding.
  - For each endpoint of O(endpoints), the certificate it serves is read in a TLS handshake from the host (not
    verified, as the check is its expiry) and checked the same way; an endpoint that does not answer TLS is V(unknown).
  - Uses the C(cryptography) Python library when the host has it, else C(openssl x509 -noout -enddate).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  dirs:
    description: Directories to search (the inventory's C(kubeops_cert_dirs)). Symlinked subdirectories are not followed.
    type: list
    elements: path
    default: []
  paths:
    description: Certificate files to check in addition to those found under O(dirs).
    type: list
    elements: path
    default: []
  kubeconfigs:
    description:
      - Kubeconfig files whose users' client certificates to check (kubelet, kube-proxy, controller-manager,
        scheduler, admin). A file that cannot be read or parsed, or a certificate that cannot be read, is V(unknown);
        a kubeconfig without any client certificate (token or exec users only) is V(ok).
      - Read as JSON, as YAML with PyYAML when the host has it, else as the block-style YAML kubectl writes.
    type: list
    elements: path
    default: []
    version_added: 2.0.0
  endpoints:
    description:
      - TLS endpoints whose served certificate to check (the apiserver's secure port, etcd's client URLs, nginx's TLS
        listeners). One finding each, its target the endpoint's O(endpoints[].name) or C(https://host:port).
    type: list
    elements: dict
    default: []
    version_added: 2.0.0
    suboptions:
      address:
        description: C(host:port), C([v6]:port) or an C(https://) URL (port 443 when none is given).
        type: str
        required: true
        version_added: 2.0.0
      name:
        description: What the finding is about (its target); C(https://host:port) when not given.
        type: str
        version_added: 2.0.0
      server_name:
        description: The name sent with SNI, for a server that serves several certificates on one port.
        type: str
        version_added: 2.0.0
      client_cert:
        description:
          - A client certificate to present, for an endpoint that requires one (etcd with C(--client-cert-auth)).
          - Over TLS 1.3 the served certificate is read even without it.
        type: path
        version_added: 2.0.0
      client_key:
        description: The key of O(endpoints[].client_cert).
        type: path
        version_added: 2.0.0
  endpoint_timeout:
    description: Seconds to wait for each endpoint's TLS handshake.
    type: float
    default: 5
    version_added: 2.0.0
  max_depth:
    description: How deep to descend below each directory of O(dirs) (V(1) means the directory itself only).
    type: int
    default: 3
  warning_days:
    description: A certificate with this many days left or fewer is a V(warning).
    type: int
    default: 30
  critical_days:
    description: A certificate with this many days left or fewer is V(critical) (at most O(warning_days)).
    type: int
    default: 7
  backend:
    description: How to read certificates; V(auto) uses C(cryptography) when importable, else C(openssl).
    type: str
    choices: [auto, cryptography, openssl]
    default: auto
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
requirements:
  - the C(cryptography) Python library or the C(openssl) command on the host
"""

EXAMPLES = r"""
- name: Kubernetes and etcd certificates
  kubeops.runbook.cert_expiry_info:
    dirs: "{{ kubeops_cert_dirs }}"
    warning_days: 30
    critical_days: 7
  register: certs

- name: Client certificates in the kubelet's and kube-proxy's kubeconfigs
  kubeops.runbook.cert_expiry_info:
    kubeconfigs:
      - /etc/kubernetes/kubelet.kubeconfig
      - /etc/kubernetes/kube-proxy.kubeconfig

- name: The certificates the apiserver and etcd serve
  kubeops.runbook.cert_expiry_info:
    endpoints:
      - address: 127.0.0.1:6443
        name: kube-apiserver
      - address: https://10.0.0.11:2379
        client_cert: /etc/etcd/ssl/etcd-client.pem
        client_key: /etc/etcd/ssl/etcd-client-key.pem
"""

RETURN = r"""
findings:
  description:
    - One C(certificates.expiry) finding per certificate file (target is the path) or problem directory.
    - Since 2.0.0 also one per kubeconfig user with a client certificate (target C(<kubeconfig> (user <name>))) and one
      per endpoint (target its name or C(https://host:port)).
  returned: always
  type: list
  elements: dict
  sample:
    - id: certificates.expiry
      category: certificates
      target: /etc/kubernetes/ssl/kube-apiserver.pem
      host: master1
      status: ok
      summary: 364 day(s) left, expires 2026-01-05T09:00:00Z CN=kube-apiserver
      details: {days_left: 364, not_after: "2026-01-05T09:00:00Z", subject: CN=kube-apiserver, certificates: 1}
certificates:
  description:
    - Per certificate file, the days left and the notAfter date of the first-expiring certificate.
    - Per kubeconfig user with a client certificate, C(kubeconfig), C(user), C(days_left), C(not_after), C(subject)
      and C(issuer) (since 2.0.0).
    - Per endpoint, C(endpoint), C(server_name), C(days_left), C(not_after), C(subject) and C(issuer) (since 2.0.0).
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /etc/etcd/ssl/ca.pem, days_left: 3649, not_after: "2035-01-03T09:00:00Z", subject: CN=etcd-ca}
backend:
  description: The backend that read the certificates.
  returned: always
  type: str
  sample: cryptography
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _certs


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_certs.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _certs.inspect(module, module.params, module.params["host"] or platform.node())
    except _certs.CertError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
