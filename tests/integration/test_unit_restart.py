"""systemd_unit_restart on the lab: etcd restarted on its three members by one ad-hoc call with 10 forks and no
serial - the action still restarts one member at a time, each healthy again (endpoint health) before the next; bad
input is one line and restarts nothing."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from test_etcd_member import LIVE, healthy


def restart_everywhere(lab, pattern: str, args: dict, audit: Path) -> dict[str, dict]:
    """``ansible <pattern> -m kubeops.runbook.systemd_unit_restart`` (the lab's forks=10: every host at once); each
    host's result, ``failed`` set from ansible's exit code (the saved results lack it) when none failed or one host ran."""
    with tempfile.TemporaryDirectory(prefix="kubeops-itest-") as tree:
        cmd = [str(lab.root / ".venv/bin/ansible"), pattern, "-i", str(lab.inventory), "-m",
               "kubeops.runbook.systemd_unit_restart", "-a", json.dumps(args), "-e",
               json.dumps({"kubeops_audit_log": str(audit)}), "--tree", tree]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=lab.env(), cwd=lab.root, timeout=900, check=False)
        results = {p.name: json.loads(p.read_text()) for p in Path(tree).iterdir()}
    assert results, proc.stdout + proc.stderr
    for result in results.values():
        if proc.returncode == 0 or len(results) == 1:
            result.setdefault("failed", proc.returncode == 2)
    return results


def test_etcd_is_restarted_one_member_at_a_time_whatever_the_forks(lab, tmp_path):
    audit = tmp_path / "audit.log"
    before = {h: lab.ssh(h, "systemctl show -p NRestarts,ExecMainStartTimestampMonotonic etcd").stdout
              for h in ("master1", "node1", "node2")}
    results = restart_everywhere(lab, "etcd", {"name": "etcd", "health_timeout": 120}, audit)
    try:
        assert sorted(results) == ["master1", "node1", "node2"]
        for host, result in results.items():
            assert result["failed"] is False and result.get("changed") and result["one_at_a_time"] and result["health"]["healthy"], (host, result)
            assert " is healthy: successfully committed proposal" in result["health"]["probe"]
        lines = [json.loads(x) for x in audit.read_text().splitlines()]
        # restart, healthy, restart, healthy, restart, healthy: never a second member restarted before the first is back
        assert [x["action"] for x in lines] == ["restart_unit", "unit_health"] * 3, lines
        for restart, health in zip(lines[0::2], lines[1::2]):
            assert restart["host"] == health["host"] and health["after"]["healthy"] is True
            assert restart["time"] <= health["time"]
        for earlier, later in zip(lines[1::2], lines[2::2]):
            assert earlier["time"] <= later["time"]
        assert sorted(x["host"] for x in lines[0::2]) == ["master1", "node1", "node2"]
        for host in before:   # each really restarted once
            assert lab.ssh(host, "systemctl show -p NRestarts,ExecMainStartTimestampMonotonic etcd").stdout != before[host]
    finally:
        lab.wait(lambda: healthy(lab, LIVE), "etcd healthy", 120)
    assert lab.kubectl("get", "--raw", "/readyz").stdout == "ok"


def test_window_out_of_range_is_one_line_and_restarts_nothing(lab, tmp_path):
    """1.1.0: an OverflowError traceback."""
    audit = tmp_path / "audit.log"
    started = lab.ssh("master1", "systemctl show -p ExecMainStartTimestampMonotonic kube-scheduler").stdout
    result = restart_everywhere(lab, "master1", {"name": "kube-scheduler", "window_seconds": 10 ** 12}, audit)["master1"]
    assert result.get("failed") and result["msg"] == "window_seconds must be 1 to 604800 (7 days), got 1000000000000"
    assert not audit.exists()
    assert lab.ssh("master1", "systemctl show -p ExecMainStartTimestampMonotonic kube-scheduler").stdout == started
