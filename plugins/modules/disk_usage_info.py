# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: disk_usage_info
short_description: Disk space and inodes per mount or per path, as inspection findings
version_added: 1.0.0
description:
  - Measures every mounted filesystem listed in C(/proc/mounts), or the filesystems holding the given O(paths),
    with C(os.statvfs). Pseudo filesystems (C(proc), C(cgroup2), C(tmpfs), C(squashfs), ...) are skipped, and so
    are container layers, pod volumes and network namespaces (mount points under C(/var/lib/docker/),
    C(/var/lib/containerd/), C(/run/containerd/), C(/var/lib/kubelet/pods/), C(/run/netns/), ...). A block
    device mounted several times is measured once, at its shortest mount point.
  - Percentages are those C(df) and C(df -i) print (space used out of used plus available to unprivileged users).
  - Returns C(disk.space) and C(disk.inodes) findings per mount or path against percent thresholds. The handbook's
    white screen came from a full C(/data/iuap/logs/nginx).
  - Since 2.0.0, on a host with a C(kubelet.service) unit, the space thresholds of the kubelet's filesystems (the
    ones holding its root directory, nodefs, and the container runtime's, imagefs) are brought below its eviction
    thresholds (C(--eviction-hard)/C(--eviction-soft) flags, else C(evictionHard)/C(evictionSoft) of the
    KubeletConfiguration file given by C(--config) or O(kubelet_config), else the kubelet's defaults), so that the
    warning comes before the kubelet evicts pods - critical from C(100 - hard%) used, warning from
    C(100 - max(hard%, soft%) - O(kubelet_eviction_margin)). A config file that cannot be read leaves the configured
    thresholds, and the finding's C(details.kubelet.note) says why.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  paths:
    description: Measure the filesystems holding these paths instead of every mount; the finding target is the path.
    type: list
    elements: path
  include_fs:
    description: Filesystem types to measure although they are skipped by default, for example V(tmpfs).
    type: list
    elements: str
    default: []
  space_warning:
    description: Used space percent from which a filesystem is a V(warning) (0 to 100, at most O(space_critical)).
    type: float
    default: 80
  space_critical:
    description: Used space percent from which a filesystem is V(critical) (0 to 100).
    type: float
    default: 90
  inodes_warning:
    description: Used inodes percent from which a filesystem is a V(warning) (0 to 100, at most O(inodes_critical)).
    type: float
    default: 80
  inodes_critical:
    description: Used inodes percent from which a filesystem is V(critical) (0 to 100).
    type: float
    default: 90
  kubelet_eviction:
    description: Derive the thresholds of the kubelet's filesystems from its eviction thresholds (see above).
    type: bool
    default: true
    version_added: 2.0.0
  kubelet_config:
    description:
      - The kubelet's KubeletConfiguration file; by default the C(--config) of the C(kubelet.service) unit and its
        drop-ins. Setting it also makes a host without a kubelet unit read it.
    type: path
    version_added: 2.0.0
  kubelet_eviction_margin:
    description: Percent of the filesystem by which the warning comes before the kubelet's (soft or hard) eviction threshold.
    type: float
    default: 5
    version_added: 2.0.0
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
"""

EXAMPLES = r"""
- name: Space and inodes of every filesystem
  kubeops.runbook.disk_usage_info:
  register: disks

- name: The nginx log directory of the handbook, stricter
  kubeops.runbook.disk_usage_info:
    paths: [/data/iuap/logs/nginx]
    space_warning: 70
    space_critical: 85
"""

RETURN = r"""
findings:
  description: C(disk.space) and C(disk.inodes) per mount (target is the mount point) or per path.
  returned: always
  type: list
  elements: dict
  sample:
    - id: disk.space
      category: disk
      target: /
      host: mw1
      status: warning
      summary: 83% used, 3.3GiB free of 19.6GiB
      details: {mountpoint: /, fstype: ext4, used_percent: 83.0}
mounts:
  description: The measurements per mount or path.
  returned: always
  type: list
  elements: dict
  sample:
    - target: /
      mountpoint: /
      device: /dev/vda1
      fstype: ext4
      usage: {size_bytes: 21003583488, used_bytes: 17431420928, avail_bytes: 3572162560, used_percent: 83.0,
              inodes_total: 1310720, inodes_used: 254000, inodes_free: 1056720, inodes_used_percent: 19.4}
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _disk


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_disk.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _disk.inspect(module, module.params, module.params["host"] or platform.node())
    except _disk.DiskError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
