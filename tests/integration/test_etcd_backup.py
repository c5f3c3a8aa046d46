"""etcd backup on the lab: verified snapshots, failures that never look like backups, restore into a throwaway etcd,
and the scheduled job (systemd timer / cron) running the same helper."""
from __future__ import annotations

import base64
import json
import shlex
import subprocess
from pathlib import Path

import pytest

TLS = "--cacert=/etc/etcd/ssl/ca.pem --cert=/etc/etcd/ssl/etcd-client.pem --key=/etc/etcd/ssl/etcd-client-key.pem"
LIVE = "https://198.18.0.11:2379,https://198.18.0.21:2379,https://198.18.0.22:2379"
TINY = "/var/backups/etcd-tiny-test"


def run_module(lab, host: str, module: str, args: dict, check: bool = False, extra_vars: dict | None = None) -> dict:
    """The module's result on the host (the lab fixture's ad-hoc runner)."""
    return lab.module(host, module, args, check=check, extra_vars=extra_vars)


def snapshots(lab, host="master1", directory="/var/backups/etcd"):
    out = lab.ssh(host, f"ls -1A {directory} 2>/dev/null || true").stdout.split()
    return sorted(out)


def backups(lab, host="master1", directory="/var/backups/etcd") -> list[str]:
    """What counts as a backup there, as etcd_snapshot_info (the same helper) says, oldest first."""
    result = lab.module(host, "kubeops.runbook.etcd_snapshot_info", {"dest": directory})
    assert not result.get("failed"), result
    return [b["name"] for b in reversed(result["backups"])]


def module_args(lab, **kw):
    args = {"endpoints": LIVE.split(","), "cacert": "/etc/etcd/ssl/ca.pem", "cert": "/etc/etcd/ssl/etcd-client.pem",
            "key": "/etc/etcd/ssl/etcd-client-key.pem"}
    args.update(kw)
    return args


def test_playbook_writes_a_verified_snapshot(lab, tmp_path):
    audit = tmp_path / "audit.log"
    proc = lab.playbook("playbooks/etcd_backup.yml", extra_vars={"kubeops_audit_log": str(audit)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = backups(lab)
    assert names, "no backup in /var/backups/etcd"
    newest = f"/var/backups/etcd/{names[-1]}"
    snapshot = lab.host("master1").file(newest)
    assert snapshot.is_file and snapshot.mode == 0o600 and snapshot.user == "root"
    status = json.loads(lab.ssh("master1", f"ETCDCTL_API=3 etcdctl snapshot status -w json {newest}").stdout)
    assert status["revision"] > 0 and status["totalKey"] > 100
    line = json.loads(audit.read_text().splitlines()[-1])
    assert line["module"] == "kubeops.runbook.etcd_snapshot" and line["host"] == "master1"
    assert newest in line["after"]["created"] and line["check_mode"] is False


def test_next_endpoint_when_local_member_is_down(lab):
    with lab.unit_stopped("node1", "etcd"):
        result = run_module(lab, "node1", "kubeops.runbook.etcd_snapshot",
                            module_args(lab, endpoints=["https://198.18.0.21:2379", "https://198.18.0.22:2379"],
                                        dest="/var/backups/etcd-failover-test", timeout=60))
    try:
        assert result.get("changed"), result
        assert result["endpoint"] == "https://198.18.0.22:2379"
        assert result["attempts"][0]["endpoint"] == "https://198.18.0.21:2379" and result["attempts"][0]["error"]
    finally:
        lab.ssh("node1", "rm -rf /var/backups/etcd-failover-test")


@pytest.fixture
def tiny_target(lab):
    """A tmpfs in master1 holding one verified lab snapshot and room for half another one."""
    first = run_module(lab, "master1", "kubeops.runbook.etcd_snapshot", module_args(lab, dest="/var/backups/etcd-tiny-src"))
    assert first.get("changed") and not first.get("failed"), first
    size_k = first["size"] * 3 // 2 // 1024 + 64
    name = first["path"].rsplit("/", 1)[1]
    lab.ssh("master1", f"mkdir -p {TINY} && mount -t tmpfs -o size={size_k}k,mode=0700 tmpfs {TINY} && "
                       f"cp -p {first['path']} {first['path']}.verified.json {TINY}/ && rm -rf /var/backups/etcd-tiny-src")
    try:
        yield TINY, f"{TINY}/{name}", first
    finally:
        lab.ssh("master1", f"umount {TINY}; rmdir {TINY}; rm -rf /var/backups/etcd-tiny-src", check=False)


def test_full_target_leaves_no_backup_and_keeps_the_old_one(lab, tiny_target):
    target, old, first = tiny_target
    second = run_module(lab, "master1", "kubeops.runbook.etcd_snapshot", module_args(lab, dest=target))
    assert second.get("failed"), second
    assert "no verified snapshot" in second["msg"]
    left = snapshots(lab, directory=target)
    assert left == [".etcd-snapshot.lock", old.rsplit("/", 1)[1], old.rsplit("/", 1)[1] + ".verified.json"], left
    assert backups(lab, directory=target) == [old.rsplit("/", 1)[1]]
    status = json.loads(lab.ssh("master1", f"ETCDCTL_API=3 etcdctl snapshot status -w json {old}").stdout)
    assert status["revision"] == first["revision"]


@pytest.fixture
def throwaway_etcd(lab):
    """The newest lab backup restored into a throwaway single-member etcd in master1 (http://127.0.0.1:23791)."""
    proc = lab.playbook("playbooks/etcd_backup.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    newest = backups(lab)[-1]
    work = "/tmp/kubeops-restore-test"
    lab.ssh("master1", f"rm -rf {work} && ETCDCTL_API=3 etcdctl snapshot restore /var/backups/etcd/{newest} --name restore "
                       f"--data-dir {work} --initial-cluster restore=http://127.0.0.1:23801 "
                       f"--initial-advertise-peer-urls http://127.0.0.1:23801")
    lab.ssh("master1", "systemd-run --unit kubeops-restore-test /usr/bin/etcd --name restore "
                       f"--data-dir {work} --listen-client-urls http://127.0.0.1:23791 --advertise-client-urls http://127.0.0.1:23791 "
                       "--listen-peer-urls http://127.0.0.1:23801 --initial-advertise-peer-urls http://127.0.0.1:23801 "
                       "--initial-cluster restore=http://127.0.0.1:23801")
    try:
        tmp = "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:23791"
        lab.wait(lambda: lab.ssh("master1", f"{tmp} endpoint health", check=False).returncode == 0, "throwaway etcd healthy", 60)
        yield tmp
    finally:
        lab.ssh("master1", f"systemctl kill -s SIGCONT kubeops-restore-test; systemctl stop kubeops-restore-test; "
                           f"systemctl reset-failed kubeops-restore-test; rm -rf {work}", check=False)


HELPER = Path(__file__).resolve().parents[2] / "roles" / "etcd_backup" / "files" / "kubeops_etcd_backup.py"
KILL_DIR = "/var/backups/etcd-kill-test"
KILL_EP = "http://127.0.0.1:23792"


@pytest.fixture(scope="module")
def big_throwaway_etcd(lab):
    """A throwaway single-member etcd in master1 holding ~60 MB, so that a snapshot of it takes long enough to be
    killed in the middle; the backup helper installed as /root/kubeops_etcd_backup.py (the file the timer runs)."""
    work = "/tmp/kubeops-kill-test"
    b64 = base64.b64encode(HELPER.read_bytes()).decode()
    lab.ssh("master1", f"echo {b64} | base64 -d > /root/kubeops_etcd_backup.py")
    lab.ssh("master1", f"rm -rf {work} {KILL_DIR}; systemd-run --unit kubeops-kill-test /usr/bin/etcd --name kill "
                       f"--data-dir {work} --listen-client-urls {KILL_EP} --advertise-client-urls {KILL_EP} "
                       "--listen-peer-urls http://127.0.0.1:23802 --initial-advertise-peer-urls http://127.0.0.1:23802 "
                       "--initial-cluster kill=http://127.0.0.1:23802 --quota-backend-bytes 1073741824")
    try:
        ctl = f"ETCDCTL_API=3 etcdctl --endpoints={KILL_EP}"
        lab.wait(lambda: lab.ssh("master1", f"{ctl} endpoint health", check=False).returncode == 0, "kill-test etcd healthy", 60)
        lab.ssh("master1", f"for i in $(seq 1 60); do head -c 750000 /dev/urandom | base64 -w0 | {ctl} put /junk/$i >/dev/null; done",
                timeout=300)
        yield ctl
    finally:
        lab.ssh("master1", "systemctl kill -s SIGCONT kubeops-kill-test; systemctl stop kubeops-kill-test; "
                           f"systemctl reset-failed kubeops-kill-test; rm -rf {work} {KILL_DIR} /root/kubeops_etcd_backup.py",
                check=False)


def kill_mid_snapshot(lab, kill_helper: bool) -> subprocess.CompletedProcess:
    """Start the helper, wait until etcdctl has written part of the snapshot, freeze the member (so the stream stops
    right there), SIGKILL the etcdctl child (and with kill_helper the helper too), thaw the member."""
    script = f"""
D={KILL_DIR}
python3 /root/kubeops_etcd_backup.py take --endpoints {KILL_EP} --dir $D --timeout 120 --keep-count 5 > /tmp/kill-result.json &
HP=$!
for i in $(seq 1 4000); do
  f=$(ls $D/.etcd-snapshot-*.part 2>/dev/null | head -n 1)
  if [ -n "$f" ] && [ -s "$f" ]; then break; fi
  sleep 0.005
done
systemctl kill -s SIGSTOP kubeops-kill-test
sleep 0.5
echo "part before the kill: $(stat -c %s $D/.etcd-snapshot-*.part 2>/dev/null)"
CP=$(pgrep -P $HP -x etcdctl)  # the helper's etcdctl child, found by its parent's pid
{'kill -9 $HP' if kill_helper else ':'}
kill -9 $CP
systemctl kill -s SIGCONT kubeops-kill-test
wait $HP; echo "helper rc=$?"
cat /tmp/kill-result.json
"""
    return lab.ssh("master1", script, check=False, timeout=300)


def test_sigkill_of_etcdctl_mid_snapshot_leaves_nothing_counted(lab, big_throwaway_etcd):
    first = json.loads(lab.ssh("master1", f"python3 /root/kubeops_etcd_backup.py take --endpoints {KILL_EP} --dir {KILL_DIR}").stdout)
    name = first["path"].rsplit("/", 1)[1]
    proc = kill_mid_snapshot(lab, kill_helper=False)
    part = int(proc.stdout.split("part before the kill:")[1].split()[0])
    assert 0 < part < first["size"], proc.stdout                # it really was killed in the middle
    assert "helper rc=1" in proc.stdout, proc.stdout
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["failed"] and "no verified snapshot" in result["msg"], result
    # the helper removed its own partial file at once: nothing hidden is left, the earlier backup is the only one
    assert snapshots(lab, directory=KILL_DIR) == [".etcd-snapshot.lock", name, name + ".verified.json"]
    assert backups(lab, directory=KILL_DIR) == [name]


def test_sigkill_of_the_whole_run_leaves_only_leftovers_the_next_run_removes(lab, big_throwaway_etcd):
    before = backups(lab, directory=KILL_DIR)
    assert before, "runs after test_sigkill_of_etcdctl_mid_snapshot_leaves_nothing_counted"
    proc = kill_mid_snapshot(lab, kill_helper=True)
    assert "helper rc=137" in proc.stdout, proc.stdout
    left = [n for n in snapshots(lab, directory=KILL_DIR) if n.startswith(".etcd-snapshot-") and n != ".etcd-snapshot.lock"]
    assert left and all(n.endswith((".part", ".tmp")) for n in left), left
    listing = lab.module("master1", "kubeops.runbook.etcd_snapshot_info", {"dest": KILL_DIR})
    assert [b["name"] for b in reversed(listing["backups"])] == before and len(listing["leftovers"]) == len(left)
    again = json.loads(lab.ssh("master1", f"python3 /root/kubeops_etcd_backup.py take --endpoints {KILL_EP} --dir {KILL_DIR}").stdout)
    assert sorted(p.rsplit("/", 1)[1] for p in again["removed_partial"]) == sorted(left)
    assert backups(lab, directory=KILL_DIR) == before + [again["path"].rsplit("/", 1)[1]]


def test_retention_with_future_named_and_empty_files_keeps_the_new_one(lab):
    """The review's reproducer on the lab: backups named a day ahead (a clock NTP corrected) and an empty file with a
    newer name. keep_count=1: the new snapshot is kept and counted; the future and empty files neither count nor go."""
    d = "/var/backups/etcd-future-test"
    lab.ssh("master1", f"rm -rf {d}")
    try:
        old = run_module(lab, "master1", "kubeops.runbook.etcd_snapshot", module_args(lab, dest=d))
        assert old.get("changed") and not old.get("failed"), old
        tomorrow = lab.ssh("master1", "date -u -d tomorrow +%Y%m%dT%H%M%SZ").stdout.strip()
        stamp = tomorrow[:-3]
        plant = "; ".join(f"cp -p {old['path']} {d}/etcd-snapshot-{stamp}{i}0Z.db && "
                          f"sed 's/{old['path'].rsplit('/', 1)[1]}/etcd-snapshot-{stamp}{i}0Z.db/' {old['path']}.verified.json "
                          f"> {d}/etcd-snapshot-{stamp}{i}0Z.db.verified.json" for i in range(3))
        lab.ssh("master1", f"{plant}; touch {d}/etcd-snapshot-{stamp}59Z.db")
        new = run_module(lab, "master1", "kubeops.runbook.etcd_snapshot", module_args(lab, dest=d, keep_count=1))
        assert new.get("changed") and not new.get("failed") and not new["recent_kept"], new
        assert new["deleted"] == [old["path"]]
        assert backups(lab, directory=d) == [new["path"].rsplit("/", 1)[1]]
        reasons = sorted(i["reason"].split(" (")[0] for i in new["ignored"])
        assert reasons == ["empty"] + ["named or recorded in the future"] * 3, new["ignored"]
        names = snapshots(lab, directory=d)
        assert sum(n.endswith(".db") for n in names) == 5      # new + 3 future + empty: nothing but the old one deleted
        # the daily inspection's backup check is not fooled either: the new snapshot is the newest that counts
        info = run_module(lab, "master1", "kubeops.runbook.etcd_cluster_info", module_args(lab, backup_dir=d))
        [found] = [f for f in info["findings"] if f["id"] == "backups.etcd_snapshot"]
        assert found["details"]["newest"] == new["path"].rsplit("/", 1)[1] and found["details"]["verified"], found
        assert len(found["details"]["ignored"]) == 1, found          # the empty file (the copies are dated today)
    finally:
        lab.ssh("master1", f"rm -rf {d}")


def test_restore_into_throwaway_etcd_matches_live(lab, throwaway_etcd):
    """The restored backup holds the live cluster's objects."""
    live = f"ETCDCTL_API=3 etcdctl --endpoints={LIVE} {TLS}"
    tmp = throwaway_etcd
    keys_live = set(lab.ssh("master1", f"{live} get /registry/deployments/ --prefix --keys-only").stdout.split())
    ns_live = set(lab.ssh("master1", f"{live} get /registry/namespaces/ --prefix --keys-only").stdout.split())
    total_live = len(lab.ssh("master1", f"{live} get / --prefix --keys-only").stdout.split())
    keys_restored = set(lab.ssh("master1", f"{tmp} get /registry/deployments/ --prefix --keys-only").stdout.split())
    ns_restored = set(lab.ssh("master1", f"{tmp} get /registry/namespaces/ --prefix --keys-only").stdout.split())
    total_restored = len(lab.ssh("master1", f"{tmp} get / --prefix --keys-only").stdout.split())
    assert len(keys_live) >= 8 and keys_restored == keys_live
    assert ns_restored == ns_live
    assert abs(total_restored - total_live) <= max(50, total_live // 10), (total_restored, total_live)


@pytest.mark.parametrize("scheduler", ["systemd", "cron"])
def test_schedule_runs_the_same_logic(lab, scheduler):
    d = f"/var/backups/etcd-schedule-{scheduler}"
    extra = {"etcd_backup_host": "master1", "etcd_backup_schedule": "*-*-* 03:00:00", "etcd_backup_scheduler": scheduler,
             "etcd_backup_dir": d, "etcd_backup_keep_count": 2}
    proc = lab.playbook("playbooks/etcd_backup.yml", extra_vars=extra, limit="master1")
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        if scheduler == "systemd":
            assert lab.ssh("master1", "systemctl is-enabled kubeops-etcd-backup.timer").stdout.strip() == "enabled"
            for dummy in range(2):
                lab.ssh("master1", "systemctl start kubeops-etcd-backup.service")   # what the timer starts
                lab.ssh("master1", "sleep 1")
        else:
            job = lab.ssh("master1", "cat /etc/cron.d/kubeops-etcd-backup").stdout
            command = [ln for ln in job.splitlines() if "kubeops_etcd_backup.py" in ln][0].split(" root ", 1)[1]
            for dummy in range(2):
                lab.ssh("master1", command)      # exactly the command cron runs
                lab.ssh("master1", "sleep 1")
        names = backups(lab, directory=d)
        assert len(names) == 2, names          # a third snapshot exists from the playbook run: retention kept 2
        assert [n for n in snapshots(lab, directory=d) if n.startswith("etcd-snapshot-")] == sorted(
            names + [n + ".verified.json" for n in names])
        status = json.loads(lab.ssh("master1", f"ETCDCTL_API=3 etcdctl snapshot status -w json {d}/{names[-1]}").stdout)
        assert status["totalKey"] > 100
    finally:
        extra.update(etcd_backup_schedule_state="absent", etcd_backup_run_now=False)
        lab.playbook("playbooks/etcd_backup.yml", extra_vars=extra, limit="master1")
        lab.ssh("master1", f"rm -rf {shlex.quote(d)}")
    assert lab.ssh("master1", "test -e /etc/systemd/system/kubeops-etcd-backup.timer || test -e /etc/cron.d/kubeops-etcd-backup",
                   check=False).returncode != 0


def test_check_mode_changes_nothing(lab):
    before = snapshots(lab)
    result = run_module(lab, "master1", "kubeops.runbook.etcd_snapshot", module_args(lab, keep_count=1), check=True)
    assert result["changed"] and result["path"].startswith("/var/backups/etcd/etcd-snapshot-")
    assert snapshots(lab) == before
    assert len(result["deleted"]) == len(backups(lab)) + len(result["adopted"])


def test_bad_input_is_one_line(lab):
    result = run_module(lab, "master1", "kubeops.runbook.etcd_snapshot", module_args(lab, dest="relative/dir"))
    assert result.get("failed") and result["msg"] == "dest 'relative/dir' must be an absolute directory path"


@pytest.mark.parametrize("confirm", [None, "yes", "yes-restore-othercluster"])
def test_restore_refuses_without_confirmation(lab, confirm):
    extra = {} if confirm is None else {"etcd_restore_confirm": confirm}
    proc = lab.playbook("playbooks/etcd_restore.yml", extra_vars=extra)
    assert proc.returncode != 0
    assert "set etcd_restore_confirm=yes-restore-lab" in proc.stdout
    assert "Stop kube-apiserver" not in proc.stdout
    assert lab.ssh("master1", "systemctl is-active kube-apiserver etcd").stdout.split() == ["active", "active"]
