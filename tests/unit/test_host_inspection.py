"""The combined host call (plugins/module_utils/_host_inspection.py, module host_inspection_info, its action).

The process boundary is a fake AnsibleModule (``run_command`` answers with output captured on the lab's nodes,
``get_bin_path`` says what is installed); everything else is the real registry and the real checks, so a check runs
the same code here as in its single-purpose module.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.kubeops.runbook.plugins.module_utils import _findings as F
from ansible_collections.kubeops.runbook.plugins.module_utils import _host_inspection as HI
from test_findings_action import action as findings_action  # pylint: disable=wrong-import-order

FIX = Path(__file__).parent / "fixtures"
NODE1_SHOW = (FIX / "systemd" / "node1_show.txt").read_text(encoding="utf-8")


class FakeModule:
    """What the checks use of AnsibleModule; commands answer from captures, the rest is not installed."""

    def __init__(self, tmp_path, answers: dict | None = None, check_mode: bool = True):
        self.answers = answers or {}
        self.check_mode = check_mode
        self.tmpdir = str(tmp_path)
        self.warnings: list[str] = []
        self.calls: list[list[str]] = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        del required, opt_dirs
        return f"/usr/bin/{name}" if name in self.answers else None

    def run_command(self, argv, data=None, environ_update=None):
        del data, environ_update
        self.calls.append(list(argv))
        return self.answers[argv[0].rsplit("/", 1)[-1]]

    def warn(self, text):
        self.warnings.append(text)


def ids(findings):
    return [(f["id"], f["target"], f["status"]) for f in findings]


def test_checks_run_in_order_and_every_finding_is_labelled(tmp_path, monkeypatch):
    monkeypatch.setattr(HI._systemd, "stream_command", lambda argv, consume: (0, consume(iter([])), ""))
    module = FakeModule(tmp_path, {"systemctl": (0, NODE1_SHOW, ""), "journalctl": (0, "", "")})
    findings, results = HI.run_checks(module, [
        {"check": "systemd_unit_info", "options": {"units": ["kubelet", "kube-proxy"], "state_file": str(tmp_path / "s")}},
        {"check": "host_hygiene_info", "options": {"container_roots": [str(tmp_path / "docker")]}},
    ], "node1")
    assert [r["check"] for r in results] == ["systemd_unit_info", "host_hygiene_info"]
    assert all(r["elapsed_s"] >= 0 and "error" not in r for r in results)
    assert ids(findings)[:2] == [("node_services.unit", "kubelet", "ok"), ("node_services.unit", "kube-proxy", "ok")]
    assert {f["host"] for f in findings} == {"node1"}
    assert results[0]["units"]["kubelet.service"]["active_state"] == "active"
    assert not (tmp_path / "s").exists()          # check mode: the state file is left alone


def test_a_check_that_fails_is_unknown_and_the_others_still_run(tmp_path):
    """What the shim of a failed single-purpose module records (same id, target, summary), the others unaffected."""
    findings, results = HI.run_checks(FakeModule(tmp_path), [
        {"check": "disk_usage_info", "options": {"space_warning": 95, "space_critical": 90}},
        {"check": "tcp_service_info", "options": {"name": "license_server", "port": 70000}},
        {"check": "disk_usage_info", "options": {"paths": ["/"], "space_warning": "lots"}},
        {"check": "host_hygiene_info", "options": {"container_roots": [str(tmp_path)]}},
    ], "node1")
    disk, tcp, typed = findings[0], findings[1], findings[2]
    assert (disk["id"], disk["target"], disk["status"]) == ("disk.space", "/proc/mounts", "unknown")
    assert disk["summary"] == ("check could not run: space_warning: 95.0 is above space_critical 90.0; the warning "
                               "level must not exceed the critical one")
    assert disk["details"] == {"module": "kubeops.runbook.disk_usage_info", "reason": "failed",
                               "error": disk["summary"][len("check could not run: "):]}
    assert (tcp["id"], tcp["target"], tcp["status"]) == ("middleware.license_server", "license_server:70000", "unknown")
    assert "port: must be a TCP port (1-65535), got 70000" in tcp["summary"]
    assert (typed["id"], typed["target"], typed["status"]) == ("disk.space", "/", "unknown")
    assert "argument 'space_warning' is of type str and we were unable to convert to float" in typed["summary"]
    assert [r.get("error") is not None for r in results] == [True, True, True, False]
    assert findings[3]["id"] == "host.docker_root_symlink" and findings[3]["status"] == "ok"


def test_a_check_that_crashes_is_unknown(tmp_path, monkeypatch):
    def boom(module, params, host):
        raise KeyError("units")
    monkeypatch.setitem(HI.CHECKS, "systemd_unit_info", HI.CHECKS["systemd_unit_info"]._replace(run=boom))
    findings, results = HI.run_checks(FakeModule(tmp_path), [
        {"check": "systemd_unit_info", "options": {"units": ["etcd"], "category": "control_plane_services"}},
        {"check": "host_hygiene_info", "options": {"container_roots": [str(tmp_path)]}},
    ], "master1")
    assert ids(findings)[0] == ("control_plane_services.unit", "etcd", "unknown")
    assert findings[0]["summary"] == "check could not run: KeyError: 'units'"
    assert results[0]["error"] == "KeyError: 'units'" and findings[1]["status"] == "ok"


def test_calico_keeps_its_own_labels_the_peers_end_of_a_broken_session(tmp_path):
    """master1's view with BIRD stopped on node1: the broken session is reported on master1 and on node1."""
    bird = (FIX / "calico" / "master1_node1_bird_stopped_protocols_all.txt").read_text(encoding="utf-8")
    module = FakeModule(tmp_path, {"birdcl": (0, bird, "")})
    findings, _results = HI.run_checks(module, [{"check": "calico_bgp_info", "options": {
        "host_name": "master1", "calicoctl_path": "", "local_address": "198.18.0.11",
        "peer_hosts": {"198.18.0.21": "node1", "198.18.0.22": "node2"}}}], "master1")
    broken = [(f["target"], f["host"]) for f in findings if f["status"] == "critical"]
    assert broken == [("198.18.0.21", "master1"), ("198.18.0.11", "node1")]
    assert ("calico.bird", "master1", "ok") in ids(findings)


def test_etcd_findings_are_the_clusters(tmp_path, monkeypatch):
    """etcd's findings stay unlabelled (the cluster's), also when the check cannot run."""
    monkeypatch.setattr(HI._etcd, "find_etcdctl", lambda path: None)
    findings, _results = HI.run_checks(FakeModule(tmp_path), [
        {"check": "etcd_cluster_info", "options": {"endpoints": ["https://198.18.0.11:2379"]}},
        {"check": "etcd_cluster_info", "options": {"endpoints": ["https://198.18.0.11:2379"], "quota_backend_bytes": "x"}},
    ], "master1")
    assert [(f["id"], f["target"], f["status"], f["host"]) for f in findings] == [
        ("etcd.quorum", "cluster", "unknown", None), ("etcd.quorum", "cluster", "unknown", None)]
    assert findings[0]["summary"] == "etcdctl not found (etcdctl)"
    assert findings[1]["summary"].startswith("check could not run: argument 'quota_backend_bytes'")


def test_an_unknown_check_is_one_unknown_finding(tmp_path):
    findings, results = HI.run_checks(FakeModule(tmp_path), [{"check": "no_such_check", "options": {}}], "mw1")
    assert ids(findings) == [("host.inspection", "no_such_check", "unknown")]
    assert "is not a check of host_inspection_info" in results[0]["error"]


def test_none_is_left_out_only_where_the_option_has_no_default():
    """None where the option has no default is `default(omit)` of a single-purpose task; where it has one, None is
    refused as redis_info itself refuses it."""
    spec = HI.CHECKS["redis_info"].spec
    params = HI.validate(spec, {"expected_role": None, "login_password": None})
    assert params["expected_role"] is None and params["login_password"] is None and params["clients_warning"] == 1000
    with pytest.raises(HI.CheckFailed, match="argument 'clients_warning' is of type NoneType"):
        HI.validate(spec, {"clients_warning": None})
    with pytest.raises(HI.CheckFailed, match="value of expected_role must be one of"):
        HI.validate(spec, {"expected_role": "primary"})


def test_secrets_travel_apart_and_are_merged_back(tmp_path, monkeypatch):
    seen = {}

    def capture(module, params, host):
        seen.update(params)
        return {"findings": []}
    monkeypatch.setitem(HI.CHECKS, "mysql_info", HI.CHECKS["mysql_info"]._replace(run=capture))
    invocations = [{"check": "disk_usage_info", "options": {}},
                   {"check": "mysql_info", "options": {"login_user": "monitor", "login_password": "s3cret"}},
                   {"check": "redis_info", "options": {"login_password": ""}}]
    cleaned, secrets = HI.split_secrets(invocations)
    assert secrets == {"1": {"login_password": "s3cret"}}
    assert "s3cret" not in json.dumps(cleaned) and cleaned[1]["options"] == {"login_user": "monitor"}
    HI.run_checks(FakeModule(tmp_path), cleaned[1:2], "mw2", {"0": secrets["1"]})
    assert seen["login_password"] == "s3cret" and seen["login_user"] == "monitor"


def test_middleware_log_scan_adds_the_logs_nginx_declared(tmp_path):
    error_log, access_log = tmp_path / "dc_error.log", tmp_path / "tomcat_access.2026-11-22.log"
    error_log.write_text("2026/11/22 09:00:00 [error] 7#7: upstream timed out\n")
    redis_log = tmp_path / "redis.log"
    redis_log.write_text("1:M 22 Nov 2026 09:00:00.000 * Ready to accept connections\n")
    earlier = {"nginx_info": {"check": "nginx_info", "nginx": {"logs": {
        "error": [{"path": str(error_log), "name": "nginx_dc_error"}],
        "access": [{"path": str(tmp_path / "tomcat_access.*.log"), "name": "nginx_tomcat_access"}]}}}}
    options = {"files": [{"path": str(redis_log), "name": "redis"}], "state_file": str(tmp_path / "state.json"),
               "nginx_access_logs": False}
    prepared = HI.CHECKS["middleware_log_scan"].prepare(options, earlier)
    assert [f["name"] for f in prepared["files"]] == ["nginx_dc_error", "redis"]
    prepared = HI.CHECKS["middleware_log_scan"].prepare(dict(options, nginx_access_logs=True), earlier)
    assert prepared["files"][1] == {"path": str(tmp_path / "tomcat_access.*.log"), "name": "nginx_tomcat_access",
                                    "kind": "access", "optional": True}
    found, result = HI.run_one(FakeModule(tmp_path), "middleware_log_scan", options, "mw1", earlier)
    assert ids(found) == [("logs.nginx_dc_error", str(error_log), "warning"), ("logs.redis", str(redis_log), "ok")]
    assert [f["name"] for f in result["files"]] == ["nginx_dc_error", "redis"]
    # without an nginx check before it (or one that failed): the files given only
    found, _result = HI.run_one(FakeModule(tmp_path), "middleware_log_scan", options, "mw2", {})
    assert ids(found) == [("logs.redis", str(redis_log), "ok")]


def capture_spec(module_name: str) -> dict:
    """The argument_spec a single-purpose module gives AnsibleModule (its main() stopped right there)."""
    module = importlib.import_module(f"ansible_collections.kubeops.runbook.plugins.modules.{module_name}")
    captured = {}

    class Stop(Exception):
        pass

    def fake(argument_spec, **kwargs):
        captured.update(argument_spec)
        raise Stop

    original = module.AnsibleModule
    module.AnsibleModule = fake
    try:
        with pytest.raises(Stop):
            module.main()
    finally:
        module.AnsibleModule = original
    return captured


@pytest.mark.parametrize("name", [n for n, c in HI.CHECKS.items() if not c.module])
def test_each_check_takes_the_options_of_its_single_purpose_module(name):
    # without the deprecated options (host, host_name: the action labels the findings)
    spec = {k: v for k, v in capture_spec(name).items() if "removed_in_version" not in v and not (k == "host" and name == "log_scan")}
    assert HI.CHECKS[name].spec == spec


@pytest.mark.parametrize("name, args", [
    ("systemd_unit_info", {"units": ["kubelet", "kube-proxy"], "category": "node_services"}),
    ("log_scan", {"files": [{"path": "/var/log/messages", "name": "messages"}, {"path": "/x/y.log"}]}),
    ("disk_usage_info", {"paths": ["/data"]}),
    ("cert_expiry_info", {"dirs": ["/etc/etcd/ssl"], "paths": ["/x.pem"]}),
    ("host_hygiene_info", {"checks": ["container_root", "may_detach_mounts"]}),
    ("nginx_info", {}),
    ("redis_info", {"login_port": 30001}),
    ("rabbitmq_info", {"node": "rabbit@mw2"}),
    ("mysql_info", {"login_host": "10.0.0.5", "login_port": 3307}),
    ("tcp_service_info", {"port": 7788}),
    ("calico_bgp_info", {"host_name": "node1"}),
    ("etcd_cluster_info", {"endpoints": ["https://198.18.0.11:2379"]}),
])
def test_unknown_findings_are_about_what_the_single_purpose_shim_names(name, args):
    """A check that cannot run leaves the same unknown findings as its module's action does when it fails."""
    shim = importlib.import_module(f"ansible_collections.kubeops.runbook.plugins.action.{name}").ActionModule
    expected = list(shim.failure_targets(shim.__new__(shim), args, "node1"))
    got = [(f["id"], f["target"]) for f in HI.failure_findings(name, args, "node1", "why")]
    assert got == expected and expected


# -- the action (the module run is the boundary: test_findings_action.action fakes _execute_module) ---------------
def action(outcome, args):
    return findings_action("host_inspection_info", outcome, args)


CHECKS = [{"check": "redis_info", "options": {"login_port": 6379, "login_password": "pw"}},
          {"check": "disk_usage_info", "options": {}}]


def test_action_passes_the_inventory_name_and_the_secrets_apart():
    found = F.finding("middleware.redis", "redis:6379", "ok", "PONG", host="mw2")
    plugin, task_vars, calls = action({"findings": [found], "checks": []}, {"checks": CHECKS})
    result = plugin.run(task_vars=task_vars)
    [(name, args)] = calls
    assert name == "kubeops.runbook.host_inspection_info" and args["host_name"] == "mw2"
    assert args["secrets"] == {"0": {"login_password": "pw"}} and "pw" not in json.dumps(args["checks"])
    assert result["ansible_facts"]["kubeops_findings"] == [found]
    assert result["ansible_facts"]["kubeops_inspection_done"] is True
    assert result["add_group"] == "kubeops_inspection_reached" and not result.get("failed")


def test_action_a_module_that_cannot_run_makes_every_check_unknown():
    plugin, task_vars, _calls = action({"failed": True, "msg": "MODULE FAILURE\n/usr/bin/python3: not found"},
                                       {"checks": CHECKS})
    result = plugin.run(task_vars=task_vars)
    assert ids(result["findings"]) == [("middleware.redis", "redis:6379", "unknown"),
                                       ("middleware.redis_overcommit", "vm.overcommit_memory", "unknown"),
                                       ("disk.space", "/proc/mounts", "unknown")]
    assert result["findings"][0]["details"]["module"] == "kubeops.runbook.redis_info"
    assert result["findings"][0]["summary"] == "check could not run: MODULE FAILURE /usr/bin/python3: not found"
    assert not result.get("failed") and result["ansible_facts"]["kubeops_inspection_done"] is True


def test_action_an_unreachable_host_stays_unreachable():
    plugin, task_vars, _calls = action(AnsibleConnectionFailure("ssh: connect to host 198.18.0.99 port 22: timed out"),
                                       {"checks": CHECKS})
    result = plugin.run(task_vars=task_vars)
    assert result["unreachable"] is True and "timed out" in result["msg"]
    assert "ansible_facts" not in result and "add_group" not in result and "findings" not in result


def test_middleware_cert_expiry_adds_the_tls_listeners_nginx_declared(tmp_path):
    """The served certificates of nginx's TLS listeners, as nginx_info found them earlier in the same call."""
    listeners = [{"address": "127.0.0.1", "port": 8443, "server_name": "portal.example.test", "listen": "8443 ssl"}]
    earlier = {"nginx_info": {"check": "nginx_info", "nginx": {"tls_listeners": listeners}}}
    given = [{"address": "10.0.0.9:443", "name": "front"}]
    prepared = HI.CHECKS["middleware_cert_expiry"].prepare({"endpoints": given, "warning_days": 30}, earlier)
    assert prepared == {"warning_days": 30, "endpoints": given + [
        {"address": "127.0.0.1:8443", "name": "nginx 8443 ssl portal.example.test", "server_name": "portal.example.test"}]}
    assert HI.CHECKS["middleware_cert_expiry"].prepare({"nginx_tls": False}, earlier) == {"endpoints": []}
    assert HI.CHECKS["middleware_cert_expiry"].prepare({}, {}) == {"endpoints": []}   # nginx_info failed or absent
    assert HI.module_of("middleware_cert_expiry") == "kubeops.runbook.cert_expiry_info"
    # an endpoint that does not answer is an unknown finding of that endpoint
    found, _result = HI.run_one(FakeModule(tmp_path, {"openssl": []}), "middleware_cert_expiry",
                                {"endpoints": [{"address": "127.0.0.1:1", "name": "closed"}], "nginx_tls": False,
                                 "endpoint_timeout": 2}, "mw1", {})
    assert [(f["id"], f["target"], f["status"]) for f in found] == [("certificates.expiry", "closed", "unknown")]
    assert "no TLS answer" in found[0]["summary"] and found[0]["host"] == "mw1"
