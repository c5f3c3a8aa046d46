"""The host side of the daily inspection by its two paths, on the same lab state: playbooks/daily_inspection.yml (one
host_inspection_info call per host) and the single-purpose modules one task per check
(tests/integration/playbooks/daily_inspection_single_purpose.yml, the 1.1.0 composition). With faults injected (a
control plane unit stopped, two middleware down) both reports hold the same findings with the same statuses, and
both find every fault. Both read the units' journal of the last ten minutes (a fresh state would read a day of it,
minutes of work on a lab whose apiserver just logged a scale test) and keep their own log offsets, fresh for this
test, so both read the same windows; the state files are removed afterwards."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

PATHS = {"combined": "playbooks/daily_inspection.yml",
         "single": "tests/integration/playbooks/daily_inspection_single_purpose.yml"}
INSPECTED = ("master1", "node1", "node2", "mw1", "mw2")
FAULTS = (("master1", "kube-scheduler"), ("mw2", "redis-server"), ("mw1", "nginx"))
STATE = "/var/lib/kubeops/itest-paths"


def statuses(report: dict) -> dict[str, str]:
    out = {}
    for f in report["findings"]:
        key = f"{f['id']}:{f['target']}" + (f"@{f['host']}" if f.get("host") and f["host"] != f["target"] else "")
        assert key not in out, f"{key} reported twice"
        out[key] = f["status"]
    return out


def inspect(lab, path: str, report_dir: Path) -> dict:
    state = f"{STATE}/{path}"
    proc = lab.playbook(PATHS[path], extra_vars={
        "inspection_report_dir": str(report_dir), "host_inspection_state_dir": state, "host_inspection_journal_since": "-10min",
        "kubeops_middleware_log_state_file": f"{state}/middleware_log_scan.json"})
    assert proc.returncode == 0, f"{path}: rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return json.loads((report_dir / "latest.json").read_text(encoding="utf-8"))


def test_one_call_and_one_task_per_check_find_the_same(lab, tmp_path):
    reports = {}
    try:
        with contextlib.ExitStack() as faults:
            for host, unit in FAULTS:
                faults.enter_context(lab.unit_stopped(host, unit))
            for path in PATHS:
                reports[path] = inspect(lab, path, tmp_path / path)
    finally:
        for host in INSPECTED:
            lab.ssh(host, f"rm -rf {STATE}", check=False)
    combined, single = statuses(reports["combined"]), statuses(reports["single"])
    differ = {k: (combined.get(k), single.get(k)) for k in set(combined) | set(single) if combined.get(k) != single.get(k)}
    assert not differ, f"combined vs single-purpose: {differ}"
    assert reports["combined"]["summary"] == reports["single"]["summary"]
    # every fault is found, by both
    for key in ("control_plane_services.unit:kube-scheduler@master1", "middleware.redis:redis:6379@mw2",
                "middleware.nginx:nginx@mw1"):
        assert combined[key] == "critical", key
    # and every check of every host contributed: units, logs, disks, certificates, hygiene, middleware and its logs
    ids = {k.split(":", 1)[0] for k in combined}
    assert {"control_plane_services.unit", "node_services.unit", "logs.messages", "disk.space", "disk.inodes",
            "certificates.expiry", "host.docker_root_symlink", "host.may_detach_mounts", "host.kubectl_skew",
            "middleware.rabbitmq", "middleware.mysql", "middleware.license_server", "logs.redis", "logs.rabbitmq",
            "calico.bird", "etcd.quorum"} <= ids, ids
    assert {k for k in combined if k.startswith("logs.nginx_")}, "nginx's declared logs were not scanned"
    assert sorted(k for k in combined if k.startswith("host.reachable:")) == sorted(f"host.reachable:{h}" for h in INSPECTED)
