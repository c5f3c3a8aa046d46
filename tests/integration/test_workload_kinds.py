"""The workload kinds beyond Deployments, with faults the lab can produce: a DaemonSet whose pods can never be
scheduled, a claim that no storage class will ever bind, an autoscaler whose target does not exist. The module reads
them from the lab's API server (one LIST per kind) and reports each one as the operator would want it reported."""
from __future__ import annotations

import json

import pytest

from test_cluster_inspection import find, k8s

NAMESPACE = "kubeops-itest-workloads"
MANIFEST = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: too-big
  namespace: {NAMESPACE}
spec:
  selector:
    matchLabels: {{app: too-big}}
  template:
    metadata:
      labels: {{app: too-big}}
    spec:
      containers:
        - name: app
          image: busybox
          resources:
            requests: {{cpu: "100000"}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: never-bound
  namespace: {NAMESPACE}
spec:
  storageClassName: kubeops-itest-no-such-class
  accessModes: [ReadWriteOnce]
  resources:
    requests: {{storage: 1Gi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: no-target
  namespace: {NAMESPACE}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: kubeops-itest-missing}}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}
"""


@pytest.fixture
def broken_workloads(lab, tmp_path):
    manifest = tmp_path / "workloads.yaml"
    manifest.write_text(MANIFEST)
    lab.kubectl("apply", "-f", str(manifest))
    try:
        def ready() -> bool:
            got = json.loads(lab.kubectl("get", "daemonsets,horizontalpodautoscalers", "-n", NAMESPACE, "-o", "json").stdout)
            kinds = {item["kind"]: item.get("status") or {} for item in got["items"]}
            ds, hpa = kinds.get("DaemonSet", {}), kinds.get("HorizontalPodAutoscaler", {})
            return (ds.get("desiredNumberScheduled", 0) > 0
                    and any(c.get("type") == "AbleToScale" for c in hpa.get("conditions") or []))
        # the DaemonSet controller counts the nodes at once; the autoscaler's controller looks every 15 s
        lab.wait(ready, "the DaemonSet's desired count and the autoscaler's first conditions", timeout=90, interval=3)
        yield
    finally:
        # gone before the next inspection of the lab (a healthy lab is clean)
        lab.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s", check=False)


def test_unschedulable_daemonset_unbound_claim_and_targetless_autoscaler_are_reported(lab, broken_workloads):
    result = k8s(lab, checks=["daemonsets", "persistentvolumeclaims", "horizontalpodautoscalers"],
                 namespaces=[NAMESPACE], pvc_pending_seconds=0)
    findings = result["findings"]
    [ds] = find(findings, "daemonsets.pods", f"{NAMESPACE}/too-big")
    assert ds["status"] == "critical", ds              # none of its pods can run: at any age
    [pvc] = find(findings, "persistentvolumeclaims.phase", f"{NAMESPACE}/never-bound")
    assert pvc["status"] == "warning" and "Pending" in pvc["summary"], pvc
    [hpa] = find(findings, "horizontalpodautoscalers.scaling", f"{NAMESPACE}/no-target")
    assert hpa["status"] == "warning", hpa
    # nothing else of the namespace is reported as healthy: the three are all it holds
    assert not [f for f in findings if f["status"] == "ok" and f["target"].startswith(f"{NAMESPACE}/")], findings
    # with the default pending threshold (10 minutes) a claim created a minute ago is not yet a problem
    later = k8s(lab, checks=["persistentvolumeclaims"], namespaces=[NAMESPACE])["findings"]
    assert not [f for f in later if f["status"] != "ok"], later
