"""etcd over time (plugins/module_utils/_etcd_trends.py): member count, quota read from the etcd unit, what a
defragmentation frees, and the snapshots of each etcd host that takes backups - on etcdctl 3.4.23 and systemd output
captured on the lab (fixtures/etcd_trends/README.md, fixtures/etcd/README.md, fixtures/etcd_maintenance/README.md)."""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd as E
from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_trends as T
from ansible_collections.kubeops.runbook.plugins.module_utils import _host_inspection as H

FIX = Path(__file__).parent / "fixtures"
LAB_HOSTS = {"198.18.0.11": "master1", "198.18.0.21": "node1", "198.18.0.22": "node2"}
OVER_TIME = {"quota_source": "test", "defrag_warning_percent": 50, "defrag_min_quota_percent": 25}


def lab_members() -> list[dict]:
    return E.parse_member_list((FIX / "etcd" / "lab_tls_member_list.json").read_text())


def by(findings, fid):
    return {f["target"]: f for f in findings if f["id"] == fid}


# -- member count ------------------------------------------------------------------------------------------------
def test_lab_three_members_are_ok():
    found = T.member_count_finding(lab_members())
    assert found["status"] == "ok" and found["details"] == {"members": 3, "learners": 0, "tolerates": 1}


@pytest.mark.parametrize("keep, status, words", [
    (1, "warning", "fewer than 3"), (2, "warning", "fewer than 3"), (3, "ok", "tolerates 1")])
def test_fewer_than_three(keep, status, words):
    found = T.member_count_finding(lab_members()[:keep])
    assert found["status"] == status and words in found["summary"]


def test_even_count_and_learners():
    members = lab_members()
    four = members + [dict(members[0], name="node3", id=1, client_urls=["https://198.18.0.23:2379"])]
    found = T.member_count_finding(four)
    assert found["status"] == "warning" and "even number" in found["summary"] and found["details"]["tolerates"] == 1
    # a learner does not vote: three voters and a learner are fine
    four[3]["is_learner"] = True
    assert T.member_count_finding(four)["status"] == "ok"
    assert T.member_count_finding([]) is None


def test_member_count_in_the_cluster_check_only_with_over_time():
    members = lab_members()[:2]
    status = E.parse_endpoint_status((FIX / "etcd" / "lab_tls_endpoint_status.json").read_text())
    health = E.parse_endpoint_health((FIX / "etcd" / "lab_tls_endpoint_health.json").read_text())
    found = E.cluster_findings(members, status, health, [], LAB_HOSTS, over_time=OVER_TIME)
    assert by(found, "etcd.member_count")["cluster"]["status"] == "warning"
    assert not by(E.cluster_findings(members, status, health, [], LAB_HOSTS), "etcd.member_count")


# -- defragmentation ---------------------------------------------------------------------------------------------
def node2_down_statuses() -> dict:
    return E.parse_endpoint_status((FIX / "etcd_maintenance" / "lab_node2_down_endpoint_status.stdout").read_text())


def test_defrag_share_of_a_grown_lab_database():
    master1 = node2_down_statuses()["https://198.18.0.11:2379"]
    free, share = T.defrag_share(master1)
    assert free == 223363072 - 1519616 and share == 99.3
    # 213 MiB is 10.4% of the default 2 GiB quota: not worth a warning yet
    small = T.defrag_finding("master1", "master1", master1, T.DEFAULT_QUOTA_BYTES, 50, 25)
    assert small["status"] == "ok" and small["details"]["free_percent"] == 99.3
    # against a 512 MiB quota it is 41.6% of it: defragment
    big = T.defrag_finding("master1", "master1", master1, 512 * 2 ** 20, 50, 25)
    assert big["status"] == "warning" and "etcd_defrag" in big["summary"] and "etcd_maintenance" in big["summary"]
    assert T.defrag_finding("master1", "master1", master1, 512 * 2 ** 20, 99.5, 25)["status"] == "ok"


def test_defrag_in_the_cluster_check_and_db_size_details():
    members = E.parse_member_list((FIX / "etcd_maintenance" / "lab_node2_down_member_list.stdout").read_text())
    statuses = node2_down_statuses()
    found = E.cluster_findings(members, statuses, {}, [], LAB_HOSTS, quota_bytes=512 * 2 ** 20, over_time=OVER_TIME)
    defrag = by(found, "etcd.defrag")
    assert defrag["master1"]["status"] == "warning" and defrag["master1"]["host"] == "master1"
    assert defrag["node1"]["status"] == "ok"    # 62 MiB: 12% of the quota
    assert "node2" not in defrag                # down: no status, no size
    assert by(found, "etcd.db_size")["master1"]["details"]["defrag_free_percent"] == 99.3


def test_database_at_its_quota_frees_little():
    statuses = E.parse_endpoint_status((FIX / "etcd_maintenance" / "local_nospace_endpoint_status.stdout").read_text())
    first = statuses["http://127.0.0.1:42379"]
    found = T.defrag_finding("m1", None, first, 4194304, 50, 25)
    assert found["status"] == "ok" and found["details"]["free_percent"] == 12.0
    assert found["details"]["db_percent_of_quota"] == 101.3


# -- the quota from the etcd unit ----------------------------------------------------------------------------------
LAB_SHOW = (FIX / "etcd_trends" / "lab_etcd_unit_show.stdout").read_text()


def test_lab_unit_sets_no_quota():
    argv, env, files = T.parse_unit_show(LAB_SHOW)
    assert argv[0] == "/usr/bin/etcd" and "--name=master1" in argv and argv[-1] == "--experimental-warning-apply-duration=1s"
    assert env == {} and files == []
    assert T.quota_from_unit(argv, env, lambda p: "") == (None, "etcd's default (not set in the etcd unit)")


def with_flags(*flags: str) -> str:
    return LAB_SHOW.replace(" ; ignore_errors=no", " " + " ".join(flags) + " ; ignore_errors=no", 1)


@pytest.mark.parametrize("flags, quota", [
    (["--quota-backend-bytes=8589934592"], 8589934592),
    (["--quota-backend-bytes", "4294967296"], 4294967296),
    (["-quota-backend-bytes=1073741824"], 1073741824),
    (["--quota-backend-bytes=${QUOTA}"], 6442450944),
    (["--quota-backend-bytes=0"], None),          # 0: etcd's default
    (["--quota-backend-bytes=lots"], None),
])
def test_quota_flag(flags, quota):
    argv, env, _files = T.parse_unit_show(with_flags(*flags) + "\n")
    assert T.quota_from_unit(argv, {"QUOTA": "6442450944"}, lambda p: "")[0] == quota


def test_quota_from_environment_and_env_file(tmp_path):
    env_file = tmp_path / "etcd.env"
    env_file.write_text('# etcd\nETCD_NAME=master1\nexport ETCD_QUOTA_BACKEND_BYTES="4294967296"\n')
    show = LAB_SHOW.replace("Environment=\n", f"Environment=ETCD_SNAPSHOT_COUNT=10000\nEnvironmentFiles={env_file} (ignore_errors=yes)\n")
    argv, env, files = T.parse_unit_show(show)
    assert env == {"ETCD_SNAPSHOT_COUNT": "10000"} and files == [str(env_file)]
    merged = {**T.parse_env_file(env_file.read_text()), **env}
    assert T.quota_from_unit(argv, merged, lambda p: "") == (4294967296, "ETCD_QUOTA_BACKEND_BYTES of the etcd unit")


def test_config_file_wins(tmp_path):
    config = tmp_path / "etcd.yml"
    config.write_text("name: master1\nquota-backend-bytes: 8589934592\n")
    argv, env, _files = T.parse_unit_show(with_flags(f"--config-file={config}", "--quota-backend-bytes=1"))
    assert T.quota_from_unit(argv, env, T._read_text) == (8589934592, f"quota-backend-bytes in {config}")


class FakeModule:
    def __init__(self, rc: int, out: str, err: str = "", systemctl: str | None = "/usr/bin/systemctl"):
        self.answer, self.systemctl, self.calls = (rc, out, err), systemctl, []

    def get_bin_path(self, name):
        return self.systemctl if name == "systemctl" else None

    def run_command(self, argv, environ_update=None):
        self.calls.append(argv)
        return self.answer


def test_read_quota_falls_back_to_the_default_and_says_why():
    assert T.read_quota(FakeModule(0, LAB_SHOW), "etcd") == (T.DEFAULT_QUOTA_BYTES, "etcd's default (not set in the etcd unit)")
    module = FakeModule(0, with_flags("--quota-backend-bytes=8589934592"))
    assert T.read_quota(module, "etcd")[0] == 8589934592 and module.calls[0][-1] == "etcd"
    quota, why = T.read_quota(FakeModule(0, "ExecStart=\n"), "etcd3")
    assert quota == T.DEFAULT_QUOTA_BYTES and "unit etcd3 has no ExecStart" in why
    assert "systemctl not found" in T.read_quota(FakeModule(0, "", systemctl=None), "etcd")[1]


# -- the snapshots of each etcd host that takes backups ------------------------------------------------------------
def _snapshot(directory: Path, name: str, age_hours: float, now: float, record: bool = True) -> Path:
    path = directory / name
    path.write_bytes(b"s" * 64)
    os.utime(path, (now - age_hours * 3600, now - age_hours * 3600))
    if record:
        st = os.stat(path)
        taken = datetime.datetime.fromtimestamp(now - age_hours * 3600, datetime.timezone.utc)
        (directory / (name + ".verified.json")).write_text(json.dumps({
            "schema": "kubeops.runbook/etcd-snapshot/v1", "name": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "taken": taken.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    return path


def test_backup_dir_and_copy_to(tmp_path):
    import time
    now = time.time()
    local, share = tmp_path / "local", tmp_path / "share"
    local.mkdir()
    share.mkdir()
    _snapshot(local, "etcd-snapshot-20261206T150000Z.db", 1, now)
    _snapshot(share, "etcd-snapshot-20261205T090000Z.db", 30, now)
    # newer-looking files that are no verified snapshot: a half-written temporary and a record-less collection name
    _snapshot(share, ".etcd-snapshot-20261206T150000Z-123.db", 1, now, record=False)
    _snapshot(share, "etcd-snapshot-20261206T150000Z.db", 1, now, record=False)
    params = H.validate(T.BACKUP_SPEC, {"backup_dir": str(local), "copy_to": str(share)})
    found = by(T.inspect_backups(None, params, "master1")["findings"], "backups.etcd_snapshot")
    assert found[str(local)]["status"] == "ok" and found[str(local)]["details"]["role"] == "backup_dir"
    copy = found[str(share)]
    assert copy["status"] == "warning" and copy["details"]["role"] == "copy_to" and copy["host"] == "master1"
    assert copy["details"]["newest"] == "etcd-snapshot-20261205T090000Z.db"
    assert copy["details"]["ignored"] == ["etcd-snapshot-20261206T150000Z.db (not verified: no verification record)"]
    # the same directory twice is checked once; no copy_to, none
    assert len(T.inspect_backups(None, dict(params, copy_to=str(local) + "/"), "m")["findings"]) == 1
    assert len(T.inspect_backups(None, dict(params, copy_to=None), "m")["findings"]) == 1


def test_a_foreign_complete_snapshot_counts_by_mtime(tmp_path):
    """The lab's timer (a plain etcdctl snapshot save into <name>.part, renamed when complete): counted, unverified."""
    import time
    now = time.time()
    _snapshot(tmp_path, "lab-etcd-20261206T161219Z.db", 0.5, now, record=False)
    _snapshot(tmp_path, "lab-etcd-20261206T171219Z.db.part", 0, now, record=False)
    [item] = T.inspect_backups(None, H.validate(T.BACKUP_SPEC, {"backup_dir": str(tmp_path)}), "master1")["findings"]
    assert item["status"] == "ok" and item["details"]["newest"] == "lab-etcd-20261206T161219Z.db"
    assert item["details"]["verified"] is False


def test_missing_and_unreadable(tmp_path, monkeypatch):
    params = H.validate(T.BACKUP_SPEC, {"backup_dir": str(tmp_path / "none"), "missing_status": "critical"})
    [missing] = T.inspect_backups(None, params, "node1")["findings"]
    assert missing["status"] == "critical" and "does not exist" in missing["summary"]

    def refuse(directory, pattern):
        raise PermissionError(13, "Permission denied", directory)
    monkeypatch.setattr(E, "list_snapshots", refuse)
    [unknown] = T.inspect_backups(None, H.validate(T.BACKUP_SPEC, {"backup_dir": str(tmp_path)}), "node1")["findings"]
    assert unknown["status"] == "unknown" and "Permission denied" in unknown["summary"]


def test_registered_host_check_labels_the_host(tmp_path):
    found, result = H.run_one(None, "etcd_backup_info", {"backup_dir": str(tmp_path / "x"), "copy_to": "/mnt/nfs/etcd"},
                              "node1", {})
    assert "error" not in result and [f["host"] for f in found] == ["node1", "node1"]
    assert [f["target"] for f in found] == [str(tmp_path / "x"), "/mnt/nfs/etcd"]
    bad, result = H.run_one(None, "etcd_backup_info", {"backup_dir": str(tmp_path), "warning_hours": "soon"}, "node1", {})
    assert "error" in result and [(f["id"], f["target"], f["status"]) for f in bad] == [
        ("backups.etcd_snapshot", str(tmp_path), "unknown")]


# -- which etcd hosts take backups (roles/cluster_inspection/defaults/main.yml) ---------------------------------
def _backup_hosts(etcd_hosts: list[str], hostvars: dict, **variables) -> list[str]:
    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    value = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles" / "cluster_inspection" / "defaults"
                            / "main.yml").read_text())["cluster_inspection_etcd_backup_hosts"]
    try:    # ansible-core 2.19+ templates only what is marked trusted (a role's defaults are)
        from ansible.template import trust_as_template  # pylint: disable=import-outside-toplevel
        value = trust_as_template(value)
    except ImportError:
        pass
    hostvars = {h: {"inventory_hostname": h, **hostvars.get(h, {})} for h in etcd_hosts}
    return Templar(loader=DataLoader(), variables={"groups": {"etcd": etcd_hosts}, "hostvars": hostvars,
                                                   **variables}).template(value)


def test_backup_hosts_follow_the_etcd_backup_settings():
    lab = ["master1", "node1", "node2"]
    assert _backup_hosts(lab, {}) == ["master1"]                       # the lab: etcd_backup.yml's host, no schedule
    assert _backup_hosts(lab, {}, etcd_backup_host="node1") == ["node1"]
    scheduled = {"node2": {"etcd_backup_schedule": "*:0/15"}, "node1": {"etcd_backup_schedule": ""}}
    assert _backup_hosts(lab, scheduled) == ["master1", "node2"]
    every = {h: {"etcd_backup_schedule": "*:0/15"} for h in lab}
    assert _backup_hosts(lab, every) == lab
    assert _backup_hosts([], {}) == []
