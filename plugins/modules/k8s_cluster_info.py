# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_cluster_info
short_description: Inspect a Kubernetes cluster through its API and return findings
version_added: 1.0.0
description:
  - The Kubernetes half of the daily inspection (handbook seed 000 sections 1.2 to 1.5 and 3.2).
  - Does ONE paginated LIST (C(limit) and C(continue)) per resource kind for the whole cluster, never a call per
    namespace or pod, so its cost grows with the number of objects, not with round trips.
  - Checks nodes (Ready, memory/disk/PID pressure, cordoned), deployments (DESIRED = CURRENT = UP-TO-DATE =
    AVAILABLE), pods (phase, READY x/y, CrashLoopBackOff/ImagePullBackOff/Evicted, Pending too long, restarts
    that grew since O(restart_baseline)), services whose selector has no ready endpoint, the workload policy
    (requests equal to limits, liveness/readiness probes, JVM C(-Xmx) below the memory limit) and the
    calico-node pod of each node.
  - Since 2.0.0 also the other workload kinds, on by default - DaemonSets (desired, ready, up-to-date,
    misscheduled), StatefulSets (ready replicas, a rollout stuck on the old revision), Jobs that failed,
    CronJobs whose runs stopped succeeding or do not end, PersistentVolumeClaims Pending or Lost, and
    HorizontalPodAutoscalers (autoscaling/v2) at their maximum or unable to scale. A kind the API does not serve
    or the credentials may not list gives an C(unknown) finding of that check; the other checks still run.
  - Since 2.0.0 also capacity and headroom, from the nodes and pods it lists anyway (check V(capacity)) - per node
    the CPU and memory requests of its pods that hold resources and their number against its allocatable
    (C(capacity.requests)); per node pool (O(capacity_pool_label)) whether the pool can lose its largest node and
    still place the requests that run on it (C(capacity.pool)) - and, check V(node_usage), the usage metrics.k8s.io
    reports per node against its allocatable (C(capacity.usage), one more LIST); a cluster that does not serve
    metrics.k8s.io gets one ok C(capacity.usage) finding saying usage was not measured.
  - Since 2.0.0, with O(tls_secret_namespaces), the expiry of the C(tls.crt) of the TLS Secrets of those namespaces
    (one more LIST, of Secrets of C(type=kubernetes.io/tls) only; their keys are never parsed or returned).
  - Nodes and deployments get one finding per object, ok included. Pods, services, workload policy and the other
    workload kinds report only what is wrong plus one aggregate ok finding per namespace.
  - An API server that cannot be reached gives a critical C(control_plane_services.api) finding, not a failure.
  - Since 2.0.0, with O(kubectl), also the version skew between that kubectl and the API server (finding
    C(host.kubectl_skew), the check V(kubectl_skew) of M(kubeops.runbook.host_hygiene_info)), its
    C(kubectl version) running beside the LISTs.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.k8s_auth
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  checks:
    description: Checks to run.
    type: list
    elements: str
    choices: [nodes, deployments, pods, services, workload_policy, calico_node_pods, namespaces, daemonsets,
              statefulsets, jobs, cronjobs, persistentvolumeclaims, horizontalpodautoscalers, capacity, node_usage]
    default: [nodes, deployments, pods, services, workload_policy, calico_node_pods, daemonsets, statefulsets, jobs,
              cronjobs, persistentvolumeclaims, horizontalpodautoscalers, capacity, node_usage]
  namespaces:
    description:
      - Namespaces whose deployments, pods, services, workload policy, DaemonSets, StatefulSets, Jobs, CronJobs,
        PersistentVolumeClaims and HorizontalPodAutoscalers are checked; empty means all.
      - Filtering happens on the result of the one cluster-wide LIST.
    type: list
    elements: str
    default: []
  page_size:
    description: Objects per page of each paginated LIST.
    type: int
    default: 500
  consistent_read:
    description:
      - V(false) reads each kind from the API server's watch cache (C(resourceVersion=0), as informers and
        controllers do), which may lag the newest write by a moment; at thousands of pods it is several times
        cheaper for the API server and etcd than reading every object from etcd page by page.
      - V(true) makes every LIST a quorum read from etcd, page by page (what C(kubectl get) does), for a check right
        after a change.
    type: bool
    default: false
    version_added: 2.0.0
  restart_baseline:
    description:
      - Container restart counts of the previous inspection, the RV(restart_snapshot) of an earlier run (or the
        older form, C(namespace/pod) to count). A pod whose count grew gets a C(pods.restarts) finding with old
        and new count.
      - A pod created after the baseline was taken (a recreated pod of the same Deployment or StatefulSet has a
        new name or uid) is compared from 0, so a replaced crashing pod is still seen.
      - When not given, the action reads the last good baseline of the cluster from the inspection history on the
        controller (C(inspection_history_db), else C(<inspection_report_dir>/history.sqlite)) and records this
        run's RV(restart_snapshot) in the host fact C(kubeops_baselines) for the report to store. A run that
        cannot list the pods stores none, so the next run compares with the last good one.
    type: dict
  restart_delta_warning:
    description: Restart increase that makes a C(pods.restarts) warning.
    type: int
    default: 1
  restart_delta_critical:
    description: Restart increase that makes a C(pods.restarts) critical; V(0) disables the critical level.
    type: int
    default: 5
  pod_pending_seconds:
    description: A pod Pending longer than this is critical (C(pods.phase)).
    type: int
    default: 300
  deployment_available_critical_ratio:
    description:
      - A deployment with fewer available replicas than this share of the desired ones is critical; any other
        gap is a warning. 0 available of a desired count above 0 is always critical.
    type: float
    default: 0.5
  rollout_grace_seconds:
    description:
      - A DaemonSet or StatefulSet rollout (for a StatefulSet also a scale) younger than this, counted from the last
        write of its spec (the newest C(managedFields) time outside the status), is not reported while pods are not
        ready or not up-to-date yet. Older, the gap is a warning (C(daemonsets.pods), C(statefulsets.replicas)).
        None ready is critical at any age.
    type: int
    default: 600
    version_added: 2.0.0
  cronjob_failing_seconds:
    description:
      - A CronJob with no active run whose last scheduled run is later than its last success (or than its creation,
        when no run ever succeeded) by more than this gets a C(cronjobs.runs) warning.
    type: int
    default: 3600
    version_added: 2.0.0
  cronjob_active_seconds:
    description: A CronJob with an active run whose last run was scheduled more than this ago gets a C(cronjobs.runs) warning.
    type: int
    default: 86400
    version_added: 2.0.0
  tls_secret_namespaces:
    description:
      - Namespaces whose TLS Secrets (type C(kubernetes.io/tls)) get the expiry of their C(tls.crt) checked, with
        one more LIST (C(fieldSelector=type=kubernetes.io/tls), across namespaces, filtered here); V(*) means all.
        Empty (the default) lists no Secret.
      - An expiring, expired or unreadable certificate gets a C(certificates.expiry) finding targeted
        C(secret/<namespace>/<name>), the others one ok finding per namespace (C(secret/<namespace>/*)); a listed
        namespace without a TLS Secret is ok. C(tls.key) is never parsed, returned or logged.
      - Needs the C(cryptography) Python library (ansible-core's own dependency) and the permission to list Secrets;
        without them, V(unknown) findings.
    type: list
    elements: str
    default: []
    version_added: 2.0.0
  tls_secret_warning_days:
    description: A TLS Secret's certificate with this many days left or fewer is a V(warning).
    type: int
    default: 30
    version_added: 2.0.0
  tls_secret_critical_days:
    description: A TLS Secret's certificate with this many days left or fewer is V(critical).
    type: int
    default: 7
    version_added: 2.0.0
  pvc_pending_seconds:
    description:
      - A PersistentVolumeClaim Pending longer than this (since its creation) gets a C(persistentvolumeclaims.phase)
        warning; a Lost claim is critical.
    type: int
    default: 600
    version_added: 2.0.0
  capacity_requests_warning:
    description:
      - Percent of a node's allocatable CPU, memory or pods that its pods' requests (or their number) reach for a
        C(capacity.requests) warning.
    type: float
    default: 85
    version_added: 2.0.0
  capacity_requests_critical:
    description: The same percent for a critical C(capacity.requests) finding.
    type: float
    default: 95
    version_added: 2.0.0
  capacity_pool_label:
    description:
      - Node label whose value groups the nodes into pools for C(capacity.pool) (for example
        C(node-role.kubernetes.io/worker) or C(node.kubernetes.io/instance-type)); nodes without it are in no pool.
      - Empty - one pool, C(pool:all), of every node without a control-plane C(NoSchedule) taint.
    type: str
    default: ""
    version_added: 2.0.0
  capacity_usage_warning:
    description: Percent of a node's allocatable CPU or memory in use (metrics.k8s.io) for a C(capacity.usage) warning.
    type: float
    default: 85
    version_added: 2.0.0
  capacity_usage_critical:
    description: The same percent for a critical C(capacity.usage) finding.
    type: float
    default: 95
    version_added: 2.0.0
  jvm_heap_max_ratio:
    description: A JVM C(-Xmx) above this share of the container memory limit is a warning (at or above the limit, critical).
    type: float
    default: 0.9
  workload_policy_exclude_namespaces:
    description: Namespaces the workload policy does not apply to.
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
  node_hosts:
    description: Kubernetes node name to inventory host name, for the C(host) of findings; unmapped names are used as they are.
    type: dict
    default: {}
  expected_namespaces:
    description:
      - Namespaces that must exist (check V(namespaces)); a missing one is a critical C(pods.namespace) finding, and
        a namespace stuck in phase Terminating a warning.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
  calico_namespace:
    description: Namespace of the calico-node DaemonSet pods.
    type: str
    default: kube-system
  calico_node_label:
    description: Label (C(key=value)) of the calico-node pods.
    type: str
    default: k8s-app=calico-node
  kubectl:
    description:
      - A kubectl command or path whose client version is compared with the API server's (finding
        C(host.kubectl_skew), labelled with the host the module runs on). It runs with O(kubeconfig) and
        O(context). Unset, the skew is not checked.
    type: str
    version_added: 2.0.0
  kubectl_max_skew:
    description: Largest accepted difference in minor version between O(kubectl) and the API server.
    type: int
    default: 1
    version_added: 2.0.0
"""

EXAMPLES = r"""
- name: Inspect the cluster from the controller
  kubeops.runbook.k8s_cluster_info:
    kubeconfig: "{{ kubeops_kubeconfig }}"
    namespaces: [product, developer-center, kube-system]
  delegate_to: localhost
  delegate_facts: true   # run_once: the findings are recorded on localhost only
  run_once: true
  register: k8s

- name: Show what is not ok
  ansible.builtin.debug:
    msg: "{{ k8s.findings | kubeops.runbook.findings_by_status('warning') }}"
"""

RETURN = r"""
findings:
  description: Findings of the one model (id, category, target, host, status, summary, details).
  returned: always
  type: list
  elements: dict
  sample:
    - id: nodes.ready
      category: nodes
      target: node2
      host: node2
      status: critical
      summary: NotReady (kubelet stopped posting status)
      details: {ready: Unknown}
pod_restarts:
  description: Current container restart count per pod (C(namespace/pod)).
  returned: always
  type: dict
  sample: {"product/oltp-gateway-1-3-0-6bdc7d7b75-gkxqk": 0}
restart_snapshot:
  description:
    - The restart baseline for the next inspection (pass it as O(restart_baseline)); null when the pods could not
      be listed, so that a caller keeps its last good one.
  returned: always
  type: dict
  sample:
    taken: "2025-06-02T01:00:05Z"
    pods:
      product/oltp-gateway-1-3-0-6bdc7d7b75-gkxqk:
        uid: 6f1c0a52-3f5e-4a7e-9a43-0d1c2b3e4f50
        restarts: 0
        created: "2025-05-30T08:12:44Z"
        owner: Deployment/oltp-gateway-1-3-0
objects:
  description: Number of objects listed per kind.
  returned: always
  type: dict
  sample: {nodes: 2, pods: 14, deployments: 8, daemonsets: 1, statefulsets: 1}
api_requests:
  description:
    - HTTP LIST requests made per kind (pages); one LIST per kind, several pages for big clusters.
    - C(node_metrics) counts the one LIST of metrics.k8s.io NodeMetrics of the check V(node_usage).
  returned: always
  type: dict
  sample: {nodes: 1, pods: 1}
server_version:
  description: The API server's C(/version) answer; null when it could not be reached.
  returned: always
  type: dict
  sample: {gitVersion: v1.30.14}
kubectl_versions:
  description: Client and server versions reported by O(kubectl).
  returned: when O(kubectl) is set and it printed its version
  type: dict
  sample: {client: v1.30.13, server: v1.30.14}
"""

import threading

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeops.runbook.plugins.module_utils._k8s import (
    HAS_KUBERNETES, K8S_AUTH_SPEC, KUBERNETES_IMPORT_ERROR, K8sConfigError, build_client,
)
from ansible_collections.kubeops.runbook.plugins.module_utils import _hygiene, _k8s_tls_secrets
from ansible_collections.kubeops.runbook.plugins.module_utils._k8s_checks import CHECKS, DEFAULT_CHECKS, CheckError, inspect_cluster


def main() -> None:
    argument_spec = dict(
        K8S_AUTH_SPEC,
        checks={"type": "list", "elements": "str", "choices": list(CHECKS), "default": list(DEFAULT_CHECKS)},
        namespaces={"type": "list", "elements": "str", "default": []},
        page_size={"type": "int", "default": 500},
        consistent_read={"type": "bool", "default": False},
        restart_baseline={"type": "dict"},
        restart_delta_warning={"type": "int", "default": 1},
        restart_delta_critical={"type": "int", "default": 5},
        pod_pending_seconds={"type": "int", "default": 300},
        deployment_available_critical_ratio={"type": "float", "default": 0.5},
        rollout_grace_seconds={"type": "int", "default": 600},
        cronjob_failing_seconds={"type": "int", "default": 3600},
        cronjob_active_seconds={"type": "int", "default": 86400},
        pvc_pending_seconds={"type": "int", "default": 600},
        capacity_requests_warning={"type": "float", "default": 85},
        capacity_requests_critical={"type": "float", "default": 95},
        capacity_pool_label={"type": "str", "default": ""},
        capacity_usage_warning={"type": "float", "default": 85},
        capacity_usage_critical={"type": "float", "default": 95},
        jvm_heap_max_ratio={"type": "float", "default": 0.9},
        workload_policy_exclude_namespaces={"type": "list", "elements": "str",
                                            "default": ["kube-system", "kube-public", "kube-node-lease"]},
        node_hosts={"type": "dict", "default": {}},
        expected_namespaces={"type": "list", "elements": "str", "default": []},
        calico_namespace={"type": "str", "default": "kube-system"},
        calico_node_label={"type": "str", "default": "k8s-app=calico-node"},
        kubectl={"type": "str"},
        kubectl_max_skew={"type": "int", "default": 1},
        **_k8s_tls_secrets.ARGUMENT_SPEC,
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    params = dict(module.params)
    if params["page_size"] < 1:
        module.fail_json(msg=f"page_size must be at least 1, got {params['page_size']}")
    if "=" not in params["calico_node_label"]:
        module.fail_json(msg=f"calico_node_label must be key=value, got {params['calico_node_label']!r}")
    if params["kubectl_max_skew"] < 0:
        module.fail_json(msg=f"kubectl_max_skew must be 0 or more, got {params['kubectl_max_skew']}")
    params["restart_delta_critical"] = params["restart_delta_critical"] or None
    kubectl = KubectlVersion(module, params) if params["kubectl"] else None
    try:
        result = inspect_cluster(build_client(params), params)
    except (K8sConfigError, CheckError) as exc:
        module.fail_json(msg=str(exc))
    if kubectl:
        result["findings"].append(kubectl.finding(result))
    module.exit_json(changed=False, **result)


class KubectlVersion:
    """``kubectl version`` started before the LISTs (a thread running ``module.run_command``) and read after them: the
    skew check costs no wall time of its own. The command and the finding are host_hygiene_info's (``_hygiene``)."""

    TIMEOUT = 30.0   # kubectl gives up on the server after 10 s (--request-timeout)

    def __init__(self, module: AnsibleModule, params: dict) -> None:
        self.max_skew = params["kubectl_max_skew"]
        self.outcome: tuple | None = None
        self.thread: threading.Thread | None = None
        self.argv, self.problem = _hygiene.kubectl_version_argv(module, {
            "kubectl": params["kubectl"], "kubeconfig": params["kubeconfig"], "context": params["context"]})
        if self.argv is not None:
            self.thread = threading.Thread(target=self._run, args=(module,), daemon=True)
            self.thread.start()

    def _run(self, module: AnsibleModule) -> None:
        try:
            self.outcome = module.run_command(self.argv)
        except OSError as exc:
            self.problem = f"{self.argv[0]} cannot be run: {exc}"

    def finding(self, result: dict) -> dict:
        if self.thread is not None:
            self.thread.join(self.TIMEOUT)
            if self.thread.is_alive():
                return _hygiene.kubectl_skew_finding(None, None, problem=f"kubectl version did not end in {self.TIMEOUT:g} s")
        if self.outcome is None:
            return _hygiene.kubectl_skew_finding(None, None, problem=self.problem or "kubectl version did not run")
        rc, out, err = self.outcome
        return _hygiene.kubectl_skew_outcome(rc, out, err, None, self.max_skew, result)


if __name__ == "__main__":
    main()
