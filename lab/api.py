"""Bring the lab up and down, and tell what is running. `python -m lab up|down|status`."""
from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import binaries, cluster, config, nodes, pki, rootfs, units
from .util import LabError, lab_lock, log, need_root, run, write

INFO = config.INVENTORY_DIR / "lab.json"
KEY = config.INVENTORY_DIR / "id_ed25519"
KUBECONFIG = config.INVENTORY_DIR / "kubeconfig"
HOSTS = config.INVENTORY_DIR / "hosts.yml"


@dataclass
class LabInfo:
    inventory: Path
    kubeconfig: Path
    key: Path
    hosts: dict
    kubectl: Path
    bin_dir: Path


def _info() -> LabInfo:
    data = json.loads(INFO.read_text())
    return LabInfo(inventory=HOSTS, kubeconfig=KUBECONFIG, key=KEY, hosts=data["hosts"],
                   kubectl=Path(data["bin_dir"]) / "kubectl", bin_dir=Path(data["bin_dir"]))


# -- probes ----------------------------------------------------------------------------------------------
def ssh(ip: str, command: str, timeout: float = 30, check: bool = False) -> subprocess.CompletedProcess:
    return run(["ssh", "-i", KEY, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"root@{ip}", command],
               check=check, capture=True, timeout=timeout)


def _port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=2):
            return True
    except OSError:
        return False


def kubectl(bin_dir: Path, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    return run([bin_dir / "kubectl", "--kubeconfig", KUBECONFIG, "--request-timeout=20s", *args], check=check,
               capture=True, input=input, timeout=60)


def wait_for(what: str, predicate, timeout: float, interval: float = 2, progress: float = 20) -> None:
    """Poll ``predicate`` until it holds. It returns a bool, or (bool, why not): the last reason it gave (or the
    last error it raised) is in the progress lines and in the timeout's error, not only ``what`` was awaited."""
    start = time.monotonic()
    last = start
    why = ""
    while True:
        try:
            result = predicate()
            ok, why = result if isinstance(result, tuple) else (result, why)
            if ok:
                log(f"{what}: ok ({time.monotonic() - start:.0f}s)")
                return
        except (LabError, OSError, subprocess.SubprocessError) as exc:
            why = str(exc)
        now = time.monotonic()
        reason = f"; last: {why.strip().splitlines()[-1][:300]}" if why and why.strip() else ""
        if now - start > timeout:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}{reason}")
        if now - last > progress:
            log(f"waiting for {what} ({now - start:.0f}s){reason}")
            last = now
        time.sleep(interval)


def units_active(node: config.Node, skip: tuple[str, ...] = ()) -> tuple[bool, str]:
    names = [u for u in node.units if u not in skip]
    if not names:
        return True, ""
    out = ssh(node.ip, "systemctl is-active " + " ".join(names)).stdout.split()
    bad = [f"{u}={s}" for u, s in zip(names, out) if s != "active"]
    return (len(out) == len(names) and not bad), ", ".join(bad)


# Inside the nodes, systemd sometimes fails to start a unit at its cgroup step ("Failed to attach to cgroup ...:
# No such file or directory", exit status 219/CGROUP), at boot (seen for systemd-journal-flush) as well as for a
# unit started right after it stopped. Units with Restart= recover by themselves; the others stay failed and leave
# the node "degraded". The lab starts those again: they failed before running anything.
RETRY_CGROUP_FAILURES = (
    "for u in $(systemctl list-units --failed --no-legend --plain | awk '{print $1}'); do "
    "if [ \"$(systemctl show -P ExecMainStatus \"$u\")\" = 219 ]; then "
    "systemctl reset-failed \"$u\"; systemctl start \"$u\" >/dev/null 2>&1; echo \"$u\"; fi; done")


def retry_cgroup_failures() -> None:
    """Start again every unit of every node that failed at systemd's cgroup step (see RETRY_CGROUP_FAILURES)."""
    for node in config.NODES:
        retried = ssh(node.ip, RETRY_CGROUP_FAILURES, timeout=120).stdout.split()
        if retried:
            log(f"{node.name}: started again after failing at systemd's cgroup step (219/CGROUP): {', '.join(retried)}")


def running() -> bool:
    """The lab's machinery is there: every node's nspawn runs and answers SSH."""
    if not INFO.exists() or not KEY.exists():
        return False
    state = nodes.load_state().get("pids", {})
    if set(state) != {n.name for n in config.NODES} or not all(nodes.alive(p) for p in state.values()):
        return False
    with cf.ThreadPoolExecutor(len(config.NODES)) as pool:
        return all(pool.map(lambda n: ssh(n.ip, "true").returncode == 0, config.NODES))


def healthy(quiet: bool = True) -> bool:
    """Running, every node's units active and the API ready."""
    if not running():
        return False
    with cf.ThreadPoolExecutor(len(config.NODES)) as pool:
        results = list(pool.map(units_active, config.NODES))
    for node, (ok, bad) in zip(config.NODES, results):
        if not ok:
            if not quiet:
                log(f"{node.name}: not all units active: {bad}")
            return False
    info = _info()
    return kubectl(info.bin_dir, "get", "--raw", "/readyz", check=False).returncode == 0


def repair() -> None:
    """Start the lab's units that are not active lift a partition and plug a node back in (after a fault drill that did not clean up);
    create the lab's objects a running lab of an earlier version lacks (the StatefulSet)."""
    from . import faults  # pylint: disable=import-outside-toplevel  # faults uses this module
    for node in config.NODES:
        if faults.power_on_network(node):
            log(f"{node.name}: a node-down drill left it off the network: plugged back in")
            wait_for(f"SSH to {node.name}", lambda n=node: ssh(n.ip, "true", check=False).returncode == 0, timeout=120)
        ok, bad = units_active(node)
        if not ok:
            log(f"{node.name}: starting units that are not active: {bad}")
            ssh(node.ip, "systemctl start " + " ".join(node.units), timeout=120)
            wait_for(f"units on {node.name}", lambda n=node: units_active(n), timeout=180)
        if faults.unpartition(node):
            log(f"{node.name}: a partition drill left it cut off from the apiserver: lifted")
    info = _info()
    wait_for("kube-apiserver /readyz", lambda: kubectl(info.bin_dir, "get", "--raw", "/readyz", check=False).returncode == 0,
             timeout=120)
    ensure_statefulset(info.bin_dir)
    ensure_node_versions(info.bin_dir)
    for node in config.NODES:
        if "kube_node" in node.groups:
            age = _lease_age(info.bin_dir, node.name)
            if age is None or age > LEASE_STALE_SECONDS:
                # after an etcd restore a kubelet keeps its cached lease and fails every renewal with "the object
                # has been modified" until it restarts (kwok's as a real kubelet's), and the node flaps NotReady
                log(f"{node.name}: its kubelet has not renewed its node lease for "
                    f"{'ever' if age is None else f'{age:.0f}s'}: restarting it")
                ssh(node.ip, "systemctl restart kubelet", timeout=120)
                wait_for(f"{node.name} renews its node lease", lambda n=node: (_lease_age(info.bin_dir, n.name) or 1e9)
                         < LEASE_STALE_SECONDS / 2, timeout=120)
            patched = resync_pods(node.name)
            if patched:
                log(f"{node.name}: {patched} pod(s) given back their Ready condition after a kubelet outage")
    wait_for("every Running pod Ready", lambda: not _pods_not_ready(info.bin_dir), timeout=120)
    wait_for(f"StatefulSet developer-center/{cluster.STATEFUL[0]} Ready", lambda: _statefulset_ready(info.bin_dir), timeout=120)
    faults.ensure()
    retry_cgroup_failures()
    _host_settings()
    for node in config.NODES:
        if "nginx" in node.units:
            seeded = nodes.seed_tomcat_history(nodes.node_dir(node) / "root")
            if seeded:
                log(f"{node.name}: {len(seeded)} day(s) of tomcat access log history written again (pruned since)")


def _host_settings() -> None:
    changed = nodes.sysctls_up()
    for key, before in changed.items():
        log(f"{key} set to {nodes.HOST_SYSCTLS[key]} on this machine (was {before}; the lab's nodes share its "
            "kernel; `lab down` puts it back)")


def ensure_statefulset(bin_dir: Path) -> None:
    """developer-center/app-db and its volume (``cluster.statefulset()``), applied when the StatefulSet is missing."""
    name = cluster.STATEFUL[0]
    if kubectl(bin_dir, "get", "statefulset", "-n", "developer-center", name, check=False).returncode == 0:
        return
    log(f"creating StatefulSet developer-center/{name} (one replica, its data on a local volume of {cluster.STATEFUL[1]})")
    kubectl(bin_dir, "apply", "-f", "-", input=cluster.statefulset_manifests())


def ensure_node_versions(bin_dir: Path) -> None:
    """kwok's nodes report kwok's version (kwok-0.6.1) or none yet: give them the lab's Kubernetes release
    (``cluster.node_versions()``), which kwok keeps from then on. Run by ``up`` once the nodes are Ready and by
    ``repair`` (a lab built before this)."""
    found = json.loads(kubectl(bin_dir, "get", "nodes", "-o", "json").stdout)
    wanted = cluster.node_versions()
    for item in found.get("items") or []:
        info = (item.get("status") or {}).get("nodeInfo") or {}
        version = str(info.get("kubeletVersion") or "")
        if all(info.get(k) == v for k, v in wanted.items()) or (version and not version.startswith("kwok")):
            continue
        name = item["metadata"]["name"]
        log(f"{name}: its kubelet reported version {info.get('kubeletVersion')!r}: set to {wanted['kubeletVersion']}")
        kubectl(bin_dir, "patch", "node", name, "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": {"nodeInfo": wanted}}))


def _statefulset_ready(bin_dir: Path) -> bool:
    sts = json.loads(kubectl(bin_dir, "get", "statefulset", "-n", "developer-center", cluster.STATEFUL[0], "-o", "json").stdout)
    return int(sts.get("status", {}).get("readyReplicas") or 0) >= int(sts["spec"].get("replicas") or 1)


# -- up / down -------------------------------------------------------------------------------------------
def _ensure_key() -> str:
    config.INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    if not KEY.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubeops-lab", "-f", KEY])
    return (KEY.with_suffix(".pub")).read_text()


def _write_inventory(bin_dir: Path) -> None:
    hosts = {n.name: n.ip for n in config.NODES}
    groups: dict[str, dict] = {}
    for n in config.NODES:
        for g in n.groups:
            groups.setdefault(g, {"hosts": {}})["hosts"][n.name] = None
    endpoints = units.etcd_endpoints()
    lab_vars = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(KEY),
        "ansible_python_interpreter": "/usr/bin/python3",
        "kubeops_cluster_name": "lab",
        "kubeops_kubeconfig": str(KUBECONFIG),
        "kubeops_kubectl": str(bin_dir / "kubectl"),
        "kubeops_control_plane_units": ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
        "kubeops_node_units": ["containerd", "kubelet", "kube-proxy"],
        "kubeops_k8s_bin_dir": config.K8S_BIN_DIR,
        "kubeops_k8s_ssl_dir": config.K8S_SSL_DIR,
        "kubeops_etcd_endpoints": endpoints.split(","),
        "kubeops_etcd_cacert": f"{config.ETCD_SSL_DIR}/ca.pem",
        "kubeops_etcd_cert": f"{config.ETCD_SSL_DIR}/etcd-client.pem",
        "kubeops_etcd_key": f"{config.ETCD_SSL_DIR}/etcd-client-key.pem",
        "kubeops_etcd_data_dir": config.ETCD_DATA_DIR,
        "kubeops_etcd_backup_dir": "/var/backups/etcd",
        "kubeops_bird_socket": config.BIRD_SOCKET,
        "kubeops_cert_dirs": [config.K8S_SSL_DIR, config.ETCD_SSL_DIR],
        "kubeops_nginx_probe_url": "http://127.0.0.1/healthz",
        "kubeops_nginx_log_dir": config.NGINX_LOG_DIR,
        "kubeops_redis_port": 6379,
        "kubeops_mysql_user": config.MYSQL_USER,
        "kubeops_mysql_password": config.MYSQL_PASSWORD,
        "kubeops_license_server_port": config.LICENSE_PORT,
        "kubeops_license_server_banner": config.LICENSE_BANNER,
        # Lab specifics the scale-out playbook needs: where the node binaries come from on the controller,
        # and that the lab's kubelet is kwok managing a single node.
        "kubeops_binaries_src_dir": str(bin_dir),
        "kubeops_etcd_binaries_src_dir": str(rootfs.full_dir() / "usr/bin"),
        "kubeops_kubelet_flavor": "kwok",
        "kubeops_service_cidr": config.SERVICE_CIDR,
        "kubeops_cluster_cidr": config.CLUSTER_CIDR,
        "kubeops_etcd_ca_key": f"{config.ETCD_SSL_DIR}/ca-key.pem",
        "kubeops_k8s_ca_key_local": str(config.INVENTORY_DIR / "k8s-ca-key.pem"),
        "kubeops_k8s_ca_local": str(config.INVENTORY_DIR / "k8s-ca.pem"),
    }
    inv = {"all": {"hosts": {n.name: {"ansible_host": n.ip, **_host_vars(n)} for n in config.NODES}, "vars": lab_vars,
                   "children": groups}}
    write(HOSTS, "# Generated by `make lab-up` (lab/api.py); do not edit.\n" + yaml.safe_dump(inv, sort_keys=False))
    write(INFO, json.dumps({"hosts": hosts, "bin_dir": str(bin_dir)}, indent=1) + "\n")


def _host_vars(node: config.Node) -> dict:
    """Per-host inventory variables: which middleware the host runs and where its logs are."""
    declared = list(node.extra.get("middleware", ()))
    out: dict = {}
    if declared:
        out["kubeops_middleware"] = declared
    if "redis" in declared:
        out["kubeops_redis_log_file"] = "/var/log/redis/redis-server.log"
    if "rabbitmq" in declared:
        out["kubeops_rabbitmq_node"] = f"rabbit@{node.name}"
        out["kubeops_rabbitmq_log_file"] = f"/var/log/rabbitmq/rabbit@{node.name}.log"
    return out


def down() -> None:
    with lab_lock():
        _down()


def _down() -> None:
    need_root()
    log("stopping the lab")
    nodes.stop_all()
    nodes.unmount_all()
    nodes.net_down()
    for key, value in nodes.sysctls_down().items():
        log(f"{key} back to this machine's own value {value}")
    shutil.rmtree(config.RUN, ignore_errors=True)
    for f in (INFO,):
        f.unlink(missing_ok=True)
    left = nodes.leftovers()
    if left:
        raise LabError(f"lab-down left something behind: {left}")
    log("lab is down (the binary and rootfs caches in ~/.cache/kubeops-lab stay)")


def up(fresh: bool = False) -> LabInfo:
    with lab_lock():
        return _up(fresh)


def _other_shape() -> bool:
    """Nodes of a lab run, but not the nodes this checkout's lab/config.py describes."""
    return bool(nodes.nspawn_pids()) and set(nodes.load_state().get("pids", {})) != {n.name for n in config.NODES}


def _up(fresh: bool = False) -> LabInfo:
    need_root()
    for tool in ("systemd-nspawn", "debootstrap", "ip", "ssh", "ssh-keygen"):
        if not shutil.which(tool):
            raise LabError(f"{tool} is missing: run `make host-deps` (Debian packages in bindep.txt)")
    if not fresh and running():
        repair()
        log("the lab is already up and healthy")
        return _info()
    if not fresh and _other_shape():
        raise LabError("a lab with other nodes than this checkout's lab/config.py is running "
                       f"({', '.join(sorted(nodes.load_state().get('pids', {})))}); it is left alone: "
                       "rebuild it with `python -m lab up --fresh` if that is what you want")
    started = time.monotonic()
    _down()
    bin_dir = binaries.ensure_bin_dir()
    base = rootfs.ensure_base()
    full = rootfs.ensure_full()
    pubkey = _ensure_key()
    log("generating certificates")
    pki_files = pki.generate(config.RUN / "pki")
    for name in ("kubeconfig", "k8s-ca.pem", "k8s-ca-key.pem", "etcd-ca.pem", "etcd-ca-key.pem"):
        write(config.INVENTORY_DIR / name, pki_files["_host"][name].decode(), 0o600)
    _write_inventory(bin_dir)
    _host_settings()
    log("creating the bridge and network namespaces")
    nodes.net_up()
    pids = {}
    for node in config.NODES:
        root = nodes.mount_root(node, base, full)
        nodes.configure(node, root, pki_files[node.name], pubkey)
        pids[node.name] = nodes.boot(node, root, bin_dir)
        log(f"booting {node.name} ({node.ip}, nspawn pid {pids[node.name]})")
    nodes.save_state(pids)
    for node in config.NODES:
        wait_for(f"SSH on {node.name}", lambda n=node: _port_open(n.ip, 22) and ssh(n.ip, "true").returncode == 0,
                 timeout=180)
    for node in config.NODES:
        def check(n=node):
            ok, bad = units_active(n, skip=config.JOIN_UNITS)
            if not ok:
                check.last = bad
            return ok
        try:
            wait_for(f"units on {node.name}: {', '.join(u for u in node.units if u not in config.JOIN_UNITS) or '(none)'}",
                     check, timeout=240, progress=30)
        except LabError as exc:
            journal = ssh(node.ip, "systemctl --failed --no-legend; journalctl -p err -n 30 --no-pager").stdout
            raise LabError(f"{exc}: {getattr(check, 'last', '')}\n{journal}") from None
    wait_for("kube-apiserver /readyz", lambda: kubectl(bin_dir, "get", "--raw", "/readyz", check=False).returncode == 0,
             timeout=180)
    master = config.NODES_BY_NAME["master1"]
    ssh(master.ip, "systemctl start lab-etcd-backup.service", check=True, timeout=120)
    log(f"first scheduled etcd snapshot written into {config.ETCD_BACKUP_DIR} on {master.name}")
    log("creating nodes, namespaces and workloads")
    def apply_manifests() -> tuple[bool, str]:
        proc = kubectl(bin_dir, "apply", "-f", "-", input=cluster.manifests(), check=False)
        return proc.returncode == 0, proc.stderr or proc.stdout or ""

    # the first apply may be refused until the ServiceAccount admission has the default account of each namespace
    wait_for("the lab's nodes, namespaces and workloads applied", apply_manifests, timeout=120)
    workers = [n for n in config.NODES if "kube_node" in n.groups]
    from . import faults  # pylint: disable=import-outside-toplevel  # faults uses this module
    for node in workers:
        faults.install_stages(node)   # before the kubelet's first start: no restart of a freshly joined node
        ssh(node.ip, "systemctl enable --now " + " ".join(config.JOIN_UNITS), check=True)
    for node in workers:
        wait_for(f"kubelet and kube-proxy on {node.name}", lambda n=node: units_active(n), timeout=120)
    wait_for("nodes node1, node2 Ready", lambda: _nodes_ready(bin_dir), timeout=180)
    ensure_node_versions(bin_dir)
    wait_for("all pods Running", lambda: _pods_running(bin_dir), timeout=240)
    wait_for(f"StatefulSet developer-center/{cluster.STATEFUL[0]} Ready", lambda: _statefulset_ready(bin_dir), timeout=120)
    faults.ensure()
    retry_cgroup_failures()
    log(f"lab is up in {time.monotonic() - started:.0f}s; inventory {HOSTS}; memory used by the lab: "
        f"{_lab_memory_mib():.0f} MiB")
    return _info()


def resync_pods(node: str, timeout: float = 120) -> int:
    """After a kubelet drill: wait until the node is Ready and give its pods back their Ready condition.

    While a node is NotReady the node lifecycle controller marks its pods not Ready. A real kubelet reports them
    Ready again when it comes back; kwok marks a pod Ready only once, so the lab does that part of the kubelet's
    job here. Returns the number of pods patched.
    """
    info = _info()
    wait_for(f"{node} Ready", lambda: node in _ready_nodes(info.bin_dir), timeout=timeout)
    patched = 0
    for pod in node_pods(node):
        conds = pod["status"].get("conditions") or []
        if not kept_ready(pod):
            continue
        ops = [{"op": "replace", "path": f"/status/conditions/{i}/status", "value": "True"}
               for i, c in enumerate(conds) if c["type"] in ("Ready", "ContainersReady") and c["status"] != "True"]
        ops += [{"op": "replace", "path": f"/status/containerStatuses/{i}/ready", "value": True}
                for i, c in enumerate(pod["status"].get("containerStatuses") or []) if not c.get("ready")]
        if ops:
            kubectl(info.bin_dir, "patch", "pod", "-n", pod["metadata"]["namespace"], pod["metadata"]["name"],
                    "--subresource=status", "--type=json", "-p", json.dumps(ops))
            patched += 1
    return patched


LEASE_STALE_SECONDS = 40   # a node lease's default duration; the lab's kubelets (kwok) renew every few seconds


def _lease_age(bin_dir: Path, node: str) -> float | None:
    """Seconds since the node's lease was last renewed (None: no lease, or no renew time)."""
    proc = kubectl(bin_dir, "get", "lease", "-n", "kube-node-lease", node, "-o", "jsonpath={.spec.renewTime}",
                   check=False)
    text = proc.stdout.strip()
    if proc.returncode != 0 or not text:
        return None
    renewed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.timezone.utc) - renewed).total_seconds()


def node_pods(node: str) -> list[dict]:
    """The pods bound to a node, in every namespace."""
    return json.loads(kubectl(_info().bin_dir, "get", "pods", "-A", "--field-selector", f"spec.nodeName={node}",
                              "-o", "json").stdout)["items"]


def kept_ready(pod: dict) -> bool:
    """A Running pod the lab keeps Ready: not being deleted, not a fault drill's (that one stays broken)."""
    return pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp") \
        and "lab.kubeops/fault" not in (pod["metadata"].get("annotations") or {})


def pod_ready(pod: dict) -> bool:
    """The pod's Ready condition is True."""
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def _pods_not_ready(bin_dir: Path) -> list[str]:
    data = json.loads(kubectl(bin_dir, "get", "pods", "-A", "-o", "json").stdout)
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in data["items"]
            if kept_ready(p) and not pod_ready(p)]


def _ready_nodes(bin_dir: Path) -> set[str]:
    data = json.loads(kubectl(bin_dir, "get", "nodes", "-o", "json").stdout)
    return {n["metadata"]["name"] for n in data["items"]
            for c in n["status"].get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"}


def _nodes_ready(bin_dir: Path) -> bool:
    data = json.loads(kubectl(bin_dir, "get", "nodes", "-o", "json").stdout)
    ready = {n["metadata"]["name"] for n in data["items"]
             for c in n["status"].get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"}
    return {"node1", "node2"} <= ready


def _pods_running(bin_dir: Path) -> bool:
    data = json.loads(kubectl(bin_dir, "get", "pods", "-A", "-o", "json").stdout)
    counts: dict[str, int] = {}
    for p in data["items"]:
        if p["status"].get("phase") != "Running":
            return False
        counts[p["metadata"]["namespace"]] = counts.get(p["metadata"]["namespace"], 0) + 1
    want = cluster.expected_pods()
    return all(counts.get(ns, 0) >= n for ns, n in want.items()) and counts.get("kube-system", 0) >= 3


def _lab_memory_mib() -> float:
    """Resident memory of everything running inside the nodes (sum of RSS of their process trees)."""
    pids = set(nodes.nspawn_pids())
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, list(pids)
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack += children.get(p, [])
    return total / 1024


def ensure_up() -> LabInfo:
    """For tests: the running lab, brought up first when it is not."""
    return up()


def status() -> int:
    if not INFO.exists():
        print("lab: not up (no inventories/lab/lab.json)")
        return 1
    info = _info()
    ok = healthy(quiet=False)
    print(json.dumps({"up": ok, "inventory": str(HOSTS), "kubeconfig": str(KUBECONFIG), "key": str(KEY),
                      "kubectl": str(info.kubectl), "hosts": info.hosts,
                      "memory_mib": round(_lab_memory_mib())}, indent=1))
    return 0 if ok else 1
