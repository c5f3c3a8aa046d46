# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/etcd_snapshot_info.py, which runs the etcd_backup role's
# helper (roles/etcd_backup/files/kubeops_etcd_backup.py) read-only on the target.
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot_info
short_description: List the verified etcd backups of a directory, newest first, and re-verify the one to restore
version_added: 2.0.0
description:
  - Lists the backups in O(dest) the way M(kubeops.runbook.etcd_snapshot) counts them - verified snapshots, newest
    first by the etcd revision they hold - and the files named like backups that do not count, with the reason.
  - With O(verify_newest), verifies the content of the newest backup again (C(snapshot status) and etcd's SHA-256
    trailer) and checks it against its verification record; a backup that fails is listed in RV(rejected) and the next
    one is tried. RV(newest) is the newest backup that passed - what a restore should use.
  - With O(verify_path), verifies that one file instead (a snapshot chosen by the operator).
  - Read-only; runs the helper of the C(kubeops.runbook.etcd_backup) role with the host's Python 3.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  dest:
    description: Directory of the snapshots on the host.
    type: path
    default: /var/backups/etcd
  verify_newest:
    description: Verify the content of the newest backup again (and fall back to the next one when it fails).
    type: bool
    default: false
  verify_path:
    description: Verify this snapshot file (absolute path) instead, and return it as RV(newest) when it passes.
    type: path
  etcdctl_path:
    description: C(etcdctl), used to verify when C(etcdutl) is not there.
    type: str
    default: etcdctl
  etcdutl_path:
    description: C(etcdutl), preferred to verify snapshots.
    type: str
    default: etcdutl
  timeout:
    description: Seconds one C(snapshot status) may take.
    type: int
    default: 300
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Find the newest verified backup
  kubeops.runbook.etcd_snapshot_info:
    dest: /var/backups/etcd
    verify_newest: true
  register: backups

- name: Refuse when there is none
  ansible.builtin.assert:
    that: backups.newest is not none
    fail_msg: "no verified etcd backup in /var/backups/etcd"
"""

RETURN = r"""
exists:
  description: Whether O(dest) exists.
  returned: always
  type: bool
  sample: true
backups:
  description: The backups, newest first (C(name), C(path), C(size), C(revision), C(hash), C(total_key), C(taken)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "etcd-snapshot-20240501T090000Z.db", "path": "/var/backups/etcd/etcd-snapshot-20240501T090000Z.db",
            "size": 5062688, "revision": 123456, "hash": 12253668, "total_key": 1542, "taken": "2024-05-01T09:00:00Z"}]
newest:
  description:
    - The newest backup (with O(verify_newest), the newest that passed verification; with O(verify_path), that file when
      it passed); null when there is none.
  returned: always
  type: dict
  sample: {"path": "/var/backups/etcd/etcd-snapshot-20240501T090000Z.db", "revision": 123456}
rejected:
  description: Backups that failed verification, with the reason.
  returned: always
  type: list
  elements: dict
  sample: []
ignored:
  description: Files named like backups that do not count, with the reason (empty, unverified, named in the future).
  returned: always
  type: list
  elements: dict
  sample: []
leftovers:
  description: Hidden leftovers of interrupted runs (the next M(kubeops.runbook.etcd_snapshot) run removes them).
  returned: always
  type: list
  elements: str
  sample: []
"""
