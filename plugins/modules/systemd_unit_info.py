# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: systemd_unit_info
short_description: State and error logs of systemd units, as inspection findings
version_added: 1.0.0
description:
  - Reads the state of a list of units with one C(systemctl show) call and their error lines with one C(journalctl)
    call, whatever the number of units. Error lines are error-priority journal lines and, by default
    (O(klog_errors)), klog C(E)/C(F) lines, which Kubernetes components log at priority info.
  - Applies the handbook's rule per unit. V(active (running)) and no error log lines is V(ok); a unit that is not
    active is V(critical); a unit that does not exist is V(critical) with the summary C(unit not found);
    error log lines in the window, a restart count above O(max_restarts) or an active unit that is not running
    give V(warning).
  - The journal window is O(since) when given. Otherwise it is the time since this module last inspected the unit
    on this host, kept in O(state_file) (the first run looks back O(default_since)). The state file is not
    written in check mode, and not when O(since) is given.
  - A host without C(journalctl), or where it fails, still gets the unit states plus one V(unknown) finding
    C(<category>.journal) saying that the journal could not be read.
notes:
  - The module keeps state on the host it inspects, O(state_file), so that each unit's journal window starts where
    the previous inspection of that unit on that host ended, whichever controller ran it. It is bookkeeping of the
    module, never a change to what it inspects.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module_state
options:
  units:
    description: Units to inspect; names without a suffix get C(.service).
    type: list
    elements: str
    required: true
  category:
    description: Finding category, which is also the first part of the finding id C(<category>.unit).
    type: str
    choices: [control_plane_services, node_services]
    default: node_services
  host:
    description:
      - Deprecated and ignored; it will be removed in 2.0.0. The module's action labels every finding with the
        inventory name of the host it ran on (C(inventory_hostname)), so this label cannot disagree with the inventory.
    type: str
  since:
    description:
      - Journal window in C(journalctl --since) syntax, for example V(-24h) or V(2025-01-01 09:00:00).
      - When set, the last-inspection time in O(state_file) is neither used nor updated.
    type: str
  default_since:
    description: Window for units this host never inspected before (O(since) unset).
    type: str
    default: -24h
  state_file:
    description:
      - JSON file on the host that keeps, per unit name, the last inspection time (epoch seconds under
        C(last_inspection)) and the unit's C(NRestarts) then (under C(restarts)).
      - It is the only thing the module writes, and only outside check mode. Remove it to start the next window at
        O(default_since) again.
    type: path
    default: /var/lib/kubeops/systemd_unit_info.json
  max_restarts:
    description:
      - A unit restarted by systemd more often than this since the last inspection is a V(warning).
      - systemd's C(NRestarts) only grows while the unit stays loaded, so the module compares it with the count
        recorded in O(state_file) by the last inspection; without one (first run, or O(since) given) every
        restart since the unit was loaded counts.
    type: int
    default: 3
  journal_errors_warning:
    description: This many error-priority journal lines in the window (or more) make a V(warning).
    type: int
    default: 1
  samples:
    description: How many journal lines to keep per unit in the finding details.
    type: int
    default: 3
  klog_errors:
    description:
      - Also count klog error and fatal lines (C(E1122 05:56:06.187973 ...), C(F1122 ...)) whatever their journal
        priority. Kubernetes components write them to stderr, which the journal records at priority C(info), so
        C(-p err) alone misses the errors of the C(kube-*) units the handbook wants checked.
      - Reads every journal line of the units in the window instead of error-priority lines only. Set V(false) to
        count error-priority lines only.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Inspect the control plane units
  kubeops.runbook.systemd_unit_info:
    units: [kube-apiserver, kube-controller-manager, kube-scheduler]
    category: control_plane_services
  register: cp_units

- name: Look at the last hour of error logs only
  kubeops.runbook.systemd_unit_info:
    units: [kubelet, kube-proxy, containerd]
    since: -1h
"""

RETURN = r"""
findings:
  description: One C(<category>.unit) finding per unit (target is the unit name without C(.service)), plus a
    C(<category>.journal) V(unknown) finding when the journal could not be read.
  returned: always
  type: list
  elements: dict
  sample:
    - id: control_plane_services.unit
      category: control_plane_services
      target: kube-scheduler
      host: master1
      status: critical
      summary: inactive (dead); expected active (running)
      details: {unit: kube-scheduler.service, active_state: inactive, sub_state: dead}
units:
  description: The facts per unit (full unit name), from C(systemctl show) and the journal.
  returned: always
  type: dict
  sample:
    kube-apiserver.service:
      load_state: loaded
      active_state: active
      sub_state: running
      since: Mon 2025-01-06 09:00:01 UTC
      main_pid: 1234
      memory_bytes: 452984832
      restarts: 0
      result: success
      unit_file_state: enabled
      journal_errors: 0
      journal_samples: []
journal_since:
  description: The C(--since) value of the journal query.
  returned: always
  type: str
  sample: -24h
journal_available:
  description: Whether the journal could be read.
  returned: always
  type: bool
  sample: true
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _systemd


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **_systemd.ARGUMENT_SPEC,
            "host": {"type": "str", "removed_in_version": "2.0.0", "removed_from_collection": "kubeops.runbook"},
        },
        supports_check_mode=True,
    )
    try:
        result = _systemd.inspect(module, module.params, module.params["host"] or platform.node())
    except _systemd.SystemdError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
