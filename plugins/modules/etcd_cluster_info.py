# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_cluster_info
short_description: Inspect an etcd cluster with etcdctl and return findings
version_added: 1.0.0
description:
  - Runs C(etcdctl) (v3 API, TLS) on an etcd host, the tool the handbook uses in its etcd chapter.
  - Reads C(member list), then C(endpoint status) and C(endpoint health) of every member's client URL
    and C(alarm list); reports each member (down is critical), quorum (lost is critical), the leader,
    alarms such as C(NOSPACE), and the database size against the backend quota.
  - With O(backup_dir) set, also reports the age of the newest snapshot there (C(backups.etcd_snapshot)). Empty files,
    files dated in the future and files changed after M(kubeops.runbook.etcd_snapshot) verified them never count; a
    verified snapshot is aged by when it was verified, one taken by other tools (no verification record) by its mtime.
  - etcdctl missing is an C(unknown) finding; no member answering is a critical C(etcd.quorum) finding.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.etcd_auth
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  member_hosts:
    description: Member client address (IP or name in its URL) or member name to inventory host, for the C(host) of findings.
    type: dict
    default: {}
  quota_backend_bytes:
    description: The members' C(--quota-backend-bytes) (etcd's default is 2 GiB).
    type: int
    default: 2147483648
  db_size_warning_percent:
    description: Database size, in percent of O(quota_backend_bytes), that makes a warning.
    type: float
    default: 80
  db_size_critical_percent:
    description: Database size, in percent of O(quota_backend_bytes), that makes a critical finding.
    type: float
    default: 95
  backup_dir:
    description: Directory of etcd snapshots on this host; unset means no backup finding.
    type: path
  backup_pattern:
    description: Shell pattern of snapshot file names in O(backup_dir).
    type: str
    default: "*.db"
  backup_warning_hours:
    description: Newest snapshot older than this many hours is a warning.
    type: float
    default: 25
  backup_critical_hours:
    description: Newest snapshot older than this many hours is critical.
    type: float
    default: 73
  backup_missing_status:
    description: Status when O(backup_dir) is missing or holds no snapshot that counts.
    type: str
    choices: [warning, critical]
    default: warning
  host_name:
    description:
      - Deprecated and ignored in the findings' labels; it will be removed in 2.0.0. Cluster findings (quorum,
        alarms, the backup directory) carry no host, member findings the member's inventory host (O(member_hosts)).
    type: str
"""

EXAMPLES = r"""
- name: Inspect etcd from the first etcd host
  kubeops.runbook.etcd_cluster_info:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    cacert: "{{ kubeops_etcd_cacert }}"
    cert: "{{ kubeops_etcd_cert }}"
    key: "{{ kubeops_etcd_key }}"
    backup_dir: "{{ kubeops_etcd_backup_dir | default(omit) }}"
  register: etcd
"""

RETURN = r"""
findings:
  description: C(etcd.*) and C(backups.etcd_snapshot) findings of the one model.
  returned: always
  type: list
  elements: dict
  sample:
    - id: etcd.member
      category: etcd
      target: node2
      host: node2
      status: critical
      summary: "member down or unhealthy at https://198.18.0.22:2379: context deadline exceeded"
      details: {}
members:
  description: The member list (name, id, peer_urls, client_urls, is_learner, started).
  returned: always
  type: list
  elements: dict
endpoints:
  description: Per client URL, the parsed C(endpoint status) and C(endpoint health).
  returned: always
  type: dict
alarms:
  description: Active alarms (member_id, alarm).
  returned: always
  type: list
  elements: dict
etcdctl:
  description: Path of the etcdctl binary used; null when none was found.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            _etcd.ARGUMENT_SPEC,
            host_name={"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        ),
        supports_check_mode=True,
    )
    try:
        result = _etcd.inspect(module, module.params, None)
    except (_etcd.EtcdError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
