# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_availability_info
short_description: Whether the cluster can take the next disruption - Ready pods and Deployments at their minimum
version_added: 2.0.0
description:
  - The stop conditions between the waves of a node maintenance, as findings and one verdict (RV(ok)).
  - C(pods.ready_ratio) - of the pods that should run (not Succeeded or Failed, not being deleted), the share that is
    Ready, against O(min_ready_percent).
  - C(deployments.available) - every Deployment of O(namespaces) has at least its minimum of available replicas,
    C(spec.replicas) less what its rolling update may take down (C(maxUnavailable), 25% by default, rounded down as
    the Deployment controller rounds it; nothing for the C(Recreate) strategy).
  - With O(wait_timeout), looks again every few seconds until the conditions hold or the time is up (the pods a wave
    evicted take a moment to be Ready elsewhere), and returns the last look.
  - Reads the cluster with one paginated LIST of pods and one of Deployments.
  - The controller-side action plugin records the findings in the host fact C(kubeops_findings), as every C(*_info)
    module's does. A run that cannot read the cluster (or gets a bad option) becomes an C(unknown) C(pods.ready_ratio)
    finding and the task succeeds without RV(ok) - gate on C(ok | default(false)), so that a stop condition nobody
    could check stops the runbook.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  min_ready_percent:
    description: Least share of Ready pods, in percent, cluster-wide.
    type: float
    default: 90
  namespaces:
    description: Namespaces whose Deployments must each be at their minimum of available replicas.
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for the conditions to hold; V(0) looks once.
    type: int
    default: 0
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
"""

EXAMPLES = r"""
- name: Stop the maintenance unless 95% of the pods are Ready and product's Deployments are at their minimum
  kubeops.runbook.k8s_availability_info:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    min_ready_percent: 95
    namespaces: [product]
    wait_timeout: 120
  delegate_to: localhost
  register: gate
  failed_when: not gate.ok | default(false)
"""

RETURN = r"""
ok:
  description: True when every condition holds (no critical finding).
  returned: when the cluster could be read
  type: bool
reasons:
  description: One line per condition that does not hold.
  returned: always
  type: list
  elements: str
  sample: ["product/oltp-gateway-1-3-0: 0 of 2 replicas available, at least 1 needed"]
ready:
  description: Ready pods (C(ready)), pods that should run (C(total)), C(percent), and the names of those not Ready.
  returned: always
  type: dict
  sample: {"ready": 21, "total": 21, "percent": 100.0, "not_ready": []}
waited:
  description: Seconds spent waiting for the conditions.
  returned: always
  type: float
findings:
  description: C(pods.ready_ratio) and one C(deployments.available) per Deployment of O(namespaces).
  returned: always
  type: list
  elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._availability import AvailabilityError, assess
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sError, build_client, list_all)
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

ARGUMENT_SPEC = {
    **K8S_AUTH_SPEC,
    "min_ready_percent": {"type": "float", "default": 90},
    "namespaces": {"type": "list", "elements": "str", "default": []},
    "wait_timeout": {"type": "int", "default": 0},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    p = module.params
    if p["wait_timeout"] < 0:
        module.fail_json(msg=f"wait_timeout must be 0 or more seconds, got {p['wait_timeout']}")
    started = time.monotonic()
    last: dict = {}
    try:
        client = build_client(p)

        def look() -> dict | None:
            pods = list_all(client, "pods", timeout=p["request_timeout"]).items
            deployments = list_all(client, "deployments", timeout=p["request_timeout"]).items if p["namespaces"] else []
            last["result"] = assess(pods, deployments, p["namespaces"], p["min_ready_percent"])
            return last["result"] if last["result"]["ok"] else None

        try:
            wait_until(look, p["wait_timeout"], 5)
        except WaitTimeout:
            pass
    except (AvailabilityError, K8sError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, waited=round(time.monotonic() - started, 1), **last["result"])


if __name__ == "__main__":
    main()
