# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_pod_cleanup
short_description: Delete pods in an abnormal state so that their controllers replace them
version_added: 1.1.0
description:
  - The handbook's incident step "delete the pods in an abnormal state" (C(kubectl delete pod -n developer-center
    <pod>)), with guards.
  - Selects pods of O(namespaces) (optionally narrowed by O(label_selector)) whose state is one of O(reasons).
    V(CrashLoopBackOff) and V(ImagePullBackOff) - a container waits with that reason; V(Error) - the pod Failed
    (not evicted) or a container terminated with C(Error); V(Unknown) - phase Unknown; V(Evicted) - Failed with
    reason Evicted; V(Terminating) - still there more than O(terminating_seconds) after its grace period ended;
    V(Pending) - Pending longer than O(pending_seconds).
  - A healthy pod (Running, Ready, not being deleted) is never selected. Pods without a controller are left alone
    unless O(allow_bare_pods=true), mirrors of static pods always (the kubelet would recreate them).
  - When more pods that are or may be running match than O(max_pods), the module refuses and deletes nothing. Pods
    already dead (phase Failed or Succeeded, Evicted among them) disturb nothing when removed; they are counted
    against their own budget O(max_dead_pods) instead.
  - Refuses namespaces of O(protected_namespaces) (C(kube-system) and the like) unless O(allow_protected_namespace=true).
  - Right before each delete the pod is read again; it is deleted only if it is still the same pod, still abnormal,
    and unchanged since (UID and resourceVersion preconditions). Stuck Terminating pods are deleted with grace
    period 0 (what C(kubectl delete --force --grace-period=0) does) - except a pod owned by a StatefulSet or
    mounting a PersistentVolumeClaim, whose node may still run it. Such a pod is force-deleted only when its node is
    gone (no Node object) or listed in O(confirmed_dead_nodes); otherwise it is left alone and reported in
    RV(waiting_for_node), and the module does not fail.
  - Reads the pods and the nodes with one paginated LIST each for the whole cluster (the account needs C(list) on
    nodes, and C(get) and C(delete) on pods).
  - The controller-side action plugin appends one line per deleted pod to the audit log C(kubeops_audit_log). When
    something fails after a delete (the API answers 503 to the next one, the replacements do not come), the module
    fails with V(changed=true) and the audit records of the deletes already made.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  namespaces:
    description: Namespaces to clean up (the handbook's is C(developer-center)). At least one.
    type: list
    elements: str
    required: true
  reasons:
    description: Abnormal states to delete.
    type: list
    elements: str
    choices: [CrashLoopBackOff, Error, Unknown, Evicted, Terminating, Pending, ImagePullBackOff]
    default: [CrashLoopBackOff, Error, Unknown, Evicted, Terminating, Pending]
  label_selector:
    description: Only pods matching this label selector (for example C(app=app-base)), applied by the API server.
    type: str
  max_pods:
    description:
      - Refuse (delete nothing) when more pods that are or may be running match than this. Many failing pods at
        once point at a node, the network or a dependency; deleting them hides the evidence and adds load.
      - Pods already dead (phase Failed or Succeeded) do not count here; see O(max_dead_pods).
    type: int
    default: 5
  max_dead_pods:
    description:
      - Refuse (delete nothing) when more dead pods (phase Failed or Succeeded, Evicted among them) match than this.
        Yesterday's evicted pods run nothing; removing them disturbs nothing, so their budget is larger.
    type: int
    default: 50
    version_added: 2.0.0
  confirmed_dead_nodes:
    description:
      - Nodes the operator confirms are off (powered down, or cut off for good). A stuck Terminating pod of a
        StatefulSet, or with a PersistentVolumeClaim, on one of them is force-deleted so that its replacement can
        start elsewhere. Without it such a pod waits until its Node object is deleted.
    type: list
    elements: str
    default: []
    version_added: 2.0.0
  protected_namespaces:
    description: Namespaces whose pods are refused unless O(allow_protected_namespace=true).
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
    version_added: 2.0.0
  allow_protected_namespace:
    description: Allow a cleanup in one of O(protected_namespaces).
    type: bool
    default: false
    version_added: 2.0.0
  pending_seconds:
    description: A pod Pending longer than this (since it was created) is abnormal.
    type: int
    default: 300
  terminating_seconds:
    description: A pod still present this many seconds after the end of its grace period is stuck Terminating.
    type: int
    default: 60
  min_age_seconds:
    description: Leave alone pods younger than this (they may still be starting); 0 disables.
    type: int
    default: 0
  allow_bare_pods:
    description: Also delete abnormal pods that no controller would recreate. Off by default - they would be lost.
    type: bool
    default: false
  wait:
    description:
      - Wait until the deleted pods are gone and their controllers have as many Running, Ready pods as they had
        plus the deleted ones (at most the desired count).
      - Only pods whose node is Ready are waited for; a delete on a node that does not answer completes only when
        it answers again, so those pods are listed in RV(replacements) (C(pending)) instead.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the replacements; the module fails (after the deletes, which are audited) when they do not come.
    type: int
    default: 180
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - Lists exactly the pods a real run would delete (and applies the O(max_pods) guard), deletes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Delete the abnormal pods of developer-center and wait for their replacements
  kubeops.runbook.k8s_pod_cleanup:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    namespaces: [developer-center]
    max_pods: 5
    wait: true
  delegate_to: localhost
  run_once: true

- name: Only the crash-looping pods of app-base
  kubeops.runbook.k8s_pod_cleanup:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    namespaces: [developer-center]
    label_selector: app=app-base
    reasons: [CrashLoopBackOff]
  delegate_to: localhost
"""

RETURN = r"""
deleted:
  description:
    - The pods deleted (in check mode, that would be), with why. C(outcome) is V(deleted), V(would delete),
      V(gone) (already deleted by someone else), V(replaced) (a new pod took the name), V(recovered) (no longer
      abnormal when read again), V(already being deleted) or V(changed since read) - the last four left alone.
  returned: always
  type: list
  elements: dict
  sample:
    - namespace: developer-center
      name: developer-center-web-6b55b58b47-pvhnh
      uid: 0d5c6a0e-3f0f-4c39-9a59-4c6f3a8d9d11
      node: node1
      phase: Running
      restarts: 7
      owner: {kind: ReplicaSet, name: developer-center-web-6b55b58b47, uid: 5c1f...}
      reason: CrashLoopBackOff
      why: container developer-center-web CrashLoopBackOff, 7 restarts, last exit Error (1)
      force: false
      outcome: deleted
left_alone:
  description:
    - Abnormal pods not deleted, with the reason (C(left_alone)) - no controller, static pod mirror, too young,
      waiting for its node (then also C(waiting_for_node), the node's name).
  returned: always
  type: list
  elements: dict
waiting_for_node:
  description: Stuck pods of a StatefulSet or with a PersistentVolumeClaim left alone until their node is gone.
  returned: always
  type: list
  elements: dict
  version_added: 2.0.0
  sample:
    - {pod: developer-center/app-db-0, node: node2}
matched:
  description: Number of pods selected for deletion (live and dead; O(max_pods) and O(max_dead_pods) count them apart).
  returned: always
  type: int
  sample: 3
replacements:
  description:
    - With O(wait), per owner how many Ready pods were awaited and found, and how long it took; C(pending) lists the
      deleted pods on nodes that are not Ready, which were not waited for.
  returned: always
  type: dict
audit:
  description: One audit record per deleted pod; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sError, build_client,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_pods import PodApi, PodError
from ansible_collections.kubeops.runbook.plugins.module_utils._pod_cleanup import (
    DEFAULT_REASONS, REASONS, CleanupError, CleanupFailed, Options, cleanup,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._protected import PROTECTED_NAMESPACES

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "namespaces": {"type": "list", "elements": "str", "required": True},
    "reasons": {"type": "list", "elements": "str", "choices": list(REASONS), "default": list(DEFAULT_REASONS)},
    "label_selector": {"type": "str"},
    "max_pods": {"type": "int", "default": 5},
    "pending_seconds": {"type": "int", "default": 300},
    "terminating_seconds": {"type": "int", "default": 60},
    "min_age_seconds": {"type": "int", "default": 0},
    "allow_bare_pods": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 180},
    "max_dead_pods": {"type": "int", "default": 50},
    "confirmed_dead_nodes": {"type": "list", "elements": "str", "default": []},
    "protected_namespaces": {"type": "list", "elements": "str", "default": list(PROTECTED_NAMESPACES)},
    "allow_protected_namespace": {"type": "bool", "default": False},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params
    opts = Options(**{name: tuple(p[name]) if isinstance(p[name], list) else p[name] for name in Options._fields})
    try:
        result = cleanup(PodApi(build_client(p), p["request_timeout"]), opts, module.check_mode)
    except CleanupFailed as exc:
        module.fail_json(msg=str(exc), **_shown(module, exc.result))
    except (CleanupError, PodError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**_shown(module, result))


def _shown(module: AnsibleModule, result: dict) -> dict:
    if not module._diff:
        result = {k: v for k, v in result.items() if k != "diff"}
    return result


if __name__ == "__main__":
    main()
