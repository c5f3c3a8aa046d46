# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeops.runbook.k8s_drain: runs the module and appends its audit records to kubeops_audit_log."""
from __future__ import annotations

from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import AuditActionBase


class ActionModule(AuditActionBase):
    MODULE = "kubeops.runbook.k8s_drain"
