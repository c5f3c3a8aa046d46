# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: host_hygiene_info
short_description: Host hygiene checks from the field notes, as inspection findings
version_added: 1.0.0
description:
  - V(container_root) - the container runtime root directories (O(container_roots)) must be real directories, not
    symlinks. A symlinked C(/var/lib/docker) made kubelet fail with C(Stat fs failed ... no such file or directory)
    after overlayfs cleanup. A root that does not exist is V(ok) (no such runtime on the host). Finding
    C(host.docker_root_symlink) per directory.
  - V(may_detach_mounts) - C(fs.may_detach_mounts) must be C(1) where the kernel has it (RHEL/CentOS 7 kernels;
    docker processes stuck in state Dead otherwise). Absent from the kernel is V(ok) (not applicable). Finding
    C(host.may_detach_mounts).
  - V(kubectl_skew) - the kubectl client must be within O(max_skew) minor versions of the API server
    (C(group is already registered) errors otherwise). Runs O(kubectl) with O(kubeconfig) where the module runs,
    normally the controller (delegated to C(localhost)). Finding C(host.kubectl_skew).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  checks:
    description: Which checks to run.
    type: list
    elements: str
    choices: [container_root, may_detach_mounts, kubectl_skew]
    default: [container_root, may_detach_mounts]
  container_roots:
    description: Root directories of the container runtimes.
    type: list
    elements: path
    default: [/var/lib/docker, /var/lib/containerd]
  kubectl:
    description: kubectl command or path, for V(kubectl_skew).
    type: str
    default: kubectl
  kubeconfig:
    description: kubeconfig for V(kubectl_skew); kubectl's own default when unset.
    type: path
  context:
    description: Context in O(kubeconfig) for V(kubectl_skew).
    type: str
  max_skew:
    description: Largest accepted difference in minor version between kubectl and the API server.
    type: int
    default: 1
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
"""

EXAMPLES = r"""
- name: Runtime root and kernel setting on every host
  kubeops.runbook.host_hygiene_info: {}

- name: kubectl version skew, on the controller
  kubeops.runbook.host_hygiene_info:
    checks: [kubectl_skew]
    kubectl: "{{ kubeops_kubectl }}"
    kubeconfig: "{{ kubeops_kubeconfig }}"
  delegate_to: localhost
  delegate_facts: true   # run_once: the finding is recorded on localhost only
  run_once: true
"""

RETURN = r"""
findings:
  description: C(host.docker_root_symlink) per root directory, C(host.may_detach_mounts), C(host.kubectl_skew).
  returned: always
  type: list
  elements: dict
  sample:
    - id: host.may_detach_mounts
      category: host
      target: fs.may_detach_mounts
      host: node1
      status: ok
      summary: "not applicable: this kernel has no fs.may_detach_mounts"
      details: {present: false}
kubectl_versions:
  description: Client and server versions reported by kubectl (V(kubectl_skew) only).
  returned: when kubectl_skew ran and kubectl printed its version
  type: dict
  sample: {client: v1.30.14, server: v1.30.14}
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _hygiene


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_hygiene.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _hygiene.inspect(module, module.params, module.params["host"] or platform.node())
    except _hygiene.HygieneError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
