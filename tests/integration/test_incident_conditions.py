"""The incident runbook under an incident's own conditions, on the lab: a partitioned node with a StatefulSet pod on it,
yesterday's Evicted pods, a cleanup aimed at kube-system, the API failing half-way (issue 16's rehearsals)."""
from __future__ import annotations

import base64
import http.client
import http.server
import json
import ssl
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from lab import cluster, faults

PLAYBOOK = "playbooks/incident_k8s_unreachable.yml"
STATEFUL_POD = f"{cluster.STATEFUL[0]}-0"


def pod_json(lab, namespace: str, name: str) -> dict | None:
    proc = lab.kubectl("get", "pod", "-n", namespace, name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def pods(lab, namespace: str, selector: str | None = None) -> list[dict]:
    args = ["get", "pods", "-n", namespace, "-o", "json"] + (["-l", selector] if selector else [])
    return json.loads(lab.kubectl(*args).stdout)["items"]


def audit(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def record(report_dir: Path) -> dict:
    files = sorted(report_dir.glob("incident-*.json"))
    assert files, f"no incident record in {report_dir}"
    return json.loads(files[-1].read_text())


def established(lab, host: str) -> bool:
    out = lab.ssh(host, "birdcl -s /var/run/calico/bird.ctl show protocols", check=False).stdout
    rows = [line for line in out.splitlines() if line.startswith("Mesh_")]
    return bool(rows) and all("Established" in line for line in rows)


def run(lab, work: Path, **extra) -> tuple[int, str]:
    extra_vars = {"kubeops_audit_log": str(work / "audit.log"), "incident_report_dir": str(work / "reports"), **extra}
    proc = lab.playbook(PLAYBOOK, extra_vars=extra_vars)
    return proc.returncode, proc.stdout + proc.stderr


# -- a partitioned node -----------------------------------------------------------------------------------------
@pytest.fixture()
def partitioned(lab):
    """node2 cut off from the apiserver (`python -m lab fault inject partition`); lifted afterwards, whatever happened."""
    faults.ensure()
    try:
        faults.partition_inject()
        evicted = pod_json(lab, "developer-center", STATEFUL_POD)
        assert evicted and evicted["metadata"].get("deletionTimestamp"), evicted
        yield evicted
    finally:
        faults.partition_undo()


def test_partition_leaves_the_statefulset_pod_waiting_for_its_node_and_completes_the_other_steps(
        lab, partitioned, tmp_path):
    """1.1.0 force-deleted app-db-0 (grace period 0) while node2 may still run it, then waited 180 s for a replacement
    that cannot start anywhere else, and step 3 failed."""
    uid = partitioned["metadata"]["uid"]
    # the pod is past the runbook's allowance for a stuck pod (lowered to 5 s here: 60 s in the handbook's defaults)
    grace_end = time.mktime(time.strptime(partitioned["metadata"]["deletionTimestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    lab.wait(lambda: time.time() > grace_end + 7, "app-db-0 past its allowance", 60)
    rc, out = run(lab, tmp_path, incident_pod_cleanup_terminating_seconds=5,
                  # app-base may have its pod on node2, which cannot become Ready during the partition: scale nothing
                  incident_scale=[{"namespace": "developer-center", "name": "app-base", "replicas": 1}])
    assert rc == 0, out
    still = pod_json(lab, "developer-center", STATEFUL_POD)
    assert still and still["metadata"]["uid"] == uid and still["metadata"].get("deletionTimestamp"), still
    assert not [a for a in audit(tmp_path / "audit.log") if a["target"].endswith(STATEFUL_POD)]
    rec = record(tmp_path / "reports")
    assert rec["problems"] == []
    step3 = [e for e in rec["timeline"] if e["step"] == 3]
    assert step3 and step3[0]["outcome"] in ("unchanged", "changed"), step3
    assert f"developer-center/{STATEFUL_POD} waiting for node node2" in step3[0]["message"], step3
    assert {e["step"] for e in rec["timeline"]} == set(range(1, 10)), [(e["step"], e["title"]) for e in rec["timeline"]]
    # step 1 looked at node2's services (its kubelet runs: a partition is not a stopped unit), and the record kept it
    node2_step1 = [e for e in rec["timeline"] if e["step"] == 1 and e["host"] == "node2"]
    assert node2_step1 and node2_step1[0]["message"] == "every node service active", node2_step1
    assert any(f["id"] == "nodes.ready" and f["target"] == "node2" and f["status"] == "critical" for f in rec["findings"])


# -- yesterday's Evicted pods -------------------------------------------------------------------------------------
@pytest.fixture()
def leftovers(lab):
    """Eight Evicted app-base pods, a crash loop, app-base at 1, BIRD down on node1; undone afterwards."""
    faults.ensure()
    done = []
    try:
        faults.app_base_inject()
        done.append("app-base-1")
        faults.evicted_inject(8)
        done.append("evicted")
        for name in ("crashloop", "bgp-down"):
            faults.FAULTS[name][0]()
            done.append(name)
        lab.wait(lambda: not established(lab, "master1"), "master1 sees node1's BGP session down", 60)
        yield
    finally:
        for name in reversed(done):
            faults.FAULTS[name][1]()
        lab.wait(lambda: established(lab, "master1") and established(lab, "node2"), "the BGP mesh Established again", 120)


def test_eight_evicted_leftovers_do_not_stop_the_scale_and_calico_steps(lab, leftovers, tmp_path):
    """1.1.0: '9 abnormal pods match, more than max_pods=5: refusing', and steps 5 and 9 never ran."""
    rc, out = run(lab, tmp_path)
    assert rc == 0, out
    lines = audit(tmp_path / "audit.log")
    deleted = [a for a in lines if a["action"] == "delete_pod"]
    assert len(deleted) == 9 and sum(a["before"]["reason"] == "Evicted" for a in deleted) == 8, deleted
    assert [a["target"] for a in lines if a["action"] == "scale"] == ["developer-center/Deployment/app-base"]
    assert [a["target"] for a in lines if a["action"] == "restart_calico_node"] == ["node1"]
    assert not [p for p in pods(lab, "developer-center") if p["status"].get("phase") == "Failed"]
    assert established(lab, "node1")
    rec = record(tmp_path / "reports")
    assert rec["problems"] == [] and {e["outcome"] for e in rec["timeline"] if e["step"] in (3, 5)} == {"changed"}


# -- kube-system ------------------------------------------------------------------------------------------------
@pytest.fixture()
def crashing_controllers(lab):
    """calico-kube-controllers in CrashLoopBackOff (the lab's crash loop Stage); its replacement is healthy."""
    faults.ensure()
    pod = [p for p in pods(lab, "kube-system", "k8s-app=calico-kube-controllers")
           if not p["metadata"].get("deletionTimestamp")][0]
    name = pod["metadata"]["name"]
    lab.kubectl("annotate", "pod", "-n", "kube-system", name, f"{faults.ANNOTATION}=crashloop")
    try:
        lab.wait(lambda: any((c.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
                             for c in (pod_json(lab, "kube-system", name) or {}).get("status", {}).get("containerStatuses", [])),
                 f"{name} in CrashLoopBackOff", faults.CRASHLOOP_SECONDS * 4)
        yield pod
    finally:
        faults.crashloop_undo()
        lab.wait(lambda: any(p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
                             and faults.ANNOTATION not in (p["metadata"].get("annotations") or {})
                             for p in pods(lab, "kube-system", "k8s-app=calico-kube-controllers")),
                 "a healthy calico-kube-controllers pod", 90)


def test_pod_cleanup_on_kube_system_refuses_without_confirmation(lab, crashing_controllers, tmp_path):
    """1.1.0 deleted calico-kube-controllers without a question."""
    log = tmp_path / "audit.log"
    args = {"kubeconfig": str(lab.kubeconfig), "namespaces": ["kube-system"]}
    for check in (True, False):
        result = lab.module("localhost", "kubeops.runbook.k8s_pod_cleanup", args, check=check,
                            extra_vars={"kubeops_audit_log": str(log)})
        assert result["failed"] and not result.get("changed"), result
        assert result["msg"] == ("pod cleanup of namespaces kube-system is in the protected namespace kube-system; "
                                 "refusing (set allow_protected_namespace=true if that is really meant)"), result
    assert pod_json(lab, "kube-system", crashing_controllers["metadata"]["name"])["metadata"]["uid"] == \
        crashing_controllers["metadata"]["uid"]
    assert audit(log) == []


# -- the API failing half-way ------------------------------------------------------------------------------------
class FlakyApiProxy:
    """A plain-HTTP reverse proxy on 127.0.0.1 in front of the lab's kube-apiserver (client certificate of the lab's
    admin kubeconfig): every request reaches the real apiserver except the n-th DELETE, answered 503 the way an
    overloaded apiserver or the load balancer in front of it answers. The modules talk real HTTP to it; only that one
    answer is not the apiserver's."""

    def __init__(self, kubeconfig: Path, fail_delete: int):
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster_cfg, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        self.upstream = cluster_cfg["server"].removeprefix("https://")
        self._dir = tempfile.TemporaryDirectory(prefix="kubeops-proxy-")
        files = {}
        for key, name in (("certificate-authority-data", "ca"), ("client-certificate-data", "cert"),
                          ("client-key-data", "key")):
            source = cluster_cfg if name == "ca" else user
            files[name] = Path(self._dir.name) / f"{name}.pem"
            files[name].write_bytes(base64.b64decode(source[key]))
        self.context = ssl.create_default_context(cafile=str(files["ca"]))
        self.context.load_cert_chain(str(files["cert"]), str(files["key"]))
        self.fail_delete, self.deletes, self.failed = fail_delete, 0, []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):   # quiet
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "DELETE":
                    proxy.deletes += 1
                    if proxy.deletes == proxy.fail_delete:
                        proxy.failed.append(self.path)
                        payload = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                              "message": "the server is currently unable to handle the request",
                                              "reason": "ServiceUnavailable", "code": 503}).encode()
                        self._send(503, "Service Unavailable", {"Content-Type": "application/json"}, payload)
                        return
                conn = http.client.HTTPSConnection(proxy.upstream, context=proxy.context, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                keep = {k: v for k, v in resp.getheaders()
                        if k.lower() not in ("transfer-encoding", "connection", "content-length")}
                self._send(resp.status, resp.reason, keep, data)
                conn.close()

            def _send(self, status, reason, headers, data):
                self.send_response(status, reason)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_DELETE = do_POST = do_PATCH = do_PUT = _forward

        return Handler

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self._dir.cleanup()


@pytest.fixture()
def two_evicted(lab):
    faults.ensure()
    try:
        faults.evicted_inject(2)
        yield sorted(p["metadata"]["name"] for p in pods(lab, "developer-center", "app=app-base")
                     if p["status"].get("reason") == "Evicted")
    finally:
        faults.evicted_undo()


def test_a_503_half_way_leaves_the_first_delete_audited_and_the_task_changed(lab, two_evicted, tmp_path):
    """1.1.0: the task said 'cannot delete pod' with changed=false and the audit log had nothing, though the first pod
    was gone."""
    assert len(two_evicted) == 2, two_evicted
    log = tmp_path / "audit.log"
    with FlakyApiProxy(lab.kubeconfig, fail_delete=2) as proxy:
        result = lab.module("localhost", "kubeops.runbook.k8s_pod_cleanup",
                            {"host": proxy.url, "namespaces": ["developer-center"], "label_selector": "app=app-base",
                             "reasons": ["Evicted"]}, extra_vars={"kubeops_audit_log": str(log)})
    assert proxy.deletes == 2 and len(proxy.failed) == 1, (proxy.deletes, proxy.failed)
    assert result["failed"] and result["changed"] is True, result
    assert "HTTP 503" in result["msg"] and "(audited), then" in result["msg"], result["msg"]
    left = sorted(p["metadata"]["name"] for p in pods(lab, "developer-center", "app=app-base")
                  if p["status"].get("reason") == "Evicted")
    gone = sorted(set(two_evicted) - set(left))
    assert len(gone) == 1 and len(left) == 1 and proxy.failed[0].endswith(f"/pods/{left[0]}"), (gone, left, proxy.failed)
    lines = audit(log)
    assert [(a["action"], a["target"], a["check_mode"]) for a in lines] == [
        ("delete_pod", f"developer-center/{gone[0]}", False)], lines
