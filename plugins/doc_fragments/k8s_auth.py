# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every Kubernetes API module; paired with K8S_AUTH_SPEC in module_utils/_k8s.py."""
from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
notes:
  - The Kubernetes modules form the action group C(kubeops.runbook.k8s) (C(meta/runtime.yml)). Set the connection
    once for a play with C(module_defaults) C(group/kubeops.runbook.k8s).
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file on the host the module runs on (usually the controller).
      - When neither O(kubeconfig) nor O(host) is given, the module uses C(KUBECONFIG) or C(~/.kube/config)
        when present, else the in-cluster service account configuration.
      - Defaults to the environment variable E(K8S_AUTH_KUBECONFIG) when set, as in kubernetes.core.
    type: path
  context:
    description:
      - Context of O(kubeconfig) to use; default is the current context.
      - Defaults to E(K8S_AUTH_CONTEXT) when set.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example C(https://198.18.0.11:6443).
      - Given without O(kubeconfig), the module connects with O(api_key) or O(client_cert)/O(client_key).
      - Defaults to E(K8S_AUTH_HOST) when set.
    type: str
  api_key:
    description:
      - Bearer token to authenticate with. Never logged, never returned.
      - Defaults to E(K8S_AUTH_API_KEY) when set.
    type: str
  ca_cert:
    description:
      - CA certificate (PEM file) that signed the API server certificate.
      - Defaults to E(K8S_AUTH_SSL_CA_CERT) when set.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate (PEM file) for x509 authentication.
      - Defaults to E(K8S_AUTH_CERT_FILE) when set.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key (PEM file) of O(client_cert).
      - Defaults to E(K8S_AUTH_KEY_FILE) when set.
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the API server certificate. Set to V(false) only in a lab.
      - Defaults to E(K8S_AUTH_VERIFY_SSL) when set.
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
