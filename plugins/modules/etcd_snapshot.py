# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/etcd_snapshot.py. The work is done on the target by the
# helper the etcd_backup role ships (roles/etcd_backup/files/kubeops_etcd_backup.py), the same file its timer runs.
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot
short_description: Take a verified etcd snapshot and apply retention that cannot delete it
version_added: 1.0.0
description:
  - Saves a snapshot (C(etcdctl snapshot save)) from the first endpoint of O(endpoints) that delivers one
    (a member that is down costs at most O(timeout) seconds), into a hidden temporary name in O(dest).
  - Verifies it with C(etcdutl snapshot status -w json) (C(etcdctl snapshot status) where etcdutl does not exist, as
    with etcd 3.4) and with the SHA-256 trailer etcd appends to a streamed snapshot (a truncated or damaged file fails),
    fsyncs it, sets mode 0600, writes its verification record C(etcd-snapshot-<UTC>.db.verified.json) and renames
    the snapshot to C(etcd-snapshot-<UTC>.db).
  - "Only verified snapshots count as backups: a file named C(etcd-snapshot-<UTC>.db) whose verification record matches
    its size and modification time, that is not empty and not named in the future (a clock that ran ahead and was
    corrected). Other files with such names are returned in RV(ignored), never counted and never deleted; hidden
    leftovers of interrupted runs are removed. Snapshots taken before verification records existed are verified once
    and recorded (RV(adopted))."
  - Retention by count (O(keep_count)) and age (O(keep_days), by the real time a snapshot was verified) ranks backups by
    the etcd revision they hold, so file names and clocks cannot make it delete the wrong one. It runs only after the
    new snapshot is stored and verified, never deletes the snapshot just taken, and always keeps the newest backup.
  - Optionally copies the verified snapshot to O(copy_to) (for example a mounted NFS share), with the same retention.
  - A snapshot is a new file on every run; set O(skip_if_newer_than) to make repeated runs idempotent.
  - The action plugin runs the helper that the C(kubeops.runbook.etcd_backup) role ships (the file its systemd timer
    runs), with the host's Python 3 (C(ansible_python_interpreter), else C(/usr/bin/python3)), and appends one line per
    run that changed something to the audit log C(kubeops_audit_log) - also when the run failed after changing
    something, in which case the result has C(failed) and C(changed) and says what was changed.
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
    description: Keep at most this many backups (the snapshot just taken and the newest backup are always kept).
    type: int
    default: 24
  keep_days:
    description:
      - Delete backups verified more than this many days ago (the snapshot just taken and the newest backup are always
        kept). V(0) disables age-based retention.
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
    description:
      - Take no snapshot when the newest backup was verified less than this many minutes ago (retention still applies).
        A file named in the future does not count. V(0) always takes one.
    type: int
    default: 0
extends_documentation_fragment:
  - kubeops.runbook.etcd_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details: Verifies older unrecorded snapshots (read-only) so that the retention it predicts is the one a real run applies.
  diff_mode:
    support: full
  idempotent:
    support: partial
    details: Every run takes a new snapshot unless O(skip_if_newer_than) is set.
notes:
  - Return values C(copy) and C(keys) of version 1.0.0 are now RV(copy_path) and RV(total_keys) (the old names clash
    with methods of dicts in Jinja).
"""

EXAMPLES = r"""
- name: Snapshot etcd into /var/backups/etcd, keep 24 snapshots and at most 7 days
  kubeops.runbook.etcd_snapshot:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    cacert: /etc/etcd/ssl/ca.pem
    cert: /etc/etcd/ssl/etcd-client.pem
    key: /etc/etcd/ssl/etcd-client-key.pem
    copy_to: /mnt/nfs/etcd-backups
  register: backup

- name: Show it
  ansible.builtin.debug:
    msg: "{{ backup.path }}: revision {{ backup.revision }}, {{ backup.total_keys }} keys"
"""

RETURN = r"""
path:
  description: The verified snapshot (in check mode, the name it would get; when skipped, the newest existing one).
  returned: always
  type: str
  sample: /var/backups/etcd/etcd-snapshot-20240501T090000Z.db
size:
  description: Size in bytes of the snapshot taken.
  returned: always
  type: int
  sample: 5062688
revision:
  description: etcd revision recorded in the snapshot.
  returned: always
  type: int
  sample: 123456
total_keys:
  description: Total keys in the snapshot (C(totalKey) of C(snapshot status)). Called C(keys) before 2.0.0.
  returned: always
  type: int
  sample: 1542
hash:
  description: Hash of the snapshot database as C(snapshot status) reports it.
  returned: always
  type: int
  sample: 12253668
endpoint:
  description: The endpoint the snapshot came from.
  returned: always
  type: str
  sample: https://198.18.0.11:2379
duration:
  description: Seconds the run took on the host.
  returned: always
  type: float
  sample: 0.42
verified_with:
  description: C(etcdutl) or C(etcdctl).
  returned: always
  type: str
  sample: etcdctl
deleted:
  description: Backups deleted by retention in O(dest) (in check mode, the ones that would be).
  returned: always
  type: list
  elements: str
  sample: []
copy_path:
  description: Path of the copy in O(copy_to). Called C(copy) before 2.0.0.
  returned: always
  type: str
  sample: /mnt/nfs/etcd-backups/etcd-snapshot-20240501T090000Z.db
copy_deleted:
  description: Backups deleted by retention in O(copy_to).
  returned: always
  type: list
  elements: str
  sample: []
removed_partial:
  description: Leftovers of interrupted runs that were removed (hidden temporary files, records without their snapshot).
  returned: always
  type: list
  elements: str
  sample: []
adopted:
  description: Older snapshots without a verification record that were verified and recorded by this run.
  returned: always
  type: list
  elements: str
  sample: []
ignored:
  description: Files named like backups that do not count, with the reason (empty, unverified, named in the future).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "etcd-snapshot-20991231T000000Z.db", "reason": "named or recorded in the future (2099-12-31T00:00:00Z)"}]
backups:
  description: Number of backups in O(dest) after this run.
  returned: always
  type: int
  sample: 24
attempts:
  description: One entry per endpoint tried, with C(rc) and C(error) when it failed.
  returned: always
  type: list
  elements: dict
  sample: [{"endpoint": "https://198.18.0.21:2379", "rc": 0}]
recent_kept:
  description: True when no snapshot was taken because of O(skip_if_newer_than).
  returned: always
  type: bool
  sample: false
audit:
  description: Audit records of this run, as written to the audit log.
  returned: always
  type: list
  elements: dict
  sample: []
"""
