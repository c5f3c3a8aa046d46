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


def node(name: str, ip: str, pod_cidr: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "node-role.kubernetes.io/worker": "", "type": "kwok"},
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"}},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


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
    items += calico()
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def expected_pods() -> dict[str, int]:
    return {"product": sum(r for _, r, _ in PRODUCT), "developer-center": sum(r for _, r, _ in DEVELOPER_CENTER)}
