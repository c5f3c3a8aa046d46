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
  - When more pods match than O(max_pods), the module refuses and deletes nothing.
  - Each delete carries the pod's UID as a precondition, so only the pod that was looked at is deleted. Stuck
    Terminating pods are deleted with grace period 0 (what C(kubectl delete --force --grace-period=0) does).
  - Reads the pods with one paginated LIST for the whole cluster.
  - The controller-side action plugin appends one line per deleted pod to the audit log C(kubeops_audit_log).
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
      - Refuse (delete nothing) when more pods match than this. Many failing pods at once point at a node, the
        network or a dependency; deleting them hides the evidence and adds load.
    type: int
    default: 5
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
      V(gone) (already deleted by someone else) or V(replaced) (a new pod took the name; left alone).
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
  description: Abnormal pods not deleted, with the reason (C(left_alone)) - no controller, static pod mirror, too young.
  returned: always
  type: list
  elements: dict
matched:
  description: Number of pods selected for deletion (the number O(max_pods) is compared with).
  returned: always
  type: int
  sample: 3
replacements:
  description: With O(wait), per owner how many Ready pods were awaited and found, and how long it took.
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
    DEFAULT_REASONS, REASONS, CleanupError, CleanupWaitFailed, Options, cleanup,
)

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
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params
    opts = Options(tuple(p["namespaces"]), tuple(p["reasons"]), p["label_selector"], p["max_pods"], p["pending_seconds"],
                   p["terminating_seconds"], p["min_age_seconds"], p["allow_bare_pods"], p["wait"], p["wait_timeout"])
    try:
        result = cleanup(PodApi(build_client(p), p["request_timeout"]), opts, module.check_mode)
    except CleanupWaitFailed as exc:
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
