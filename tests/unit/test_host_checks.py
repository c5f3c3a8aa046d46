"""The host's check list built by host_inspection_info's action (plugins/plugin_utils/_host_checks.py).

The golden lists (fixtures/host_checks/<host>.json) are what the inspection's task built for the lab's five hosts when
the list was a Jinja expression in the task's arguments, captured on the lab; the builder must give the same lists
from the same inventory (fixtures/host_checks/lab_inventory.yml), the roles' real defaults and the daily inspection's
play variables, templated by Ansible's own templar.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _host_checks as HC
from test_findings_action import action as findings_action  # pylint: disable=wrong-import-order

FIX = Path(__file__).parent / "fixtures" / "host_checks"
ROLES = Path(__file__).resolve().parents[2] / "roles"
LAB_HOSTS = ["master1", "node1", "node2", "mw1", "mw2"]
# what playbooks/daily_inspection.yml's host play sets (the BGP peers as its play before it computes them)
PLAY_VARS = {"host_inspection_middleware": True, "host_inspection_calico": True, "host_inspection_etcd": True,
             "cluster_inspection_calico_peer_hosts": {"198.18.0.11": "master1", "198.18.0.21": "node1",
                                                      "198.18.0.22": "node2"}}


def role_defaults() -> dict:
    """The defaults of the three roles whose settings the checks read, as Ansible loads them (templates unrendered)."""
    out: dict = {}
    loader = DataLoader()
    for role in ("cluster_inspection", "middleware_inspection", "host_inspection"):
        out.update(loader.load_from_file(str(ROLES / role / "defaults" / "main.yml"), trusted_as_template=True))
    return out


@pytest.fixture(scope="module", name="lab_vars")
def fixture_lab_vars():
    """Each lab host's task variables in the inspection's host play: role defaults < inventory < play variables."""
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(FIX / "lab_inventory.yml")])
    manager = VariableManager(loader=loader, inventory=inventory)
    hostvars = HostVars(inventory=inventory, variable_manager=manager, loader=loader)
    defaults = role_defaults()

    def task_vars(host: str, **more) -> dict:
        variables = manager.get_vars(host=inventory.get_host(host))
        return {**defaults, **variables, **PLAY_VARS, "hostvars": hostvars,
                "ansible_play_hosts_all": LAB_HOSTS + ["localhost"], **more}
    return task_vars


def build(task_vars: dict):
    plugin, task_vars, _calls = findings_action("host_inspection_info", {"findings": []}, {}, task_vars)
    return plugin.host_checks(task_vars)


@pytest.mark.parametrize("host", LAB_HOSTS)
def test_the_lab_hosts_get_the_lists_the_task_built_before(lab_vars, host):
    expected = json.loads((FIX / f"{host}.json").read_text(encoding="utf-8"))
    assert build(lab_vars(host)) == expected


def test_the_task_without_checks_runs_the_built_list_with_the_secrets_moved_out(lab_vars):
    plugin, task_vars, calls = findings_action("host_inspection_info", {"findings": []}, {}, lab_vars("mw2"))
    result = plugin.run(task_vars=task_vars)
    assert not result.get("failed") and result["add_group"] == "kubeops_inspection_reached"
    [(name, args)] = calls
    assert name == "kubeops.runbook.host_inspection_info" and args["host_name"] == "mw2"
    assert [item["check"] for item in args["checks"]] == [
        "log_scan", "disk_usage_info", "host_hygiene_info", "redis_info", "rabbitmq_info", "mysql_info",
        "middleware_log_scan"]
    mysql = [item for item in args["checks"] if item["check"] == "mysql_info"][0]["options"]
    assert "login_password" not in mysql and "lab-monitor-secret" not in json.dumps(args["checks"])
    assert args["secrets"] == {"5": {"login_password": "lab-monitor-secret"}}


def test_checks_given_in_the_task_are_run_as_given(lab_vars):
    given = [{"check": "disk_usage_info", "options": {}}]
    plugin, task_vars, calls = findings_action("host_inspection_info", {"findings": []}, {"checks": given},
                                               lab_vars("node1"))
    plugin.run(task_vars=task_vars)
    assert calls[0][1]["checks"] == given


def test_an_undefined_setting_fails_the_task_naming_it(lab_vars):
    task_vars = lab_vars("master1")
    del task_vars["host_inspection_unit_sets"]
    plugin, task_vars, calls = findings_action("host_inspection_info", {"findings": []}, {}, task_vars)
    result = plugin.run(task_vars=task_vars)
    assert result["failed"] and not calls
    assert result["msg"] == "cannot build the checks of master1: host_inspection_unit_sets is undefined"
    assert "add_group" not in result


def test_a_setting_of_the_wrong_shape_is_named(lab_vars):
    with pytest.raises(HC.SettingsError, match="host_inspection_log_files must be a mapping"):
        build(lab_vars("node1", host_inspection_log_files=["/var/log/messages"]))


def test_the_etcd_check_moves_to_the_first_etcd_host_of_the_play(lab_vars):
    # master1 left out of the play (a pattern or --limit): node1 checks the cluster's etcd
    plays = ["node1", "node2", "mw1", "mw2", "localhost"]
    node1 = [item["check"] for item in build(lab_vars("node1", ansible_play_hosts_all=plays))]
    assert "etcd_cluster_info" in node1
    assert "etcd_cluster_info" not in [item["check"] for item in build(lab_vars("node2", ansible_play_hosts_all=plays))]
    assert "etcd_cluster_info" not in [item["check"] for item in build(lab_vars("node1"))]


def test_a_sliced_run_leaves_etcd_to_the_merge(lab_vars):
    checks = [item["check"] for item in build(lab_vars("master1", inspection_slice_dir="/tmp/slices", etcd_backup_schedule="daily"))]
    assert "etcd_cluster_info" not in checks and "etcd_backup_info" in checks


def test_switches_and_settings_change_the_list(lab_vars):
    checks = build(lab_vars("mw2", host_inspection_middleware=False, kubeops_middleware_become=True))
    assert [item["check"] for item in checks] == ["log_scan", "disk_usage_info", "host_hygiene_info"]
    master = build(lab_vars("master1", host_inspection_journal_since="-1h", host_inspection_cert_endpoints="no",
                            cluster_inspection_calico=False, etcd_backup_dir="", host_inspection_disk_paths=["/"]))
    names = [item["check"] for item in master]
    assert "calico_bgp_info" not in names and "etcd_backup_info" not in names
    units = [item for item in master if item["check"] == "systemd_unit_info"]
    assert [unit["options"]["since"] for unit in units] == ["-1h", "-1h"]
    certs = [item for item in master if item["check"] == "cert_expiry_info"][0]["options"]
    assert certs["endpoints"] == []
    assert [item for item in master if item["check"] == "disk_usage_info"][0]["options"]["paths"] == ["/"]


def test_templated_settings_are_rendered_and_unit_sets_merged(lab_vars):
    sets = [{"group": "all", "category": "node_services", "units": ["chronyd", trust_as_template("{{ extra_unit }}")]},
            {"group": "kube_node", "category": "node_services", "units": [["kubelet"], None]},
            {"group": "nowhere", "category": "node_services", "units": ["ghost"]}]
    checks = build(lab_vars("node1", host_inspection_unit_sets=sets, extra_unit="kubelet"))
    [units] = [item for item in checks if item["check"] == "systemd_unit_info"]
    assert units["options"]["units"] == ["chronyd", "kubelet"]
    assert units["options"]["category"] == "node_services"


def test_settings_read_only_what_the_host_runs():
    read = []
    values = {"host_inspection_middleware": False, "host_inspection_calico": False, "host_inspection_etcd": False,
              "host_inspection_unit_sets": [], "host_inspection_log_files": {}, "host_inspection_cert_groups": [],
              "host_inspection_component_versions": False}

    def reader(name):
        read.append(name)
        if name in values:
            return values[name]
        if name.startswith(("kubeops_", "cluster_inspection_")):
            raise AssertionError(f"{name} read for a check the host does not run")
        return 1

    checks = HC.host_checks(HC.Settings(reader, lambda host: ""), "h1", [], {}, ["h1"])
    assert [item["check"] for item in checks] == ["disk_usage_info", "host_hygiene_info"]
    assert len(read) == len(set(read))


# -- the same rules for the one-task-per-check path (roles/host_inspection/tasks/checks.yml) -------------------------
def role_vars() -> dict:
    return DataLoader().load_from_file(str(ROLES / "host_inspection" / "vars" / "main.yml"), trusted_as_template=True)


@pytest.fixture(name="collections")
def fixture_collections():
    """Ansible's collection loader, as the ansible commands install it: the templar finds the collection's filters by
    their full names."""
    # the collection's modules this test run imported from PYTHONPATH are set aside while the loader imports its own
    # (it loads a collection's metadata when it imports the collection's package), and put back after
    imported = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "ansible_collections"}
    for name in imported:
        del sys.modules[name]
    finder = _AnsibleCollectionFinder(paths=[str(Path(HC.__file__).parents[5])])
    finder._install()  # pylint: disable=protected-access
    try:
        yield
    finally:
        _AnsibleCollectionFinder._remove()  # pylint: disable=protected-access
        for name in [name for name in sys.modules if name.split(".")[0] == "ansible_collections"]:
            del sys.modules[name]
        sys.modules.update(imported)


@pytest.mark.parametrize("host", LAB_HOSTS)
@pytest.mark.usefixtures("collections")
def test_checks_yml_gives_the_certificate_and_version_checks_the_options_of_the_one_call(lab_vars, host):
    """The role variable checks.yml's certificate and version tasks read, templated by Ansible for each lab host,
    equals the options of the same checks in the host's golden list."""
    expected = {item["check"]: item["options"]
                for item in json.loads((FIX / f"{host}.json").read_text(encoding="utf-8"))}
    variables = {**lab_vars(host), **role_vars(), "inventory_hostname": host}
    options = Templar(loader=DataLoader(), variables=variables).template(variables["_host_inspection_options"])
    if "cert_expiry_info" in expected:
        assert options["kubeconfigs"] == expected["cert_expiry_info"]["kubeconfigs"]
        assert options["endpoints"] == expected["cert_expiry_info"]["endpoints"]
    assert options["version_components"] == expected.get("component_versions", {}).get("components", [])


def test_the_filter_names_a_missing_or_malformed_setting():
    from ansible.errors import AnsibleFilterError  # pylint: disable=import-outside-toplevel
    from ansible_collections.kubeops.runbook.plugins.filter import host_check_options as HCO  # pylint: disable=import-outside-toplevel
    options = HCO.FilterModule().filters()["host_check_options"]
    settings = {"host_inspection_cert_kubeconfigs": {"kube_node": ["/etc/kubernetes/kubelet.kubeconfig"]},
                "host_inspection_cert_endpoints": "yes", "host_inspection_cert_apiserver_endpoint": "10.0.0.1:6443",
                "kubeops_etcd_endpoints": ["https://node9:2379", "https://10.0.0.9:2379"]}
    assert options(settings, "node9", ["kube_node", "etcd"]) == {
        "kubeconfigs": ["/etc/kubernetes/kubelet.kubeconfig"],
        "endpoints": [{"address": "https://node9:2379", "name": "etcd https://node9:2379", "client_cert": None,
                       "client_key": None}],
        "version_components": ["kube-proxy"]}
    with pytest.raises(AnsibleFilterError, match=r"^host_check_options for master1: "
                                                 r"host_inspection_cert_apiserver_endpoint is undefined$"):
        options({k: v for k, v in settings.items() if k != "host_inspection_cert_apiserver_endpoint"}, "master1",
                ["kube_control_plane"])
    with pytest.raises(AnsibleFilterError, match="host_inspection_cert_kubeconfigs must be a mapping"):
        options({**settings, "host_inspection_cert_kubeconfigs": ["/etc/kubernetes/admin.conf"]}, "node9", [])
    with pytest.raises(AnsibleFilterError, match="group_names must be a list, got 'kube_node'"):
        options(settings, "node9", "kube_node")
