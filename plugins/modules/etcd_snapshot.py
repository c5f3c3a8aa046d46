# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot
short_description: Take a verified etcd snapshot and apply retention
version_added: 0.1.0
description:
  - Saves a snapshot (C(etcdctl snapshot save)) from the first endpoint of O(endpoints) that delivers one
    (a member that is down costs at most O(timeout) seconds), into a hidden temporary name in O(dest).
  - Verifies it with C(etcdutl snapshot status -w json), or C(etcdctl snapshot status) where etcdutl does not
    exist (etcd 3.4), then fsyncs it, sets mode 0600 and renames it to C(etcd-snapshot-<UTC>.db).
  - Only files named C(etcd-snapshot-<UTC>.db) count as backups. A failed or partial snapshot is removed and
    never takes that name; leftovers of interrupted runs are removed by the next run.
  - Retention by count (O(keep_count)) and age (O(keep_days)) never deletes the newest snapshot.
  - Optionally copies the verified snapshot to O(copy_to) (for example a mounted NFS share), with the same retention.
  - A snapshot is a new file on every run; set O(skip_if_newer_than) to make repeated runs idempotent.
  - The controller-side action plugin appends one line per change to the audit log C(kubeops_audit_log).
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  dest:
    description: Directory of the snapshots on the host the module runs on (created with mode 0700).
    type: path
    default: /var/backups/etcd
  copy_to:
    description: Second directory to copy each verified snapshot to (a mounted share); same retention as O(dest).
    type: path
  keep_count:
    description: Keep at most this many snapshots (the newest is always kept).
    type: int
    default: 24
  keep_days:
    description: Delete snapshots older than this many days (the newest is always kept). V(0) disables age-based retention.
    type: float
    default: 7
  timeout:
    description: Seconds one C(snapshot save) (or C(snapshot status)) may take before it is killed and the next endpoint is tried.
    type: int
    default: 300
  etcdutl_path:
    description: The C(etcdutl) binary used to verify snapshots when present; C(etcdctl) is used otherwise.
    type: str
    default: etcdutl
  skip_if_newer_than:
    description: Take no snapshot when the newest one is younger than this many minutes (retention still applies). V(0) always takes one.
    type: int
    default: 0
extends_documentation_fragment:
  - kubeops.runbook.etcd_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: partial
    details: Every run takes a new snapshot unless O(skip_if_newer_than) is set.
"""

EXAMPLES = r"""
- name: Snapshot etcd into /var/backups/etcd, keep 24 snapshots and at most 7 days
  kubeops.runbook.etcd_snapshot:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    cacert: /etc/etcd/ssl/ca.pem
    cert: /etc/etcd/ssl/etcd-client.pem
    key: /etc/etcd/ssl/etcd-client-key.pem
    copy_to: /mnt/nfs/etcd-backups
"""

RETURN = r"""
path:
  description: The verified snapshot (in check mode, the name it would get; when skipped, the newest existing one).
  returned: always
  type: str
  sample: /var/backups/etcd/etcd-snapshot-20240501T090000Z.db
size:
  description: Size in bytes of the snapshot taken.
  returned: when a snapshot was taken
  type: int
revision:
  description: etcd revision recorded in the snapshot.
  returned: when a snapshot was taken
  type: int
keys:
  description: Total keys in the snapshot (C(totalKey)).
  returned: when a snapshot was taken
  type: int
hash:
  description: Hash of the snapshot database as C(snapshot status) reports it.
  returned: when a snapshot was taken
  type: int
endpoint:
  description: The endpoint the snapshot came from.
  returned: when a snapshot was taken
  type: str
duration:
  description: Seconds the run took.
  returned: always
  type: float
verified_with:
  description: C(etcdutl) or C(etcdctl).
  returned: always
  type: str
deleted:
  description: Snapshots deleted by retention in O(dest) (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
copy:
  description: Path of the copy in O(copy_to).
  returned: always
  type: str
copy_deleted:
  description: Snapshots deleted by retention in O(copy_to).
  returned: always
  type: list
  elements: str
removed_partial:
  description: Leftovers of interrupted runs that were removed.
  returned: always
  type: list
  elements: str
attempts:
  description: One entry per endpoint tried, with C(rc) and C(error) when it failed.
  returned: always
  type: list
  elements: dict
recent_kept:
  description: True when no snapshot was taken because of O(skip_if_newer_than).
  returned: always
  type: bool
audit:
  description: Audit records of this run; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import ETCD_AUTH_SPEC, EtcdError, normalize_endpoints
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd_snapshot import SnapshotError, take_snapshot

ARGUMENT_SPEC = {
    **ETCD_AUTH_SPEC,
    "dest": {"type": "path", "default": "/var/backups/etcd"},
    "copy_to": {"type": "path"},
    "keep_count": {"type": "int", "default": 24},
    "keep_days": {"type": "float", "default": 7},
    "timeout": {"type": "int", "default": 300},
    "etcdutl_path": {"type": "str", "default": "etcdutl"},
    "skip_if_newer_than": {"type": "int", "default": 0},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        result = take_snapshot(p["dest"], normalize_endpoints(p["endpoints"]),
                               {"cacert": p["cacert"], "cert": p["cert"], "key": p["key"]}, p["etcdctl_path"],
                               p["etcdutl_path"], p["keep_count"], p["keep_days"] or None, p["copy_to"], p["timeout"],
                               p["dial_timeout"], p["skip_if_newer_than"], module.check_mode)
    except (SnapshotError, EtcdError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"etcd snapshot into dest={p['dest']} failed: {exc}")
    new = [result["path"]] if result["changed"] and not result["recent_kept"] else []
    result["audit"] = [record("etcd_snapshot", p["dest"], {"deleted": result["deleted"]},
                              {"created": new, "copy": result["copy"], "revision": result["revision"]})] if result["changed"] else []
    if module._diff:
        result["diff"] = {"before": "".join(f"{d}\n" for d in result["deleted"]), "after": "".join(f"{n}\n" for n in new)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
