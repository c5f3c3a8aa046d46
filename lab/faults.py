"""Faults the incident runbooks repair, each with a one-line inject and undo (`python -m lab fault ...`).

The lab breaks the way the handbook's clusters break, as far as kwok allows:

- `crashloop`          a developer-center pod in CrashLoopBackOff whose restart count keeps growing: a kwok Stage
                       (below) drives pods annotated `lab.kubeops/fault=crashloop` - container waiting
                       CrashLoopBackOff, last state terminated Error, restartCount + 1 and a Warning BackOff event
                       every 15 s. Deleting the pod ends it: the replacement has no annotation.
- `evicted`            an app-base pod Failed with reason Evicted (status written through the status subresource, as
                       the kubelet does); its ReplicaSet has already started a replacement.
- `stuck-terminating`  an app-base pod deleted with a 1 s grace period that never goes away: kwok plays a kubelet that
                       never confirms the deletion of pods annotated `lab.kubeops/fault=stuck-terminating` (the lab's
                       pod-delete Stage leaves them alone). A delete with grace period 0 removes it.
- `bgp-down`           BIRD stopped on node1: every BGP session with node1 leaves Established.
- `app-base-1`         developer-center/app-base scaled to 1 replica (the handbook wants 2; the lab's own count is 1).
- `partition`          node2 cut off from the apiserver, as a network partition does: its kubelet (kwok) keeps running
                       but no packet reaches kube-apiserver (an iptables DROP in node2's own network namespace), so the
                       node's lease expires, the Node turns NotReady (Unknown) after the controller-manager's 20 s grace,
                       the node.kubernetes.io/unreachable taint is added and evicts the StatefulSet pod app-db-0 after
                       its 10 s toleration; the pod stays Terminating, since no kubelet confirms it. SSH, etcd and BGP of
                       node2 keep working, as when only the apiserver is out of reach. Undo lifts the DROP: kwok reports
                       again, finishes the deletion, app-db-0 is recreated on node2 and the node's pods Ready again.

In a real cluster BIRD runs inside the calico-node container; in the lab it is a systemd unit beside a kwok pod.
`lab-calico-node-watch.service` on each worker ties them together: when the node's calico-node pod is deleted it
stops `bird` (the container went away) and when a new calico-node pod runs on the node it restarts `bird` - so
deleting the pod, as the handbook's runbook does, really repairs the node's BGP sessions.

`ensure()` installs the Stages (a drop-in adding `--config` to the kwok kubelet) and the watcher on a running lab;
`python -m lab up` calls it, so `make lab-up` brings a running lab up to date without a rebuild.
"""
from __future__ import annotations

import json
import time

from . import api, cluster, config, units
from .util import LabError, lab_lock, log, run as run_cmd

ANNOTATION = "lab.kubeops/fault"
STAGES_PATH = "/etc/kwok/lab-stages.yaml"
KUBELET_DROPIN = "/etc/systemd/system/kubelet.service.d/20-lab-stages.conf"
WATCH_SCRIPT = "/usr/local/lib/kubeops-lab/calico_node_watch.py"
WATCH_UNIT = "lab-calico-node-watch"
CRASHLOOP_SECONDS = 15
PARTITION_NODE = "node2"
PARTITION_COMMENT = "kubeops-lab-partition"
NODE_DOWN = "node2"

# kwok replaces its default pod Stages when any pod Stage is configured: pod-ready, pod-complete and pod-delete
# are kwok v0.6's defaults (pod-delete leaves pods of the stuck-terminating fault alone), then the lab's own.
STAGES = f"""\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
  selector:
    matchExpressions:
    - {{key: '.metadata.deletionTimestamp', operator: 'DoesNotExist'}}
    - {{key: '.status.podIP', operator: 'DoesNotExist'}}
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      conditions:
      - lastTransitionTime: {{{{ $now | Quote }}}}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{{{ $now | Quote }}}}
        status: "True"
        type: Ready
      - lastTransitionTime: {{{{ $now | Quote }}}}
        status: "True"
        type: ContainersReady
      {{{{ range .spec.readinessGates }}}}
      - lastTransitionTime: {{{{ $now | Quote }}}}
        status: "True"
        type: {{{{ .conditionType | Quote }}}}
      {{{{ end }}}}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - image: {{{{ .image | Quote }}}}
        name: {{{{ .name | Quote }}}}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
      initContainerStatuses:
      {{{{ range .spec.initContainers }}}}
      - image: {{{{ .image | Quote }}}}
        name: {{{{ .name | Quote }}}}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            finishedAt: {{{{ $now | Quote }}}}
            reason: Completed
            startedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
      hostIP: {{{{ NodeIPWith .spec.nodeName | Quote }}}}
      podIP: {{{{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}}}
      phase: Running
      startTime: {{{{ $now | Quote }}}}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
  selector:
    matchExpressions:
    - {{key: '.metadata.deletionTimestamp', operator: 'DoesNotExist'}}
    - {{key: '.status.phase', operator: 'In', values: ['Running']}}
    - {{key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job']}}
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - image: {{{{ .image | Quote }}}}
        name: {{{{ .name | Quote }}}}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{{{ $now | Quote }}}}
            reason: Completed
            startedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
  selector:
    matchExpressions:
    - {{key: '.metadata.deletionTimestamp', operator: 'Exists'}}
    - {{key: '.metadata.annotations["{ANNOTATION}"]', operator: 'NotIn', values: ['stuck-terminating']}}
  next:
    finalizers: {{empty: true}}
    delete: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: lab-crashloop
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
  selector:
    matchExpressions:
    - {{key: '.metadata.deletionTimestamp', operator: 'DoesNotExist'}}
    - {{key: '.status.podIP', operator: 'Exists'}}
    - {{key: '.metadata.annotations["{ANNOTATION}"]', operator: 'In', values: ['crashloop']}}
  delay:
    durationMilliseconds: {CRASHLOOP_SECONDS * 1000}
  next:
    event:
      type: Warning
      reason: BackOff
      message: Back-off restarting failed container
    statusTemplate: |
      {{{{ $now := Now }}}}
      {{{{ $root := . }}}}
      conditions:
      - lastTransitionTime: {{{{ $now | Quote }}}}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{{{ $now | Quote }}}}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{{{ range $index, $item := .spec.containers }}}}
      {{{{ $old := index $root.status.containerStatuses $index }}}}
      - image: {{{{ $item.image | Quote }}}}
        name: {{{{ $item.name | Quote }}}}
        ready: false
        started: false
        restartCount: {{{{ add ( or $old.restartCount 0 ) 1 }}}}
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{{{ $now | Quote }}}}
            finishedAt: {{{{ $now | Quote }}}}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: {{{{ printf "back-off restarting failed container=%s pod=%s" $item.name $root.metadata.name | Quote }}}}
      {{{{ end }}}}
      phase: Running
"""

WATCH_PY = r'''#!/usr/bin/python3
"""Lab only: BIRD follows this node's calico-node pod, as it would inside the calico-node container.

The pod deleted -> stop bird; a new calico-node pod Running on this node -> restart bird.
Acts only on what the API says; when the API cannot be read, bird is left as it is.
"""
import json
import subprocess
import sys
import time

NODE = sys.argv[1]
KUBECTL = ["/app/kubernetes/server/bin/kubectl", "--kubeconfig=/etc/kubernetes/kubelet.kubeconfig",
           "-n", "kube-system"]
SELECT = ["-l", "k8s-app=calico-node", "--field-selector", "spec.nodeName=" + NODE]


def say(text):
    print(text, flush=True)


def bird(verb):
    say("calico-node pod changed: systemctl " + verb + " bird")
    subprocess.run(["systemctl", verb, "bird"], check=False)


def running(pod):
    return pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def current():
    out = subprocess.run(KUBECTL + ["get", "pods"] + SELECT + ["-o", "json", "--request-timeout=10s"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    pods = [p for p in json.loads(out.stdout)["items"] if running(p)]
    return pods[-1]["metadata"]["uid"] if pods else ""


def main():
    bird_uid = None
    while bird_uid is None:
        bird_uid = current()
        if bird_uid is None:
            time.sleep(5)
    say("following calico-node pod " + (bird_uid or "(none)") + " on " + NODE)
    while True:
        seen = current()            # after a broken watch: catch up on what happened meanwhile
        if seen and seen != bird_uid:
            bird("restart")
            bird_uid = seen
        watch = subprocess.Popen(KUBECTL + ["get", "pods"] + SELECT + ["--watch-only", "--output-watch-events",
                                 "-o", "json", "--request-timeout=0"], stdout=subprocess.PIPE, text=True)
        buf = ""
        for line in watch.stdout:      # one event per line (compact JSON); tolerate pretty-printed ones too
            buf += line
            try:
                event = json.loads(buf)
            except ValueError:
                continue
            buf = ""
            pod = event.get("object") or {}
            uid = pod.get("metadata", {}).get("uid")
            gone = event.get("type") == "DELETED" or pod.get("metadata", {}).get("deletionTimestamp")
            if gone and uid == bird_uid:
                bird("stop")
            elif not gone and uid != bird_uid and running(pod):
                bird("restart")
                bird_uid = uid
        watch.wait()
        time.sleep(2)


if __name__ == "__main__":
    main()
'''


def watch_unit(node: config.Node) -> str:
    return f"""[Unit]
Description=Lab: restart bird when this node's calico-node pod is replaced (BIRD lives in that pod on a real cluster)
After=network-online.target

[Service]
ExecStart=/usr/bin/python3 {WATCH_SCRIPT} {node.name}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


def kubelet_dropin(node: config.Node) -> str:
    exec_start = units.kubelet_exec(node.name, node.ip, node.extra["pod_cidr"])
    return f"""# Lab only: kwok with the lab's pod Stages (faults driven by the {ANNOTATION} annotation)
[Service]
ExecStart=
ExecStart={exec_start} \\
  --config={STAGES_PATH}
"""


def _workers() -> list[config.Node]:
    return [n for n in config.NODES if "kube_node" in n.groups and n.extra.get("pod_cidr")]


def _install(node: config.Node, files: dict[str, str]) -> bool:
    """Write files on a node when they differ; True when something changed."""
    changed = False
    for path, content in files.items():
        have = api.ssh(node.ip, f"cat {path} 2>/dev/null").stdout
        if have != content:
            proc = run_cmd(["ssh", "-i", api.KEY, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", f"root@{node.ip}",
                            f"mkdir -p $(dirname {path}) && cat > {path}.tmp && mv {path}.tmp {path}"],
                           check=False, capture=True, input=content, timeout=30)
            if proc.returncode != 0:
                raise LabError(f"cannot write {path} on {node.name}: {proc.stderr.strip()}")
            changed = True
    return changed


def install_stages(node: config.Node) -> bool:
    """Write the pod Stages and the kubelet drop-in that uses them; True when something changed (systemd reloaded).

    A lab being built calls this before the node's kubelet first starts, so the kubelet never has to be restarted
    for them: a restart right after the node registered made the node lifecycle controller mark the node's pods
    not Ready after the lab had already checked them.
    """
    if node not in _workers():
        return False
    changed = _install(node, {STAGES_PATH: STAGES, KUBELET_DROPIN: kubelet_dropin(node)})
    if changed:
        api.ssh(node.ip, "systemctl daemon-reload", check=True)
    return changed


def ensure() -> None:
    """Install the Stages and the calico-node watcher on every worker of a running lab (idempotent)."""
    for node in _workers():
        if install_stages(node):
            log(f"{node.name}: kwok kubelet restarted with the lab's pod Stages")
            api.ssh(node.ip, "systemctl daemon-reload && systemctl restart kubelet", check=True)
            api.wait_for(f"kubelet active on {node.name}",
                         lambda n=node: api.ssh(n.ip, "systemctl is-active kubelet").stdout.strip() == "active", 60)
            api.resync_pods(node.name)   # the node's pods Ready again, as after any kubelet restart in the lab
        if "calico" in node.groups:
            changed = _install(node, {WATCH_SCRIPT: WATCH_PY, f"/etc/systemd/system/{WATCH_UNIT}.service": watch_unit(node)})
            if changed:
                api.ssh(node.ip, f"systemctl daemon-reload && systemctl enable {WATCH_UNIT} && systemctl restart {WATCH_UNIT}",
                        check=True)
                log(f"{node.name}: {WATCH_UNIT} follows the node's calico-node pod")
            elif api.ssh(node.ip, f"systemctl is-active {WATCH_UNIT}").stdout.strip() != "active":
                api.ssh(node.ip, f"systemctl enable --now {WATCH_UNIT}", check=True)


# -- faults -----------------------------------------------------------------------------------------------
def _kubectl(*args: str, check: bool = True, input: str | None = None):
    return api.kubectl(api._info().bin_dir, *args, check=check, input=input)  # pylint: disable=protected-access


def _pods(namespace: str, app: str) -> list[dict]:
    return json.loads(_kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json").stdout)["items"]


def _healthy_pod(namespace: str, app: str) -> dict:
    """A Running, Ready, unannotated pod of the app; waits a little for one (a replacement may be starting)."""
    found: list[dict] = []

    def one() -> bool:
        for pod in _pods(namespace, app):
            conds = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            if pod["status"].get("phase") == "Running" and conds.get("Ready") == "True" \
                    and not pod["metadata"].get("deletionTimestamp") \
                    and ANNOTATION not in (pod["metadata"].get("annotations") or {}):
                found.append(pod)
                return True
        return False
    api.wait_for(f"a healthy {app} pod in {namespace}", one, 90)
    return found[0]


def _annotated(value: str) -> list[dict]:
    pods = json.loads(_kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    return [p for p in pods if (p["metadata"].get("annotations") or {}).get(ANNOTATION) == value]


def crashloop_inject() -> str:
    pod = _healthy_pod("developer-center", "developer-center-web")
    name = pod["metadata"]["name"]
    _kubectl("annotate", "pod", "-n", "developer-center", name, f"{ANNOTATION}=crashloop")
    api.wait_for(f"{name} in CrashLoopBackOff", lambda: any(
        (c.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        for p in _annotated("crashloop") for c in p["status"].get("containerStatuses", [])), CRASHLOOP_SECONDS * 4)
    return f"developer-center/{name} in CrashLoopBackOff (restarts grow every {CRASHLOOP_SECONDS}s)"


def crashloop_undo() -> str:
    pods = _annotated("crashloop")
    for pod in pods:
        _kubectl("delete", "pod", "-n", pod["metadata"]["namespace"], pod["metadata"]["name"], "--wait=false")
    return f"deleted {len(pods)} crash-looping pod(s); their controllers replace them"


def evicted_inject(count: int = 1) -> str:
    """``count`` app-base pods Evicted, one after the other (each time its ReplicaSet starts a replacement)."""
    done = [_evict_one() for _ in range(count)]
    return "; ".join(done)


def _evict_one() -> str:
    pod = _healthy_pod("developer-center", "app-base")
    name = pod["metadata"]["name"]
    _kubectl("annotate", "pod", "-n", "developer-center", name, f"{ANNOTATION}=evicted")
    status = {"status": {"phase": "Failed", "reason": "Evicted",
                         "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 4%.",
                         "conditions": [{"type": "Ready", "status": "False", "reason": "PodFailed"},
                                        {"type": "ContainersReady", "status": "False", "reason": "PodFailed"},
                                        {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                                         "message": "The node was low on resource: ephemeral-storage."}],
                         "containerStatuses": [{"name": c["name"], "image": c["image"], "ready": False, "restartCount": 0,
                                                "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                                                         "message": "The container could not be located when the pod was terminated"}}}
                                               for c in pod["spec"]["containers"]]}}
    _kubectl("patch", "pod", "-n", "developer-center", name, "--subresource=status", "--type=strategic", "-p", json.dumps(status))
    return f"developer-center/{name} Evicted (its ReplicaSet starts a replacement)"


def evicted_undo() -> str:
    pods = _annotated("evicted")
    for pod in pods:
        _kubectl("delete", "pod", "-n", pod["metadata"]["namespace"], pod["metadata"]["name"], "--wait=false")
    return f"deleted {len(pods)} evicted pod(s)"


def stuck_inject() -> str:
    pod = _healthy_pod("developer-center", "app-base")
    name = pod["metadata"]["name"]
    _kubectl("annotate", "pod", "-n", "developer-center", name, f"{ANNOTATION}=stuck-terminating")
    _kubectl("delete", "pod", "-n", "developer-center", name, "--grace-period=1", "--wait=false")
    return f"developer-center/{name} Terminating and never confirmed (grace period 1 s)"


def stuck_undo() -> str:
    pods = _annotated("stuck-terminating")
    for pod in pods:
        # without the annotation, kwok's pod-delete Stage finishes the deletion
        _kubectl("annotate", "pod", "-n", pod["metadata"]["namespace"], pod["metadata"]["name"], f"{ANNOTATION}-", check=False)
    return f"released {len(pods)} stuck Terminating pod(s)"


def bgp_inject() -> str:
    api.ssh(config.NODES_BY_NAME["node1"].ip, "systemctl stop bird", check=True)
    return "bird stopped on node1"


def bgp_undo() -> str:
    api.ssh(config.NODES_BY_NAME["node1"].ip, "systemctl start bird", check=True)
    return "bird started on node1"


def app_base_inject() -> str:
    _kubectl("scale", "deployment", "-n", "developer-center", "app-base", "--replicas=1")
    # the surplus pod goes away before anything else picks an app-base pod
    api.wait_for("developer-center/app-base down to 1 pod", lambda: len(
        [p for p in _pods("developer-center", "app-base") if not p["metadata"].get("deletionTimestamp")]) == 1, 60)
    return "developer-center/app-base scaled to 1"


def app_base_undo() -> str:
    # back to the lab's own replica count (whatever a runbook made of it), so the lab is as `make lab-up` made it
    replicas = dict((name, n) for name, n, _c in cluster.DEVELOPER_CENTER)["app-base"]
    _kubectl("scale", "deployment", "-n", "developer-center", "app-base", f"--replicas={replicas}")
    return f"developer-center/app-base scaled back to the lab's {replicas}"


def _partition_rule() -> str:
    master = config.NODES_BY_NAME["master1"]
    return f"OUTPUT -p tcp -d {master.ip} --dport 6443 -m comment --comment {PARTITION_COMMENT} -j DROP"


def unpartition(node: config.Node) -> bool:
    """Remove the partition drill's DROP rule from a node (every copy); True when there was one."""
    if "kube_node" not in node.groups:
        return False
    rule = _partition_rule()
    out = api.ssh(node.ip, f"n=0; while iptables -D {rule} 2>/dev/null; do n=$((n+1)); done; echo $n", check=True)
    return out.stdout.strip() not in ("", "0")


def _node_ready(name: str) -> bool:
    nodes = json.loads(_kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return any(n["metadata"]["name"] == name and c["type"] == "Ready" and c["status"] == "True"
               for n in nodes for c in n["status"].get("conditions", []))


def _stateful_pod() -> dict | None:
    name = cluster.STATEFUL[0]
    found = _kubectl("get", "pod", "-n", "developer-center", f"{name}-0", "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def partition_inject() -> str:
    node = config.NODES_BY_NAME[PARTITION_NODE]
    api.ensure_statefulset(api._info().bin_dir)  # pylint: disable=protected-access
    api.wait_for(f"{cluster.STATEFUL[0]}-0 Running on {PARTITION_NODE}", lambda: bool(
        (_stateful_pod() or {}).get("status", {}).get("phase") == "Running"), 120)
    rule = _partition_rule()
    api.ssh(node.ip, f"iptables -C {rule} 2>/dev/null || iptables -I {rule}", check=True)
    started = time.monotonic()
    api.wait_for(f"{PARTITION_NODE} NotReady", lambda: not _node_ready(PARTITION_NODE), 120)
    not_ready = time.monotonic() - started
    api.wait_for(f"{cluster.STATEFUL[0]}-0 evicted by the unreachable taint", lambda: bool(
        ((_stateful_pod() or {}).get("metadata") or {}).get("deletionTimestamp")), 120)
    return (f"{PARTITION_NODE} cut off from the apiserver: NotReady after {not_ready:.0f}s, developer-center/"
            f"{cluster.STATEFUL[0]}-0 evicted and Terminating after {time.monotonic() - started:.0f}s")


def partition_undo() -> str:
    node = config.NODES_BY_NAME[PARTITION_NODE]
    lifted = unpartition(node)
    api.resync_pods(PARTITION_NODE)      # node Ready again; its pods Ready again (kwok marks them Ready only once)
    api.wait_for(f"StatefulSet developer-center/{cluster.STATEFUL[0]} Ready",
                 lambda: api._statefulset_ready(api._info().bin_dir), 180)  # pylint: disable=protected-access
    return f"{PARTITION_NODE} {'reconnected' if lifted else 'was not partitioned'}; {cluster.STATEFUL[0]}-0 Ready"


def _link_down(node: config.Node) -> bool:
    """Whether the host side of a node's network cable (its veth on the lab bridge) exists and is set down."""
    out = run_cmd(["ip", "-o", "link", "show", node.veth], check=False, capture=True).stdout
    flags = out.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in out else ["UP"]
    return "UP" not in flags


def power_on_network(node: config.Node) -> bool:
    """Plug a node's cable back in after the node-down drill; True when it was out."""
    if not _link_down(node):
        return False
    run_cmd(["ip", "link", "set", node.veth, "up"])
    return True


def node_down_inject() -> str:
    """node2 gone as a powered-off machine is: its cable out (the host side of its veth down). Nothing reaches it
    (SSH, etcd peer and client traffic, BGP) and it reaches nothing (its kubelet stops renewing its lease)."""
    node = config.NODES_BY_NAME[NODE_DOWN]
    started = time.monotonic()
    run_cmd(["ip", "link", "set", node.veth, "down"])
    api.wait_for(f"{NODE_DOWN} NotReady", lambda: not _node_ready(NODE_DOWN), 120)
    # the node lifecycle controller marks the node's pods not Ready after the node, in a pass of its own (and again
    # on its next pass when an update failed): the drill is in place once that is done too, as on a real cluster a
    # few seconds after the node went NotReady
    api.wait_for(f"{NODE_DOWN}'s pods not Ready", lambda: _pods_marked_not_ready(NODE_DOWN), 60)
    return f"{NODE_DOWN} off the network (link {node.veth} down): NotReady after {time.monotonic() - started:.0f}s"


def _pods_marked_not_ready(name: str) -> tuple[bool, str]:
    """(every pod on the node the lab keeps Ready has lost its Ready condition, which of them still has it)."""
    pods = [pod for pod in api.node_pods(name) if api.kept_ready(pod)]
    still = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods if api.pod_ready(p)]
    if not pods:
        return False, f"no Running pod on {name}"
    return not still, f"still Ready: {', '.join(still[:5])}"


def node_down_undo() -> str:
    node = config.NODES_BY_NAME[NODE_DOWN]
    was_down = power_on_network(node)
    api.wait_for(f"SSH to {NODE_DOWN}", lambda: api.ssh(node.ip, "true", check=False).returncode == 0, 120)
    api.resync_pods(NODE_DOWN)      # node Ready again; its pods Ready again (kwok marks them Ready only once)
    api.wait_for(f"StatefulSet developer-center/{cluster.STATEFUL[0]} Ready",
                 lambda: api._statefulset_ready(api._info().bin_dir), 180)  # pylint: disable=protected-access
    return f"{NODE_DOWN} {'back on the network' if was_down else 'was not down'}; its pods Ready"


FAULTS = {
    "app-base-1": (app_base_inject, app_base_undo, "developer-center/app-base scaled to 1 replica"),
    "crashloop": (crashloop_inject, crashloop_undo, "a developer-center pod in CrashLoopBackOff, restarts growing"),
    "evicted": (evicted_inject, evicted_undo, "an app-base pod Evicted"),
    "stuck-terminating": (stuck_inject, stuck_undo, "an app-base pod stuck Terminating"),
    "bgp-down": (bgp_inject, bgp_undo, "BIRD stopped on node1, its BGP sessions down"),
    "partition": (partition_inject, partition_undo,
                  "node2 cut off from the apiserver: NotReady, its StatefulSet pod evicted and stuck Terminating"),
    "node-down": (node_down_inject, node_down_undo,
                  "node2 off the network as if powered off: unreachable, NotReady, its BGP sessions and etcd member down"),
}
# `all` is what the incident runbook repairs; a partition is a drill the runbook must survive, not repair: by name only.
DRILLS = ("partition", "node-down")


def run(action: str, names: list[str]) -> int:
    if action == "list":
        for name, (_i, _u, what) in FAULTS.items():
            print(f"{name:18} {what}{' (by name only, not in all)' if name in DRILLS else ''}")
        return 0
    chosen = [n for n in FAULTS if n not in DRILLS] if names in ([], ["all"]) else names
    unknown = [n for n in chosen if n not in FAULTS]
    if unknown:
        raise LabError(f"unknown fault {unknown[0]!r}; one of: {', '.join(FAULTS)}, all")
    with lab_lock():
        if not api.running():
            raise LabError("the lab is not up: `make lab-up` first")
        ensure()
        for name in chosen:
            inject, undo, _what = FAULTS[name]
            started = time.monotonic()
            done = (inject if action == "inject" else undo)()
            log(f"{action} {name}: {done} ({time.monotonic() - started:.0f}s)")
    return 0
