# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_describe_info
short_description: Collect what kubectl describe shows of the pods and deployments that are not healthy
version_added: 1.1.0
description:
  - The handbook's incident step "look at the pod's start-up information" (C(kubectl describe pod)), for every pod
    and deployment of O(namespaces) that is not healthy - or exactly the objects named in O(names).
  - For a pod - phase and reason, conditions, each container's state, last state (exit code, reason, time) and
    restart count, the newest events about it, and the last O(tail_lines) lines of each container's log (of the
    previous instance when the container crashed) where the API can give them; otherwise why not.
  - For a deployment - desired, current, up-to-date and available replicas, conditions, and the newest events
    about it and its ReplicaSets.
  - Reads pods, events and deployments with one paginated LIST each for the whole cluster; logs are one request
    per container of a described pod, bounded by O(max_objects).
  - Each described object is a C(pods.describe) or C(deployments.describe) finding (critical for a pod in an
    abnormal state or a deployment with nothing available, warning otherwise) whose details hold the describe block.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  namespaces:
    description: Namespaces whose unhealthy pods and deployments are described; empty means all.
    type: list
    elements: str
    default: []
  names:
    description: Describe exactly these objects (C(namespace/name) of pods or deployments), healthy or not.
    type: list
    elements: str
    default: []
  include_deployments:
    description: Describe unhealthy deployments too.
    type: bool
    default: true
  event_types:
    description: Event types to collect; the API filters them.
    type: list
    elements: str
    choices: [Warning, Normal]
    default: [Warning]
  max_events:
    description: Newest events kept per object.
    type: int
    default: 10
  tail_lines:
    description: Last lines of each container's log; V(0) reads no logs.
    type: int
    default: 20
  max_objects:
    description: Describe at most this many objects (pods first); the rest are counted in RV(left_out).
    type: int
    default: 20
"""

EXAMPLES = r"""
- name: Describe what is not healthy in developer-center
  kubeops.runbook.k8s_describe_info:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    namespaces: [developer-center]
  delegate_to: localhost
  register: described

- name: Describe one pod
  kubeops.runbook.k8s_describe_info:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    names: [developer-center/app-base-669d6666-x2x7k]
  delegate_to: localhost
"""

RETURN = r"""
described:
  description: One block per object, as C(kubectl describe) would show it.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: Pod
      namespace: developer-center
      name: developer-center-web-6b55b58b47-pvhnh
      phase: Running
      restarts: 7
      containers:
        - {name: developer-center-web, ready: false, restart_count: 7, state: {state: waiting, reason: CrashLoopBackOff},
           last_state: {state: terminated, reason: Error, exitCode: 1}}
      events:
        - {type: Warning, reason: BackOff, message: Back-off restarting failed container, count: 7}
      logs:
        developer-center-web: {previous: true, unavailable: "the API answered HTTP 502 Bad Gateway"}
findings:
  description: C(pods.describe) / C(deployments.describe) findings of the one model; details hold the block.
  returned: always
  type: list
  elements: dict
left_out:
  description: Unhealthy objects not described because of O(max_objects).
  returned: always
  type: int
api_requests:
  description: Requests made per kind (pages of the LISTs, and C(logs)).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._describe import DescribeApi, DescribeError, add_logs, describe
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sError, build_client,
)

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "namespaces": {"type": "list", "elements": "str", "default": []},
    "names": {"type": "list", "elements": "str", "default": []},
    "include_deployments": {"type": "bool", "default": True},
    "event_types": {"type": "list", "elements": "str", "choices": ["Warning", "Normal"], "default": ["Warning"]},
    "max_events": {"type": "int", "default": 10},
    "tail_lines": {"type": "int", "default": 20},
    "max_objects": {"type": "int", "default": 20},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params
    bad = [n for n in p["names"] if n.count("/") != 1 or not all(n.split("/"))]
    if bad:
        module.fail_json(msg=f"names must be namespace/name, got {bad[0]!r}")
    if p["tail_lines"] < 0:
        module.fail_json(msg=f"tail_lines must be 0 or more, got {p['tail_lines']}")
    types = sorted(set(p["event_types"]))
    try:
        api = DescribeApi(build_client(p), p["request_timeout"])
        pods = api.list("pods")
        events = api.list("events", field_selector=None if len(types) > 1 else f"type={types[0]}")
        deployments = api.list("deployments") if p["include_deployments"] else []
        blocks, findings, left_out = describe(pods, events, deployments, p["namespaces"], p["names"],
                                              p["include_deployments"], p["max_objects"], p["max_events"])
        add_logs(api, blocks, p["tail_lines"])
    except (DescribeError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, described=blocks, findings=findings, left_out=left_out, api_requests=api.requests)


if __name__ == "__main__":
    main()
