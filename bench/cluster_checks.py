"""Cost of the Kubernetes checks of k8s_cluster_info against `kubectl get pods -A -o json`, the floor.

On the lab it creates N API-only pods in a namespace of their own (schedulerName nobody serves, so they stay
Pending and nothing runs them; younger than the 300 s Pending threshold, so a parallel inspection does not flag
them), then times, each `--repeat` times (median reported):

  floor    kubectl get pods -A -o json           one LIST, JSON printed (the operator's manual check)
  list     _k8s.list_all(pods)                     the same LIST through the Python client, paginated
  check    _k8s_checks.inspect_cluster(pods)      LIST + all pod checks -> findings
  all      inspect_cluster(all checks)            nodes, deployments, pods, services, endpoints, policy, calico pods
  module   ansible localhost -m k8s_cluster_info   the module as a playbook would run it (adds Ansible's start-up)

and prints the ratios to the floor. The namespace is deleted afterwards (also on Ctrl-C).
    python -m bench --pods 2000 --repeat 3
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".build"))
sys.path.insert(0, str(ROOT))

NAMESPACE = "kubeops-bench"


def kubectl(info, *args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(info.kubectl), "--kubeconfig", str(info.kubeconfig), *args], input=input_text,
                          capture_output=True, text=True, check=check, timeout=600)


def template(info) -> dict:
    """A realistic pod: the spec of one of the lab's product pods (env, resources, probes)."""
    pods = json.loads(kubectl(info, "get", "pods", "-n", "product", "-o", "json").stdout)["items"]
    spec = copy.deepcopy(pods[0]["spec"])
    for key in ("nodeName", "nodeSelector", "tolerations"):
        spec.pop(key, None)
    spec["schedulerName"] = "kubeops-bench-unscheduled"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": NAMESPACE, "labels": {"app": "kubeops-bench"}},
            "spec": spec}


def create(info, count: int, batch: int = 500) -> None:
    kubectl(info, "create", "namespace", NAMESPACE)
    base = template(info)
    for start in range(0, count, batch):
        items = []
        for i in range(start, min(count, start + batch)):
            pod = copy.deepcopy(base)
            pod["metadata"]["name"] = f"bench-{i:06d}"
            items.append(pod)
        kubectl(info, "create", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        print(f"  created {min(count, start + batch)}/{count} pods", flush=True)


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=2000, help="API-only pods to create (default 2000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="leave the namespace in place")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    from lab import api as lab_api  # pylint: disable=import-outside-toplevel
    from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s, _k8s_checks  # pylint: disable=import-outside-toplevel

    info = lab_api.ensure_up()
    if kubectl(info, "get", "namespace", NAMESPACE, check=False).returncode == 0:
        print(f"namespace {NAMESPACE} exists: delete it first (kubectl delete namespace {NAMESPACE})", file=sys.stderr)
        return 1
    print(f"creating {args.pods} API-only pods in namespace {NAMESPACE} ...", flush=True)
    results: dict = {}
    try:
        create(info, args.pods)
        client = _k8s.build_client({"kubeconfig": str(info.kubeconfig)})
        total = len(_k8s.list_all(client, "pods").items)
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"))
        module_cmd = [str(ROOT / ".venv/bin/ansible"), "localhost", "-i", str(info.inventory), "-m", "kubeops.runbook.k8s_cluster_info",
                      "-a", json.dumps({"kubeconfig": str(info.kubeconfig), "checks": ["pods"], "page_size": args.page_size}),
                      "-e", json.dumps({"ansible_python_interpreter": sys.executable})]
        cases = {
            "floor": lambda: kubectl(info, "get", "pods", "-A", "-o", "json"),
            "list": lambda: _k8s.list_all(client, "pods", page_size=args.page_size),
            "check": lambda: _k8s_checks.inspect_cluster(client, {"checks": ["pods"], "page_size": args.page_size}),
            "all": lambda: _k8s_checks.inspect_cluster(client, {"page_size": args.page_size}),
            "module": lambda: subprocess.run(module_cmd, env=env, capture_output=True, check=True, timeout=600),
        }
        for name, func in cases.items():
            runs = [timed(func) for _ in range(args.repeat)]
            results[name] = {"median_s": round(statistics.median(runs), 3), "runs_s": [round(r, 3) for r in runs]}
        findings = _k8s_checks.inspect_cluster(client, {"checks": ["pods"], "page_size": args.page_size})
        results["pods_listed"] = total
        results["api_requests_pods"] = findings["api_requests"]["pods"]
        results["pod_findings"] = len(findings["findings"])
    finally:
        if not args.keep:
            kubectl(info, "delete", "namespace", NAMESPACE, "--wait=false", check=False)
    floor = results["floor"]["median_s"]
    print(f"\n{results['pods_listed']} pods in the cluster, LIST in {results['api_requests_pods']} pages of {args.page_size}, "
          f"{results['pod_findings']} pod findings")
    print(f"{'case':8} {'median s':>9} {'x floor':>8}")
    for name in ("floor", "list", "check", "all", "module"):
        med = results[name]["median_s"]
        results[name]["ratio_to_floor"] = round(med / floor, 2)
        print(f"{name:8} {med:9.3f} {med / floor:8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0
