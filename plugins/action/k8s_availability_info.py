# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.k8s_availability_info: runs the module and records its findings in
kubeops_findings. A run that could not read the cluster is an unknown pods.ready_ratio finding and has no ``ok``:
a runbook that gates on ``ok | default(false)`` stops."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.k8s_availability_info"
    SCOPE = "cluster"
    FAILURE_ID = "pods.ready_ratio"
    FAILURE_TARGET = "cluster"
