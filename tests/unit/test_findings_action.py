"""The findings action base (plugins/plugin_utils/_findings_action.py) and the shims of the *_info modules.

The module run is the boundary: ``_execute_module`` returns what a module would (results captured from the lab's
modules, trimmed); everything else (labels, validation, unknown findings, the kubeops_findings fact) is real.
"""
from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.kubeops.runbook.plugins.module_utils import _findings as F
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history as H

REDIS_OK = {"changed": False, "findings": [{
    "id": "middleware.redis", "category": "middleware", "target": "redis:6379", "host": "mw2-node-name",
    "status": "ok", "summary": "PONG, redis 7.0.15 master, 1 clients", "details": {"version": "7.0.15"}}]}
REDIS_BAD_INPUT = {"failed": True, "msg": "memory_warning_percent: must be a percentage in (0, 100], got 150"}
PEERS = {"changed": False, "findings": [
    {"id": "calico.bird", "category": "calico", "target": "master1", "host": None, "status": "ok", "summary": "BIRD answers"},
    {"id": "calico.bgp_peer", "category": "calico", "target": "198.18.0.11", "host": "node1", "status": "critical",
     "summary": "BGP session from master1 not Established"}]}


def action(name: str, outcome, args: dict | None = None, task_vars: dict | None = None, **task):
    module = importlib.import_module(f"ansible_collections.kubeops.runbook.plugins.action.{name}")
    fields = {"args": dict(args or {}), "async_val": 0, "check_mode": False, "delegate_to": None, "delegate_facts": False,
              "run_once": False, "action": f"kubeops.runbook.{name}", "get_name": lambda: f"Check {name}"}
    fields.update(task)
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp/x"))
    task_vars = {"inventory_hostname": "mw2", "ansible_facts": {}, **(task_vars or {})}
    plugin = module.ActionModule(types.SimpleNamespace(**fields), connection, None, DataLoader(),
                                 Templar(loader=DataLoader(), variables=task_vars))
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append((module_name, dict(module_args)))
        if isinstance(outcome, Exception):
            raise outcome
        return dict(outcome)

    plugin._execute_module = execute
    return plugin, task_vars, calls


def test_ok_findings_labelled_with_the_inventory_host_and_appended():
    earlier = F.finding("disk.space", "/", "ok", "12% used", host="mw2")
    plugin, task_vars, calls = action("redis_info", REDIS_OK, {"login_port": 6379},
                                      {"ansible_facts": {"kubeops_findings": [earlier]}})
    result = plugin.run(task_vars=task_vars)
    [item] = result["findings"]
    assert item["host"] == "mw2"                      # not the node name the module saw
    assert result["ansible_facts"]["kubeops_findings"] == [earlier, item]
    assert not result.get("failed")
    assert calls == [("kubeops.runbook.redis_info", {"login_port": 6379})]


def test_module_failure_is_an_unknown_finding_and_the_task_goes_on():
    plugin, task_vars, _calls = action("redis_info", REDIS_BAD_INPUT, {"login_port": 30001, "memory_warning_percent": 150})
    result = plugin.run(task_vars=task_vars)
    assert result["failed"] is False
    item, overcommit = result["findings"]
    assert (item["id"], item["target"], item["host"], item["status"]) == ("middleware.redis", "redis:30001", "mw2", "unknown")
    assert item["summary"] == "check could not run: memory_warning_percent: must be a percentage in (0, 100], got 150"
    assert item["details"]["reason"] == "failed"
    # the overcommit check of a redis on this host could not run either
    assert (overcommit["id"], overcommit["target"], overcommit["status"]) == (
        "middleware.redis_overcommit", "vm.overcommit_memory", "unknown")
    assert result["ansible_facts"]["kubeops_findings"] == [item, overcommit]
    assert any("recorded as an unknown finding" in w for w in result["warnings"])


def test_host_that_stops_answering_is_unknown_and_marked_lost():
    plugin, task_vars, _calls = action("systemd_unit_info", AnsibleConnectionFailure("ssh: connect to host 198.18.0.21 "
                                       "port 22: Connection refused"), {"units": ["kubelet", "kube-proxy"]},
                                       {"inventory_hostname": "node1"})
    result = plugin.run(task_vars=task_vars)
    assert [(f["id"], f["target"], f["status"]) for f in result["findings"]] == [
        ("node_services.unit", "kubelet", "unknown"), ("node_services.unit", "kube-proxy", "unknown")]
    assert result["findings"][0]["summary"].startswith("host stopped answering during the check: ssh: connect")
    assert "unreachable" not in result and result["failed"] is False
    assert result["ansible_facts"]["kubeops_inspection_lost"].startswith("Check systemd_unit_info: ssh: connect")


def test_malformed_finding_from_a_module_becomes_unknown():
    plugin, task_vars, _calls = action("nginx_info", {"findings": [{"id": "middleware.nginx", "target": "nginx",
                                                                   "status": "fine"}]})
    [item] = plugin.run(task_vars=task_vars)["findings"]
    assert item["status"] == "unknown" and "unknown finding status 'fine'" in item["summary"]


def test_peers_scope_keeps_the_labels_the_module_set():
    plugin, task_vars, calls = action("calico_bgp_info", PEERS, {}, {"inventory_hostname": "master1"})
    result = plugin.run(task_vars=task_vars)
    assert [f["host"] for f in result["findings"]] == ["master1", "node1"]
    assert calls[0][1]["host_name"] == "master1"      # filled from the inventory by the action


def test_cluster_scope_run_once_goes_to_the_delegated_host_unlabelled():
    quorum = {"findings": [{"id": "etcd.quorum", "category": "etcd", "target": "cluster", "host": None, "status": "ok",
                            "summary": "3/3 members healthy"}]}
    kept = F.finding("etcd.member", "node1", "ok", "healthy", host="node1")
    plugin, task_vars, _calls = action(
        "etcd_cluster_info", quorum, {"endpoints": ["https://198.18.0.11:2379"]},
        {"inventory_hostname": "mw1", "ansible_delegated_vars": {"master1": {"ansible_facts": {"kubeops_findings": [kept]}}}},
        run_once=True, delegate_to="master1", delegate_facts=True)
    result = plugin.run(task_vars=task_vars)
    assert result["findings"][0]["host"] is None
    assert result["ansible_facts"]["kubeops_findings"] == [kept, result["findings"][0]]


def test_run_once_without_delegated_facts_records_nothing():
    """Ansible would copy the facts of such a task onto every host of the play: the findings stay in the result."""
    plugin, task_vars, _calls = action("k8s_cluster_info", {"findings": [
        {"id": "nodes.ready", "category": "nodes", "target": "node1", "host": "node1", "status": "ok", "summary": "Ready"}]},
        {"restart_baseline": {}}, run_once=True, delegate_to="localhost")
    result = plugin.run(task_vars=task_vars)
    assert "ansible_facts" not in result and not result.get("failed")
    assert [f["host"] for f in result["findings"]] == ["node1"]


def test_delegated_host_labels_the_findings_about_it():
    """A task delegated to another host (without delegate_facts) checked that host: its findings say so."""
    plugin, task_vars, calls = action("calico_bgp_info", PEERS, {}, {"inventory_hostname": "master1"},
                                      delegate_to="node2")
    result = plugin.run(task_vars=task_vars)
    assert calls[0][1]["host_name"] == "node2"
    assert [f["host"] for f in result["findings"]] == ["node2", "node1"]
    assert result["ansible_facts"]["kubeops_findings"] == result["findings"]     # recorded on the task's host


@pytest.mark.parametrize("name, args, expected", [
    ("nginx_info", {}, [("middleware.nginx", "nginx")]),
    ("rabbitmq_info", {"node": "rabbit1@mqnode1"}, [("middleware.rabbitmq", "rabbit1@mqnode1")]),
    ("mysql_info", {"login_host": "192.0.2.64"}, [("middleware.mysql", "mysql:192.0.2.64:3306")]),
    ("mysql_info", {}, [("middleware.mysql", "mysql:local")]),
    ("tcp_service_info", {"name": "license_server", "port": 7788}, [("middleware.license_server", "license_server:7788")]),
    ("disk_usage_info", {}, [("disk.space", "/proc/mounts")]),
    ("cert_expiry_info", {"dirs": ["/etc/etcd/ssl"]}, [("certificates.expiry", "/etc/etcd/ssl")]),
    ("host_hygiene_info", {"checks": ["kubectl_skew"]}, [("host.kubectl_skew", "kubectl")]),
    ("log_scan", {"files": [{"path": "/data/iuap/middleware/redis-30001/log/redis.log"},
                            {"path": "/var/log/messages", "name": "messages"}]},
     [("logs.redis", "/data/iuap/middleware/redis-30001/log/redis.log"), ("logs.messages", "/var/log/messages")]),
    ("systemd_unit_info", {"units": ["etcd"], "category": "control_plane_services"},
     [("control_plane_services.unit", "etcd")]),
    ("k8s_cluster_info", {"restart_baseline": {}}, [("control_plane_services.api", "kubernetes")]),
    ("etcd_cluster_info", {}, [("etcd.quorum", "cluster")]),
    ("k8s_describe_info", {}, [("pods.describe", "kubernetes")]),
    ("nginx_upstream_info", {}, [("middleware.nginx_upstream", "nginx")]),
])
def test_each_shim_says_what_a_check_that_could_not_run_was_about(name, args, expected):
    plugin, task_vars, _calls = action(name, {"failed": True, "msg": "boom"}, args,
                                       {"ansible_delegated_vars": {"localhost": {}}},
                                       **({"run_once": True, "delegate_to": "localhost", "delegate_facts": True}
                                          if name in ("k8s_cluster_info", "etcd_cluster_info", "k8s_describe_info") else {}))
    result = plugin.run(task_vars=task_vars)
    assert [(f["id"], f["target"]) for f in result["findings"]] == expected
    assert all(f["status"] == "unknown" for f in result["findings"])


# -- k8s_cluster_info: the restart baseline from the one store on the controller ---------------------------------
SNAPSHOT = {"taken": "2026-11-22T06:00:00Z", "pods": {"product/wcs-webui-1-3-0-5d9c-abcde": {
    "uid": "u1", "restarts": 2, "created": "2026-11-20T01:00:00Z", "owner": "Deployment/wcs-webui-1-3-0"}}}
API_DOWN = {"findings": [{"id": "control_plane_services.api", "category": "control_plane_services",
                          "target": "https://198.18.0.11:6443", "host": None, "status": "critical",
                          "summary": "Kubernetes API at https://198.18.0.11:6443 is unreachable: Connection refused"}],
            "pod_restarts": {}, "restart_snapshot": None}
API_UP = {"findings": [], "pod_restarts": {"product/wcs-webui-1-3-0-5d9c-abcde": 3},
          "restart_snapshot": dict(SNAPSHOT, taken="2026-11-23T06:00:00Z")}


def k8s(outcome, tmp_path):
    return action("k8s_cluster_info", outcome, {"kubeconfig": "/x"},
                  {"inventory_hostname": "master1", "kubeops_cluster_name": "lab",
                   "inspection_report_dir": str(tmp_path), "ansible_delegated_vars": {"localhost": {}}},
                  run_once=True, delegate_to="localhost", delegate_facts=True)


def test_k8s_reads_the_last_good_baseline_and_records_the_new_one(tmp_path):
    with H.History(str(tmp_path / "history.sqlite")) as history:
        history.save_baseline("lab", "pod_restarts", SNAPSHOT["taken"], SNAPSHOT)
    plugin, task_vars, calls = k8s(API_UP, tmp_path)
    result = plugin.run(task_vars=task_vars)
    assert calls[0][1]["restart_baseline"] == SNAPSHOT
    assert result["ansible_facts"]["kubeops_baselines"] == {"pod_restarts": API_UP["restart_snapshot"]}


def test_k8s_run_without_the_api_records_no_baseline(tmp_path):
    plugin, task_vars, calls = k8s(API_DOWN, tmp_path)
    result = plugin.run(task_vars=task_vars)
    assert calls[0][1]["restart_baseline"] == {}          # nothing stored yet
    assert "kubeops_baselines" not in result["ansible_facts"]
    assert result["findings"][0]["status"] == "critical"


def test_k8s_unreadable_history_is_an_unknown_finding_not_a_failure(tmp_path):
    (tmp_path / "history.sqlite").write_text("this is not a database")
    plugin, task_vars, _calls = k8s(API_UP, tmp_path)
    result = plugin.run(task_vars=task_vars)
    [item] = result["findings"]
    assert (item["id"], item["target"], item["status"]) == ("pods.restarts", "baseline", "unknown")
    assert "cannot be read" in item["summary"]


def test_every_info_module_has_a_findings_action():
    """Every *_info module that returns findings goes through FindingsActionBase (roles then only compose modules)."""
    root = Path(__file__).resolve().parents[2] / "plugins"
    for module in sorted((root / "modules").glob("*_info.py")):
        if "findings:" not in module.read_text():
            continue
        shim = root / "action" / module.name
        assert shim.is_file(), f"{module.name} has no action shim"
        assert "FindingsActionBase" in shim.read_text(), shim


# -- k8s_cluster_info with kubectl: the skew finding is about the kubectl of the host the module ran on -----------
def test_k8s_labels_the_kubectl_skew_with_the_host_it_ran_on(tmp_path):
    skew = {"id": "host.kubectl_skew", "category": "host", "target": "kubectl", "host": None, "status": "ok",
            "summary": "kubectl v1.30.14, server v1.30.14"}
    plugin, task_vars, _calls = k8s(dict(API_UP, findings=[skew]), tmp_path)
    found = plugin.run(task_vars=task_vars)["findings"]
    assert [(f["id"], f["host"]) for f in found] == [("host.kubectl_skew", "localhost")]


def test_k8s_that_could_not_run_names_the_kubectl_skew_too(tmp_path):
    plugin, task_vars, _calls = action("k8s_cluster_info", {"failed": True, "msg": "kubeconfig /x: no such file"},
                                       {"kubeconfig": "/x", "kubectl": "kubectl", "restart_baseline": {}},
                                       {"inventory_hostname": "localhost"})
    found = plugin.run(task_vars=task_vars)["findings"]
    assert [(f["id"], f["target"], f["host"], f["status"]) for f in found] == [
        ("control_plane_services.api", "kubernetes", None, "unknown"),
        ("host.kubectl_skew", "kubectl", "localhost", "unknown")]
