"""What the lab is made of: versions, nodes, addresses, paths. One place to change them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

K8S_VERSION = "v1.30.14"
KWOK_VERSION = "v0.6.1"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("KUBEOPS_LAB_MIRROR", "http://deb.debian.org/debian")

CACHE = Path(os.environ.get("KUBEOPS_LAB_CACHE", Path.home() / ".cache" / "kubeops-lab"))
RUN = Path(os.environ.get("KUBEOPS_LAB_RUN", "/var/lib/kubeops-lab"))
INVENTORY_DIR = REPO / "inventories" / "lab"

PREFIX = "kubeops"                 # netns, machine and link names start with it
BRIDGE = "kubeops0"
SUBNET = "198.18.0.0/24"           # RFC 2544 benchmarking range; nothing else is ever used
BRIDGE_ADDR = "198.18.0.1"
SERVICE_CIDR = "198.18.0.128/26"   # ClusterIPs (virtual; inside the lab range on purpose)
KUBERNETES_SVC_IP = "198.18.0.129"
CLUSTER_CIDR = "198.18.0.192/26"   # pod IPs handed out by kwok

K8S_BIN_DIR = "/app/kubernetes/server/bin"     # as in the handbook
K8S_SSL_DIR = "/etc/kubernetes/ssl"
ETCD_SSL_DIR = "/etc/etcd/ssl"
ETCD_DATA_DIR = "/var/lib/etcd"
BIRD_SOCKET = "/var/run/calico/bird.ctl"
BGP_AS = 64512
NGINX_LOG_DIR = "/data/iuap/logs/nginx"
LICENSE_PORT = 7788
LICENSE_BANNER = "LICENSE-SERVER READY"
MYSQL_USER = "kubeops_monitor"
MYSQL_PASSWORD = "lab-monitor-secret"   # a lab-only credential for the monitoring account
ETCD_BACKUP_DIR = "/var/backups/etcd"   # the scheduled snapshots of master1 (kubeops_etcd_backup_dir)
ETCD_BACKUP_KEEP = 24

# Packages of the two root filesystem layers. "base" is what every node has (spare1 has only this);
# "full" adds the services the other nodes run.
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "openssh-server", "rsyslog", "iproute2", "procps",
                 "python3", "python3-apt", "ca-certificates", "iputils-ping", "less", "logrotate", "sudo", "cron",
                 "netbase", "kmod", "util-linux",
                 # OS tooling a new worker needs before kube-proxy can be installed on it (spare1)
                 "iptables", "conntrack"]
FULL_PACKAGES = ["etcd-server", "etcd-client", "bird", "containerd", "nginx-light", "redis-server", "redis-tools",
                 "rabbitmq-server", "mariadb-server", "mariadb-client", "socat", "openssl", "curl",
                 "python3-cryptography", "lsof"]
# Units the full layer ships that are disabled unless a node enables them.
SERVICE_UNITS = ["etcd", "bird", "bird6", "containerd", "nginx", "redis-server", "rabbitmq-server", "mariadb"]
# Units of the middleware hosts (a node runs those of them its Node.units name).
MIDDLEWARE_UNITS = ("nginx", "redis-server", "rabbitmq-server", "mariadb", "license-server")


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    groups: tuple[str, ...]
    units: tuple[str, ...] = ()
    full: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def veth(self) -> str:
        return f"kl-{self.name}"[:15]


NODES = (
    Node("master1", "198.18.0.11", ("kube_control_plane", "etcd", "calico"),
         ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "bird")),
    Node("node1", "198.18.0.21", ("kube_node", "etcd", "calico"),
         ("containerd", "kubelet", "kube-proxy", "etcd", "bird"), extra={"pod_cidr": "198.18.0.192/27"}),
    Node("node2", "198.18.0.22", ("kube_node", "etcd", "calico"),
         ("containerd", "kubelet", "kube-proxy", "etcd", "bird"), extra={"pod_cidr": "198.18.0.224/27"}),
    # Middleware on its own hosts, as in the handbook's clusters; "middleware" is what the inventory declares
    # (kubeops_middleware), the units are what the node runs.
    Node("mw1", "198.18.0.31", ("middleware",), ("nginx", "license-server"),
         extra={"middleware": ("nginx", "license_server")}),
    Node("mw2", "198.18.0.32", ("middleware",), ("redis-server", "rabbitmq-server", "mariadb"),
         extra={"middleware": ("redis", "rabbitmq", "mysql")}),
    Node("spare1", "198.18.0.41", ("spare",), (), full=False),
)
NODES_BY_NAME = {n.name: n for n in NODES}
JOIN_UNITS = ("kubelet", "kube-proxy")   # started on workers after the control plane is ready
ETCD_NODES = tuple(n for n in NODES if "etcd" in n.groups)
