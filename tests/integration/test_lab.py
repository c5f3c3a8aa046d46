"""The lab itself (issue 2): what runs where, and that its faults are real."""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time

import pytest

from lab import config

ETCDCTL = ("ETCDCTL_API=3 etcdctl --endpoints={eps} --cacert=/etc/etcd/ssl/ca.pem "
           "--cert=/etc/etcd/ssl/etcd-client.pem --key=/etc/etcd/ssl/etcd-client-key.pem")


def etcdctl(lab, host: str, args: str, check: bool = True):
    eps = ",".join(f"https://{n.ip}:2379" for n in config.ETCD_NODES)
    return lab.ssh(host, f"{ETCDCTL.format(eps=eps)} {args}", check=check)


@pytest.mark.parametrize("node", config.NODES, ids=lambda n: n.name)
def test_every_node_answers_ssh_with_its_units_active(lab, node):
    host = lab.host(node.name)
    assert host.check_output("hostname") == node.name
    assert {unit: host.service(unit).is_running for unit in node.units} == dict.fromkeys(node.units, True)
    state = host.run("systemctl is-system-running").stdout.strip()
    # degraded: name the failed units and show how they failed
    assert state == "running", host.run(
        "for u in $(systemctl list-units --failed --no-legend --plain | cut -d' ' -f1); do "
        "systemctl show -p Id,Result,ExecMainStatus,InactiveEnterTimestamp $u; journalctl -q --no-pager -n 8 -u $u; "
        "done").stdout


def test_spare1_has_nothing_installed(lab):
    spare = lab.host("spare1")
    assert not spare.file("/usr/bin/etcd").exists and not spare.file("/app/kubernetes").exists
    assert spare.run("systemctl list-unit-files 'kube*' 'etcd*' --no-legend").stdout.strip() == ""
    assert spare.check_output("python3 -c 'print(1)'") == "1"       # Ansible can manage it


def test_nodes_ready_and_product_pods_running(lab):
    nodes = json.loads(lab.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    ready = {n["metadata"]["name"]: [c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"][0]
             for n in nodes}
    assert ready == {"node1": "True", "node2": "True"}
    pods = json.loads(lab.kubectl("get", "pods", "-n", "product", "-o", "json").stdout)["items"]
    assert len(pods) >= 9
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert {p["spec"]["nodeName"] for p in pods} <= {"node1", "node2"}
    ds = json.loads(lab.kubectl("get", "ds", "-n", "kube-system", "calico-node", "-o", "json").stdout)
    assert ds["status"]["numberReady"] == 2


def test_kubernetes_binaries_report_their_version(lab):
    out = lab.kubectl("version", "-o", "json").stdout
    data = json.loads(out)
    assert data["serverVersion"]["gitVersion"] == config.K8S_VERSION
    assert data["clientVersion"]["gitVersion"] == config.K8S_VERSION


def test_etcd_three_started_members_from_any_member(lab):
    for host in ("master1", "node1", "node2"):
        members = json.loads(etcdctl(lab, host, "member list -w json").stdout)["members"]
        assert len(members) == 3
        assert all(m.get("clientURLs") for m in members)   # started members advertise client URLs


def test_bird_mesh_established_on_calico_socket(lab):
    for host in ("master1", "node1", "node2"):
        out = lab.ssh(host, f"birdcl -s {config.BIRD_SOCKET} show protocols").stdout
        mesh = [line for line in out.splitlines() if line.startswith("Mesh_")]
        assert len(mesh) == 2 and all("Established" in line for line in mesh), out


def test_middleware_answers_on_its_own_hosts(lab):
    out = lab.ssh("mw1", "curl -s http://127.0.0.1/healthz; "
                  f"echo | socat -T2 - TCP:127.0.0.1:{config.LICENSE_PORT}").stdout
    for expected in ("ok", config.LICENSE_BANNER):
        assert expected in out
    # nginx proxies to the apiserver, as the handbook's does.
    assert lab.ssh("mw1", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/version").stdout == "200"
    out = lab.ssh("mw2", "redis-cli ping; "
                  f"mariadb -u{config.MYSQL_USER} -p{config.MYSQL_PASSWORD} -N -e 'select 42'; "
                  "rabbitmq-diagnostics -q check_running").stdout
    for expected in ("PONG", "42", "fully booted"):
        assert expected in out
    # each middleware runs on one host only, as in the handbook's clusters
    for host, units in (("mw1", ("redis-server", "rabbitmq-server", "mariadb")), ("mw2", ("nginx", "license-server"))):
        assert {unit: lab.host(host).service(unit).is_running for unit in units} == dict.fromkeys(units, False)


def test_inventory_declares_the_middleware_of_each_host(lab):
    import yaml
    hosts = yaml.safe_load(lab.inventory.read_text())["all"]["hosts"]
    assert hosts["mw1"]["kubeops_middleware"] == ["nginx", "license_server"]
    assert hosts["mw2"]["kubeops_middleware"] == ["redis", "rabbitmq", "mysql"]
    assert "kubeops_middleware" not in hosts["master1"]


def test_requestheader_ca_is_published_for_the_controller_manager(lab):
    cm = json.loads(lab.kubectl("get", "configmap", "-n", "kube-system", "extension-apiserver-authentication",
                                "-o", "json").stdout)
    assert "BEGIN CERTIFICATE" in cm["data"]["requestheader-client-ca-file"]
    since = lab.ssh("master1", "systemctl show -p ActiveEnterTimestamp --value kube-controller-manager").stdout.strip()
    log = lab.ssh("master1", f"journalctl -u kube-controller-manager --since '{since}' -o cat --no-pager").stdout
    assert "missing content for CA bundle" not in log


def test_etcd_backup_is_scheduled_and_fresh(lab):
    master = lab.host("master1")
    timer = master.service("lab-etcd-backup.timer")
    assert timer.is_enabled and timer.is_running
    backups = [n for n in master.file(config.ETCD_BACKUP_DIR).listdir() if n.startswith("lab-etcd-") and n.endswith(".db")]
    newest = f"{config.ETCD_BACKUP_DIR}/{max(backups)}"                  # lab-etcd-<UTC timestamp>.db
    # the nodes share the controller's kernel clock
    age = (datetime.datetime.now() - master.file(newest).mtime).total_seconds()
    assert age < 2 * 3600, f"{newest} is {age:.0f} s old"
    status = json.loads(lab.ssh("master1", f"ETCDCTL_API=3 etcdctl snapshot status -w json {newest}").stdout)
    assert status["totalKey"] > 100


# The TCP port each middleware unit of the lab listens on, on whichever node the lab runs it.
MIDDLEWARE_PORTS = {"nginx": 80, "redis-server": 6379, "rabbitmq-server": 5672, "mariadb": 3306,
                    "license-server": config.LICENSE_PORT}


@pytest.mark.parametrize("node", [n for n in config.NODES if set(n.units) & set(MIDDLEWARE_PORTS)],
                         ids=lambda n: n.name)
def test_middleware_units_listen(lab, node):
    listening = lab.host(node.name).socket.get_listening_sockets()
    ports = {int(spec.rsplit(":", 1)[1]) for spec in listening if spec.startswith("tcp://")}
    expected = {unit: port for unit, port in MIDDLEWARE_PORTS.items() if unit in node.units}
    assert {unit: port in ports for unit, port in expected.items()} == dict.fromkeys(expected, True), listening


@pytest.mark.parametrize("host", [n.name for n in config.ETCD_NODES])
def test_etcd_members_run_the_packaged_etcd(lab, host):
    """The etcd every member runs is the one the package manager installed (the version etcd_cluster_info reports)."""
    node = lab.host(host)
    package = node.package("etcd-server")
    assert package.is_installed
    upstream = package.version.split("-")[0]          # 3.4.23-4+b5 -> 3.4.23
    assert f"etcd Version: {upstream}" in node.check_output("etcd --version")


def test_tomcat_access_logs_have_history(lab):
    names = lab.host("mw1").file(config.NGINX_LOG_DIR).listdir()
    dated = [n for n in names if n.startswith("tomcat_access.") and n.endswith(".log")]
    assert len(dated) >= 10


def test_lab_up_again_is_a_noop(lab):
    before = lab.ssh("master1", "systemctl show -p MainPID --value kube-apiserver").stdout
    proc = subprocess.run([sys.executable, "-m", "lab", "up"], cwd=lab.root, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "already up" in proc.stdout
    assert lab.ssh("master1", "systemctl show -p MainPID --value kube-apiserver").stdout == before


# -- faults are real ----------------------------------------------------------------------------------------
def _node_ready(lab, name: str) -> str:
    node = json.loads(lab.kubectl("get", "node", name, "-o", "json").stdout)
    return [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"][0]


def test_stopping_kubelet_turns_the_node_not_ready_within_a_minute(lab):
    with lab.unit_stopped("node1", "kubelet"):
        start = time.monotonic()
        lab.wait(lambda: _node_ready(lab, "node1") != "True", "node1 NotReady", timeout=60, interval=2)
        assert time.monotonic() - start < 60
    lab.wait(lambda: _node_ready(lab, "node1") == "True", "node1 Ready again", timeout=90)


def test_stopping_bird_breaks_the_peers_sessions(lab):
    with lab.unit_stopped("node1", "bird"):
        def broken():
            out = lab.ssh("master1", f"birdcl -s {config.BIRD_SOCKET} show protocols Mesh_198_18_0_21").stdout
            return "Mesh_198_18_0_21" in out and "Established" not in out
        lab.wait(broken, "master1's session to node1 leaves Established", timeout=60)
    lab.wait(lambda: "Established" in lab.ssh("master1", f"birdcl -s {config.BIRD_SOCKET} show protocols Mesh_198_18_0_21").stdout,
             "session Established again", timeout=90)


def test_stopping_an_etcd_member_shows_in_endpoint_health(lab):
    with lab.unit_stopped("node2", "etcd"):
        proc = etcdctl(lab, "master1", "endpoint health -w json", check=False)
        assert proc.returncode != 0
        health = {h["endpoint"]: h["health"] for h in json.loads(proc.stdout)}
        assert health["https://198.18.0.22:2379"] is False
        assert health["https://198.18.0.11:2379"] is True
    lab.wait(lambda: etcdctl(lab, "master1", "endpoint health", check=False).returncode == 0, "etcd healthy", timeout=90)
