# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeops.runbook.systemd_unit_restart: restart a unit with ansible.builtin.systemd_service, at most N times per
window per unit and host (counted from the controller's audit log), and audit the restart when it is made.

Control-plane and etcd units are restarted on one host at a time, each healthy again before the next
(plugins/plugin_utils/_restart_limit.py says how)."""
from __future__ import annotations

import datetime as dt
import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import parse_lines, record
from ansible_collections.kubeops.runbook.plugins.plugin_utils._audit_action import AuditActionBase, audit_log_path, write_audit
from ansible_collections.kubeops.runbook.plugins.plugin_utils._restart_limit import (
    ACTION, HEALTH_ACTION, SERIAL_UNITS, RestartLimitError, check_limit, health_probe, probe_result, read_tail,
    serial_lock, unconfirmed_restart, unit_name, validate_limits,
)

ARGUMENT_SPEC: dict[str, t.Any] = {
    "name": {"type": "str", "required": True},
    "max_restarts": {"type": "int", "default": 3},
    "window_seconds": {"type": "int", "default": 3600},
    "only_if_not_active": {"type": "bool", "default": False},
    "health_timeout": {"type": "int", "default": 180},
}
STATE_KEYS = ("LoadState", "ActiveState", "SubState", "MainPID", "ExecMainStartTimestamp", "NRestarts", "Result")
LOCK_TIMEOUT = 3600.0
PROBE_INTERVAL = 2.0


def _state(result: dict) -> dict:
    status = result.get("status") or {}
    return {k: status.get(k) for k in STATE_KEYS if k in status}


class ActionModule(AuditActionBase):
    """Runs ansible.builtin.systemd_service on the target; the rate limit, the one-host-at-a-time lock and the audit
    lines stay on the controller."""

    MODULE = "kubeops.runbook.systemd_unit_restart"
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(AuditActionBase, self).run(tmp, task_vars)  # pylint: disable=bad-super-call  # ActionBase.run only
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        audit_log = audit_log_path(self, task_vars)
        try:
            unit = unit_name(args["name"])
            if not 1 <= args["health_timeout"] <= 3600:
                raise RestartLimitError(f"health_timeout must be 1 to 3600 seconds, got {args['health_timeout']}")
            validate_limits(args["max_restarts"], args["window_seconds"])
        except RestartLimitError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        kind = SERIAL_UNITS.get(unit)
        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        if kind is None or check_mode:
            return self._restart(result, task_vars, args, unit, kind, audit_log, check_mode)
        try:
            with serial_lock(f"{audit_log}.restart.lock", LOCK_TIMEOUT):
                return self._restart(result, task_vars, args, unit, kind, audit_log, check_mode)
        except RestartLimitError as exc:
            raise AnsibleActionFail(str(exc)) from exc

    # -- the steps ------------------------------------------------------------------------------------------------
    def _restart(self, result: dict, task_vars: dict, args: dict, unit: str, kind: str | None, audit_log: str,
                 check_mode: bool) -> dict:
        host = task_vars.get("inventory_hostname", "")
        try:
            recent = check_limit(audit_log, host, unit, args["max_restarts"], args["window_seconds"])
        except RestartLimitError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        status = self._execute_module(module_name="ansible.builtin.systemd_service", module_args={"name": unit},
                                      task_vars=task_vars)
        if status.get("failed"):
            raise AnsibleActionFail(f"cannot read the state of {unit} on {host}: {status.get('msg', 'systemd_service failed')}")
        before = _state(status)
        result.update({"name": unit, "before": before, "after": before, "restarts_in_window": len(recent),
                       "max_restarts": args["max_restarts"], "changed": False, "one_at_a_time": kind is not None})
        if before.get("LoadState") == "not-found":
            if args["only_if_not_active"]:
                result["msg"] = f"{unit} is not installed on {host}: nothing to restart"
                return result
            raise AnsibleActionFail(f"{unit} is not installed on {host}: nothing to restart")
        if args["only_if_not_active"] and before.get("ActiveState") == "active":
            result["msg"] = f"{unit} is active on {host}: not restarted"
            return result
        if kind is not None:
            self._refuse_while_another_host_is_unhealthy(task_vars, args, unit, kind, host, audit_log)

        restarted = self._execute_module(module_name="ansible.builtin.systemd_service",
                                         module_args={"name": unit, "state": "restarted"}, task_vars=task_vars)
        after = before
        if not check_mode and not restarted.get("failed"):
            after = _state(self._execute_module(module_name="ansible.builtin.systemd_service",
                                                module_args={"name": unit}, task_vars=task_vars))
        outcome = "failed" if restarted.get("failed") else ("would restart" if check_mode else "restarted")
        entry = record(ACTION, unit, before, after, outcome=outcome,
                       restarts_in_window=len(recent) + (0 if check_mode else 1), max_restarts=args["max_restarts"])
        # Audited when it is made, whatever follows: a failed restart still touched the unit.
        write_audit(self, self.MODULE, [entry], task_vars)
        result.update({"after": after, "changed": bool(restarted.get("changed", not restarted.get("failed"))),
                       "restarts_in_window": entry["restarts_in_window"], "audit": [entry]})
        if self._task.diff:
            result["diff"] = {"before": before, "after": after}
        if restarted.get("failed"):
            raise AnsibleActionFail(f"restarting {unit} on {host} failed: {restarted.get('msg', 'systemd_service failed')}",
                                    result=result)
        if check_mode:
            return result
        if kind is not None:
            healthy, detail, waited = self._wait_healthy(task_vars, kind, args["health_timeout"])
            health = record(HEALTH_ACTION, unit, None, {"healthy": healthy, "probe": detail}, waited=round(waited, 1))
            write_audit(self, self.MODULE, [health], task_vars)
            result["audit"].append(health)
            result["health"] = {"healthy": healthy, "probe": detail, "waited": round(waited, 1)}
            if not healthy:
                raise AnsibleActionFail(
                    f"{unit} on {host} restarted but not healthy after {args['health_timeout']}s ({detail}); no other "
                    f"host's {unit} is restarted until it is", result=result)
        elif after.get("ActiveState") not in ("active", "activating"):
            raise AnsibleActionFail(f"{unit} on {host} restarted but is {after.get('ActiveState')} "
                                    f"({after.get('SubState')}); look at journalctl -u {unit}", result=result)
        return result

    def _settings(self, task_vars: dict) -> dict:
        def var(name: str, default: str) -> str:
            value = task_vars.get(name)
            return str(self._templar.template(value)) if value not in (None, "") else default

        return {"apiserver_ca": f"{var('kubeops_k8s_ssl_dir', '/etc/kubernetes/ssl')}/ca.pem",
                "etcdctl": "etcdctl",
                "etcd_cacert": var("kubeops_etcd_cacert", "/etc/etcd/ssl/ca.pem"),
                "etcd_cert": var("kubeops_etcd_cert", "/etc/etcd/ssl/etcd-client.pem"),
                "etcd_key": var("kubeops_etcd_key", "/etc/etcd/ssl/etcd-client-key.pem")}

    def _address(self, task_vars: dict, host: str) -> str:
        """How ``host`` is reached: its ansible_host, else its name."""
        if host == task_vars.get("inventory_hostname"):
            value = task_vars.get("ansible_host")
        else:
            try:
                value = (task_vars.get("hostvars") or {})[host].get("ansible_host")
            except (KeyError, TypeError, AttributeError):
                value = None
        return str(self._templar.template(value)) if value else host

    def _probe(self, task_vars: dict, kind: str, address: str) -> tuple[bool, str]:
        module, module_args = health_probe(kind, address, self._settings(task_vars))
        return probe_result(kind, self._execute_module(module_name=module, module_args=module_args, task_vars=task_vars))

    def _local_address(self, task_vars: dict, kind: str) -> str:
        # etcd serves its clients on the member's address; the others answer on the loopback address of their host
        return self._address(task_vars, task_vars.get("inventory_hostname", "")) if kind == "etcd" else "127.0.0.1"

    def _wait_healthy(self, task_vars: dict, kind: str, timeout: int) -> tuple[bool, str, float]:
        started = time.monotonic()
        while True:
            healthy, detail = self._probe(task_vars, kind, self._local_address(task_vars, kind))
            waited = time.monotonic() - started
            if healthy or waited >= timeout:
                return healthy, detail, waited
            time.sleep(PROBE_INTERVAL)

    def _refuse_while_another_host_is_unhealthy(self, task_vars: dict, args: dict, unit: str, kind: str, host: str,
                                                audit_log: str) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        previous = unconfirmed_restart(parse_lines(read_tail(audit_log)), host, unit, now, args["window_seconds"])
        if previous is None:
            return
        other = str(previous.get("host"))
        healthy, detail = self._probe(task_vars, kind, self._address(task_vars, other))
        if not healthy:
            raise AnsibleActionFail(
                f"refusing to restart {unit} on {host}: its restart on {other} at {previous.get('time')} has not been "
                f"followed by a healthy {unit} there (probed now: {detail}); one control-plane or etcd host at a time - "
                f"fix {other} first (a restart there that ends healthy lifts this)")
