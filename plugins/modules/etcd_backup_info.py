# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_backup_info
short_description: Age of the newest etcd snapshot in an etcd host's backup directory and its copy, as findings
version_added: 2.0.0
description:
  - On an etcd host that takes backups (the C(kubeops.runbook.etcd_backup) role's snapshot or schedule runs there),
    reports the age of the newest snapshot that counts in O(backup_dir) and, when set, in O(copy_to) (the second
    directory the role copies each snapshot to, for example a mounted share), one C(backups.etcd_snapshot) finding per
    directory, named by the directory.
  - What counts is what M(kubeops.runbook.etcd_snapshot) counts; a half-written snapshot never does. A snapshot with a
    verification record that matches it is aged by when it was verified; empty files, files dated in the future, files
    changed after they were verified, hidden temporary files, and files named C(etcd-snapshot-<UTC>.db) without a
    record never count. A complete snapshot of another tool (no record, another name, such as a plain
    C(etcdctl snapshot save) timer's) is aged by its mtime and reported as unverified.
  - A directory that is missing or holds no snapshot that counts is O(missing_status); one that cannot be read is an
    C(unknown) finding.
  - The daily inspection runs the same check in each such host's one C(kubeops.runbook.host_inspection_info) call.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  backup_dir:
    description: The host's snapshot directory (the role's C(etcd_backup_dir)).
    type: path
    default: /var/backups/etcd
  copy_to:
    description: The directory the role copies each snapshot to (C(etcd_backup_copy_to)); unset checks none.
    type: path
  pattern:
    description: Shell pattern of snapshot file names.
    type: str
    default: "*.db"
  warning_hours:
    description: Newest snapshot older than this many hours is a warning.
    type: float
    default: 25
  critical_hours:
    description: Newest snapshot older than this many hours is critical.
    type: float
    default: 73
  missing_status:
    description: Status when a directory is missing or holds no snapshot that counts.
    type: str
    choices: [warning, critical]
    default: warning
"""

EXAMPLES = r"""
- name: Check the snapshots of this etcd host and of its copy on the share
  kubeops.runbook.etcd_backup_info:
    backup_dir: /var/backups/etcd
    copy_to: /mnt/nfs/etcd
    warning_hours: 2
  register: backups
"""

RETURN = r"""
findings:
  description: One C(backups.etcd_snapshot) finding per directory (C(details.role) is C(backup_dir) or C(copy_to)).
  returned: always
  type: list
  elements: dict
  sample:
    - id: backups.etcd_snapshot
      category: backups
      target: /var/backups/etcd
      host: master1
      status: ok
      summary: newest snapshot etcd-snapshot-20261206T090000Z.db is 0.5 h old (warning after 25 h)
      details: {directory: /var/backups/etcd, role: backup_dir, age_hours: 0.5, verified: true, files: 3, ignored: []}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_trends


def main() -> None:
    module = AnsibleModule(argument_spec=_etcd_trends.BACKUP_SPEC, supports_check_mode=True)
    module.exit_json(changed=False, **_etcd_trends.inspect_backups(module, module.params, None))


if __name__ == "__main__":
    main()
