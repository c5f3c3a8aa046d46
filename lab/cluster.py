"""Kubernetes objects of the lab: the two worker Nodes, namespaces and workloads named like the handbook's."""
from __future__ import annotations

import json

from . import config

PRODUCT = [  # (name, replicas, containers)
    ("oltp-gateway-1-3-0", 2, 1),
    ("bis-report-data-unit-1-3-0", 2, 3),
    ("bis-calculatecontrol-1-3-0", 2, 1),
    ("ihs-conclude-1-3-0", 2, 1),
    ("wcs-webui-1-3-0", 1, 1),
]
DEVELOPER_CENTER = [("app-base", 1, 1), ("developer-center-web", 1, 1)]
# The lab's one StatefulSet: developer-center/app-db, one replica whose data is a local PersistentVolume on node2 (so
# it runs on node2 and nowhere else, as a database pinned to its disk does). Its pods tolerate an unreachable or
# NotReady node for STATEFUL_TOLERATION seconds instead of the DefaultTolerationSeconds admission's 300, so that a
# partition drill (`python -m lab fault inject partition`) sees the taint evict it within the minute; the other pods
# keep the default and stay put during a short drill.
STATEFUL = ("app-db", "node2", 30600)   # name, node, port
STATEFUL_TOLERATION = 10
STATEFUL_GRACE = 10


def _container(name: str, image: str, port: int) -> dict:
    res = {"cpu": "250m", "memory": "512Mi"}
    probe = {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 30}
    return {"name": name, "image": image, "ports": [{"containerPort": port}],
            "env": [{"name": "JAVA_OPTS", "value": "-Xms256m -Xmx384m"}],
            "resources": {"requests": res, "limits": dict(res)},
            "livenessProbe": probe, "readinessProbe": dict(probe)}


def deployment(ns: str, name: str, replicas: int, containers: int, base_port: int) -> list[dict]:
    labels = {"app": name}
    cs = [_container(name if i == 0 else f"{name}-sidecar{i}", f"harbor.lab/{ns}/{name.rsplit('-1-3-0', 1)[0]}:1.3.0",
                     base_port + i) for i in range(containers)]
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels},
           "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": cs}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
           "spec": {"selector": labels, "ports": [{"name": f"p{base_port + i}", "port": base_port + i,
                                                   "targetPort": base_port + i} for i in range(containers)]}}
    return [dep, svc]


def statefulset() -> list[dict]:
    """developer-center/app-db: a headless Service, the StatefulSet, and the local PersistentVolume of its one pod,
    bound in advance to the claim its volumeClaimTemplate makes (data-app-db-0; no provisioner is involved)."""
    name, node_name, port = STATEFUL
    ns, labels = "developer-center", {"app": name}
    hostname = [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}]
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{name}-data-{node_name}", "labels": labels},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                   "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
                   "local": {"path": f"/var/lib/{name}"},
                   "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns,
                                "name": f"data-{name}-0"},
                   "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": hostname}]}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
           "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": f"p{port}", "port": port, "targetPort": port}]}}
    container = _container(name, f"harbor.lab/{ns}/{name}:1.3.0", port)
    container["volumeMounts"] = [{"name": "data", "mountPath": "/var/lib/app-db"}]
    tolerations = [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": STATEFUL_TOLERATION}
                   for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns, "labels": labels},
           "spec": {"serviceName": name, "replicas": 1, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"nodeSelector": {"kubernetes.io/hostname": node_name},
                                          "terminationGracePeriodSeconds": STATEFUL_GRACE, "tolerations": tolerations,
                                          "containers": [container]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                              "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                                                       "resources": {"requests": {"storage": "1Gi"}}}}]}}
    return [pv, svc, sts]


def statefulset_manifests() -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": statefulset()})


def node(name: str, ip: str, pod_cidr: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "node-role.kubernetes.io/worker": "", "type": "kwok"},
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"}},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def node_versions() -> dict:
    """The versions a lab node reports: the lab's Kubernetes release, as a real kubelet and kube-proxy of the lab's
    binaries would. kwok reports kwok-<its version>, which no version skew check can compare; it keeps the versions
    once they are patched into the Node's status (api.ensure_node_versions, after the nodes are Ready). They cannot be
    given at creation: the API's schema requires every field of nodeInfo then."""
    return {"kubeletVersion": config.K8S_VERSION, "kubeProxyVersion": config.K8S_VERSION}


def calico() -> list[dict]:
    labels = {"k8s-app": "calico-node"}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": "calico-node", "namespace": "kube-system", "labels": labels},
          "spec": {"selector": {"matchLabels": labels},
                   "template": {"metadata": {"labels": labels},
                                "spec": {"hostNetwork": True, "tolerations": [{"operator": "Exists"}],
                                         "containers": [{"name": "calico-node", "image": "calico/node:v3.26.1",
                                                         "resources": {"requests": {"cpu": "250m"}}}]}}}}
    kc_labels = {"k8s-app": "calico-kube-controllers"}
    kc = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "calico-kube-controllers", "namespace": "kube-system", "labels": kc_labels},
          "spec": {"replicas": 1, "selector": {"matchLabels": kc_labels},
                   "template": {"metadata": {"labels": kc_labels},
                                "spec": {"containers": [{"name": "calico-kube-controllers",
                                                         "image": "calico/kube-controllers:v3.26.1"}]}}}}
    return [ds, kc]


def manifests() -> str:
    """All objects as a JSON List for `kubectl apply -f -`."""
    items: list[dict] = []
    for ns in ("product", "developer-center"):
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for n in config.NODES:
        if "kube_node" in n.groups:
            items.append(node(n.name, n.ip, n.extra["pod_cidr"]))
    port = 30500
    for name, replicas, containers in PRODUCT:
        items += deployment("product", name, replicas, containers, port)
        port += 10
    for name, replicas, containers in DEVELOPER_CENTER:
        items += deployment("developer-center", name, replicas, containers, port)
        port += 10
    items += statefulset()
    items += calico()
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def expected_pods() -> dict[str, int]:
    return {"product": sum(r for _, r, _ in PRODUCT), "developer-center": sum(r for _, r, _ in DEVELOPER_CENTER) + 1}
