# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.host_hygiene_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase

# What each check is about when the module could not run: (finding id, target)
CHECK_TARGETS = {
    "may_detach_mounts": [("host.may_detach_mounts", "fs.may_detach_mounts")],
    "kubectl_skew": [("host.kubectl_skew", "kubectl")],
}


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.host_hygiene_info"

    def failure_targets(self, args, label):
        checks = args.get("checks") if isinstance(args.get("checks"), list) else ["container_root", "may_detach_mounts"]
        roots = args.get("container_roots") if isinstance(args.get("container_roots"), list) else [
            "/var/lib/docker", "/var/lib/containerd"]
        pairs = []
        for check in checks:
            if check == "container_root":
                pairs += [("host.docker_root_symlink", str(root)) for root in roots]
            else:
                pairs += CHECK_TARGETS.get(check, [("host.hygiene", str(check))])
        return pairs or [("host.hygiene", label or "host")]
