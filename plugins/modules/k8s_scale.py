# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_scale
short_description: Set the replicas of a Deployment or StatefulSet within bounds and wait for the rollout
version_added: 1.0.0
description:
  - Sets C(spec.replicas) of one Deployment or StatefulSet through the Kubernetes API.
  - Refuses (and changes nothing) when O(replicas) is outside O(min_replicas)..O(max_replicas), or when
    O(only_if_current) is set and the current replica count differs (another operator or an HPA moved it).
  - Refuses O(replicas=0) unless O(allow_zero=true), and any workload in a protected namespace (C(kube-system) and
    the others of O(protected_namespaces)) unless O(allow_protected_namespace=true).
  - The change is a patch that carries the C(resourceVersion) read, so it applies only to the workload as it was
    read - if anyone changed it in between, the API refuses it and so does the module (O(only_if_current) cannot race).
  - Every API request times out after O(request_timeout) seconds.
  - With O(wait=true), waits up to O(wait_timeout) seconds until the rollout is complete (all replicas updated
    and ready, no old ones left) and fails when it is not.
  - Usually runs on the controller (C(delegate_to=localhost)). The controller-side action plugin appends one
    line per change to the audit log C(kubeops_audit_log).
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  kind:
    description: Kind of the workload.
    type: str
    choices: [Deployment, StatefulSet]
    default: Deployment
  namespace:
    description: Namespace of the workload.
    type: str
    required: true
  name:
    description: Name of the workload.
    type: str
    required: true
  replicas:
    description: Desired number of replicas.
    type: int
    required: true
  min_replicas:
    description: Refuse to scale below this many replicas.
    type: int
  max_replicas:
    description: Refuse to scale above this many replicas.
    type: int
  only_if_current:
    description: Scale only when the workload currently has exactly this many replicas.
    type: int
  wait:
    description: Wait for the rollout to complete.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the rollout.
    type: int
    default: 120
  allow_zero:
    version_added: 1.1.0
    description:
      - Allow O(replicas=0). Scaling a workload to zero stops every pod of it, so it is refused unless this is set.
    type: bool
    default: false
  protected_namespaces:
    version_added: 1.1.0
    description: Namespaces whose workloads are refused unless O(allow_protected_namespace=true).
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
  allow_protected_namespace:
    version_added: 1.1.0
    description: Allow scaling a workload in one of O(protected_namespaces).
    type: bool
    default: false
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Scale the gateway to 3 replicas, never beyond 5
  kubeops.runbook.k8s_scale:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    namespace: product
    name: oltp-gateway-1-3-0
    replicas: 3
    max_replicas: 5
  delegate_to: localhost
"""

RETURN = r"""
before:
  description: Replicas before the run.
  returned: always
  type: int
after:
  description: Replicas after the run (in check mode, what they would be).
  returned: always
  type: int
rollout:
  description: Rollout state when the run ended (C(done), C(reason), C(ready), C(updated), C(replicas)).
  returned: always
  type: dict
audit:
  description: Audit records of this run; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, ApiException, K8sError, build_client, describe_error)
from ansible_collections.kubeops.runbook.plugins.module_utils._scale import (
    KINDS, PROTECTED_NAMESPACES, Scaler, ScaleError, plan_scale, rollout_state, wait_rollout)

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "kind": {"type": "str", "choices": list(KINDS), "default": "Deployment"},
    "namespace": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "replicas": {"type": "int", "required": True},
    "min_replicas": {"type": "int"},
    "max_replicas": {"type": "int"},
    "only_if_current": {"type": "int"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 120},
    "allow_zero": {"type": "bool", "default": False},
    "protected_namespaces": {"type": "list", "elements": "str", "default": list(PROTECTED_NAMESPACES)},
    "allow_protected_namespace": {"type": "bool", "default": False},
}


def scale(module: AnsibleModule, scaler: Scaler) -> dict:
    p = module.params
    target = f"{p['namespace']}/{p['kind']}/{p['name']}"
    obj = scaler.read(p["kind"], p["namespace"], p["name"])
    spec = obj.get("spec") or {}
    current = int(spec["replicas"] if spec.get("replicas") is not None else 1)
    plan = plan_scale(p["kind"], f"{p['namespace']}/{p['name']}", current, p["replicas"], p["min_replicas"],
                      p["max_replicas"], p["only_if_current"], p["namespace"], p["allow_zero"],
                      p["protected_namespaces"], p["allow_protected_namespace"])
    if plan["changed"] and not module.check_mode:
        scaler.patch_replicas(p["kind"], p["namespace"], p["name"], p["replicas"],
                              (obj.get("metadata") or {}).get("resourceVersion"))
    result = {"changed": plan["changed"], "before": plan["before"], "after": plan["after"], "rollout": rollout_state(obj),
              "audit": [record("scale", target, {"replicas": plan["before"]}, {"replicas": plan["after"]})] if plan["changed"] else []}
    if module._diff:
        result["diff"] = {"before": {"replicas": plan["before"]}, "after": {"replicas": plan["after"]}}
    state = result["rollout"]
    if p["wait"] and not module.check_mode:
        try:
            state = result["rollout"] = wait_rollout(lambda: scaler.read(p["kind"], p["namespace"], p["name"]), p["wait_timeout"])
        except Exception as exc:  # pylint: disable=broad-exception-caught  # the change is made: fail WITH its audit record
            module.fail_json(msg=f"{target} scaled to {p['replicas']} but its rollout could not be followed: "
                                 f"{exc if isinstance(exc, (ScaleError, K8sError)) else describe_error(exc)}", **result)
    if p["wait"] and not module.check_mode and not state["done"]:
        module.fail_json(msg=f"{target} scaled to {p['replicas']} but the rollout is not complete after "
                             f"{p['wait_timeout']}s: {state['reason']}", **result)
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
    try:
        scaler = Scaler(k8s_client.AppsV1Api(build_client(module.params)), module.params["request_timeout"])
        result = scale(module, scaler)
    except (ScaleError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3/socket errors
        if isinstance(exc, ApiException) and getattr(exc, "status", None) == 404:
            module.fail_json(msg=f"{module.params['kind']} {module.params['namespace']}/{module.params['name']} not found")
        module.fail_json(msg=describe_error(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
