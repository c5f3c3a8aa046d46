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
  - Warns when the cluster has an even number of voting members or fewer than 3 (C(etcd.member_count)), and per member
    when a defragmentation would free a large share of a database that has grown towards its quota (C(etcd.defrag)).
  - With O(backup_dir) set, also reports the age of the newest snapshot there (C(backups.etcd_snapshot)). Empty files,
    files dated in the future and files changed after M(kubeops.runbook.etcd_snapshot) verified them never count; a
    verified snapshot is aged by when it was verified, one taken by other tools (no verification record) by its mtime.
  - The daily inspection checks the snapshots with M(kubeops.runbook.etcd_backup_info) on each etcd host that takes
    backups instead.
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
    description:
      - The members' C(--quota-backend-bytes).
      - Unset, it is read from the etcd unit (O(etcd_unit)) on this host - its C(--config-file), the
        C(--quota-backend-bytes) flag of its C(ExecStart), or C(ETCD_QUOTA_BACKEND_BYTES) of its C(Environment) or
        C(EnvironmentFile) - and is etcd's default of 2 GiB when the unit sets none or cannot be read (RV(quota_source)
        says which). All members are assumed to have this host's quota.
      - Before 2.0.0 the default was 2147483648 and the unit was not read.
    type: int
  etcd_unit:
    description: The systemd unit of etcd on this host, whose settings give the quota when O(quota_backend_bytes) is unset.
    type: str
    default: etcd
    version_added: 2.0.0
  defrag_warning_percent:
    description:
      - Share of a member's database, in percent, that a defragmentation would free (C((dbSize - dbSizeInUse) / dbSize))
        above which its C(etcd.defrag) finding is a warning pointing to the etcd_maintenance runbook's defragmentation
        (M(kubeops.runbook.etcd_defrag)).
    type: float
    default: 50
    version_added: 2.0.0
  defrag_min_quota_percent:
    description:
      - The C(etcd.defrag) warning needs the database at this percent of the quota at least (defragmenting a small
        database is not worth its pause).
    type: float
    default: 25
    version_added: 2.0.0
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
  description: C(etcd.*) (C(etcd.member), C(etcd.quorum), C(etcd.member_count), C(etcd.leader), C(etcd.alarms),
    C(etcd.db_size), C(etcd.defrag)) and C(backups.etcd_snapshot) findings of the one model.
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
quota_backend_bytes:
  description: The quota the database sizes were measured against.
  returned: always
  type: int
  sample: 2147483648
  version_added: 2.0.0
quota_source:
  description: Where RV(quota_backend_bytes) came from (the option, the etcd unit, or etcd's default and why).
  returned: always
  type: str
  sample: etcd's default (not set in the etcd unit)
  version_added: 2.0.0
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
