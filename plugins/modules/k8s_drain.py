# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_drain
short_description: Cordon and drain nodes through the Eviction API, or uncordon them, with guards
version_added: 2.0.0
description:
  - What C(kubectl drain) / C(kubectl uncordon) do, for one or more nodes at once (one wave of a maintenance), made
    safe for a runbook.
  - Finds the Node of each entry of O(nodes) by its name, else by its C(kubernetes.io/hostname) label, else by its
    address (InternalIP or Hostname), because inventories and clusters often name nodes differently. An entry that
    matches no Node, or several, fails; nothing is guessed.
  - O(state=drain) cordons the nodes, then evicts their pods through the Eviction API (C(pods/eviction)), so
    PodDisruptionBudgets are honoured - when a budget allows no disruption now (HTTP 429) the module waits and tries
    again, until O(timeout). DaemonSet pods and static pod mirrors are left alone. Each eviction carries the pod's UID
    as a precondition, so only the pod that was looked at is evicted. The module returns when no pod that must go is
    left on the nodes.
  - "Refuses before any change: pods using C(emptyDir) unless O(delete_emptydir_data=true), pods no controller would
    recreate unless O(allow_bare_pods=true), a control-plane node unless O(allow_control_plane=true), and a wave that
    would leave fewer than O(min_remaining_nodes) schedulable Ready worker nodes for the evicted pods."
  - A drain that is not finished after O(timeout) seconds fails, naming the pods still there and why (the budget that
    blocks, a pod still terminating); the nodes stay cordoned and every eviction already made is in the audit log.
  - O(state=cordon) only cordons. O(state=uncordon) waits up to O(timeout) until the nodes are Ready, then makes the
    cordoned ones schedulable; a node that does not become Ready stays cordoned and the module fails.
  - The controller-side action plugin appends one line per cordon, eviction and uncordon to the audit log
    C(kubeops_audit_log) - in check mode too, marked C(check_mode), and also when the module fails half-way.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  nodes:
    description:
      - The nodes - inventory host names or Node names. Several form one wave, drained together under one O(timeout).
    type: list
    elements: str
    required: true
  addresses:
    description:
      - Address of each host of O(nodes) (its C(ansible_host)); a host whose name matches neither a Node nor a
        C(kubernetes.io/hostname) label is found by this address among the Nodes' InternalIP and Hostname addresses.
    type: dict
    default: {}
  state:
    description: V(drain) cordons and evicts, V(cordon) only cordons, V(uncordon) makes the nodes schedulable again.
    type: str
    choices: [drain, cordon, uncordon]
    default: drain
  delete_emptydir_data:
    description: Evict pods that use C(emptyDir) volumes (their local data is lost); without it such pods refuse the drain.
    type: bool
    default: false
  allow_bare_pods:
    description: Evict pods that no controller would recreate (they are gone for good); without it such pods refuse the drain.
    type: bool
    default: false
  allow_control_plane:
    description: Allow cordoning and draining a node labelled or tainted as control plane (or master).
    type: bool
    default: false
  min_remaining_nodes:
    description:
      - Refuse to cordon when fewer schedulable Ready worker nodes than this would remain outside O(nodes) for the
        evicted pods. V(0) switches the guard off.
    type: int
    default: 1
  assume_cordoned:
    description:
      - Nodes (as in O(nodes), found the same way, with O(addresses)) to count as cordoned for O(min_remaining_nodes) -
        for planning a later wave while the earlier ones are not cordoned yet.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - O(state=drain), seconds the evictions may take in all, including waits on PodDisruptionBudgets and for the
        evicted pods to be gone. O(state=uncordon), seconds to wait for the nodes to be Ready.
    type: int
    default: 300
  grace_period:
    description: Grace period of the evicted pods in seconds; default is each pod's own.
    type: int
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - Resolves the nodes, applies every guard and returns the pods each node would lose (RV(plan), RV(evicted)), with
        the PodDisruptionBudgets that cover them as they stand now; changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - A drained, cordoned node is no change; an uncordoned node is no change.
"""

EXAMPLES = r"""
- name: Drain one wave (two nodes), waiting at most 10 minutes for their pods to go
  kubeops.runbook.k8s_drain:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    nodes: [k8snode01, k8snode02]
    addresses: {k8snode01: 192.0.2.21, k8snode02: 192.0.2.22}
    timeout: 600
  delegate_to: localhost

- name: Bring them back
  kubeops.runbook.k8s_drain:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    nodes: [k8snode01, k8snode02]
    state: uncordon
  delegate_to: localhost
"""

RETURN = r"""
nodes:
  description: Each node - inventory host, Node name, how it was found (C(by)), Ready, and whether it was unschedulable before and after.
  returned: always
  type: list
  elements: dict
  sample: [{"host": "node1", "node": "node1", "by": "name", "ready": true, "unschedulable_before": false, "unschedulable": true}]
plan:
  description: Per node, the pods to evict (with the PodDisruptionBudgets that cover them now), left alone, and already terminating.
  returned: always
  type: list
  elements: dict
evicted:
  description:
    - The pods evicted (C(outcome=evicted)), or in check mode that would be (C(outcome=would evict)), with the seconds
      into the drain each eviction was accepted.
  returned: always
  type: list
  elements: dict
skipped:
  description: Pods left alone (DaemonSet pods, static pod mirrors), with why.
  returned: always
  type: list
  elements: dict
blocked:
  description: When the drain did not finish, the pods still on the nodes and why (for example the budget that blocked).
  returned: always
  type: list
  elements: dict
lines:
  description: One line per node of RV(plan) for an operator - the pods it loses, the budgets that cover them, the pods left alone.
  returned: always
  type: list
  elements: str
  sample:
    - "node1: evict 2 pod(s): product/oltp-gateway-1-3-0-6bdc7d7b75-89dr8, product/wcs-webui-1-3-0-5d9c6bbd9-x2x7k - left
      alone: kube-system/calico-node-4xk2p"
seconds:
  description: How long the run took.
  returned: always
  type: float
audit:
  description: One audit record per cordon, eviction and uncordon; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._drain import STATES, DrainError, DrainFailed, NodeApi, Options, run
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sError, build_client)

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "nodes": {"type": "list", "elements": "str", "required": True},
    "addresses": {"type": "dict", "default": {}},
    "state": {"type": "str", "choices": list(STATES), "default": "drain"},
    "delete_emptydir_data": {"type": "bool", "default": False},
    "allow_bare_pods": {"type": "bool", "default": False},
    "allow_control_plane": {"type": "bool", "default": False},
    "min_remaining_nodes": {"type": "int", "default": 1},
    "timeout": {"type": "int", "default": 300},
    "grace_period": {"type": "int"},
    "assume_cordoned": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params

    def entries(names: list[str]) -> tuple[dict, ...]:
        return tuple({"name": name, "address": str(p["addresses"].get(name) or "") or None} for name in names)

    opts = Options(entries(p["nodes"]), p["state"], p["delete_emptydir_data"], p["allow_bare_pods"],
                   p["allow_control_plane"], p["min_remaining_nodes"], p["timeout"], p["grace_period"],
                   assume_cordoned=entries(p["assume_cordoned"]))
    try:
        result = run(NodeApi(build_client(p), p["request_timeout"]), opts, module.check_mode)
    except DrainFailed as exc:
        module.fail_json(msg=str(exc), **_shown(module, exc.result))
    except (DrainError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**_shown(module, result))


def _shown(module: AnsibleModule, result: dict) -> dict:
    return result if module._diff else {k: v for k, v in result.items() if k != "diff"}


if __name__ == "__main__":
    main()
