"""etcd over time on the lab, through the etcd hosts' one inspection call each (roles/host_inspection inspect.yml):
the snapshots are checked on the host that takes them and on its copy_to, the cluster's member count and its
database against the quota read from the etcd unit. Nothing is changed on the lab: the backup is made "too old" by a
threshold below its age, and the copy_to directory is one that does not exist."""
from __future__ import annotations

import json
import uuid

PLAYBOOK = "tests/integration/playbooks/etcd_backups.yml"


def test_stale_backup_and_missing_copy_warn_on_the_host_that_takes_them(lab, tmp_path):
    copy_to = f"/var/backups/kubeops-itest-missing-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "findings.json"
    proc = lab.playbook(PLAYBOOK, extra_vars={
        "findings_out": str(out), "etcd_backup_copy_to": copy_to,
        # the lab's timer snapshots hourly into /var/backups/etcd on master1: any snapshot is older than 4 seconds
        "cluster_inspection_etcd_backup_warning_hours": 0.001, "cluster_inspection_etcd_backup_critical_hours": 1000})
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-5000:]}\n{proc.stderr[-2000:]}"
    findings = json.loads(out.read_text())
    snaps = {(f["host"], f["target"]): f for f in findings if f["id"] == "backups.etcd_snapshot"}
    # only master1 takes backups in the lab (playbooks/etcd_backup.yml's host, no etcd_backup_schedule): node1 and
    # node2, which have none, are not checked
    assert set(snaps) == {("master1", "/var/backups/etcd"), ("master1", copy_to)}, sorted(snaps)
    local = snaps[("master1", "/var/backups/etcd")]
    assert local["status"] == "warning" and local["details"]["role"] == "backup_dir", local
    assert local["summary"].startswith("newest snapshot ") and "(warning after 0.001 h)" in local["summary"]
    copy = snaps[("master1", copy_to)]
    assert copy["status"] == "warning" and copy["details"]["role"] == "copy_to"
    assert copy["summary"] == f"backup directory {copy_to} does not exist"
    # the cluster check of the first etcd host: 3 members, a small database, the quota the lab's unit leaves default
    count = [f for f in findings if f["id"] == "etcd.member_count"]
    assert [(f["status"], f["details"]["members"]) for f in count] == [("ok", 3)]
    defrag = {f["target"]: f for f in findings if f["id"] == "etcd.defrag"}
    assert set(defrag) == {"master1", "node1", "node2"} and {f["status"] for f in defrag.values()} == {"ok"}
    sizes = [f for f in findings if f["id"] == "etcd.db_size"]
    assert sizes and all(f["details"]["quota_bytes"] == 2 * 2 ** 30 for f in sizes)
    assert sizes[0]["details"]["quota_source"] == "etcd's default (not set in the etcd unit)"
    assert lab.ssh("master1", f"test ! -e {copy_to}", check=False).returncode == 0
