# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rebalance
short_description: Move replicas from the least loaded workloads to the most loaded within a replica budget
version_added: 1.1.0
description:
  - The handbook's performance incident, "shrink first, then grow" - take replicas from the workloads with the
    lowest load (never below their floor) and give them to the most loaded ones, never exceeding a total replica
    budget, always applying the decreases before the increases.
  - Load is the CPU a workload's pods use as a share of the CPU they request (V(1.0) = exactly the request). It
    comes from the metrics API (C(metrics.k8s.io), one LIST of PodMetrics and one of pods) when the cluster serves
    it, otherwise from the C(load) the operator gives per workload (see O(load_source)).
  - A workload whose projected load (its load spread over its new replica count) is above O(target_load) gets
    replicas - first from unused budget, then from the workload that stays at or below the target with one
    replica less and has the lowest load. Nothing moves below a floor or above a ceiling.
  - Decreases are applied first, each waited for until the workload's pods are really gone (Terminating pods
    still hold their resources); then the increases, each waited for until its pods are Ready. So the workloads
    never have more pods than the budget at any moment (unless they already had more before the run - then the
    count only goes down). Each patch carries the workload's C(resourceVersion) - if someone else scaled it since it
    was read, the module stops there.
  - In check mode it returns the plan (RV(plan_lines) is what to read) and changes nothing.
  - Refuses (reads and changes nothing) when a workload is in one of O(protected_namespaces) (C(kube-system) and the
    like), unless O(allow_protected_namespace=true).
  - The controller-side action plugin appends one audit line per scaled workload to C(kubeops_audit_log). When a step
    fails half-way, the module fails with V(changed=true) (if a step was applied) and the records of the steps
    already applied.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  workloads:
    description: The workloads that share the budget.
    type: list
    elements: dict
    required: true
    suboptions:
      namespace:
        description: Namespace.
        type: str
        required: true
      name:
        description: Name.
        type: str
        required: true
      kind:
        description: Kind.
        type: str
        choices: [Deployment, StatefulSet]
        default: Deployment
      min_replicas:
        description: Floor - never fewer replicas than this.
        type: int
        default: 1
      max_replicas:
        description: Ceiling - never more replicas than this.
        type: int
      load:
        description:
          - CPU used per replica as a share of the CPU requested (V(0.9) = 90%), as the operator measured it.
          - With O(load_source=auto) it overrides the metrics API for this workload.
        type: float
  budget:
    description: Most replicas the workloads may have together. Defaults to their current total (a pure move).
    type: int
  target_load:
    description: Load per replica to bring the busy workloads down to (V(0.7) = 70% of the request).
    type: float
    default: 0.7
  load_source:
    description:
      - V(auto) - the O(workloads[].load) given, else the metrics API; fails naming the workload when neither exists.
      - V(metrics) - the metrics API only; V(given) - the given loads only.
    type: str
    choices: [auto, metrics, given]
    default: auto
  wait_timeout:
    description: Seconds to wait for each step (pods gone after a decrease, Ready after an increase).
    type: int
    default: 300
  protected_namespaces:
    description: Namespaces whose workloads are refused unless O(allow_protected_namespace=true).
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
    version_added: 2.0.0
  allow_protected_namespace:
    description: Allow workloads in one of O(protected_namespaces).
    type: bool
    default: false
    version_added: 2.0.0
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - Returns the plan a real run would apply, with the reason of each change; changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - With the same loads, a second run finds every workload at its planned count and changes nothing.
"""

EXAMPLES = r"""
- name: Give the gateway replicas taken from quiet workloads, 10 replicas in all
  kubeops.runbook.k8s_rebalance:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    budget: 10
    workloads:
      - {namespace: product, name: oltp-gateway-1-3-0, min_replicas: 2, max_replicas: 6, load: 0.95}
      - {namespace: product, name: bis-calculatecontrol-1-3-0, min_replicas: 1, load: 0.10}
      - {namespace: product, name: ihs-conclude-1-3-0, min_replicas: 1, load: 0.20}
  delegate_to: localhost
  register: rebalance

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ rebalance.plan_lines }}"
"""

RETURN = r"""
plan:
  description: The plan - C(changes) (decreases then increases, each with before, after, loads and C(why)),
    C(decreases), C(increases), C(unmet) (still above the target), C(total_before), C(total_after), C(budget), C(peak).
  returned: always
  type: dict
plan_lines:
  description: The plan in words, one line per change - what C(--check) shows.
  returned: always
  type: list
  elements: str
  sample:
    - "budget 10 replicas: 10 now, 10 after, never more than 10 on the way"
    - "1. shrink product/bis-calculatecontrol-1-3-0 2 -> 1: load 10% of its CPU request at 2 replicas: 1 keep it at 20% (target 70%, floor 1)"
    - "2. grow product/oltp-gateway-1-3-0 2 -> 3: load 95% of its CPU request at 2 replicas: 3 bring it to 63% (target 70%);
      replicas from product/bis-calculatecontrol-1-3-0"
load_from:
  description: Where each workload's load came from, V(given) or V(metrics.k8s.io).
  returned: always
  type: dict
applied:
  description: The steps applied, in order, with the seconds each took to settle.
  returned: always
  type: list
  elements: dict
audit:
  description: One audit record per scaled workload; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sError, build_client,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._protected import PROTECTED_NAMESPACES
from ansible_collections.kubeops.runbook.plugins.module_utils._rebalance import (
    KINDS, LOAD_SOURCES, Applier, KubeScaler, RebalanceApplyFailed, RebalanceError, rebalance,
)

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "workloads": {"type": "list", "elements": "dict", "required": True, "options": {
        "namespace": {"type": "str", "required": True},
        "name": {"type": "str", "required": True},
        "kind": {"type": "str", "choices": list(KINDS), "default": "Deployment"},
        "min_replicas": {"type": "int", "default": 1},
        "max_replicas": {"type": "int"},
        "load": {"type": "float"},
    }},
    "budget": {"type": "int"},
    "target_load": {"type": "float", "default": 0.7},
    "load_source": {"type": "str", "choices": list(LOAD_SOURCES), "default": "auto"},
    "wait_timeout": {"type": "int", "default": 300},
    "protected_namespaces": {"type": "list", "elements": "str", "default": list(PROTECTED_NAMESPACES)},
    "allow_protected_namespace": {"type": "bool", "default": False},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params
    if p["wait_timeout"] < 1:
        module.fail_json(msg=f"wait_timeout must be at least 1 second, got {p['wait_timeout']}")
    try:
        scaler = KubeScaler(build_client(p), p["request_timeout"])
        result = rebalance(scaler, p["workloads"], p["budget"], p["target_load"], p["load_source"], module.check_mode,
                           Applier(scaler, wait_timeout=p["wait_timeout"]), p["protected_namespaces"],
                           p["allow_protected_namespace"])
    except RebalanceApplyFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except (RebalanceError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    if module._diff:
        changes = result["plan"]["changes"]
        result["diff"] = {"before": {f"{c['namespace']}/{c['name']}": c["before"] for c in changes},
                          "after": {f"{c['namespace']}/{c['name']}": c["after"] for c in changes}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
