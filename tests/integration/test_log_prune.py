"""Tomcat log pruning on the lab's middleware host (mw1)."""
from __future__ import annotations

import datetime
import json

import pytest

from test_etcd_backup import run_module

D = "/data/iuap/logs/nginx-prune-test"
OUTSIDE = "/root/kubeops-prune-outside.log"


def listing(lab, path=D):
    return sorted(lab.ssh("mw1", f"ls -1A {path}").stdout.split())


@pytest.fixture
def thirty_days(lab):
    """30 days of tomcat_access logs (dated by the node's today), a symlink pointing outside, an undated file."""
    today = datetime.date.fromisoformat(lab.ssh("mw1", "date +%F").stdout.strip())
    names = [f"tomcat_access.{(today - datetime.timedelta(days=i)).isoformat()}.log" for i in range(30)]
    old_link = f"tomcat_access.{(today - datetime.timedelta(days=40)).isoformat()}.log"
    script = [f"rm -rf {D}", f"mkdir -p {D}", f"echo precious > {OUTSIDE}", f"ln -s {OUTSIDE} {D}/{old_link}",
              f"echo error > {D}/developer-center_error.log"]
    script += [f"head -c 2048 /dev/urandom > {D}/{n}" for n in names]
    lab.ssh("mw1", " && ".join(script))
    try:
        yield today, names, old_link
    finally:
        lab.ssh("mw1", f"rm -rf {D} {OUTSIDE}", check=False)


def test_prune_keeps_today_and_never_follows_links(lab, thirty_days, tmp_path):
    today, names, old_link = thirty_days
    audit = tmp_path / "audit.log"
    check = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": D}, check=True,
                       extra_vars={"kubeops_audit_log": str(audit)})
    assert check["changed"] and check["files_pruned"] == 29
    assert len(listing(lab)) == 32, "check mode changed something"
    result = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": D}, extra_vars={"kubeops_audit_log": str(audit)})
    assert result["changed"] and result["files_pruned"] == 29 and result["bytes_freed"] == 29 * 2048
    assert result["pruned"] == check["pruned"] and len(result["pruned"]) == 20  # the first 20 names, not all
    assert result["files_kept"] == 1 and result["cutoff"] == today.isoformat()
    assert listing(lab) == sorted(["developer-center_error.log", old_link, names[0]])
    mw1 = lab.host("mw1")
    assert mw1.file(OUTSIDE).content_string == "precious\n"
    link = mw1.file(f"{D}/{old_link}")
    assert link.is_symlink and link.linked_to == OUTSIDE
    assert any(s["path"].endswith(old_link) and s["reason"].startswith("symlink") for s in result["left_alone"])
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [x["check_mode"] for x in lines] == [True, False]
    assert lines[1]["before"]["files"] == 29 and len(lines[1]["before"]["first"]) == 20 and lines[1]["target"] == D
    again = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": D})
    assert not again["changed"] and again["files_pruned"] == 0


def test_file_open_for_writing_is_left_alone(lab, thirty_days):
    names = thirty_days[1]
    victim = f"{D}/{names[5]}"
    lab.ssh("mw1", f"systemd-run --unit kubeops-prune-writer /bin/sh -c 'exec 3>>{victim}; exec sleep 300'")
    try:
        lab.wait(lambda: lab.ssh("mw1", f"ls -l /proc/$(systemctl show -p MainPID --value kubeops-prune-writer)/fd | grep -q {names[5]}",
                                 check=False).returncode == 0, "writer holds the file", 30)
        result = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": D})
    finally:
        lab.ssh("mw1", "systemctl stop kubeops-prune-writer", check=False)
    assert result["files_pruned"] == 28
    assert {"path": victim, "reason": "open for writing by another process"} in result["left_alone"]
    assert names[5] in listing(lab)


def test_compress_and_usage_threshold(lab, thirty_days):
    names = thirty_days[1]
    skipped = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": D, "when_usage_over": 99.9})
    assert not skipped["changed"] and "not over" in skipped["msg"]
    result = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": D, "mode": "compress", "keep_days": 27})
    assert result["files_pruned"] == 2
    assert f"{names[29]}.gz" in listing(lab) and names[29] not in listing(lab)
    assert lab.host("mw1").run("gzip -t %s", f"{D}/{names[29]}.gz").rc == 0


def test_playbook_defaults_and_timer(lab, thirty_days):
    # the default directory of the playbook (the lab's real logs) in check mode: lists, changes nothing. The test
    # brings its own old log there (the lab's history may have been pruned by an earlier run of the playbook).
    today = thirty_days[0]
    own = f"/data/iuap/logs/nginx/tomcat_access.{(today - datetime.timedelta(days=400)).isoformat()}.log"
    lab.ssh("mw1", f"echo old > {own}")
    try:
        before = listing(lab, "/data/iuap/logs/nginx")
        proc = lab.playbook("playbooks/log_prune.yml", check=True, extra_args=["--diff"])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert own in proc.stdout
        assert listing(lab, "/data/iuap/logs/nginx") == before
    finally:
        lab.ssh("mw1", f"rm -f {own}", check=False)
    # for real, with a daily timer, on the test directory; then the timer's own run
    extra = {"log_prune_path": D, "log_prune_schedule": "*-*-* 00:05:00", "log_prune_keep_days": 3}
    proc = lab.playbook("playbooks/log_prune.yml", extra_vars=extra)
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(listing(lab)) == 2 + 4
        mw1 = lab.host("mw1")
        assert mw1.service("kubeops-log-prune.timer").is_enabled
        names = thirty_days[1]
        lab.ssh("mw1", f"head -c 100 /dev/urandom > {D}/{names[20]}")     # a stale file reappears
        lab.ssh("mw1", "systemctl start kubeops-log-prune.service")
        assert names[20] not in listing(lab)
        log = lab.ssh("mw1", "journalctl -u kubeops-log-prune.service -o cat --no-pager | tail -5").stdout
        assert '"files_pruned": 1' in log
        assert mw1.file("/usr/local/lib/kubeops/kubeops_log_prune.py").is_file
        assert not mw1.file("/usr/local/lib/kubeops/log_prune.py").exists
    finally:
        extra["log_prune_schedule_state"] = "absent"
        extra["log_prune_run_now"] = False
        lab.playbook("playbooks/log_prune.yml", extra_vars=extra)
    mw1 = lab.host("mw1")
    assert not mw1.file("/etc/systemd/system/kubeops-log-prune.timer").exists
    assert not mw1.file("/usr/local/lib/kubeops/kubeops_log_prune.py").exists


def test_bad_input_is_one_line(lab):
    result = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": "/data/iuap/logs/nginx", "pattern": "../*.log"})
    assert result.get("failed") and result["msg"].startswith("pattern '../*.log' must be a file name glob")


@pytest.mark.parametrize("path, pattern, message", [
    ("/usr/bin", "*", "pattern '*' is too broad"),
    ("/usr/bin", "*.sh", "is in the system tree /usr"),
    ("/etc", "*.conf", "is a top-level directory"),
    ("/", "*.log", "is the root directory"),
])
def test_system_directories_are_refused_on_the_host(lab, path, pattern, message):
    """1.0.0 would have deleted 714 files of /usr/bin here (check mode listed them)."""
    before = lab.ssh("mw1", f"ls -1A {path} | wc -l").stdout
    result = run_module(lab, "mw1", "kubeops.runbook.log_prune", {"path": path, "pattern": pattern, "age_source": "mtime"},
                        check=True)
    assert result.get("failed") and message in result["msg"] and "\n" not in result["msg"]
    assert lab.ssh("mw1", f"ls -1A {path} | wc -l").stdout == before


def test_bracket_glob_that_matches_everything_is_refused_on_the_host(lab):
    """The review's reproducer: '[!]xyz]*' in an allowed directory passed the guard as if 'xyz]' were literal and
    matched a database file, a keystore and a config file older than keep_days. Refused now, on a real run too."""
    lab.ssh("mw1", f"rm -rf {D} && mkdir -p {D} && cd {D} && touch -d '40 days ago' ibdata1 keystore.jks app.conf")
    try:
        result = run_module(lab, "mw1", "kubeops.runbook.log_prune",
                            {"path": D, "pattern": "[!]xyz]*", "age_source": "mtime", "keep_days": 7})
        assert result.get("failed") and result["msg"].startswith("pattern '[!]xyz]*' is too broad"), result
        assert listing(lab) == ["app.conf", "ibdata1", "keystore.jks"]
    finally:
        lab.ssh("mw1", f"rm -rf {D}", check=False)
