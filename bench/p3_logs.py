"""P3: log_scan's tail and incremental scan, as `ansible localhost -m kubeops.runbook.log_scan` runs them, against
`tail -n 1000` and `grep` with the same patterns.

* tail: the last 1,000 lines of logs of 10 MB, 100 MB and 2 GB (size must not matter), against `tail -n 1000`;
  the gap is Ansible's and Python's start-up (`ansible localhost -m ping` is measured as that floor too). All
  sizes run in one interleaved group, so that the load of a shared machine hits them alike.
* scan: 500 MB appended since the last scan (the state file says offset 0 before every run) with the default
  patterns, against `grep -cE` and `grep -ciE` (the default patterns ignore case) with the same patterns in ERE
  syntax (their output goes to a file: on /dev/null GNU grep stops at the first match). Goal: ≥ 50 % of
  `grep -cE`'s throughput, for the scan engine as a python process and for the module minus Ansible's start-up
  (`ansible -m ping` in the same interleaved group). Memory: the peak RSS of the scan engine alone (`python -c`,
  the module's work without Ansible) at 100 MB and 500 MB must not grow with the size; the module's peak RSS
  through Ansible is the controller's and is reported as well.
* Before the timed runs, the module's count per pattern is checked against `grep -ciE` per pattern.

The logs are real-looking syslog lines (kubelet, kube-apiserver, containerd, sshd, nginx, etcd) with 0.2 % of them
error lines. Options (--set): scan_mb=500, tail_sizes_mb=10,100,2048, dir=<scratch dir for the big files>.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

from bench import _case
from bench._measure import Command

CASE = "P3"
TITLE = "log tail and scan"
NEEDS: tuple[str, ...] = ()

NORMAL = [
    '{ts} master1 kube-apiserver[67]: I1122 06:10:05.135795      67 httplog.go:132] "HTTP" verb="GET" '
    'URI="/api/v1/namespaces/product/pods?limit=500" latency="3.1ms" userAgent="kubectl/v1.30.14" srcIP="198.18.0.1:51234" resp=200',
    '{ts} node1 kubelet[812]: I1122 06:10:05.190459     812 kubelet_node_status.go:76] "Successfully registered node" node="node1"',
    '{ts} node1 systemd[1]: Started session-42.scope - Session 42 of User root.',
    '{ts} node1 sshd[2231]: Accepted publickey for root from 198.18.0.1 port 40222 ssh2: ED25519 SHA256:q2Vx8nRk3pE',
    '{ts} mw1 nginx[331]: 198.18.0.1 - - [22/Nov/2026:06:10:07 +0000] "GET /developer-center/index.html HTTP/1.1" 200 5123',
    '{ts} node2 containerd[420]: time="2026-11-22T06:10:08Z" level=info msg="ImageCreate event name:registry.local/app-base:1.3.0"',
    '{ts} master1 etcd[99]: {{"level":"info","caller":"mvcc/kvstore_compaction.go:57","msg":"finished scheduled compaction","took":"2.1ms"}}',
    '{ts} master1 CRON[5512]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)',
]
BAD = [
    '{ts} master1 kube-apiserver[67]: E1122 06:11:05.135795      67 status.go:71] apiserver received an error: context canceled',
    '{ts} node1 kubelet[812]: E1122 06:11:06.000000     812 pod_workers.go:1298] "Error syncing pod, skipping" err="failed to StartContainer"',
    '{ts} node1 kernel: Memory cgroup out of memory: Killed process 4242 (java) total-vm:123kB',
    '{ts} node2 dockerd[411]: write /var/lib/docker/tmp: No space left on device',
    '{ts} node2 app[77]: panic: runtime error: invalid memory address or nil pointer dereference',
    '{ts} node2 app[77]: FATAL: could not open configuration',
]
# The default patterns of log_scan in POSIX ERE for grep (\d -> [0-9], \s -> [[:space:]], klog's E without -i)
ERE = {
    "oom": r"out of memory|oom-kill|oom_reaper|invoked oom-killer|Killed process [0-9]+",
    "no_space": r"No space left on device|ENOSPC",
    "read_only_fs": r"Read-only file system",
    "panic": r"(^|[[:space:]:]|\])panic: |Kernel panic|kernel BUG at|segfault at |Call Trace:",
    "fatal": r"\bfatal\b",
    "error": r"\berr(or)?s?\b|\bE[01][0-9]{3} [0-9]{2}:[0-9]{2}",
    "fail": r"\bfail(s|ed|ure|ing)?\b",
}
ALL = "|".join(f"({x})" for x in ERE.values())

ENGINE = """
import json, sys, time
from ansible_collections.kubeops.runbook.plugins.module_utils import _logscan as L
path, mode = sys.argv[1], sys.argv[2]
spec = L.FileSpec(path, "bench", False, "errors", L.compile_patterns(None), None)
st = __import__("os").stat(path)
previous = {"inode": st.st_ino, "device": st.st_dev, "offset": 0}
findings, _facts, _offsets = L.run_scan([spec], mode=mode, offsets={path: previous}, time_budget=3600, grep=L.find_grep())
print(json.dumps(findings[0]["details"]["counts"]))
"""


def block(size: int, seed: int) -> bytes:
    """About `size` bytes of log lines, 0.2 % of them error lines."""
    rng = random.Random(seed)
    out, n = [], 0
    while n < size:
        template = rng.choice(BAD) if rng.random() < 0.002 else rng.choice(NORMAL)
        line = template.format(ts=f"2026-11-22T06:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}+00:00")
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def make_log(path: Path, size_mb: int, unit: bytes) -> None:
    if path.exists() and path.stat().st_size >= size_mb << 20:
        return
    with open(path, "wb") as handle:
        written = 0
        while written < size_mb << 20:
            handle.write(unit)
            written += len(unit)


def state_file(state: Path, log: Path) -> None:
    """The state of a scan that read nothing of `log` yet: everything in it is new."""
    st = log.stat()
    state.write_text(json.dumps({"files": {str(log): {"inode": st.st_ino, "device": st.st_dev, "offset": 0}}}))


def run(ctx: _case.Context) -> dict:
    scan_mb = int(ctx.options.get("scan_mb", 500))
    tail_sizes = [int(x) for x in str(ctx.options.get("tail_sizes_mb", "10,100,2048")).split(",")]
    big = Path(ctx.options.get("dir", ctx.work))
    big.mkdir(parents=True, exist_ok=True)
    unit = block(10 << 20, seed=3)
    ansible = ctx.bin("ansible")
    sizes: dict[str, dict] = {}
    measured: dict = {}

    # -- tail: every size in one interleaved group (a noisy minute hits all sizes alike) ---------------------
    tail_logs = {}
    for size in tail_sizes:
        tail_logs[size] = big / f"tail-{size}mb.log"
        ctx.log(f"P3: writing {tail_logs[size]} ({size} MB)")
        make_log(tail_logs[size], size, unit)
    commands = []
    for size, log in tail_logs.items():
        args = {"files": [{"path": str(log), "name": "bench"}], "mode": "tail", "lines": 1000}
        commands += [
            Command(f"ours tail {size} MB", [ansible, "localhost", "-m", "kubeops.runbook.log_scan", "-a", json.dumps(args)],
                    env=ctx.env),
            Command(f"tail -n 1000 {size} MB", ["tail", "-n", "1000", str(log)], stdout=ctx.work / "tail.out"),
        ]
    stats = ctx.measure(commands)
    measured.update(stats)
    for size, log in tail_logs.items():
        ours_tail = stats[f"ours tail {size} MB"]
        sizes[f"tail_{size}mb"] = {"ours_s": round(ours_tail.median_s, 3), "ours_cpu_s": round(ours_tail.cpu_median_s, 3),
                                   "tail_s": round(stats[f"tail -n 1000 {size} MB"].median_s, 4),
                                   "peak_rss_mb": round(ours_tail.peak_rss_mb, 1)}
        if size > scan_mb:
            log.unlink()

    # -- scan: both sizes, grep, the engine alone and Ansible's start-up in one interleaved group -------------
    scan_sizes = sorted({min(100, scan_mb), scan_mb})
    commands = []
    for size in scan_sizes:
        log = big / f"scan-{size}mb.log"
        ctx.log(f"P3: writing {log} ({size} MB)")
        make_log(log, size, unit)
        state = ctx.work / f"state-{size}.json"
        args = {"files": [{"path": str(log), "name": "bench"}], "state_file": str(state), "time_budget": 3600}
        module = [ansible, "localhost", "-m", "kubeops.runbook.log_scan", "-a", json.dumps(args)]
        if size == scan_mb:  # correctness first, untimed: per-pattern counts against grep -ciE per pattern
            state_file(state, log)
            out = subprocess.run(module + ["-o"], capture_output=True, text=True, env={**os.environ, **ctx.env},
                                 check=True).stdout
            counts = json.loads(out.split(" => ", 1)[1])["findings"][0]["details"]["counts"]
            grep_counts = {name: int(subprocess.run(["grep", "-ciE", ere, str(log)], capture_output=True, text=True,
                                                    check=False).stdout or 0) for name, ere in ERE.items()}
            sizes["scan_counts"] = {"ours": counts, "grep_ciE": grep_counts, "equal": counts == grep_counts}
            # grep's output goes to a file: with stdout on /dev/null GNU grep stops at the first match
            commands += [
                Command("grep -cE", ["grep", "-cE", ALL, str(log)], ok_codes=(0, 1), stdout=ctx.work / "grep.out"),
                Command("grep -ciE", ["grep", "-ciE", ALL, str(log)], ok_codes=(0, 1), stdout=ctx.work / "grep.out"),
            ]
        commands.append(Command(f"engine {size} MB (python -c)", [ctx.python, "-c", ENGINE, str(log), "incremental"],
                                env=ctx.env))
        commands.append(Command(f"ours scan {size} MB", module, env=ctx.env,
                                setup=lambda s=state, lg=log: state_file(s, lg)))
    commands.append(Command("ansible -m ping", [ansible, "localhost", "-m", "ansible.builtin.ping"], env=ctx.env))
    result_stats = ctx.measure(commands)
    measured.update(result_stats)
    ping = result_stats
    # the module's own memory: the engine's process (the module's RSS through Ansible is the controller's)
    rss = {size: result_stats[f"engine {size} MB (python -c)"].peak_rss_mb for size in scan_sizes}
    for size in scan_sizes:
        (big / f"scan-{size}mb.log").unlink()

    assert result_stats is not None
    ours, grep_ce, grep_cie = (result_stats[f"ours scan {scan_mb} MB"], result_stats["grep -cE"],
                               result_stats["grep -ciE"])
    engine = result_stats[f"engine {scan_mb} MB (python -c)"]
    ping_s = ping["ansible -m ping"].median_s
    engine_share = grep_ce.median_s / engine.median_s
    module_share = grep_ce.median_s / max(ours.median_s - ping_s, 1e-3)
    tails = [sizes[f"tail_{s}mb"]["ours_s"] for s in tail_sizes]
    return {
        **_case.result(
            ours, grep_ce, peers={"grep -ciE": grep_cie, "engine without Ansible": engine,
                                  "ansible -m ping": ping["ansible -m ping"]},
            measured=measured, floor_name="grep -cE",
            counts={"scan_bytes": scan_mb << 20, "tail_sizes_mb": tail_sizes,
                    "scan_rss_mb": {f"{k} MB": round(v, 1) for k, v in rss.items()},
                    "counts_equal_grep": sizes["scan_counts"]["equal"]},
            goals=[_case.goal("scan engine (a python process) ≥ 50 % of grep -cE's throughput", engine_share, 0.5,
                              higher_is_better=True),
                   _case.goal("module minus Ansible's start-up (ping) ≥ 50 % of grep -cE's throughput", module_share,
                              0.5, higher_is_better=True),
                   _case.goal("peak RSS at the largest scan ≤ 1.2× at 100 MB", rss[scan_mb] / rss[min(rss)], 1.2),
                   _case.goal("tail of the largest file ≤ 1.5× tail of the smallest", max(tails[-1], 1e-9) / tails[0], 1.5)],
            notes=[f"the module reads {scan_mb} MB in {ours.median_s:.2f} s through Ansible (ansible -m ping alone "
                   f"{ping_s:.2f} s); the scan engine as a python process {engine.median_s:.2f} s; grep -cE "
                   f"{grep_ce.median_s:.2f} s, grep -ciE {grep_cie.median_s:.2f} s (same patterns; log_scan's ignore case)",
                   "ratio = the module as a whole process over grep -cE; the goals compare throughput without Ansible's "
                   "fixed start-up, which `ansible -m ping` measures in the same run",
                   "per-pattern counts equal grep -ciE per pattern: " + str(sizes["scan_counts"]["equal"])]),
        "sizes": sizes,
    }
