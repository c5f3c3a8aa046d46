# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.k8s_describe_info: runs the module and records its findings in kubeops_findings."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.k8s_describe_info"
    SCOPE = "cluster"   # a pod's finding names its node's host; the rest are the cluster's
    FAILURE_ID = "pods.describe"
    FAILURE_TARGET = "kubernetes"
