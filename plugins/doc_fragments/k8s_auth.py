# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every Kubernetes API module; paired with K8S_AUTH_SPEC in module_utils/_k8s.py."""
from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file on the host the module runs on (usually the controller).
      - When neither O(kubeconfig) nor O(host) is given, the module uses C(KUBECONFIG) or C(~/.kube/config)
        when present, else the in-cluster service account configuration.
    type: path
  context:
    description:
      - Context of O(kubeconfig) to use; default is the current context.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example C(https://198.18.0.11:6443).
      - Given without O(kubeconfig), the module connects with O(api_key) or O(client_cert)/O(client_key).
    type: str
  api_key:
    description:
      - Bearer token to authenticate with. Never logged, never returned.
    type: str
  ca_cert:
    description:
      - CA certificate (PEM file) that signed the API server certificate.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate (PEM file) for x509 authentication.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key (PEM file) of O(client_cert).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the API server certificate. Set to V(false) only in a lab.
    type: bool
    default: true
    aliases: [verify_ssl]
  request_timeout:
    description:
      - Seconds to wait for each API request (connect and read).
    type: int
    default: 30
requirements:
  - kubernetes >= 24.2.0 (the official Python client)
"""
