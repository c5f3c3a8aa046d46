"""Unit files and configuration each node gets, as a binary install would lay them out."""
from __future__ import annotations

import datetime as dt

from . import config
from .config import Node

BIN = config.K8S_BIN_DIR
SSL = config.K8S_SSL_DIR
ESSL = config.ETCD_SSL_DIR


def _unit(description: str, exec_start: str, after: str = "network-online.target", extra: str = "",
          service_type: str = "simple") -> str:
    return f"""[Unit]
Description={description}
Documentation=https://kubernetes.io/docs/
After={after}
Wants=network-online.target

[Service]
Type={service_type}
ExecStart={exec_start}
Restart=on-failure
RestartSec=5
LimitNOFILE=65536
{extra}
[Install]
WantedBy=multi-user.target
"""


def _args(*flags: str) -> str:
    return " \\\n  ".join(flags)


def etcd_endpoints() -> str:
    return ",".join(f"https://{n.ip}:2379" for n in config.ETCD_NODES)


def etcd_unit(node: Node) -> str:
    cluster = ",".join(f"{n.name}=https://{n.ip}:2380" for n in config.ETCD_NODES)
    return _unit("etcd key-value store", _args(
        "/usr/bin/etcd", f"--name={node.name}", f"--data-dir={config.ETCD_DATA_DIR}",
        f"--listen-client-urls=https://{node.ip}:2379,https://127.0.0.1:2379",
        f"--advertise-client-urls=https://{node.ip}:2379",
        f"--listen-peer-urls=https://{node.ip}:2380", f"--initial-advertise-peer-urls=https://{node.ip}:2380",
        f"--initial-cluster={cluster}", "--initial-cluster-state=new", "--initial-cluster-token=kubeops-lab",
        f"--cert-file={ESSL}/server.pem", f"--key-file={ESSL}/server-key.pem", f"--trusted-ca-file={ESSL}/ca.pem",
        "--client-cert-auth=true", f"--peer-cert-file={ESSL}/peer.pem", f"--peer-key-file={ESSL}/peer-key.pem",
        f"--peer-trusted-ca-file={ESSL}/ca.pem", "--peer-client-cert-auth=true",
        # Three members on one shared 2-core machine, not on their own disks and cores: raft timing for that (etcd's
        # tuning guide scales both with the round trip and the disk), and slow applies reported from 1 s instead
        # of 100 ms, so a busy machine does not fill the healthy lab's logs with "took too long" and "failed to
        # send out heartbeat on time" that the daily inspection would rightly report.
        "--heartbeat-interval=250", "--election-timeout=2500", "--experimental-warning-apply-duration=1s"),
        service_type="notify", extra="TimeoutStartSec=120\n")


def apiserver_unit(node: Node) -> str:
    return _unit("Kubernetes API Server", _args(
        f"{BIN}/kube-apiserver", f"--advertise-address={node.ip}", "--bind-address=0.0.0.0", "--secure-port=6443",
        f"--etcd-servers={etcd_endpoints()}", f"--etcd-cafile={ESSL}/ca.pem",
        f"--etcd-certfile={ESSL}/etcd-client.pem", f"--etcd-keyfile={ESSL}/etcd-client-key.pem",
        f"--service-cluster-ip-range={config.SERVICE_CIDR}",
        f"--tls-cert-file={SSL}/apiserver.pem", f"--tls-private-key-file={SSL}/apiserver-key.pem",
        f"--client-ca-file={SSL}/ca.pem", f"--service-account-key-file={SSL}/sa.pub",
        # The aggregation layer's front proxy, as kubeadm and the binary-install guides set it up: without the
        # requestheader CA every controller-manager and scheduler logs "missing content for CA bundle" forever.
        f"--requestheader-client-ca-file={SSL}/front-proxy-ca.pem", "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User", f"--proxy-client-cert-file={SSL}/front-proxy-client.pem",
        f"--proxy-client-key-file={SSL}/front-proxy-client-key.pem",
        f"--service-account-signing-key-file={SSL}/sa.key",
        "--service-account-issuer=https://kubernetes.default.svc", "--authorization-mode=Node,RBAC",
        "--allow-privileged=true", "--event-ttl=1h", "--v=1"), after="network-online.target etcd.service")


def controller_manager_unit() -> str:
    kc = "/etc/kubernetes/controller-manager.kubeconfig"
    return _unit("Kubernetes Controller Manager", _args(
        f"{BIN}/kube-controller-manager", f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}", "--bind-address=127.0.0.1", "--leader-elect=true",
        f"--service-account-private-key-file={SSL}/sa.key", f"--root-ca-file={SSL}/ca.pem",
        "--use-service-account-credentials=true",
        # Short grace period: a stopped kubelet turns its node NotReady within the minute (a real cluster
        # keeps the 40 s default).
        "--node-monitor-grace-period=20s", "--node-monitor-period=5s", "--v=1"),
        after="network-online.target kube-apiserver.service")


def scheduler_unit() -> str:
    kc = "/etc/kubernetes/scheduler.kubeconfig"
    return _unit("Kubernetes Scheduler", _args(
        f"{BIN}/kube-scheduler", f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}", "--bind-address=127.0.0.1", "--leader-elect=true", "--v=1"),
        after="network-online.target kube-apiserver.service")


def kubelet_unit(node: Node) -> str:
    return _unit("kubelet (kwok: plays this node's kubelet, manages this node only)", kubelet_exec(node.name, node.ip, node.extra["pod_cidr"]),
                 after="network-online.target containerd.service")


def kubelet_exec(name: str, ip: str, pod_cidr: str) -> str:
    """ExecStart of a lab kubelet; the scale-out playbook uses the same form for new workers."""
    return _args(f"{BIN}/kwok", "--kubeconfig=/etc/kubernetes/kubelet.kubeconfig", f"--manage-single-node={name}",
                 f"--cidr={pod_cidr}", f"--node-ip={ip}", "--node-lease-duration-seconds=20",
                 "--server-address=0.0.0.0:10250")


def kube_proxy_unit(node: Node) -> str:
    return _unit("Kubernetes Kube-Proxy Server", kube_proxy_exec(node.name), after="network-online.target")


def kube_proxy_exec(name: str) -> str:
    return _args(f"{BIN}/kube-proxy", "--kubeconfig=/etc/kubernetes/kube-proxy.kubeconfig",
                 f"--hostname-override={name}", f"--cluster-cidr={config.CLUSTER_CIDR}", "--proxy-mode=iptables",
                 "--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0s",
                 "--conntrack-tcp-timeout-close-wait=0s", "--metrics-bind-address=127.0.0.1:10249", "--v=1")


def bird_unit() -> str:
    return """[Unit]
Description=BIRD routing daemon (calico's BGP mesh)
After=network-online.target

[Service]
ExecStartPre=/bin/mkdir -p /var/run/calico
ExecStartPre=/usr/sbin/bird -p -c /etc/bird/bird.conf
ExecStart=/usr/sbin/bird -f -c /etc/bird/bird.conf -s /var/run/calico/bird.ctl
ExecReload=/usr/sbin/birdc -s /var/run/calico/bird.ctl configure
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""


def bird_conf(node: Node) -> str:
    """A BIRD config shaped like calico's node-to-node mesh (bird.cfg.template)."""
    peers = []
    for other in config.NODES:
        if other is node or "calico" not in other.groups:
            continue
        passive = "  passive on; # Mesh is unidirectional, peer will connect to us.\n" if _ip_gt(other.ip, node.ip) else ""
        peers.append(f"""
# For peer /host/{other.name}/ip_addr_v4
protocol bgp Mesh_{other.ip.replace('.', '_')} from bgp_template {{
  neighbor {other.ip} as {config.BGP_AS};
  source address {node.ip};
{passive}}}
""")
    return f"""# Generated by the kubeops lab, in the shape of calico's bird.cfg
router id {node.ip};

protocol kernel {{
  learn;
  persist;
  scan time 2;
  import all;
  export none;
  graceful restart;
}}

protocol device {{
  debug {{ states }};
  scan time 2;
}}

protocol direct {{
  debug {{ states }};
  interface -"cali*", -"kube-ipvs*", "*";
}}

template bgp bgp_template {{
  debug {{ states }};
  description "Connection to BGP peer";
  local as {config.BGP_AS};
  multihop;
  gateway recursive;
  import all;
  export none;
  add paths on;
  graceful restart;
  connect delay time 2;
  connect retry time 5;
  error wait time 5,30;
}}
{''.join(peers)}"""


def _ip_gt(a: str, b: str) -> bool:
    return tuple(int(x) for x in a.split(".")) > tuple(int(x) for x in b.split("."))


def etcd_backup_script(node: Node) -> str:
    """A scheduled `etcdctl snapshot save` into the backup directory, keeping the newest ETCD_BACKUP_KEEP.

    The file names (lab-etcd-<UTC>.db) differ from the collection's etcd_snapshot ones, so that its retention
    and this one leave each other's files alone.
    """
    d = config.ETCD_BACKUP_DIR
    return f"""#!/bin/sh
# Lab: the cluster's scheduled etcd backup (the handbook's clusters run one from cron).
set -eu
mkdir -p -m 0700 {d}
name={d}/lab-etcd-$(date -u +%Y%m%dT%H%M%SZ).db
ETCDCTL_API=3 etcdctl --endpoints=https://{node.ip}:2379 --cacert={ESSL}/ca.pem \\
  --cert={ESSL}/etcd-client.pem --key={ESSL}/etcd-client-key.pem snapshot save "$name.part" >/dev/null
chmod 0600 "$name.part"
mv "$name.part" "$name"
ls -1t {d}/lab-etcd-*.db | tail -n +{config.ETCD_BACKUP_KEEP + 1} | xargs -r rm -f --
echo "etcd snapshot $name"
"""


def etcd_backup_service() -> str:
    return """[Unit]
Description=Lab: etcd snapshot into the backup directory
After=etcd.service
Wants=etcd.service

[Service]
Type=oneshot
ExecStart=/bin/sh /usr/local/sbin/lab-etcd-backup
"""


def etcd_backup_timer() -> str:
    return """[Unit]
Description=Lab: hourly etcd snapshot

[Timer]
OnCalendar=hourly
Persistent=true

[Install]
WantedBy=timers.target
"""


def license_unit() -> str:
    return f"""[Unit]
Description=License server
After=network-online.target

[Service]
ExecStart=/usr/bin/socat TCP-LISTEN:{config.LICENSE_PORT},reuseaddr,fork SYSTEM:'echo {config.LICENSE_BANNER}'
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""


def nginx_site(master_ip: str) -> str:
    log = config.NGINX_LOG_DIR
    return f"""# developer-center: the handbook's nginx in front of the platform
map $time_iso8601 $logdate {{
  default 'undated';
  '~^(?<ymd>\\d{{4}}-\\d{{2}}-\\d{{2}})' $ymd;
}}

server {{
  listen 80 default_server;
  server_name developer-center;
  # One access log per day, as the handbook describes: tomcat_access.YYYY-MM-DD.log
  access_log {log}/tomcat_access.$logdate.log combined;
  error_log {log}/developer-center_error.log warn;

  location = /healthz {{
    access_log off;
    default_type text/plain;
    return 200 "ok\\n";
  }}

  location / {{
    proxy_pass https://{master_ip}:6443;
    proxy_ssl_verify off;
    proxy_connect_timeout 5s;
  }}
}}
"""


def mariadb_user_unit() -> str:
    sql = (f"CREATE USER IF NOT EXISTS '{config.MYSQL_USER}'@'localhost' IDENTIFIED BY '{config.MYSQL_PASSWORD}'; "
           f"CREATE USER IF NOT EXISTS '{config.MYSQL_USER}'@'%' IDENTIFIED BY '{config.MYSQL_PASSWORD}'; "
           f"GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO '{config.MYSQL_USER}'@'localhost'; "
           f"GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO '{config.MYSQL_USER}'@'%';")
    return f"""[Unit]
Description=Lab: monitoring account in mariadb
After=mariadb.service
Requires=mariadb.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/mariadb -e "{sql}"

[Install]
WantedBy=multi-user.target
"""


def tomcat_logs(days: int = 10) -> dict[str, tuple[str, float]]:
    """Some days of history in the nginx log directory: {path: (content, mtime)}."""
    out = {}
    today = dt.date.today()
    for back in range(1, days + 1):
        day = today - dt.timedelta(days=back)
        lines = "".join(f'198.18.0.1 - - [{day:%d/%b/%Y}:09:{i:02d}:00 +0000] "GET /portal/ HTTP/1.1" 200 612 "-" "curl"\n'
                        for i in range(50))
        mtime = dt.datetime.combine(day, dt.time(23, 59)).timestamp()
        out[f"{config.NGINX_LOG_DIR}/tomcat_access.{day:%Y-%m-%d}.log"] = (lines, mtime)
    return out
