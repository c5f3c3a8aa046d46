"""Benchmark scale objects: the handbook's 2,000-node, 10,000-pod cluster on the lab, made and removed in minutes.

Created in minutes and removed afterwards without a trace:

    python -m lab scale run -- CMD ...   scale up, run CMD, scale down (always), all under the lab lock
    python -m lab scale up               only when you already hold the lab lock (e.g. under a flock wrapper)
    python -m lab scale down             remove every scale object (idempotent; also cleans an interrupted run)
    python -m lab scale status           what of it is there
    python -m lab scale soak --minutes 15 [--nodes-only] [--factor F]
                                         scale up, watch the nodes stay Ready and the control plane's CPU, scale down

What `up` creates (Spec, scaled by --factor):
  * 2,000 API-only Nodes labelled kubeops.lab/scale=true, managed by ONE extra kwok process (a transient unit
    `kubeops-scale-kwok` on master1, --manage-nodes-with-label-selector), Ready and QUIET: no node leases
    (`--node-lease-duration-seconds=0`) and a node status heartbeat every 5-10 minutes (a Stage of our own), about
    5 writes/s for 2,000 nodes instead of ~230 (a lease renewal per node every 15 s and kwok's default status
    heartbeat every 20-45 s, which kept kube-apiserver at a full core of this 2-core machine and let nodes go
    Unknown). The inspection reads the nodes; they need not heartbeat like kubelets. Pod addresses come from 198.19.0.0/17 (a /28 per
    node), node addresses from 198.19.128.0/20: the other half of the RFC 2544 benchmarking block, data in the
    API only, never configured on any interface.
  * 50 namespaces, 1,000 Deployments of 10 replicas (10,000 pods, scheduled by kube-scheduler onto those nodes
    and Running under kwok) and 1,000 Services with endpoints; the calico-node DaemonSet covers the new nodes
    as it would on a real cluster (2,000 more pods).
  * Faults in realistic proportions: 30 deployments with 4 pods crash-looping, 20 with 2 pods running but not
    Ready, 10 rollouts stuck on an unsatisfiable nodeSelector (2 replicas short, 3 pods Pending), 20 services
    whose selector matches nothing (no endpoints): about 2.5 % of the pods, 6 % of the deployments.

While scaled, kube-controller-manager and kube-scheduler run with --kube-api-qps/--kube-api-burst raised (a
runtime drop-in under /run/systemd/system, removed by `down`), as large clusters run them; the default 20 qps
would take ~10 minutes to create the pods. The same drop-in gives kube-controller-manager a
--node-monitor-grace-period of an hour, longer than the quiet heartbeat's interval, so the node lifecycle controller
keeps the scale nodes Ready; `down` restores the unit file's value (the lab's 20 s, which its node-outage tests
rely on) and logs it. `down` deletes everything labelled, waits until the API holds exactly
what it held before, stops the kwok process, removes the drop-ins and compacts + defragments etcd.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import ipaddress
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace

from . import api, cluster, config
from .util import LabError, lab_lock, log, run

LABEL_KEY = "kubeops.lab/scale"
SELECTOR = f"{LABEL_KEY}=true"
KWOK_UNIT = "kubeops-scale-kwok"
BOOSTED_UNITS = ("kube-controller-manager", "kube-scheduler")
DROPIN_NAME = "50-kubeops-scale.conf"
POD_NET = ipaddress.ip_network("198.19.0.0/17")
NODE_NET = ipaddress.ip_network("198.19.128.0/20")
MASTER = config.NODES_BY_NAME["master1"]
SERVICES = ["oltp-gateway", "bis-report-data-unit", "bis-calculatecontrol", "ihs-conclude", "wcs-webui", "app-base",
            "developer-center-web", "iuap-apcom-auth", "iuap-workflow", "yonbip-fi-ctm", "mdm-service", "iform-engine"]
ETCDCTL = ("ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ssl/ca.pem "
           "--cert=/etc/etcd/ssl/etcd-client.pem --key=/etc/etcd/ssl/etcd-client-key.pem")


@dataclass(frozen=True)
class Spec:
    nodes: int = 2000
    namespaces: int = 50
    deployments: int = 1000
    replicas: int = 10
    crashloop_deployments: int = 30     # 4 pods each in CrashLoopBackOff
    notready_deployments: int = 20      # 2 pods each Running but not Ready
    broken_rollouts: int = 10           # template changed to an unsatisfiable nodeSelector
    services_without_endpoints: int = 20
    lease_seconds: int = 0              # kwok's --node-lease-duration-seconds: 0 = no node leases (quiet)
    heartbeat_seconds: int = 300        # node status heartbeat every 300-600 s (kwok's default: 20-45 s)
    heartbeat_jitter_seconds: int = 600
    grace_seconds: int = 3600           # node-monitor-grace-period while scaled (the lab's own is 20 s)
    controller_qps: int = 300

    def scaled(self, factor: float) -> Spec:
        if factor == 1:
            return self

        def f(n: int, lo: int = 1) -> int:
            return max(lo, round(n * factor))
        return replace(self, nodes=f(self.nodes), namespaces=f(self.namespaces), deployments=f(self.deployments, 10),
                       crashloop_deployments=f(self.crashloop_deployments), notready_deployments=f(self.notready_deployments),
                       broken_rollouts=f(self.broken_rollouts), services_without_endpoints=f(self.services_without_endpoints))

    @property
    def pods(self) -> int:
        return self.deployments * self.replicas


# -- helpers -----------------------------------------------------------------------------------------------
def _kubectl(*args: str, input: str | None = None, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    info = api._info()  # pylint: disable=protected-access
    return run([info.kubectl, "--kubeconfig", api.KUBECONFIG, "--request-timeout=120s", *args], capture=True,
               input=input, timeout=timeout, check=check)


def _ssh(node: config.Node, command: str, timeout: float = 120, check: bool = True) -> str:
    proc = api.ssh(node.ip, command, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"on {node.name}: {command!r} failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
    return proc.stdout


PARALLEL = 8
_CLIENT: list = []


def _client():
    """The official Python client, for the bulk writes: kubectl throttles itself to 5 requests/s, which would make
    thousands of creates, patches and deletes take many minutes."""
    if not _CLIENT:
        from kubernetes import client, config as kconfig  # pylint: disable=import-outside-toplevel
        cfg = client.Configuration()
        kconfig.load_kube_config(config_file=str(api.KUBECONFIG), client_configuration=cfg, persist_config=False)
        cfg.connection_pool_maxsize = PARALLEL
        _CLIENT.append(client.ApiClient(cfg))
    return _CLIENT[0]


def _call(method: str, path: str, body=None, content_type: str = "application/json", missing_ok: bool = False):
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
    try:
        resp = _client().call_api(path, method, header_params={"Content-Type": content_type, "Accept": "application/json"},
                                  body=body, auth_settings=["BearerToken"], _preload_content=False,
                                  _return_http_data_only=True, _request_timeout=120)
    except ApiException as exc:
        if missing_ok and exc.status == 404:
            return None
        raise LabError(f"{method} {path}: HTTP {exc.status} {exc.reason}: {(exc.body or b'')[:300]!r}") from None
    return json.loads(resp.data or b"null")


def _best_effort(method: str, path: str) -> None:
    """A request whose failure only makes the clean-up slower (the waits that follow check the outcome)."""
    try:
        _call(method, path, missing_ok=True)
    except LabError as exc:
        log(f"scale: {exc} (going on)")


def _parallel(func, items) -> list:
    with cf.ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(func, items))


def _collection(obj: dict) -> str:
    kind, ns = obj["kind"], obj["metadata"].get("namespace")
    group = "/apis/apps/v1" if obj["apiVersion"] == "apps/v1" else "/api/v1"
    plural = {"Node": "nodes", "Namespace": "namespaces", "Deployment": "deployments", "Service": "services"}[kind]
    return f"{group}/namespaces/{ns}/{plural}" if ns else f"{group}/{plural}"


def _create(items: list[dict], what: str) -> None:
    started = time.monotonic()
    _parallel(lambda o: _call("POST", _collection(o), o), items)
    log(f"scale: created {len(items)} {what} in {time.monotonic() - started:.0f}s")


def _jsonpath(kind: str, path: str, *extra: str) -> list[list[str]]:
    out = _kubectl("get", kind, "-l", SELECTOR, *extra, "-o", f"jsonpath={{range .items[*]}}{path}{{\"\\n\"}}{{end}}").stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def _wait(what: str, predicate, timeout: float, interval: float = 5) -> None:
    api.wait_for(what, predicate, timeout=timeout, interval=interval, progress=30)


# -- objects -----------------------------------------------------------------------------------------------
def node_names(spec: Spec) -> list[str]:
    return [f"scale-node-{i:04d}" for i in range(1, spec.nodes + 1)]


def node_objects(spec: Spec) -> list[dict]:
    pod_cidrs = POD_NET.subnets(new_prefix=28)
    hosts = NODE_NET.hosts()
    items = []
    for name in node_names(spec):
        cidr = str(next(pod_cidrs))
        obj = cluster.node(name, str(next(hosts)), cidr)
        obj["metadata"]["labels"][LABEL_KEY] = "true"
        obj["status"].update({
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "200Gi"},
            "allocatable": {"cpu": "15800m", "memory": "62Gi", "pods": "110", "ephemeral-storage": "180Gi"},
            "nodeInfo": {"kubeletVersion": config.K8S_VERSION, "kubeProxyVersion": config.K8S_VERSION,
                         "containerRuntimeVersion": "docker://19.3.8", "osImage": "CentOS Linux 7 (Core)",
                         "kernelVersion": "3.10.0-1160.el7.x86_64", "operatingSystem": "linux", "architecture": "amd64",
                         "machineID": "", "systemUUID": "", "bootID": ""}})
        items.append(obj)
    return items


def namespace_names(spec: Spec) -> list[str]:
    return [f"scale-{i:02d}" for i in range(1, spec.namespaces + 1)]


def workloads(spec: Spec) -> tuple[list[dict], list[tuple[str, str]]]:
    """Deployments and their Services across the namespaces; returns the objects and (namespace, name) pairs."""
    rnd = random.Random(20240901)
    namespaces = namespace_names(spec)
    items: list[dict] = []
    deps: list[tuple[str, str]] = []
    for i in range(spec.deployments):
        ns = namespaces[i % len(namespaces)]
        name = f"{SERVICES[i % len(SERVICES)]}-{i:04d}-1-3-0"
        containers = rnd.choices([1, 2, 3], weights=[80, 15, 5])[0]
        dep, svc = cluster.deployment(ns, name, spec.replicas, containers, 30000 + (i % 50) * 10)
        for obj in (dep, svc):
            obj["metadata"].setdefault("labels", {})[LABEL_KEY] = "true"
        # Headless: the lab's service range is a /26 inside its /24 (62 ClusterIPs). The endpoints controller fills
        # a headless service's endpoints from its selector exactly as a ClusterIP service's.
        svc["spec"]["clusterIP"] = "None"
        dep["spec"]["template"]["metadata"]["labels"][LABEL_KEY] = "true"
        items += [dep, svc]
        deps.append((ns, name))
    # Services whose selector matches nothing: the last ones (a typo'd selector, a retired version).
    svcs = [o for o in items if o["kind"] == "Service"]
    for svc in svcs[len(svcs) - spec.services_without_endpoints:]:
        svc["spec"]["selector"] = {"app": svc["metadata"]["name"] + "-v2"}
    return items, deps


# -- the extra kwok and the controllers' QPS ---------------------------------------------------------------
KWOK_CONFIG = """apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 32
  nodePlayStageParallelism: 16
"""
# The node Stages of the scale kwok. Given any node Stage, kwok uses no default node Stage (its pod Stages stay the
# defaults): node-initialize is kwok v0.6.1's own (kustomize/stage/node/fast), the heartbeat is kwok's node-heartbeat
# with a delay of minutes instead of 20-45 s.
NODE_STAGES = """---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values:
      - 'True'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type  | Quote}}
      {{ end }}

      addresses:
      {{ with .status.addresses }}
      {{ YAML . 1 }}
      {{ else }}
      {{ with NodeIP }}
      - address: {{ . | Quote }}
        type: InternalIP
      {{ end }}
      {{ with NodeName }}
      - address: {{ . | Quote }}
        type: Hostname
      {{ end }}
      {{ end }}

      {{ with NodePort }}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ . }}
      {{ end }}

      allocatable:
      {{ with .status.allocatable }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}
      capacity:
      {{ with .status.capacity }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}

      {{ $nodeInfo := .status.nodeInfo }}
      {{ $kwokVersion := printf "kwok-%s" Version }}
      nodeInfo:
        architecture: {{ or $nodeInfo.architecture "amd64" }}
        bootID: {{ or $nodeInfo.bootID `""` }}
        containerRuntimeVersion: {{ or $nodeInfo.containerRuntimeVersion $kwokVersion }}
        kernelVersion: {{ or $nodeInfo.kernelVersion $kwokVersion }}
        kubeProxyVersion: {{ or $nodeInfo.kubeProxyVersion $kwokVersion }}
        kubeletVersion: {{ or $nodeInfo.kubeletVersion $kwokVersion }}
        machineID: {{ or $nodeInfo.machineID `""` }}
        operatingSystem: {{ or $nodeInfo.operatingSystem "linux" }}
        osImage: {{ or $nodeInfo.osImage `""` }}
        systemUUID: {{ or $nodeInfo.systemUUID `""` }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-heartbeat-quiet
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values:
      - 'True'
  delay:
    durationMilliseconds: @DELAY@
    jitterDurationMilliseconds: @JITTER@
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
  immediateNextStage: true
"""


def kwok_config(spec: Spec) -> str:
    """The scale kwok's --config: its options and the quiet node Stages (kwok's default pod Stages stay)."""
    if spec.heartbeat_jitter_seconds < spec.heartbeat_seconds:
        raise LabError(f"heartbeat_jitter_seconds {spec.heartbeat_jitter_seconds} is below heartbeat_seconds "
                       f"{spec.heartbeat_seconds} (kwok's jitter is the upper bound of the delay)")
    if spec.grace_seconds <= spec.heartbeat_jitter_seconds:
        raise LabError(f"grace_seconds {spec.grace_seconds} must exceed the longest heartbeat interval "
                       f"{spec.heartbeat_jitter_seconds} s, or the scale nodes go Unknown between heartbeats")
    stages = NODE_STAGES.replace("@DELAY@", str(spec.heartbeat_seconds * 1000)).replace(
        "@JITTER@", str(spec.heartbeat_jitter_seconds * 1000))
    return KWOK_CONFIG + stages


def _start_kwok(spec: Spec, bin_dir: str = config.K8S_BIN_DIR) -> None:
    """One kwok for all scale nodes. Its defaults (4 pods played at a time, a log line per pod patch) make 10,000
    pods take half an hour on 2 cores and keep journald busy: more parallelism, warnings only. No node leases and the
    slow heartbeat Stage keep the scale nodes quiet (module docstring)."""
    _ssh(MASTER, f"cat > /etc/kubernetes/kwok-scale.yaml <<'EOF'\n{kwok_config(spec)}EOF")
    _ssh(MASTER, f"systemctl reset-failed {KWOK_UNIT} 2>/dev/null; systemd-run --unit={KWOK_UNIT} --quiet "
                 f"--property=Restart=on-failure --description='kwok for the benchmark scale nodes' "
                 f"{bin_dir}/kwok --kubeconfig=/root/.kube/config --config=/etc/kubernetes/kwok-scale.yaml --v=WARN "
                 f"--manage-nodes-with-label-selector={SELECTOR} --cidr={POD_NET} --node-ip={next(NODE_NET.hosts())} "
                 f"--node-lease-duration-seconds={spec.lease_seconds}")
    log(f"scale: started {KWOK_UNIT} on master1 (manages nodes with {SELECTOR})")


def _exec_start(unit: str) -> str:
    """The ExecStart of a running unit's file, continuation lines included."""
    text = _ssh(MASTER, f"systemctl cat {unit}.service")
    lines, taking = [], False
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            taking = True
        if taking:
            lines.append(line)
            if not line.rstrip().endswith("\\"):
                break
    if not lines:
        raise LabError(f"no ExecStart in {unit}.service on master1")
    return "\n".join(lines)[len("ExecStart="):]


def _boost(spec: Spec) -> None:
    for unit in BOOSTED_UNITS:
        exec_start = _exec_start(unit).rstrip()
        dropin = (f"# Written by lab/scale.py for a benchmark window; removed by `python -m lab scale down`.\n"
                  f"[Service]\nExecStart=\nExecStart={exec_start} \\\n  --kube-api-qps={spec.controller_qps} "
                  f"--kube-api-burst={spec.controller_qps * 2}"
                  + (f" --node-monitor-grace-period={spec.grace_seconds}s" if unit == "kube-controller-manager" else "")
                  + "\n")
        run(["ssh", "-i", api.KEY, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
             "LogLevel=ERROR", "-o", "BatchMode=yes", f"root@{MASTER.ip}",
             f"mkdir -p /run/systemd/system/{unit}.service.d && cat > /run/systemd/system/{unit}.service.d/{DROPIN_NAME}"],
            input=dropin, capture=True)
    _ssh(MASTER, "systemctl daemon-reload && systemctl restart " + " ".join(BOOSTED_UNITS))
    log(f"scale: {', '.join(BOOSTED_UNITS)} restarted with --kube-api-qps={spec.controller_qps}; "
        f"kube-controller-manager's --node-monitor-grace-period {_grace(_exec_start('kube-controller-manager'))} -> "
        f"{spec.grace_seconds}s for the scale window (quiet nodes heartbeat every {spec.heartbeat_seconds}-"
        f"{spec.heartbeat_jitter_seconds} s)")


def _grace(exec_start: str) -> str:
    """The --node-monitor-grace-period an ExecStart sets (the last one wins), else the built-in default."""
    found = re.findall(r"--node-monitor-grace-period[= ](\S+)", exec_start)
    return found[-1] if found else "40s (default)"


def _unboost() -> bool:
    paths = " ".join(f"/run/systemd/system/{u}.service.d/{DROPIN_NAME}" for u in BOOSTED_UNITS)
    present = _ssh(MASTER, f"ls {paths} 2>/dev/null || true").split()
    if present:
        _ssh(MASTER, f"rm -f {paths} && systemctl daemon-reload && systemctl restart " + " ".join(BOOSTED_UNITS))
        grace = _grace(_ssh(MASTER, "systemctl show -p ExecStart --value kube-controller-manager"))
        log(f"scale: {', '.join(BOOSTED_UNITS)} back to their unit files' flags (kube-api-qps; "
            f"kube-controller-manager's --node-monitor-grace-period restored to {grace})")
    return bool(present)


# -- memory and etcd -----------------------------------------------------------------------------------------
WATCHED = {"master1": ("kube-apiserver", "etcd", "kube-controller", "kube-scheduler", "kwok"),
           "node1": ("etcd", "kwok", "kube-proxy"), "node2": ("etcd", "kwok", "kube-proxy")}


def memory() -> dict[str, dict[str, float]]:
    """RSS in MiB of the control-plane processes, per node (ps inside the node)."""
    out: dict[str, dict[str, float]] = {}
    for name, comms in WATCHED.items():
        text = _ssh(config.NODES_BY_NAME[name], "ps -eo comm=,rss=", check=False)
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in comms:
                key = parts[0]
                out.setdefault(name, {})[key] = round(out.get(name, {}).get(key, 0) + int(parts[1]) / 1024, 1)
    return out


_SNAP = ("snap() { date +%s.%N; for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue; case \" $W \" in "
         "*\" $c \"*) echo \"$c $(cut -d' ' -f14,15 $d/stat 2>/dev/null) $(awk '/^VmRSS/ {print $2}' $d/status "
         "2>/dev/null)\";; esac; done; echo --; }")


def parse_usage(text: str, ticks: int = 100) -> dict[str, dict[str, float]]:
    """{process: {cores, rss_mib}} from two snapshots of ``_SNAP`` (time, then 'comm utime stime rss_kb' lines)."""
    snaps = []
    for block in text.split("--"):
        lines = [line.split() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}
        for parts in lines[1:]:
            if len(parts) == 4:
                cpu[parts[0]] = cpu.get(parts[0], 0) + (int(parts[1]) + int(parts[2])) / ticks
                rss[parts[0]] = rss.get(parts[0], 0) + int(parts[3]) / 1024
        snaps.append((float(lines[0][0]), cpu, rss))
    if len(snaps) < 2:
        return {}
    (t0, cpu0, _r0), (t1, cpu1, rss1) = snaps[0], snaps[-1]
    return {name: {"cores": round(max(0.0, cpu1[name] - cpu0.get(name, cpu1[name])) / (t1 - t0), 3),
                   "rss_mib": round(rss1[name], 1)} for name in sorted(cpu1)}


def usage(seconds: float = 60) -> dict[str, dict[str, dict[str, float]]]:
    """CPU (cores, averaged over ``seconds``) and RSS of the control-plane processes, per node, measured in parallel
    on master1, node1 and node2 (the kernel's per-process tick counts, read twice inside each node)."""
    def one(name: str) -> tuple[str, dict]:
        cmd = f"W='{' '.join(WATCHED[name])}'; {_SNAP}; snap; sleep {seconds}; snap"
        return name, parse_usage(_ssh(config.NODES_BY_NAME[name], cmd, timeout=seconds + 60, check=False))
    with cf.ThreadPoolExecutor(len(WATCHED)) as pool:
        return dict(pool.map(one, WATCHED))


def etcd_status() -> dict:
    data = json.loads(_ssh(MASTER, f"{ETCDCTL} endpoint status -w json") or "[]")
    st = data[0]["Status"] if data else {}
    return {"db_size_mb": round(st.get("dbSize", 0) / 1e6, 1), "db_in_use_mb": round(st.get("dbSizeInUse", 0) / 1e6, 1),
            "revision": st.get("header", {}).get("revision")}


class Monitor(threading.Thread):
    """Samples memory() every `interval` seconds and keeps the peak per process."""

    def __init__(self, interval: float = 15):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()

    def sample(self) -> None:
        try:
            for node, procs in memory().items():
                for proc, mib in procs.items():
                    self.peak.setdefault(node, {})[proc] = max(mib, self.peak.get(node, {}).get(proc, 0))
        except (LabError, subprocess.SubprocessError, ValueError):
            pass

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> dict:
        self._stop.set()
        self.sample()
        return self.peak


# -- up / down -----------------------------------------------------------------------------------------------
def _counts() -> dict[str, int]:
    out = {}
    for kind in ("nodes", "namespaces", "pods", "deployments", "services", "endpoints", "leases"):
        args = ["get", kind, "--no-headers", "-o", "name"] + ([] if kind in ("nodes", "namespaces") else ["-A"])
        out[kind] = len(_kubectl(*args).stdout.splitlines())
    return out


def leftovers() -> dict[str, int]:
    """Scale objects still in the API, the kwok unit, the drop-ins."""
    left = {}
    for kind in ("nodes", "namespaces"):
        n = len(_kubectl("get", kind, "-l", SELECTOR, "-o", "name").stdout.splitlines())
        if n:
            left[kind] = n
    pods = [p for p in _kubectl("get", "pods", "-A", "-o",
                                "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}").stdout.splitlines()
            if p.startswith("scale-node-")]
    if pods:
        left["pods on scale nodes"] = len(pods)
    leases = [x for x in _kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name").stdout.splitlines()
              if "/scale-node-" in x]
    if leases:
        left["node leases"] = len(leases)
    if _ssh(MASTER, f"systemctl is-active {KWOK_UNIT}", check=False).strip() in ("active", "activating"):
        left["kwok unit"] = 1
    paths = " ".join(f"/run/systemd/system/{u}.service.d/{DROPIN_NAME}" for u in BOOSTED_UNITS)
    dropins = _ssh(MASTER, f"ls {paths} 2>/dev/null || true").split()
    if dropins:
        left["controller drop-ins"] = len(dropins)
    return left


def _crash(pod: dict, restarts: int) -> dict:
    """Status of a pod whose first container crash-loops (what a kubelet reports)."""
    st = pod["status"]
    statuses = [dict(c) for c in st.get("containerStatuses") or []]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    statuses[0].update({"ready": False, "started": False, "restartCount": restarts,
                        "state": {"waiting": {"reason": "CrashLoopBackOff",
                                              "message": f"back-off 5m0s restarting failed container={statuses[0]['name']}"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}})
    return {"status": {"containerStatuses": statuses, "conditions": _not_ready(st, "ContainersNotReady")}}


def _unready(pod: dict) -> dict:
    """Status of a pod whose containers run but fail their readiness probe."""
    st = pod["status"]
    statuses = [dict(c, ready=False) for c in st.get("containerStatuses") or []]
    return {"status": {"containerStatuses": statuses, "conditions": _not_ready(st, "ContainersNotReady")}}


def _not_ready(st: dict, reason: str) -> list[dict]:
    conds = []
    for c in st.get("conditions") or []:
        c = dict(c)
        if c["type"] in ("Ready", "ContainersReady"):
            c.update(status="False", reason=reason, lastTransitionTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        conds.append(c)
    return conds


def _inject_faults(spec: Spec, deps: list[tuple[str, str]]) -> dict[str, int]:
    rnd = random.Random(7)
    healthy_deps = deps[:len(deps) - spec.services_without_endpoints]   # keep faults apart from no-endpoint services
    picked = rnd.sample(healthy_deps, spec.crashloop_deployments + spec.notready_deployments + spec.broken_rollouts)
    crash = picked[:spec.crashloop_deployments]
    unready = picked[spec.crashloop_deployments:spec.crashloop_deployments + spec.notready_deployments]
    broken = picked[len(crash) + len(unready):]
    patches: list[tuple[str, str, dict]] = []
    for group, count, make in ((crash, 4, lambda p: _crash(p, rnd.randint(5, 40))), (unready, 2, _unready)):
        for ns, name in group:
            pods = json.loads(_kubectl("get", "pods", "-n", ns, "-l", f"app={name}", "-o", "json").stdout)["items"]
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"])[:count]:
                patches.append((ns, pod["metadata"]["name"], make(pod)))
    _parallel(lambda t: _call("PATCH", f"/api/v1/namespaces/{t[0]}/pods/{t[1]}/status", t[2],
                              "application/strategic-merge-patch+json"), patches)
    _parallel(lambda d: _call("PATCH", f"/apis/apps/v1/namespaces/{d[0]}/deployments/{d[1]}",
                              {"spec": {"template": {"spec": {"nodeSelector": {"kubeops.lab/pool": "batch"}}}}},
                              "application/merge-patch+json"), broken)
    return {"crashlooping_pods": 4 * len(crash), "not_ready_pods": 2 * len(unready), "broken_rollouts": len(broken),
            "services_without_endpoints": spec.services_without_endpoints}


def pod_lists_served() -> int:
    """How many cluster-wide LISTs of pods the API server has answered since it started (apiserver_request_total)."""
    total = 0
    for line in _kubectl("get", "--raw", "/metrics").stdout.splitlines():
        if (line.startswith("apiserver_request_total{") and 'resource="pods"' in line and 'scope="cluster"' in line
                and 'verb="LIST"' in line):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def lists_settled(counts: list[int], nodes: int, polls: int = 3, background: int = 4) -> bool:
    """Whether kwok's LISTs of the pods of new nodes are done, from the pod LISTs counted since the nodes were
    created, one count per poll: at least one per node, and over the last ``polls`` polls no more than the lab's own
    kwoks make anyway (``background``: node1's and node2's kubelets LIST their node's pods on every lease renewal,
    about every 5 s each, so the counter never stands still)."""
    return len(counts) > polls and counts[-1] >= nodes and counts[-1] - counts[-1 - polls] <= background


def ready_nodes() -> int:
    """How many scale nodes are Ready now (one LIST of the scale nodes)."""
    return sum(1 for r in _jsonpath("nodes", '{.status.conditions[?(@.type=="Ready")].status}') if r == ["True"])


def up(spec: Spec, nodes_only: bool = False, rest_seconds: float = 60) -> dict:
    """Create the scale objects (the caller holds the lab lock). Returns counts, timings, memory and the CPU of the
    control plane at rest (averaged over ``rest_seconds`` once everything settled). ``nodes_only``: the nodes alone."""
    started = time.monotonic()
    info = api._info()  # pylint: disable=protected-access
    left = leftovers()
    if left:
        log(f"scale: leftovers of an earlier run ({left}); removing them first")
        down()
    before = {"counts": _counts(), "memory": memory(), "etcd": etcd_status()}
    monitor = Monitor()
    monitor.start()
    timings: dict[str, float] = {}
    faults: dict[str, int] = {}

    def mark(step: str) -> None:
        timings[step] = round(time.monotonic() - started, 1)

    try:
        _boost(spec)
        _start_kwok(spec)
        lists_before = pod_lists_served()
        _create(node_objects(spec), "nodes")
        _wait(f"{spec.nodes} scale nodes Ready", lambda: ready_nodes() == spec.nodes, timeout=600)
        mark("nodes_ready_s")
        # kwok looks up the pods of each node it starts to manage: one LIST of pods with the field selector
        # spec.nodeName=<node> per node, a consistent read that the API server answers by decoding every pod of the
        # cluster from etcd. Done before the 10,000 pods exist, the 2,000 LISTs take seconds; done after, they kept
        # kube-apiserver at 1.3 cores for ~20 minutes after the scale-up (bench/README.md, "Scale on this machine").
        if not nodes_only:
            seen: list[int] = []

            def kwok_synced() -> tuple[bool, str]:
                seen.append(pod_lists_served() - lists_before)
                return lists_settled(seen, spec.nodes), f"{seen[-1]} LISTs of pods for {spec.nodes} nodes"

            _wait(f"kwok's look at the pods of each of the {spec.nodes} nodes (a LIST each)", kwok_synced, timeout=900,
                  interval=2)
            mark("kwok_pods_synced_s")
        if not nodes_only:
            _create([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {LABEL_KEY: "true"}}}
                     for ns in namespace_names(spec)], "namespaces")
            objs, deps = workloads(spec)
            _create(objs, "deployments and services")
            _wait(f"{spec.pods} scale pods Running", lambda: Counter(
                r[0] for r in _jsonpath("pods", "{.status.phase}", "-A")).get("Running", 0) >= spec.pods, timeout=1200)
            mark("pods_running_s")
            timings["pod_pipeline"] = _pod_timeline()
            _wait("calico-node on every node", lambda: _calico_ready(spec), timeout=600)
            timings["pods_given_ready_back"] = _resync_ready()
            faults = _inject_faults(spec, deps)
            expect_eps = spec.deployments - spec.services_without_endpoints
            _wait(f"{expect_eps} services with endpoints", lambda: sum(
                1 for r in _jsonpath("endpoints", "{.subsets[*].addresses[*].ip}", "-A") if r[0].strip()) >= expect_eps,
                timeout=600)
            healthy = spec.deployments - spec.crashloop_deployments - spec.notready_deployments - spec.broken_rollouts
            _wait(f"{healthy} healthy deployments available and the broken rollouts stuck", lambda: _deployments_settled(
                spec, healthy), timeout=600)
        mark("settled_s")
    except BaseException:
        monitor.stop()
        raise
    peak = monitor.stop()
    if not nodes_only:
        expected_not_ready = faults["crashlooping_pods"] + faults["not_ready_pods"]
        faults["unexpected_not_ready_pods"] = len(_not_ready_running_pods()) - expected_not_ready
    faults["nodes_not_ready"] = spec.nodes - ready_nodes()
    if faults.get("unexpected_not_ready_pods") or faults["nodes_not_ready"]:
        log(f"scale: WARNING {faults.get('unexpected_not_ready_pods', 0)} pods not Ready beyond the injected faults, "
            f"{faults['nodes_not_ready']} scale nodes not Ready")
    after = {"counts": _counts(), "memory": memory(), "etcd": etcd_status()}
    rest = come_to_rest(rest_seconds) if rest_seconds > 0 else {"windows": [], "usage": {}}
    result = {"spec": asdict(spec), "faults": faults, "namespaces": [] if nodes_only else namespace_names(spec),
              "selector": SELECTOR, "before": before, "scaled": after, "peak_memory_mib": peak, "timings": timings,
              "at_rest": dict(rest, nodes_ready=ready_nodes()),
              "up_s": round(time.monotonic() - started, 1), "kubectl": str(info.kubectl)}
    api_rest = rest["usage"].get("master1", {}).get("kube-apiserver", {})
    log(f"scale: up in {result['up_s']:.0f}s: {after['counts']}; etcd {after['etcd']['db_size_mb']} MB; kube-apiserver "
        f"at rest {api_rest.get('cores')} cores, {api_rest.get('rss_mib')} MiB (after {rest.get('settle_s')} s)")
    return result


def come_to_rest(window: float = 60, limit_cores: float = 0.5, max_windows: int = 6) -> dict:
    """The control plane's CPU and RSS once it has settled after a scale-up: ``window``-second averages, taken until
    kube-apiserver uses less than ``limit_cores`` in one (at most ``max_windows``). Returns every window's
    kube-apiserver and etcd figures, the seconds it took to settle, and the full usage of the last window."""
    windows, used, started = [], {}, time.monotonic()
    for _ in range(max_windows):
        used = usage(window)
        api_used = used.get("master1", {}).get("kube-apiserver", {})
        windows.append({"apiserver_cores": api_used.get("cores"), "apiserver_rss_mib": api_used.get("rss_mib"),
                        "etcd_cores": {n: u.get("etcd", {}).get("cores") for n, u in used.items()}})
        if (api_used.get("cores") or 0) < limit_cores:
            break
    return {"seconds": window, "windows": windows, "usage": used,
            "settle_s": round(time.monotonic() - started - window), "rested": (windows[-1]["apiserver_cores"] or 0) < limit_cores}


def soak(spec: Spec, minutes: float, nodes_only: bool = False, interval: float = 60) -> dict:
    """Scaled, watch for ``minutes``: every ``interval`` the Ready scale nodes and the control plane's CPU over that
    interval (the caller holds the lab lock; everything is removed afterwards). The quiet lab's acceptance test:
    every scale node stays Ready, kube-apiserver below half a core."""
    samples = []
    with scaled(spec=spec, nodes_only=nodes_only, rest_seconds=0) as info:
        end = time.monotonic() + minutes * 60
        while time.monotonic() < end:
            used = usage(interval)
            ready = ready_nodes()
            sample = {"t_s": round(minutes * 60 - (end - time.monotonic())), "nodes_ready": ready,
                      "apiserver_cores": used.get("master1", {}).get("kube-apiserver", {}).get("cores"),
                      "apiserver_rss_mib": used.get("master1", {}).get("kube-apiserver", {}).get("rss_mib"),
                      "etcd_cores": {n: u.get("etcd", {}).get("cores") for n, u in used.items()},
                      "etcd_rss_mib": {n: u.get("etcd", {}).get("rss_mib") for n, u in used.items()},
                      "usage": used}
            samples.append(sample)
            log(f"scale soak: {sample['t_s']} s: {ready}/{spec.nodes} Ready, kube-apiserver {sample['apiserver_cores']} "
                f"cores {sample['apiserver_rss_mib']} MiB, etcd {sample['etcd_cores']} cores")
    cores = [s["apiserver_cores"] for s in samples if s["apiserver_cores"] is not None]
    return {"spec": asdict(spec), "nodes_only": nodes_only, "minutes": minutes, "samples": samples,
            "min_nodes_ready": min((s["nodes_ready"] for s in samples), default=0),
            "apiserver_cores_max": max(cores, default=None),
            "apiserver_cores_median": sorted(cores)[len(cores) // 2] if cores else None,
            "up": {k: info.get(k) for k in ("up_s", "timings", "scaled")}, "down": info.get("down")}


def _pod_timeline() -> dict:
    """When the scale pods were created (ReplicaSet controller), scheduled (kube-scheduler) and Ready (kwok): the
    seconds from the first creation to the last of each, to see which stage limits the rate."""
    import datetime as dt  # pylint: disable=import-outside-toplevel
    rows = _jsonpath("pods", '{.metadata.creationTimestamp}\t{.status.conditions[?(@.type=="PodScheduled")].lastTransitionTime}'
                     '\t{.status.conditions[?(@.type=="Ready")].lastTransitionTime}', "-A")

    def ts(text: str) -> float | None:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp() if text else None
    cols = [[ts(r[i]) for r in rows if len(r) > i and r[i]] for i in range(3)]
    if not cols[0]:
        return {}
    first = min(cols[0])
    return {"pods": len(rows), **{f"last_{name}_s": round(max(c) - first) for name, c in
                                  zip(("created", "scheduled", "ready"), cols) if c}}


def _calico_ready(spec: Spec) -> bool:
    """A calico-node pod Running on every node (Ready is restored by _resync_ready)."""
    rows = _kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=calico-node", "-o",
                    "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}").stdout.split()
    return rows.count("Running") >= spec.nodes


def _not_ready_running_pods() -> list[tuple[str, str]]:
    rows = _kubectl("get", "pods", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}\t{.metadata.name}\t"
                    "{.spec.nodeName}\t{.status.phase}\t{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"
                    ).stdout.splitlines()
    return [(r[0], r[1]) for r in (line.split("\t") for line in rows)
            if len(r) == 5 and r[2].startswith("scale-node-") and r[3] == "Running" and r[4] != "True"]


def _resync_ready() -> int:
    """Pods of scale nodes that kwok ran but that lost Ready while the scale-up kept the machine busy (a lease
    renewal late past the grace period makes the node lifecycle controller mark its pods not Ready; a kubelet would
    report them Ready again, kwok does not). Returns how many were given Ready back (before faults are injected)."""
    pods = _not_ready_running_pods()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now},
                                      {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}}
    _parallel(lambda p: _call("PATCH", f"/api/v1/namespaces/{p[0]}/pods/{p[1]}/status", body,
                              "application/strategic-merge-patch+json"), pods)
    if pods:
        log(f"scale: {len(pods)} pods of scale nodes given their Ready condition back")
    return len(pods)


def _deployments_settled(spec: Spec, healthy: int) -> bool:
    rows = _jsonpath("deployments", "{.spec.replicas}\t{.status.availableReplicas}\t{.status.updatedReplicas}\t"
                     "{.status.unavailableReplicas}", "-A")
    full = sum(1 for r in rows if r[0] == r[1] and r[0] == r[2] and not r[3])
    stuck = sum(1 for r in rows if r[2] and int(r[2] or 0) > 0 and r[2] != r[0])
    return full >= healthy and stuck >= spec.broken_rollouts


def down() -> dict:
    """Remove every scale object and put the lab back as it was (the caller holds the lab lock)."""
    started = time.monotonic()
    namespaces = _kubectl("get", "namespaces", "-l", SELECTOR, "-o", "name").stdout.replace("namespace/", "").split()
    _kubectl("delete", "namespaces", "-l", SELECTOR, "--wait=false", "--ignore-not-found")
    # kwok ends a deleted pod only after its grace period; the namespace controller then waits and re-checks with
    # back-off. Pods of API-only nodes have nothing to shut down: end them at once.
    _parallel(lambda ns: _best_effort("DELETE", f"/api/v1/namespaces/{ns}/pods?gracePeriodSeconds=0"), namespaces)
    _wait("scale namespaces gone", lambda: not _kubectl("get", "namespaces", "-l", SELECTOR, "-o", "name").stdout.strip(),
          timeout=900)
    # One DELETE per node (a delete-collection of 2,000 nodes can outlast the apiserver's 60 s request limit).
    names = _kubectl("get", "nodes", "-l", SELECTOR, "-o", "name").stdout.replace("node/", "").split()
    _parallel(lambda n: _best_effort("DELETE", f"/api/v1/nodes/{n}"), names)
    _wait("scale nodes gone", lambda: not _kubectl("get", "nodes", "-l", SELECTOR, "-o", "name").stdout.strip(), timeout=300)
    # What the pod garbage collector (after a 40 s quarantine) and the garbage collector would remove: the
    # calico-node pods and the leases of the deleted nodes.
    orphans = [r.split("\t")[0] for r in _kubectl("get", "pods", "-n", "kube-system", "-o", "jsonpath={range .items[*]}"
                                                  "{.metadata.name}\t{.spec.nodeName}{\"\\n\"}{end}").stdout.splitlines()
               if "\tscale-node-" in r]
    _parallel(lambda p: _best_effort("DELETE", f"/api/v1/namespaces/kube-system/pods/{p}?gracePeriodSeconds=0"), orphans)
    leases = [x.split("/", 1)[1] for x in _kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name").stdout.split()
              if "/scale-node-" in x]
    _parallel(lambda n: _best_effort("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{n}"),
              leases)
    _wait("pods and leases of the scale nodes gone (pod and garbage collectors)", lambda: not {
        k: v for k, v in leftovers().items() if k in ("pods on scale nodes", "node leases")}, timeout=600, interval=10)
    _ssh(MASTER, f"systemctl stop {KWOK_UNIT} 2>/dev/null; systemctl reset-failed {KWOK_UNIT} 2>/dev/null; "
                 "rm -f /etc/kubernetes/kwok-scale.yaml; true")
    _delete_scale_events()
    _unboost()
    left = leftovers()
    if left:
        raise LabError(f"scale down left {left}")
    etcd_before = etcd_status()
    _ssh(MASTER, f"{ETCDCTL} compact {etcd_before['revision']} >/dev/null && "
                 f"{ETCDCTL.replace('--endpoints=https://127.0.0.1:2379', '--endpoints=' + ','.join(f'https://{n.ip}:2379' for n in config.ETCD_NODES))} "
                 "defrag --command-timeout=120s >/dev/null", timeout=300)
    _wait("kube-controller-manager, kube-scheduler active and the API ready", _control_plane_ready, timeout=180)
    out = {"down_s": round(time.monotonic() - started, 1), "etcd_before_defrag": etcd_before, "etcd": etcd_status(),
           "counts": _counts(), "memory": memory()}
    log(f"scale: down in {out['down_s']:.0f}s; etcd {etcd_before['db_size_mb']} → {out['etcd']['db_size_mb']} MB; "
        f"{out['counts']}")
    return out


def _control_plane_ready() -> bool:
    """After the restart of the controllers: what scale changed is back (not a full lab repair, which would apply
    this checkout's idea of the lab's shape to a lab another checkout may have built)."""
    active = _ssh(MASTER, "systemctl is-active " + " ".join(BOOSTED_UNITS), check=False).split()
    return active == ["active"] * len(BOOSTED_UNITS) and _kubectl("get", "--raw", "/readyz", check=False).returncode == 0


def _delete_scale_events() -> None:
    """Events about what the scale run created and removed: the node controller's about the scale nodes (namespace
    default), the scheduler's and the DaemonSet controller's about calico-node pods that no longer exist
    (kube-system). They would otherwise linger for the apiserver's event TTL."""
    pods = set(_kubectl("get", "pods", "-n", "kube-system", "-o", "name").stdout.replace("pod/", "").split())
    for ns in ("default", "kube-system"):
        events = json.loads(_kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
        names = []
        for ev in events:
            obj = ev.get("involvedObject", {})
            name, kind = obj.get("name", ""), obj.get("kind")
            msg_pod = (ev.get("message") or "").rsplit(" ", 1)[-1]
            if (kind == "Node" and name.startswith("scale-node-")) or \
               (kind == "Pod" and name.startswith("calico-node-") and name not in pods) or \
               (kind == "DaemonSet" and name == "calico-node" and msg_pod.startswith("calico-node-") and msg_pod not in pods):
                names.append(ev["metadata"]["name"])
        _parallel(lambda n, ns=ns: _call("DELETE", f"/api/v1/namespaces/{ns}/events/{n}", missing_ok=True), names)
        if names:
            log(f"scale: deleted {len(names)} events in {ns} about removed scale objects")


@contextlib.contextmanager
def scaled(factor: float = 1.0, spec: Spec | None = None, nodes_only: bool = False, rest_seconds: float = 60):
    """Scale up, yield what was created, and always scale down (hold the lab lock around it)."""
    spec = (spec or Spec()).scaled(factor)
    info = None
    try:
        info = up(spec, nodes_only=nodes_only, rest_seconds=rest_seconds)
        yield info
    finally:
        gone = down()
        if info is not None:
            info["down"] = gone


def _held() -> bool:
    return os.environ.get("KUBEOPS_LAB_LOCK_HELD_BY_PARENT") == "1"


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab scale", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("up", "run"):
        p = sub.add_parser(name)
        p.add_argument("--factor", type=float, default=1.0, help="size relative to 2,000 nodes / 10,000 pods")
        if name == "run":
            p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ...: run it while scaled")
    p = sub.add_parser("soak", help="scale up, watch nodes Ready and the control plane's CPU, scale down")
    p.add_argument("--factor", type=float, default=1.0, help="size relative to 2,000 nodes / 10,000 pods")
    p.add_argument("--minutes", type=float, default=15, help="how long to watch (default 15)")
    p.add_argument("--interval", type=float, default=60, help="seconds per sample (default 60)")
    p.add_argument("--nodes-only", action="store_true", help="only the nodes, no namespaces, workloads or faults")
    p.add_argument("--out", help="also write the JSON result to this file")
    sub.add_parser("down")
    sub.add_parser("status")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "status":
            print(json.dumps({"leftovers": leftovers(), "memory_mib": memory(), "etcd": etcd_status()}, indent=1))
            return 0
        if args.cmd == "soak":
            with lab_lock():
                text = json.dumps(soak(Spec().scaled(args.factor), args.minutes, args.nodes_only, args.interval), indent=1)
            if args.out:
                with open(args.out, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
            print(text)
            return 0
        if args.cmd == "down":
            with lab_lock():
                print(json.dumps(down(), indent=1))
            return 0
        if args.cmd == "up":
            if not _held():
                raise LabError("scale objects disturb everyone's integration tests: run `python -m lab scale run -- CMD`, "
                               "or hold the lab lock yourself (flock /run/kubeops-lab.lock env "
                               "KUBEOPS_LAB_LOCK_HELD_BY_PARENT=1 ...) and scale down before you release it")
            print(json.dumps(up(Spec().scaled(args.factor)), indent=1))
            return 0
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            raise LabError("scale run needs a command: python -m lab scale run -- CMD ...")
        with lab_lock(), scaled(args.factor):
            return subprocess.run(command, check=False).returncode
    except LabError as exc:
        print(f"lab scale: {exc}", file=sys.stderr)
        return 1
