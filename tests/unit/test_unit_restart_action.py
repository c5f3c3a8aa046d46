"""The systemd_unit_restart action (plugins/action/systemd_unit_restart.py): one absolute audit log whatever the working
directory, the restart audited when it is made, control-plane and etcd units restarted on one host at a time.

Only the process boundary is replaced: ``_execute_module`` (what Ansible would run on the host) answers as systemd and
the apiserver do; the controller side (audit log, lock, limit, waits) is the real code."""
from __future__ import annotations

import json
import os
import threading
import time
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.action import systemd_unit_restart as restart_action


class Task:
    check_mode = False
    diff = False

    def __init__(self, args: dict):
        self.args = args

    @staticmethod
    def get_name():
        return "Restart the unit"


class Templar:
    @staticmethod
    def template(value):
        return value


class Host:
    """One host as the action sees it through _execute_module: its units and the health of its apiserver/etcd."""

    def __init__(self, events: list, ready_after: float | None = 0.2, active_after_restart: bool = True):
        self.events = events
        self.ready_after = ready_after          # seconds after a restart until /readyz answers ok; None: never
        self.active_after_restart = active_after_restart
        self.restarted_at: float | None = None

    def execute(self, name: str, module_name: str, module_args: dict) -> dict:
        if module_name == "ansible.builtin.systemd_service":
            if module_args.get("state") == "restarted":
                self.events.append(("restart", name, time.monotonic()))
                self.restarted_at = time.monotonic()
                return {"changed": True, "status": {}}
            active = self.restarted_at is None or self.active_after_restart
            return {"status": {"LoadState": "loaded", "ActiveState": "active" if active else "failed",
                               "SubState": "running" if active else "failed", "MainPID": "42"}}
        if module_name in ("ansible.builtin.uri", "ansible.builtin.command"):
            ready = self.ready_after is not None and (
                self.restarted_at is None or time.monotonic() - self.restarted_at >= self.ready_after)
            self.events.append(("probe", name, module_args.get("url") or module_args["argv"][3], ready))
            if module_name == "ansible.builtin.command":
                # as etcdctl 3.4 answers (tests/unit/fixtures/restart/etcd_*.json): the verdict on stderr
                url = module_args["argv"][3][12:]
                if ready:
                    return {"rc": 0, "stdout": "", "stderr": f"{url} is healthy: successfully committed proposal: took = 5ms"}
                return {"rc": 1, "stdout": "",
                        "stderr": f"{url} is unhealthy: failed to commit proposal: context deadline exceeded\nError: unhealthy cluster"}
            return {"status": 200, "content": "ok"} if ready else {"status": -1, "msg": "Connection refused", "failed": True}
        raise AssertionError(f"unexpected module {module_name}")


def action(args: dict, host: str, hosts: dict[str, Host], check_mode: bool = False):
    shim = restart_action.ActionModule.__new__(restart_action.ActionModule)
    shim._task = Task(args)
    shim._task.check_mode = check_mode
    shim._play_context = mock.Mock(check_mode=check_mode)
    shim._templar = Templar()
    shim._load_name = "kubeops.runbook.systemd_unit_restart"

    def execute(module_name, module_args, task_vars):
        # a probe of another host's address is answered by that host
        target = host
        for name in hosts:
            if f"//{name}:" in str(module_args.get("url") or module_args.get("argv", [""] * 4)[3]):
                target = name
        return hosts[target].execute(target, module_name, module_args)

    shim._execute_module = execute
    return shim


def run(shim, host: str, audit_log=None, env: dict | None = None) -> dict:
    task_vars = {"inventory_hostname": host, "ansible_host": host, "ansible_play_name": "restart",
                 "hostvars": {h: {"ansible_host": h} for h in ("master1", "master2", "master3")}}
    if audit_log is not None:
        task_vars["kubeops_audit_log"] = audit_log
    with mock.patch.object(ActionBase, "run", return_value={}), mock.patch.dict(os.environ, env or {}):
        return shim.run(task_vars=task_vars)


@pytest.fixture(autouse=True)
def quick_probes(monkeypatch):
    monkeypatch.setattr(restart_action, "PROBE_INTERVAL", 0.05, raising=False)


def lines(path) -> list[dict]:
    return [json.loads(x) for x in open(path, encoding="utf-8").read().splitlines()]


def test_audit_log_is_one_absolute_path_whatever_the_working_directory(tmp_path, monkeypatch):
    """1.1.0: './reports/audit.log' of the working directory, and '~' not expanded by the restart action - each
    directory (each AWX job) counted from zero. Now '~' is expanded and the default is the user's state directory."""
    home = tmp_path / "home"
    home.mkdir()
    hosts = {"node1": Host([])}
    for cwd in ("a", "b"):
        (tmp_path / cwd).mkdir()
        monkeypatch.chdir(tmp_path / cwd)
        run(action({"name": "kubelet", "max_restarts": 2}, "node1", hosts), "node1", env={"HOME": str(home), "XDG_STATE_HOME": ""})
    monkeypatch.chdir(tmp_path / "a")
    with pytest.raises(AnsibleActionFail, match="refusing to restart kubelet.service on node1: restarted 2 times"):
        run(action({"name": "kubelet", "max_restarts": 2}, "node1", hosts), "node1", env={"HOME": str(home), "XDG_STATE_HOME": ""})
    log = home / ".local/state/kubeops.runbook/audit.log"
    assert [x["target"] for x in lines(log)] == ["kubelet.service", "kubelet.service"]
    assert not (tmp_path / "a/reports").exists() and not (tmp_path / "b/reports").exists()
    # ~ in kubeops_audit_log is the user's home, for the limit as for the line
    run(action({"name": "kubelet"}, "node1", hosts), "node1", audit_log="~/audit/x.log", env={"HOME": str(home)})
    assert len(lines(home / "audit/x.log")) == 1 and not (tmp_path / "a/~").exists()
    # XDG_STATE_HOME, when set, is the state directory
    run(action({"name": "kubelet"}, "node1", hosts), "node1", env={"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")})
    assert len(lines(tmp_path / "state/kubeops.runbook/audit.log")) == 1


def test_window_out_of_range_is_one_line_and_restarts_nothing(tmp_path):
    events: list = []
    with pytest.raises(AnsibleActionFail) as info:
        run(action({"name": "etcd", "window_seconds": 10 ** 12}, "master1", {"master1": Host(events)}), "master1",
            audit_log=str(tmp_path / "audit.log"))
    assert str(info.value) == "window_seconds must be 1 to 604800 (7 days), got 1000000000000"
    assert events == [] and not (tmp_path / "audit.log").exists()


def test_a_node_unit_that_fails_after_its_restart_is_audited_and_changed(tmp_path):
    """kubelet restarted, then not active: the task fails, reports changed and what it did, and the line is in the log
    (1.1.0 died with AttributeError on every real restart, before writing anything)."""
    log = tmp_path / "audit.log"
    with pytest.raises(AnsibleActionFail, match="restarted but is failed") as info:
        run(action({"name": "kubelet"}, "node1", {"node1": Host([], active_after_restart=False)}), "node1", audit_log=str(log))
    result = info.value.result
    assert result["changed"] is True and result["audit"][0]["outcome"] == "restarted"
    assert [(x["action"], x["host"], x["outcome"]) for x in lines(log)] == [("restart_unit", "node1", "restarted")]


def test_control_plane_units_are_restarted_one_host_at_a_time_whatever_the_forks(tmp_path):
    """Three masters restart kube-apiserver at once (forks, no serial): each restart waits for the one before to
    answer /readyz; the audit log holds restart, health, restart, health, restart, health."""
    log = str(tmp_path / "audit.log")
    events: list = []
    hosts = {name: Host(events, ready_after=0.3) for name in ("master1", "master2", "master3")}
    errors: list = []

    def one(name):
        try:
            run(action({"name": "kube-apiserver"}, name, hosts), name, audit_log=log)
        except Exception as exc:  # noqa: BLE001  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(name,)) for name in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    done = lines(log)
    assert [x["action"] for x in done] == ["restart_unit", "unit_health"] * 3
    assert all(x["after"]["healthy"] for x in done if x["action"] == "unit_health")
    # every restart comes after the previous host's apiserver answered ok
    order = [e for e in events if e[0] == "restart" or (e[0] == "probe" and e[3])]
    kinds = [(e[0], e[1]) for e in order]
    for i in range(0, 6, 2):
        assert kinds[i][0] == "restart" and kinds[i + 1] == ("probe", kinds[i][1]), kinds
    assert {x["host"] for x in done} == set(hosts)


def test_an_apiserver_that_does_not_come_back_stops_the_next_host(tmp_path):
    """master1's apiserver is never ready again: its task fails (changed, both lines audited) and master2's restart is
    refused - master1 is probed again first - until master1 answers."""
    log = str(tmp_path / "audit.log")
    events: list = []
    hosts = {"master1": Host(events, ready_after=None), "master2": Host(events)}
    with pytest.raises(AnsibleActionFail, match="kube-apiserver.service on master1 restarted but not healthy after 1s") as info:
        run(action({"name": "kube-apiserver", "health_timeout": 1}, "master1", hosts), "master1", audit_log=log)
    assert info.value.result["changed"] is True
    assert [(x["action"], x["host"]) for x in lines(log)] == [("restart_unit", "master1"), ("unit_health", "master1")]
    with pytest.raises(AnsibleActionFail, match="refusing to restart kube-apiserver.service on master2: its restart on master1"):
        run(action({"name": "kube-apiserver"}, "master2", hosts), "master2", audit_log=log)
    assert not any(e[0] == "restart" and e[1] == "master2" for e in events)
    assert ("probe", "master1", "https://master1:6443/readyz", False) in events
    # master1 recovers (someone fixed it): master2 may go
    hosts["master1"].ready_after = 0
    result = run(action({"name": "kube-apiserver"}, "master2", hosts), "master2", audit_log=log)
    assert result["changed"] and result["health"]["healthy"]


def test_etcd_waits_for_endpoint_health_of_its_member(tmp_path):
    log = str(tmp_path / "audit.log")
    events: list = []
    result = run(action({"name": "etcd"}, "master1", {"master1": Host(events, ready_after=0.1)}), "master1", audit_log=log)
    assert result["one_at_a_time"] and result["health"]["healthy"]
    assert result["health"]["probe"] == "https://master1:2379 is healthy: successfully committed proposal: took = 5ms"
    probes = [e for e in events if e[0] == "probe"]
    assert probes and all(e[2] == "--endpoints=https://master1:2379" for e in probes)


def test_check_mode_restarts_nothing_and_waits_for_nothing(tmp_path):
    log = str(tmp_path / "audit.log")
    events: list = []
    result = run(action({"name": "kube-apiserver"}, "master1", {"master1": Host(events)}, check_mode=True), "master1",
                 audit_log=log)
    assert [x["check_mode"] for x in lines(log)] == [True] and "health" not in result
