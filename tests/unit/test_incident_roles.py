"""The incident roles' wiring (roles/incident_*): defaults that follow the inventory, one findings collector."""
from __future__ import annotations

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLES = Path(__file__).resolve().parents[2] / "roles"


def defaults(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())


def render(value, **variables):
    try:    # ansible-core 2.19+ templates only what is marked trusted (a role's defaults are)
        from ansible.template import trust_as_template  # pylint: disable=import-outside-toplevel
        value = trust_as_template(value) if isinstance(value, str) else value
    except ImportError:
        pass
    return Templar(loader=DataLoader(), variables={**variables}).template(value)


def test_node_units_follow_the_inventory():
    """incident_node_units is the inventory's kubeops_node_units (docker nodes say docker), else the handbook's."""
    value = defaults("incident_k8s_unreachable")["incident_node_units"]
    assert render(value, kubeops_node_units=["docker", "kubelet", "kube-proxy"]) == ["docker", "kubelet", "kube-proxy"]
    assert render(value) == ["containerd", "kubelet", "kube-proxy"]


def test_a_refusal_does_not_stop_independent_steps_by_default():
    d = defaults("incident_k8s_unreachable")
    assert d["incident_stop_on_refusal"] is False
    assert d["incident_pod_cleanup_max_dead_pods"] > d["incident_pod_cleanup_max_pods"]


def test_no_incident_task_stores_findings_a_second_time():
    """The *_info actions record their findings in the kubeops_findings fact; a set_fact of kubeops_findings in the
    runbooks stored them a second time, as a variable the report and the record read differently."""
    offenders = []
    for role in ("incident_k8s_unreachable", "incident_performance", "incident_record"):
        for path in sorted((ROLES / role / "tasks").glob("*.yml")):
            for task in _tasks(yaml.safe_load(path.read_text()) or []):
                if "kubeops_findings" in (task.get("ansible.builtin.set_fact") or {}):
                    offenders.append(f"{path.relative_to(ROLES)}: {task.get('name')}")
    assert offenders == []


def _tasks(items):
    for item in items:
        yield item
        for key in ("block", "rescue", "always"):
            yield from _tasks(item.get(key) or [])
