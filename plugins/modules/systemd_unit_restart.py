# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/systemd_unit_restart.py.
from __future__ import annotations

DOCUMENTATION = r"""
module: systemd_unit_restart
short_description: Restart a systemd unit, at most N times per hour, and audit it
version_added: 1.1.0
description:
  - Restarts one unit with M(ansible.builtin.systemd_service) on the target host.
  - Rate-limited from the audit log on the controller (C(kubeops_audit_log), default C(./reports/audit.log)) -
    when this collection restarted the same unit on the same host O(max_restarts) times within the last
    O(window_seconds), the action refuses with one line and restarts nothing. Restarting a crash-looping
    component in a loop makes an incident worse - it needs a person.
  - Every restart (and a restart that failed) is itself one line of the audit log, with the unit's state
    before and after; check-mode lines are marked and do not count towards the limit.
  - With O(only_if_not_active=true), an active unit is left alone (the incident runbooks restart only what is down),
    and so is a unit that is not installed on the host; without it, a unit that is not installed is an error.
  - Fails when the unit is not active (or activating) after the restart.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  name:
    description: Unit name; C(.service) is implied when no suffix is given.
    type: str
    required: true
  max_restarts:
    description: Most restarts of this unit on this host within O(window_seconds); at least 1.
    type: int
    default: 3
  window_seconds:
    description: Length of the window the restarts are counted in.
    type: int
    default: 3600
  only_if_not_active:
    description: Restart only when the unit is not C(active).
    type: bool
    default: false
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - Applies the rate limit and says whether the unit would be restarted; the audit line is marked check mode.
  diff_mode:
    support: full
  idempotent:
    support: partial
    details:
      - With O(only_if_not_active=true) a second run leaves the (now active) unit alone; otherwise every run restarts.
"""

EXAMPLES = r"""
- name: Start kubelet again if it is down, at most 3 times an hour
  kubeops.runbook.systemd_unit_restart:
    name: kubelet
    only_if_not_active: true
    max_restarts: 3
"""

RETURN = r"""
name:
  description: The unit.
  returned: always
  type: str
  sample: kubelet.service
before:
  description: C(LoadState), C(ActiveState), C(SubState), C(MainPID), C(ExecMainStartTimestamp), C(NRestarts) and C(Result) before.
  returned: always
  type: dict
after:
  description: The same after the restart (equal to RV(before) when nothing was done or in check mode).
  returned: always
  type: dict
restarts_in_window:
  description: Restarts of this unit on this host within the window, this one included.
  returned: always
  type: int
max_restarts:
  description: The limit applied.
  returned: always
  type: int
audit:
  description: The audit record written (absent when nothing was restarted).
  returned: when restarted or would be
  type: list
  elements: dict
"""
