"""The incident_record action end to end on the controller (plugins/action/incident_record.py): every host's
findings, timeline and reachability as the playbook leaves them in hostvars, written as a record."""
from __future__ import annotations

import json
import types

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.kubeops.runbook.plugins.action import incident_record
from ansible_collections.kubeops.runbook.plugins.module_utils import _findings as F


def run_record(tmp_path, hostvars: dict) -> dict:
    task_vars = {"hostvars": hostvars, "groups": {"all": [h for h in hostvars if h != "localhost"]},
                 "inventory_hostname": "localhost"}
    task = types.SimpleNamespace(args={"cluster": "lab", "report_dir": str(tmp_path)}, async_val=0, check_mode=False,
                                 delegate_to=None, delegate_facts=False, run_once=False,
                                 action="kubeops.runbook.incident_record")
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp/x"))
    plugin = incident_record.ActionModule(task, connection, None, DataLoader(),
                                          Templar(loader=DataLoader(), variables=task_vars))
    result = plugin.run(task_vars=task_vars)
    assert not result.get("failed"), result
    return json.loads(open(result["paths"]["json"], encoding="utf-8").read())


def test_record_of_hosts_reached_and_not(tmp_path):
    hostvars = {
        "localhost": {"kubeops_findings": [F.finding("nodes.ready", "node1", "critical", "NotReady", host="node1")]},
        "node1": {"kubeops_incident_reach": {"unreachable": False},
                  "kubeops_incident_timeline": [{"step": 1, "title": "Nodes Ready", "outcome": "looked",
                                                 "time": "2026-01-01T09:00:00Z", "message": "node1 NotReady",
                                                 "actions": []}]},
        "node2": {"kubeops_incident_reach": {"unreachable": True, "msg": "ssh: connect to host node2 port 22: No route"}},
    }
    record = run_record(tmp_path, hostvars)
    reach = {f["target"]: (f["status"], f["details"].get("reason")) for f in record["findings"]
             if f["id"] == "host.reachable"}
    assert reach == {"node1": ("ok", None), "node2": ("critical", "unreachable")}
    assert any(f["id"] == "nodes.ready" and f["status"] == "critical" for f in record["findings"])


def test_record_collects_findings_as_the_report_does_fact_and_variable(tmp_path):
    """One collector: the findings the *_info actions keep in the kubeops_findings fact count even where a set_fact
    variable of the same name shadows it (1.1.0's record read the variable only and lost the fact's)."""
    from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import recorded_findings
    node = F.finding("nodes.ready", "node2", "critical", "NotReady", host="node2")
    deploy = F.finding("deployments.replicas", "developer-center/app-base", "warning", "1/2 available")
    hostvars = {"localhost": {"ansible_facts": {"kubeops_findings": [node, deploy]}, "kubeops_findings": [node]}}
    assert recorded_findings(hostvars["localhost"]) == [node, deploy, node]
    record = run_record(tmp_path, hostvars)
    assert {(f["id"], f["target"]) for f in record["findings"]} == {
        ("nodes.ready", "node2"), ("deployments.replicas", "developer-center/app-base")}
