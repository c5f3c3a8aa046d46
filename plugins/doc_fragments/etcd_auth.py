# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcdctl options shared by every etcd module; paired with ETCD_AUTH_SPEC in module_utils/_etcd.py."""
from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
notes:
  - The etcd modules form the action group C(kubeops.runbook.etcd) (C(meta/runtime.yml)). Set endpoints and TLS
    files once for a play with C(module_defaults) C(group/kubeops.runbook.etcd).
options:
  endpoints:
    description:
      - Client URLs of the etcd members, for example C(https://198.18.0.11:2379).
      - A comma-separated string is accepted as well as a list.
      - Defaults to etcdctl's E(ETCDCTL_ENDPOINTS) in the environment of the module on its host.
    type: list
    elements: str
    required: true
  cacert:
    description:
      - CA certificate (PEM file on the etcd host) that signed the member certificates (C(--cacert)).
      - Defaults to E(ETCDCTL_CACERT) when set.
    type: path
  cert:
    description:
      - Client certificate (PEM file on the etcd host) (C(--cert)).
      - Defaults to E(ETCDCTL_CERT) when set.
    type: path
  key:
    description:
      - Key of O(cert) (C(--key)).
      - Defaults to E(ETCDCTL_KEY) when set.
    type: path
  etcdctl_path:
    description:
      - The C(etcdctl) binary. A bare name is looked up in E(PATH) and C(/usr/local/bin), C(/opt/etcd/bin).
      - It is always run with C(ETCDCTL_API=3).
    type: str
    default: etcdctl
  dial_timeout:
    description:
      - Seconds etcdctl waits to connect to each endpoint (C(--dial-timeout)); a down member costs at most this long.
    type: int
    default: 5
  command_timeout:
    description:
      - Seconds etcdctl waits for each request to complete (C(--command-timeout)).
    type: int
    default: 10
requirements:
  - C(etcdctl) (v3 API) on the host the module runs on
"""
