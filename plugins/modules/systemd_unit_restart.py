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
  - Rate-limited from the audit log on the controller (C(kubeops_audit_log); unset, C(~/.local/state/kubeops.runbook/audit.log)
    or C($XDG_STATE_HOME/kubeops.runbook/audit.log), whatever the working directory; C(~) is expanded) -
    when this collection restarted the same unit on the same host O(max_restarts) times within the last
    O(window_seconds), the action refuses with one line and restarts nothing. Restarting a crash-looping
    component in a loop makes an incident worse - it needs a person.
  - Every restart (and a restart that failed) is itself one line of the audit log, written as soon as the restart
    is done, with the unit's state before and after; check-mode lines are marked and do not count towards the limit.
  - C(kube-apiserver), C(etcd), C(kube-controller-manager) and C(kube-scheduler) are restarted on B(one host at a
    time), whatever C(serial) or forks the play uses - the restart holds a lock on the controller (a file beside the
    audit log) until the unit is healthy again or O(health_timeout) has passed. Healthy means C(/readyz) of the
    apiserver answers C(ok) (C(https://127.0.0.1:6443), CA C(<kubeops_k8s_ssl_dir>/ca.pem)), C(etcdctl endpoint health)
    of the host's member (C(https://<ansible_host>:2379), C(kubeops_etcd_cacert), C(kubeops_etcd_cert),
    C(kubeops_etcd_key)) succeeds, or C(/healthz) of the controller-manager (port 10257) or scheduler (10259)
    answers C(ok). The result is one more audit line (C(unit_health)).
  - Before restarting such a unit, the audit log is read for its last restart on another host; unless that host's
    unit was seen healthy afterwards, it is probed again (from this host), and the restart is refused while it is
    not healthy. A restart that does not end healthy fails the task, and so blocks the next host's.
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
    description: Most restarts of this unit on this host within O(window_seconds); 1 to 1000.
    type: int
    default: 3
  window_seconds:
    description: Length of the window the restarts are counted in; 1 to 604800 (7 days).
    type: int
    default: 3600
  health_timeout:
    description:
      - Seconds a restarted control-plane or etcd unit has to be healthy again (1 to 3600); the task fails after that.
      - Other units are only checked to be active (or activating) after the restart.
    type: int
    default: 180
    version_added: 2.0.0
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

- name: Restart kube-apiserver on every master, one at a time, each ready again before the next
  kubeops.runbook.systemd_unit_restart:
    name: kube-apiserver
    health_timeout: 120
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
one_at_a_time:
  description: Whether the unit is a control-plane or etcd unit, restarted on one host at a time with a health wait.
  returned: always
  type: bool
health:
  description: After the restart of a control-plane or etcd unit, whether it became healthy, what the probe said and how long it took.
  returned: when such a unit was restarted (not in check mode)
  type: dict
  sample: {"healthy": true, "probe": "ok", "waited": 12.4}
audit:
  description: The audit records written (the restart; for a control-plane or etcd unit also its health); absent when nothing was restarted.
  returned: when restarted or would be
  type: list
  elements: dict
"""
