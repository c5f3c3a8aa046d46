# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: calico_node_restart
short_description: Restart the calico-node pod of named nodes, one node at a time
version_added: 1.1.0
description:
  - The handbook's repair of calico when a BGP peer is not up - delete that node's calico-node pod so that its
    DaemonSet starts a new one (and BIRD restarts inside it).
  - Handles O(nodes) in the order given. For each node it deletes the calico-node pod (with its UID as a
    precondition) and, with O(wait=true), waits until a new pod on that node is Running and Ready before it moves
    on to the next node.
  - Refuses (changes nothing for that node) when the pod is not managed by a DaemonSet, or when more than
    O(max_unavailable) calico-node pods on other nodes are not Ready - restarting one more would widen the outage.
  - Fails with one line when a node has no calico-node pod.
  - With O(kube_controllers=true), then restarts calico-kube-controllers (deletes its pod, its Deployment starts a
    new one, waits until that is Ready) - only when it is not Ready, or when the last O(log_lines) lines of its log
    show datastore errors (error lines about the API it stores its data in - unreachable, refused, timing out, not
    authorised). A Ready pod whose log cannot be read is left alone. RV(kube_controllers) says what was done and why.
  - Waiting for the node's BGP sessions to be Established again is the caller's next step
    (M(kubeops.runbook.calico_bgp_info) on that node); the C(incident_k8s_unreachable) role does both.
  - The controller-side action plugin appends one line per restarted pod to the audit log C(kubeops_audit_log). Each
    restart is recorded as it is made - when a later node fails (no calico-node pod there, the API answering an
    error), the module fails with V(changed=true) and the records of the restarts already made.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  nodes:
    description:
      - Kubernetes node names whose calico-node pod is restarted, in this order.
      - May be empty only with O(kube_controllers=true).
    type: list
    elements: str
    default: []
  namespace:
    description: Namespace of the calico-node DaemonSet.
    type: str
    default: kube-system
  label_selector:
    description: Label (C(key=value)) of the calico-node pods.
    type: str
    default: k8s-app=calico-node
  max_unavailable:
    description: Refuse when more calico-node pods than this on other nodes are not Ready.
    type: int
    default: 0
  wait:
    description: Wait for each new pod to be Running and Ready before the next node.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait per node; the module fails (after the delete, which is audited) when no Ready pod came.
    type: int
    default: 180
  kube_controllers:
    description:
      - After the nodes, restart calico-kube-controllers too when it is not Ready or its log shows datastore errors
        (the handbook's step 9 restarts it with calico-node).
    type: bool
    default: false
    version_added: 2.0.0
  kube_controllers_label_selector:
    description: Label (C(key=value)) of the calico-kube-controllers pod, in O(namespace).
    type: str
    default: k8s-app=calico-kube-controllers
    version_added: 2.0.0
  log_lines:
    description: How many of the last lines of calico-kube-controllers' log are searched for datastore errors.
    type: int
    default: 200
    version_added: 2.0.0
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - Names the pods a real run would delete and applies the guards; deletes nothing.
  diff_mode:
    support: full
  idempotent:
    support: none
    details:
      - Every run restarts the pods of the nodes it is given; the caller decides which nodes need it.
"""

EXAMPLES = r"""
- name: Restart calico-node on node1
  kubeops.runbook.calico_node_restart:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    nodes: [node1]
  delegate_to: localhost
"""

RETURN = r"""
restarted:
  description: Per node, the pod deleted and the pod that replaced it.
  returned: always
  type: list
  elements: dict
  contains:
    node: {description: Node name., type: str}
    old_pod: {description: C(namespace/name) of the deleted pod., type: str}
    old_uid: {description: Its UID., type: str}
    new_pod: {description: C(namespace/name) of the Ready replacement (null in check mode or without O(wait)), type: str}
    new_uid: {description: Its UID., type: str}
    ready: {description: Whether the replacement was Ready in time (null when not waited for)., type: bool}
    seconds: {description: Seconds from the delete to the Ready replacement., type: float}
    outcome: {description: "V(restarted), V(would restart), V(already gone) or V(already replaced).", type: str}
kube_controllers:
  description: With O(kube_controllers=true), what was done to calico-kube-controllers and why.
  returned: when O(kube_controllers=true)
  type: dict
  version_added: 2.0.0
  contains:
    old_pod: {description: C(namespace/name) of its pod (null when there is none)., type: str}
    new_pod: {description: "C(namespace/name) of the Ready replacement, when restarted.", type: str}
    outcome: {description: "V(restarted), V(would restart) or V(left alone).", type: str}
    why: {description: "Why it was (or was not) restarted - not Ready, the datastore error line, or healthy.", type: str}
    ready: {description: Whether the replacement was Ready in time., type: bool}
    seconds: {description: Seconds from the delete to the Ready replacement., type: float}
audit:
  description: One audit record per restarted pod; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._calico_restart import (
    KUBE_CONTROLLERS_LABEL, CalicoRestartError, CalicoRestartFailed, Options, restart,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sError, build_client,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_pods import PodApi, PodError

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "nodes": {"type": "list", "elements": "str", "default": []},
    "namespace": {"type": "str", "default": "kube-system"},
    "label_selector": {"type": "str", "default": "k8s-app=calico-node"},
    "max_unavailable": {"type": "int", "default": 0},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 180},
    "kube_controllers": {"type": "bool", "default": False},
    "kube_controllers_label_selector": {"type": "str", "default": KUBE_CONTROLLERS_LABEL},
    "log_lines": {"type": "int", "default": 200},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params
    opts = Options(**{name: tuple(p[name]) if isinstance(p[name], list) else p[name] for name in Options._fields})
    try:
        result = restart(PodApi(build_client(p), p["request_timeout"]), opts, module.check_mode)
    except CalicoRestartFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except (CalicoRestartError, PodError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
