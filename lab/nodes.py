"""The nodes: a bridge and a network namespace each, an overlay root filesystem, systemd-nspawn booting it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from . import config, units
from .config import Node
from .util import LabError, log, run, write

STATE = config.RUN / "state.json"


def node_dir(node: Node) -> Path:
    return config.RUN / "nodes" / node.name


# -- kernel settings -------------------------------------------------------------------------------------
# What the lab's services ask of the kernel. The nodes share the kernel of the machine the lab runs on, so these are
# the machine's settings: `lab up` sets them and keeps the machine's own values in RUN; `lab down` puts those back.
# redis asks for vm.overcommit_memory = 1 (its start-up warning; redis_info's middleware.redis_overcommit finding).
HOST_SYSCTLS = {"vm.overcommit_memory": "1"}
_SAVED_SYSCTLS = "host-sysctls.json"


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def sysctls_up() -> dict[str, str]:
    """Set HOST_SYSCTLS; returns what was changed ({key: the machine's value before})."""
    saved_file = config.RUN / _SAVED_SYSCTLS
    saved = json.loads(saved_file.read_text()) if saved_file.exists() else {}
    changed = {}
    for key, value in HOST_SYSCTLS.items():
        path = _sysctl_path(key)
        current = path.read_text().strip()
        if current != value:
            saved.setdefault(key, current)
            changed[key] = current
            path.write_text(value + "\n")
    if saved:
        config.RUN.mkdir(parents=True, exist_ok=True)
        saved_file.write_text(json.dumps(saved) + "\n")
    return changed


def sysctls_down() -> dict[str, str]:
    """Put back the machine's own values that sysctls_up changed; returns them."""
    saved_file = config.RUN / _SAVED_SYSCTLS
    if not saved_file.exists():
        return {}
    saved = json.loads(saved_file.read_text())
    for key, value in saved.items():
        _sysctl_path(key).write_text(str(value) + "\n")
    saved_file.unlink()
    return saved


# -- network ---------------------------------------------------------------------------------------------
def net_up() -> None:
    if run(["ip", "link", "show", config.BRIDGE], check=False, quiet=True).returncode != 0:
        run(["ip", "link", "add", config.BRIDGE, "type", "bridge"])
    run(["ip", "addr", "replace", f"{config.BRIDGE_ADDR}/24", "dev", config.BRIDGE])
    run(["ip", "link", "set", config.BRIDGE, "up"])
    for node in config.NODES:
        ns = node.netns
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "link", "set", node.veth, "master", config.BRIDGE, "up"])
        run(["ip", "-n", ns, "addr", "add", f"{node.ip}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        run(["ip", "-n", ns, "route", "add", "default", "via", config.BRIDGE_ADDR])


def net_down() -> None:
    for node in config.NODES:
        run(["ip", "link", "del", node.veth], check=False, quiet=True)
        run(["ip", "netns", "del", node.netns], check=False, quiet=True)
    # Leftovers of any earlier run, whatever nodes it had.
    for line in run(["ip", "netns", "list"], capture=True).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(config.PREFIX + "-"):
            run(["ip", "netns", "del", name], check=False, quiet=True)
    for line in run(["ip", "-o", "link", "show"], capture=True).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith("kl-"):
            run(["ip", "link", "del", name], check=False, quiet=True)
    run(["ip", "link", "del", config.BRIDGE], check=False, quiet=True)


# -- root filesystems ------------------------------------------------------------------------------------
def mount_root(node: Node, base: Path, full: Path) -> Path:
    d = node_dir(node)
    for sub in ("upper", "work", "root"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    lower = f"{full}:{base}" if node.full else str(base)
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={d / 'upper'},workdir={d / 'work'}", d / "root"])
    return d / "root"


def mounts_under(path: Path) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mp = line.split()[4]
            if mp == str(path) or mp.startswith(str(path) + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def unmount_all() -> None:
    for mp in mounts_under(config.RUN):
        run(["umount", "-l", mp], check=False, quiet=True)


def seed_tomcat_history(root: Path) -> list[str]:
    """The last days of tomcat access logs in nginx's log directory, each file only where it is missing (a running
    lab's files, today's among them, are left as they are); returns the paths written. `lab up` on a running lab
    calls it again, so history pruned by a log_prune run or a drill comes back."""
    logdir = root / config.NGINX_LOG_DIR.lstrip("/")
    logdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, (content, mtime) in units.tomcat_logs().items():
        p = root / path.lstrip("/")
        if p.exists() or p.is_symlink():
            continue
        p.write_text(content)
        os.utime(p, (mtime, mtime))
        written.append(path)
    return written


def place_files(root: Path, files: dict[str, bytes | str], mode_secret: int = 0o600) -> None:
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)
        secret = path.endswith("-key.pem") or path.endswith(".key") or path.endswith("kubeconfig") or path.endswith("/config")
        os.chmod(target, mode_secret if secret else 0o644)


def configure(node: Node, root: Path, pki_files: dict[str, bytes], pubkey: str) -> None:
    hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + "".join(
        f"{n.ip} {n.name}\n" for n in config.NODES)
    files: dict[str, bytes | str] = {
        "/etc/hostname": f"{node.name}\n",
        "/etc/hosts": hosts,
        "/etc/machine-id": uuid.uuid4().hex + "\n",
        "/root/.ssh/authorized_keys": pubkey,
        "/etc/default/locale": "LANG=C.UTF-8\n",
    }
    files.update(pki_files)
    enable: list[str] = []
    sysd = "/etc/systemd/system"
    if "etcd" in node.groups:
        files[f"{sysd}/etcd.service"] = units.etcd_unit(node)
        enable.append("etcd")
    if "calico" in node.groups:
        files[f"{sysd}/bird.service"] = units.bird_unit()
        files["/etc/bird/bird.conf"] = units.bird_conf(node)
        enable.append("bird")
    if "kube_control_plane" in node.groups:
        files[f"{sysd}/kube-apiserver.service"] = units.apiserver_unit(node)
        files[f"{sysd}/kube-controller-manager.service"] = units.controller_manager_unit()
        files[f"{sysd}/kube-scheduler.service"] = units.scheduler_unit()
        enable += ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    if "kube_node" in node.groups:
        files[f"{sysd}/kubelet.service"] = units.kubelet_unit(node)
        files[f"{sysd}/kube-proxy.service"] = units.kube_proxy_unit(node)
        # kubelet and kube-proxy are enabled once the control plane is up and the Node objects exist
        # (api.up), the order in which a worker joins a cluster.
        enable += ["containerd"]
    # Middleware: each node configures only what it runs (nginx and the license server on mw1; redis,
    # rabbitmq and mariadb on mw2), as the handbook's clusters have them on their own hosts.
    if "nginx" in node.units:
        master = config.NODES_BY_NAME["master1"]
        files["/etc/nginx/sites-available/default"] = units.nginx_site(master.ip)
        files[f"{sysd}/nginx.service.d/lab.conf"] = (
            "[Service]\nExecStartPre=/bin/mkdir -p " + config.NGINX_LOG_DIR + "\n"
            # nginx opens the dated access log from its workers (www-data): they must be able to create it.
            "ExecStartPre=/bin/chown www-data:adm " + config.NGINX_LOG_DIR + "\n")
    if "license-server" in node.units:
        files[f"{sysd}/license-server.service"] = units.license_unit()
    if "mariadb" in node.units:
        files[f"{sysd}/lab-mariadb-user.service"] = units.mariadb_user_unit()
        files["/etc/mysql/mariadb.conf.d/90-lab.cnf"] = "[mysqld]\nbind-address = 0.0.0.0\n"
        enable.append("lab-mariadb-user")
    if "kube_control_plane" in node.groups:
        # The handbook's clusters back etcd up on schedule: a timer on the first master runs etcdctl snapshot save.
        files["/usr/local/sbin/lab-etcd-backup"] = units.etcd_backup_script(node)
        files[f"{sysd}/lab-etcd-backup.service"] = units.etcd_backup_service()
        files[f"{sysd}/lab-etcd-backup.timer"] = units.etcd_backup_timer()
        enable.append("lab-etcd-backup.timer")
    enable += [u for u in node.units if u in config.MIDDLEWARE_UNITS]
    place_files(root, files)
    if "redis-server" in node.units:
        conf = root / "etc/redis/redis.conf"
        text = conf.read_text()
        conf.write_text(text + f"\n# lab\nbind 127.0.0.1 {node.ip}\n")
    if "nginx" in node.units:
        seed_tomcat_history(root)
    if "calico" in node.groups:
        # calico's images ship birdcl; Debian's bird package has the same client as birdc.
        birdcl = root / "usr/sbin/birdcl"
        if not birdcl.exists():
            birdcl.symlink_to("birdc")
    if "kube_control_plane" in node.groups:
        link = root / "usr/local/bin/kubectl"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(f"{config.K8S_BIN_DIR}/kubectl")
    if enable:
        run(["systemctl", f"--root={root}", "enable", *[u if "." in u else f"{u}.service" for u in enable]], quiet=True)
    # Nothing starts by the clock or by a stray connection behind a running test's back: Debian's daily timers
    # (logrotate would rotate /var/log/messages under a log-scan test; any unit a timer starts can fail, and a
    # failed unit makes the node "degraded"), and the Erlang port mapper and MariaDB sockets that the packages
    # enable on every node while only the middleware node runs them.
    quiet = ["logrotate.timer", "dpkg-db-backup.timer", "systemd-tmpfiles-clean.timer", "man-db.timer"]
    if "rabbitmq-server" not in node.units:
        quiet += ["epmd.socket", "epmd.service"]
    if "mariadb" not in node.units:
        quiet += ["mariadb.socket"]
    run(["systemctl", f"--root={root}", "mask", *quiet], quiet=True)   # a unit the root lacks is masked all the same


# -- boot ------------------------------------------------------------------------------------------------
def boot(node: Node, root: Path, bin_dir: Path) -> int:
    d = node_dir(node)
    cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--boot", "-D", str(root),
           f"--machine={config.PREFIX}-{node.name}", f"--hostname={node.name}",
           f"--network-namespace-path=/run/netns/{node.netns}", "--console=passive",
           # kube-proxy and containerd want netfilter and more capabilities than the default set.
           "--capability=all", "--system-call-filter=@keyring bpf",
           "--property=DeviceAllow=/dev/net/tun rwm"]
    if node.full:
        cmd.append(f"--bind-ro={bin_dir}:{config.K8S_BIN_DIR}")
    logf = open(d / "console.log", "w")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "SYSTEMD_NSPAWN_TMPFS_TMP": "0",
                                 # /proc/sys/net writable: kube-proxy sets its sysctls in the node's netns.
                                 "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"})
    return proc.pid


def save_state(pids: dict[str, int]) -> None:
    STATE.write_text(json.dumps({"pids": pids, "started": time.time()}))


def load_state() -> dict:
    try:
        return json.loads(STATE.read_text())
    except (OSError, ValueError):
        return {}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"systemd-nspawn" in fh.read()
    except OSError:
        return False


def nspawn_pids() -> list[int]:
    """Every systemd-nspawn of the lab, from the state file or found by its command line."""
    pids = set(load_state().get("pids", {}).values())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"systemd-nspawn") and f"--machine={config.PREFIX}-".encode() in cmdline:
                pids.add(int(entry.name))
    return [p for p in pids if alive(p)]


def stop_all(timeout: float = 30) -> None:
    pids = nspawn_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)   # nspawn asks the container's systemd to power off
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.5)
    for pid in pids:
        if alive(pid):
            log(f"systemd-nspawn {pid} did not stop in {timeout:.0f}s; killing it")
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    time.sleep(0.5)


def leftovers() -> list[str]:
    """What of a lab still exists on this machine: processes, mounts, namespaces, links."""
    left = [f"systemd-nspawn pid {p}" for p in nspawn_pids()]
    left += [f"mount {m}" for m in mounts_under(config.RUN)]
    for line in run(["ip", "netns", "list"], capture=True).stdout.splitlines():
        if line.split() and line.split()[0].startswith(config.PREFIX + "-"):
            left.append(f"netns {line.split()[0]}")
    for line in run(["ip", "-o", "link", "show"], capture=True).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith("kl-") or name == config.BRIDGE:
            left.append(f"link {name}")
    return left
