# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_window
short_description: Whether a clock time is inside a maintenance window
version_added: 2.0.0
author:
  - kubeops.runbook maintainers (@kubeops)
description:
  - Compares a clock time (C(HH:MM)) with a maintenance window C(HH:MM-HH:MM) (24-hour clock, the end excluded).
    A window whose end comes before its start runs over midnight (V(22:00-06:00)).
  - Pass the controller's local time, C(now(fmt='%H:%M')), to check the window of a runbook before it changes anything.
  - A malformed window fails with a message that names it.
options:
  _input:
    description: The window, C(HH:MM-HH:MM).
    type: str
    required: true
  now:
    description: The clock time to compare, C(HH:MM).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse outside the window
  ansible.builtin.assert:
    that: (maintenance_window | kubeops.runbook.maintenance_window(now(fmt='%H:%M'))).inside
    fail_msg: "outside the maintenance window {{ maintenance_window }}"
"""

RETURN = r"""
_value:
  description: C(inside) (bool), C(window), C(now), C(minutes_left) (0 outside) and C(opens_in) (minutes until it opens, 0 inside).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.module_utils._maintenance import MaintenanceError, window_state


def maintenance_window(window: str, now: str) -> dict:
    try:
        return window_state(window, now)
    except MaintenanceError as exc:
        raise AnsibleFilterError(f"maintenance_window: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"maintenance_window": maintenance_window}
