"""P1 cluster inspection at the handbook's scale: k8s_cluster_info (all kinds, all checks) as a whole
ansible-playbook process, against kubectl's -o json of the same kinds (the floor), the raw LISTs, the table an
operator types, Ansible's fixed cost, Popeye, and the naive one-kubernetes.core.k8s_info-task-per-kind playbook.

Options (--set): popeye=0 skips Popeye (its build takes minutes once), naive=0 skips the kubernetes.core
playbook, page_size=N passes another page size to the module (default: the module's, 500), profile=0 skips the
untimed cProfile runs of the module's logic (cached and consistent reads), before=COLLECTIONS_PATH adds the
module of another checkout (its ansible_collections parent, e.g. main's .build) to the interleaved runs.
"""
from __future__ import annotations

import json
import os
import subprocess

from bench import _case, _peers
from bench._measure import Command, Stats

CASE = "P1"
TITLE = "cluster inspection (k8s_cluster_info)"
NEEDS = ("lab", "scale")
# The kinds the module's default checks list (every workload kind since 2.0.0), so kubectl's floor reads the same.
KINDS = {"nodes": "/api/v1/nodes", "deployments": "/apis/apps/v1/deployments", "pods": "/api/v1/pods",
         "services": "/api/v1/services", "endpoints": "/api/v1/endpoints", "daemonsets": "/apis/apps/v1/daemonsets",
         "statefulsets": "/apis/apps/v1/statefulsets", "jobs": "/apis/batch/v1/jobs", "cronjobs": "/apis/batch/v1/cronjobs",
         "persistentvolumeclaims": "/api/v1/persistentvolumeclaims",
         "horizontalpodautoscalers": "/apis/autoscaling/v2/horizontalpodautoscalers"}

MODULE_PLAY = """- name: Inspect the cluster as the cluster_inspection role does
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Inspect nodes, workloads, pods, services, claims, autoscalers and workload policy
      kubeops.runbook.k8s_cluster_info: {args}
      register: bench_k8s
"""
PING_PLAY = """- name: Ansible's fixed cost of a one-task playbook
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""
NAIVE_PLAY_HEAD = """- name: The naive way, one kubernetes.core.k8s_info task per kind
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
"""
NAIVE_TASK = """    - name: List {kind}
      kubernetes.core.k8s_info:
        kubeconfig: {kubeconfig}
        api_version: {api_version}
        kind: {kind}
      register: bench_{name}
"""
NAIVE_KINDS = {"nodes": ("v1", "Node"), "deployments": ("apps/v1", "Deployment"), "pods": ("v1", "Pod"),
               "services": ("v1", "Service"), "endpoints": ("v1", "Endpoints"), "daemonsets": ("apps/v1", "DaemonSet"),
               "statefulsets": ("apps/v1", "StatefulSet"), "jobs": ("batch/v1", "Job"), "cronjobs": ("batch/v1", "CronJob"),
               "persistentvolumeclaims": ("v1", "PersistentVolumeClaim"),
               "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler")}


def _verify(ctx: _case.Context) -> dict:
    """One untimed run that keeps the result: the module saw every object and found the injected faults."""
    out = ctx.work / "verify.json"
    play = (ctx.work / "module.yml").read_text() + f"""
    - name: Keep the result for the benchmark
      ansible.builtin.copy:
        content: "{{{{ bench_k8s | to_json }}}}"
        dest: {out}
        mode: "0600"
"""
    (ctx.work / "verify.yml").write_text(play)
    subprocess.run([ctx.bin("ansible-playbook"), "-i", "localhost,", str(ctx.work / "verify.yml")],
                   env={**os.environ, **ctx.env}, capture_output=True, text=True, check=True, timeout=900)
    res = json.loads(out.read_text())
    counts: dict[str, int] = {}
    for f in res["findings"]:
        if f["status"] != "ok":
            counts[f"{f['id']} {f['status']}"] = counts.get(f"{f['id']} {f['status']}", 0) + 1
    return {"objects": res["objects"], "api_requests": res["api_requests"], "findings": len(res["findings"]),
            "not_ok": counts}


PROFILE = """
import cProfile, io, json, pstats, resource, sys, time
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s, _k8s_checks
params = {"kubeconfig": sys.argv[1], "request_timeout": 120}
options = {"checks": list(_k8s_checks.DEFAULT_CHECKS), "consistent_read": sys.argv[2] == "consistent"}
prof = cProfile.Profile()
start = time.perf_counter()
prof.enable()
result = _k8s_checks.inspect_cluster(_k8s.build_client(params), options)
prof.disable()
wall = time.perf_counter() - start
text = json.dumps(result)
out = io.StringIO()
pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
print(json.dumps({"wall_s": round(wall, 3), "result_bytes": len(text), "maxrss_mb": round(resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "objects": result["objects"], "top": out.getvalue()[-6000:]}))
"""


def profile(ctx: _case.Context) -> dict:
    """Where the module's own time goes (untimed, once): its logic under cProfile in a plain python process against
    the same API (what Ansible adds is the module run minus this)."""
    out = {}
    for mode in ("cache", "consistent"):
        proc = subprocess.run([ctx.python, "-c", PROFILE, str(ctx.lab.kubeconfig), mode], env={**os.environ, **ctx.env},
                              capture_output=True, text=True, check=False, timeout=900)
        out[mode] = (json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0
                     else {"error": proc.stderr.strip()[-500:]})
    return out


def _try_once(ctx: _case.Context, name: str, argv: list[str], env: dict) -> str | None:
    """Run a peer once, untimed; None when it works, else why it failed (so one peer cannot sink the case)."""
    proc = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=False, timeout=1800)
    if proc.returncode == 0:
        return None
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "fatal" in line or "FAILED" in line or "msg" in line]
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    why = lines[-1] if lines else (tail[-1] if tail else "?")
    ctx.log(f"P1 {name} failed (exit {proc.returncode}), left out of the measurement: {why[:500]}")
    return f"exit {proc.returncode}: {why[:500]}"


def run(ctx: _case.Context) -> dict:
    lab = ctx.lab
    kubectl = [str(lab.kubectl), "--kubeconfig", str(lab.kubeconfig)]
    args = {"kubeconfig": str(lab.kubeconfig)}
    if "page_size" in ctx.options:
        args["page_size"] = int(ctx.options["page_size"])
    (ctx.work / "module.yml").write_text(MODULE_PLAY.format(args=json.dumps(args)))
    (ctx.work / "ping.yml").write_text(PING_PLAY)
    playbook = ctx.bin("ansible-playbook")
    commands = [
        Command("module", [playbook, "-i", "localhost,", str(ctx.work / "module.yml")], env=ctx.env),
        Command("ping_playbook", [playbook, "-i", "localhost,", str(ctx.work / "ping.yml")], env=ctx.env),
        Command("ping_adhoc", [ctx.bin("ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m",
                               "ansible.builtin.ping"], env=ctx.env),
        Command("kubectl_json", kubectl + ["get", ",".join(KINDS), "-A", "-o", "json"]),
        Command("kubectl_table", kubectl + ["get", "pods", "-A"]),
    ]
    commands += [Command(f"raw_{kind}", kubectl + ["get", "--raw", path]) for kind, path in KINDS.items()]
    notes = []
    if ctx.options.get("popeye", "1") != "0":
        try:
            popeye = _peers.ensure_popeye()
            commands.append(Command("popeye", [str(popeye), "--kubeconfig", str(lab.kubeconfig), "-A", "-o", "json",
                                               "--force-exit-zero"], env={"POPEYE_REPORT_DIR": str(ctx.work)}))
        except _peers.PeerUnavailable as exc:
            notes.append(f"Popeye not measured: {exc}")
    if ctx.options.get("naive", "1") != "0":
        try:
            collections = _peers.ensure_kubernetes_core()
            play = NAIVE_PLAY_HEAD + "".join(NAIVE_TASK.format(kind=k, name=n, api_version=v, kubeconfig=lab.kubeconfig)
                                             for n, (v, k) in NAIVE_KINDS.items())
            (ctx.work / "naive.yml").write_text(play)
            env = dict(ctx.env, ANSIBLE_COLLECTIONS_PATH=f"{ctx.env['ANSIBLE_COLLECTIONS_PATH']}:{collections}")
            argv = [playbook, "-i", "localhost,", str(ctx.work / "naive.yml")]
            failed = _try_once(ctx, "k8s_info per kind", argv, env)
            if failed:
                notes.append(f"kubernetes.core.k8s_info per kind not measured: it failed at this scale ({failed})")
            else:
                commands.append(Command("k8s_info_per_kind", argv, env=env))
        except _peers.PeerUnavailable as exc:
            notes.append(f"kubernetes.core not measured: {exc}")

    if ctx.options.get("before"):
        # The module of another checkout (e.g. main before a change), interleaved with this one: before/after in one run.
        before_env = dict(ctx.env, ANSIBLE_COLLECTIONS_PATH=ctx.options["before"], PYTHONPATH=ctx.options["before"])
        (ctx.work / "module_before.yml").write_text(MODULE_PLAY.format(args=json.dumps(
            {k: v for k, v in args.items() if k != "consistent_read"})))
        commands.append(Command("module_before", [playbook, "-i", "localhost,", str(ctx.work / "module_before.yml")],
                                env=before_env))
    verified = _verify(ctx)
    ctx.log(f"P1 module sees {verified['objects']}, {verified['findings']} findings, not ok: {verified['not_ok']}")
    stats = ctx.measure(commands)

    module, floor = stats["module"], stats["kubectl_json"]
    raw_s = sum(stats[f"raw_{k}"].median_s for k in KINDS)
    own_s = module.median_s - stats["ping_playbook"].median_s
    peers: dict[str, Stats | float] = {"kubectl get pods -A": stats["kubectl_table"], "raw LISTs (sum)": raw_s,
                                       "ansible -m ping": stats["ping_adhoc"], "playbook ping": stats["ping_playbook"]}
    goals = [_case.goal("≤ 1.5× kubectl -o json", module.median_s / floor.median_s, 1.5),
             _case.goal("module − playbook ping ≤ 1.5× raw LISTs", own_s / raw_s, 1.5),
             _case.goal("peak RSS < kubectl's (ratio)", module.peak_rss_mb / floor.peak_rss_mb, 1.0)]
    if "popeye" in stats:
        peers["popeye"] = stats["popeye"]
        goals.append(_case.goal("≥ 5× faster than Popeye", stats["popeye"].median_s / module.median_s, 5,
                                higher_is_better=True))
    if "k8s_info_per_kind" in stats:
        peers["k8s_info per kind"] = stats["k8s_info_per_kind"]
    if "module_before" in stats:
        peers["module before (--set before)"] = stats["module_before"]
    counts = dict(verified["objects"], findings=verified["findings"])
    prof = profile(ctx) if ctx.options.get("profile", "1") != "0" else {}
    for mode, one in prof.items():
        notes.append(f"inspect_cluster ({mode} read) in a plain python process (cProfile): {one.get('wall_s')} s, "
                     f"result {one.get('result_bytes')} bytes, peak RSS {one.get('maxrss_mb')} MB {one.get('error', '')}")
    res = _case.result(module, floor, peers=peers, counts=counts, goals=goals, measured=stats,
                        notes=notes + [f"module's own time (minus a one-task ping playbook) {own_s:.2f} s; raw LISTs "
                                       f"{raw_s:.2f} s; pages {verified['api_requests']}",
                                       f"findings not ok: {verified['not_ok']}"])
    res["profile"] = prof
    return res
