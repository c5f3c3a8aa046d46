"""Unit tests of verified etcd snapshots with safe retention: the etcd_backup role's helper
(roles/etcd_backup/files/kubeops_etcd_backup.py), which the timer runs and the etcd_snapshot action plugins run.

The process boundary (etcdctl) is replaced by a runner that replays real captured etcdctl 3.4.23 behaviour:
`snapshot save` writes the captured snapshot.db (with etcd's SHA-256 trailer), `snapshot status` prints the captured
JSON; failures leave a `.part` file exactly as etcdctl does. One test runs a real single-member etcd when the binary
is installed. The hostile reproducers of the review (future-named files, empty files, names out of order) are here.
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.action import etcd_snapshot as snapshot_action

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "roles" / "etcd_backup" / "files" / "kubeops_etcd_backup.py"
_spec = importlib.util.spec_from_file_location("kubeops_etcd_backup", HELPER)
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)

FIX = Path(__file__).parent / "fixtures" / "etcd_ops"
UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC)
SNAPSHOT = (FIX / "snapshot.db").read_bytes()
STATUS = json.loads((FIX / "snapshot_status.json").read_text())


class FakeEtcdctl:
    """Replays etcdctl: endpoints in `down` fail health, `fill` makes save fail midway leaving a .part, `hang` times
    out. Every save gets the next revision; `snapshot status` answers the revision of the file it is asked about."""

    def __init__(self, down=(), fill=(), hang=(), bad_status=False, revision=51):
        self.down, self.fill, self.hang, self.bad_status = set(down), set(fill), set(hang), bad_status
        self.revision = revision
        self.calls = []
        self.revisions: dict[bytes, int] = {}

    def __call__(self, argv, env, timeout):
        assert env == {"ETCDCTL_API": "3"}
        self.calls.append(argv)
        endpoint = next((a.split("=", 1)[1] for a in argv if a.startswith("--endpoints=")), None)
        if "health" in argv:
            if endpoint in self.down:
                return 1, "", (FIX / "endpoint_health_one_down.stderr").read_text()
            return 0, f"{endpoint} is healthy: successfully committed proposal: took = 2ms\n", ""
        if argv[-3:-1] == ["snapshot", "save"]:
            part = argv[-1] + ".part"
            if endpoint in self.hang:
                Path(part).write_bytes(b"")
                return 124, "", f"timed out after {timeout:g}s"
            if endpoint in self.fill:
                Path(part).write_bytes(SNAPSHOT[:4096])
                return 1, "", "Error: write " + part + ": no space left on device\n"
            self.revision += 1
            Path(argv[-1]).write_bytes(SNAPSHOT)
            self.revisions[str(os.stat(argv[-1]).st_ino).encode()] = self.revision
            return 0, "Snapshot saved at " + argv[-1] + "\n", (FIX / "snapshot_save.stderr").read_text()
        if argv[1:4] == ["snapshot", "status", "-w"]:
            if self.bad_status:
                return 1, "", "Error: invalid database\n"
            path = argv[-1]
            if Path(path).read_bytes()[:4096] != SNAPSHOT[:4096]:      # not a bolt database etcd wrote
                return 1, "", "Error: invalid database\n"
            revision = self.revisions.get(str(os.stat(path).st_ino).encode(), STATUS["revision"])
            return 0, json.dumps({**STATUS, "revision": revision}), ""
        raise AssertionError(f"unexpected call {argv}")


def take(tmp_path, fake, **kw):
    kw.setdefault("now", NOW)
    return S.take(str(tmp_path / "bk"), kw.pop("endpoints", ["https://a:2379", "https://b:2379"]),
                  {"cacert": "/ca.pem"}, etcdctl=sys.executable, etcdutl=None, run=fake, **kw)


def names(directory) -> list[str]:
    return sorted(p.name for p in Path(directory).iterdir())


def counted(directory, now=NOW) -> list[str]:
    return [b["name"] for b in S.inventory(str(directory), now)["backups"]]


# -- parsing and verification ------------------------------------------------------------------------------------

def test_parse_status_real_capture():
    assert S.parse_status((FIX / "snapshot_status.json").read_text()) == {
        "hash": 12253668, "revision": 51, "total_key": 56, "total_size": 24576}


@pytest.mark.parametrize("text", ["", "Error: invalid database", "{}", '{"hash":1,"revision":0,"totalKey":0,"totalSize":0}',
                                  '[1,2]', '{"hash":"x","revision":1,"totalKey":1,"totalSize":1}'])
def test_parse_status_rejects(text):
    with pytest.raises(S.SnapshotError):
        S.parse_status(text)


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_parse_status_fuzz(data):
    try:
        S.parse_status(data)
    except S.SnapshotError:
        pass


def test_trailer_of_a_real_snapshot(tmp_path):
    good = tmp_path / "good.db"
    good.write_bytes(SNAPSHOT)
    assert S.check_trailer(str(good)) is True
    plain = tmp_path / "plain.db"        # a bare database (no trailer): nothing to check
    plain.write_bytes(SNAPSHOT[:-32])
    assert S.check_trailer(str(plain)) is None


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_trailer_catches_damage_that_status_misses(tmp_path, damage):
    """`snapshot status` still answers for a truncated file (see fixtures/etcd_ops/README.md); the trailer does not."""
    bad = tmp_path / "bad.db"
    data = bytearray(SNAPSHOT)
    if damage == "flip":
        data[5000] ^= 0xFF
    else:
        data = data[:20480] + data[-32:]
    bad.write_bytes(bytes(data))
    with pytest.raises(S.SnapshotError, match="damaged"):
        S.check_trailer(str(bad))


@pytest.mark.parametrize("name,ok", [
    ("etcd-snapshot-20240501T090000Z.db", True),
    ("etcd-snapshot-20240501T090000Z.db.part", False),
    (".etcd-snapshot-20240501T090000Z.db.tmp", False),
    ("etcd-snapshot-20241301T090000Z.db", False),
    ("etcd-snapshot-20240501T090000Z.db.verified.json", False),
    ("snapshot.db", False),
])
def test_only_proper_names_can_count(name, ok):
    assert (S.name_time(name) is not None) is ok


# -- retention planning --------------------------------------------------------------------------------------------

def _backups(spec):
    """spec: (revision, hours ago) pairs -> backups named r<revision>."""
    return [{"name": f"r{rev}", "path": f"/x/r{rev}", "revision": rev, "taken": NOW - datetime.timedelta(hours=h)}
            for rev, h in spec]


@pytest.mark.parametrize("spec,keep_count,keep_days,protect,expected", [
    ([(4, 0), (3, 1), (2, 2), (1, 3)], 2, None, (), ["r2", "r1"]),
    ([(4, 0), (3, 1), (2, 2), (1, 3)], None, 0.1, (), ["r1"]),          # 0.1 day = 2.4 h
    ([(4, 0), (3, 1), (2, 2), (1, 3)], 3, 0.1, (), ["r1"]),
    ([(1, 500)], 1, 1, (), []),                                         # the newest is kept even when too old
    ([(2, 500), (1, 600)], 5, 1, (), ["r1"]),
    ([], 1, 1, (), []),
    # names and clocks do not matter, revisions do: a backup "verified" in the future is still older content
    ([(9, 0), (5, -30), (7, 2)], 2, None, (), ["r5"]),
    # the snapshot just taken is kept first, whatever its revision (after a restore, revisions start lower)
    ([(3, 0), (10, 5), (9, 6)], 2, None, ("/x/r3",), ["r9"]),
    ([(3, 0), (10, 5), (9, 6)], 1, None, ("/x/r3",), ["r10", "r9"]),
])
def test_plan_retention(spec, keep_count, keep_days, protect, expected):
    doomed = S.plan_retention(_backups(spec), keep_count, keep_days, NOW, protect)
    assert [s["name"] for s in doomed] == expected


@pytest.mark.parametrize("keep_count,keep_days,match", [(0, None, "keep_count 0"), (None, -1, "keep_days -1")])
def test_plan_retention_bad(keep_count, keep_days, match):
    with pytest.raises(S.SnapshotError, match=match):
        S.plan_retention([], keep_count, keep_days, NOW)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.integers(1, 1000), st.integers(-48, 500)), max_size=30, unique_by=lambda x: x[0]),
       st.integers(1, 30), st.one_of(st.none(), st.floats(0.01, 30)), st.booleans())
def test_retention_never_deletes_the_new_or_the_newest(spec, keep_count, keep_days, with_new):
    backups = _backups(spec)
    protect = ()
    if with_new:
        backups.append({"name": "new", "path": "/x/new", "revision": 0, "taken": NOW})
        protect = ("/x/new",)
    doomed = {d["path"] for d in S.plan_retention(backups, keep_count, keep_days, NOW, protect)}
    assert not doomed & set(protect)
    if backups:
        assert S.rank([b for b in backups if b["path"] not in protect] or backups)[0]["path"] not in doomed or protect
        assert len(backups) - len(doomed) >= 1


# -- taking snapshots ----------------------------------------------------------------------------------------------

def test_take_verified_snapshot(tmp_path):
    result = take(tmp_path, FakeEtcdctl())
    path = Path(result["path"])
    assert path.name == "etcd-snapshot-20240501T090000Z.db"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert result["revision"] == 52 and result["total_keys"] == 56 and result["size"] == path.stat().st_size
    assert "keys" not in result and "copy" not in result           # renamed: they clash with dict methods in Jinja
    assert result["endpoint"] == "https://a:2379" and result["backups"] == 1
    assert names(path.parent) == [".etcd-snapshot.lock", path.name, path.name + ".verified.json"]
    record = json.loads(Path(str(path) + ".verified.json").read_text())
    assert record["revision"] == 52 and record["size"] == path.stat().st_size and record["trailer"] is True
    assert record["mtime_ns"] == path.stat().st_mtime_ns and record["taken"] == "2024-05-01T09:00:00Z"
    assert counted(path.parent) == [path.name]


def test_next_endpoint_when_first_is_down(tmp_path):
    fake = FakeEtcdctl(down={"https://a:2379"})
    result = take(tmp_path, fake)
    assert result["endpoint"] == "https://b:2379"
    assert result["attempts"][0]["endpoint"] == "https://a:2379" and "unhealthy" in result["attempts"][0]["error"]
    assert not any("save" in c and "--endpoints=https://a:2379" in c for c in fake.calls)


@pytest.mark.parametrize("fake", [FakeEtcdctl(fill={"https://a:2379", "https://b:2379"}),
                                  FakeEtcdctl(hang={"https://a:2379", "https://b:2379"}),
                                  FakeEtcdctl(bad_status=True),
                                  FakeEtcdctl(down={"https://a:2379", "https://b:2379"})])
def test_failed_snapshot_never_looks_like_a_backup(tmp_path, fake):
    older = take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=1))["path"]
    with pytest.raises(S.SnapshotError, match="no verified snapshot") as caught:
        take(tmp_path, fake, keep_count=1)
    assert not isinstance(caught.value, S.PartialFailure)
    assert names(tmp_path / "bk") == [".etcd-snapshot.lock", os.path.basename(older), os.path.basename(older) + ".verified.json"]
    assert counted(tmp_path / "bk") == [os.path.basename(older)]


def test_damaged_save_is_not_stored(tmp_path):
    """A save that 'succeeds' but delivers a damaged file (trailer mismatch) is removed; the next endpoint is used."""
    fake = FakeEtcdctl()
    real_call = fake.__call__

    def damaging(argv, env, timeout):
        rc, out, err = real_call(argv, env, timeout)
        if argv[-3:-1] == ["snapshot", "save"] and "--endpoints=https://a:2379" in argv:
            data = bytearray(Path(argv[-1]).read_bytes())
            data[6000] ^= 0xFF
            Path(argv[-1]).write_bytes(bytes(data))
        return rc, out, err

    result = take(tmp_path, damaging)
    assert result["endpoint"] == "https://b:2379" and "damaged" in result["attempts"][0]["error"]


def test_leftovers_are_removed_next_run_and_never_counted(tmp_path):
    bk = tmp_path / "bk"
    bk.mkdir()
    (bk / ".etcd-snapshot-20240101T000000Z-77.db.tmp.part").write_bytes(SNAPSHOT[:4096])   # etcdctl killed mid-save
    (bk / ".etcd-snapshot-20240101T000000Z-77.db.tmp").write_bytes(SNAPSHOT)              # helper killed after save
    (bk / "etcd-snapshot-20240101T000000Z.db.verified.json").write_text("{}")             # killed between renames
    assert S.inventory(str(bk), NOW)["backups"] == []
    assert S.listing(str(bk), NOW)["newest"] is None
    result = take(tmp_path, FakeEtcdctl())
    assert sorted(os.path.basename(p) for p in result["removed_partial"]) == [
        ".etcd-snapshot-20240101T000000Z-77.db.tmp", ".etcd-snapshot-20240101T000000Z-77.db.tmp.part",
        "etcd-snapshot-20240101T000000Z.db.verified.json"]
    assert counted(bk) == ["etcd-snapshot-20240501T090000Z.db"]


# -- the hostile reproducers ---------------------------------------------------------------------------------------

def _future_backups(tmp_path, count=24, ahead=datetime.timedelta(days=1)):
    """`count` valid, verified snapshots named (and verified) a day ahead: a clock that ran ahead, then NTP fixed it."""
    for i in range(count):
        take(tmp_path, FakeEtcdctl(revision=100 + i), now=NOW + ahead - datetime.timedelta(hours=i), keep_count=100)


def test_future_named_backups_cannot_make_retention_delete_the_new_snapshot(tmp_path):
    _future_backups(tmp_path)
    result = take(tmp_path, FakeEtcdctl(revision=500), keep_count=24, keep_days=7)
    assert Path(result["path"]).exists() and result["path"] not in result["deleted"]
    assert result["deleted"] == []                       # the future files are not counted, and not deleted either
    assert counted(tmp_path / "bk") == [os.path.basename(result["path"])]
    assert len(result["ignored"]) == 24 and all("future" in i["reason"] for i in result["ignored"])
    assert "do not count" in result["msg"]


def test_future_named_backups_do_not_make_skip_if_newer_than_skip(tmp_path):
    _future_backups(tmp_path, count=2)
    result = take(tmp_path, FakeEtcdctl(), skip_if_newer_than=60)
    assert not result["recent_kept"] and result["changed"] and result["path"].endswith("20240501T090000Z.db")
    again = take(tmp_path, FakeEtcdctl(), skip_if_newer_than=60, now=NOW + datetime.timedelta(minutes=5))
    assert again["recent_kept"] and not again["changed"] and again["path"] == result["path"]


def test_empty_or_unverified_newer_names_do_not_count(tmp_path):
    good = take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=2))["path"]
    bk = tmp_path / "bk"
    (bk / "etcd-snapshot-20240501T085900Z.db").write_bytes(b"")                 # empty, newer name
    (bk / "etcd-snapshot-20240501T085800Z.db").write_bytes(b"garbage" * 1000)  # unverified, newer name
    (bk / "etcd-snapshot-20240501T085700Z.db").symlink_to(good)                 # a link to a backup
    listing = S.listing(str(bk), NOW)
    assert listing["newest"]["path"] == good
    reasons = {i["name"]: i["reason"] for i in listing["ignored"]}
    assert reasons["etcd-snapshot-20240501T085900Z.db"] == "empty"
    assert reasons["etcd-snapshot-20240501T085800Z.db"].startswith("unverified")
    assert reasons["etcd-snapshot-20240501T085700Z.db"] == "not a regular file"
    # a run verifies the unverified one, finds it is no snapshot, and neither counts nor deletes it
    result = take(tmp_path, FakeEtcdctl(), keep_count=1)
    assert result["deleted"] == [good] and result["adopted"] == []
    assert (bk / "etcd-snapshot-20240501T085800Z.db").exists() and (bk / "etcd-snapshot-20240501T085900Z.db").exists()
    assert counted(bk) == [os.path.basename(result["path"])]


def test_a_file_changed_after_verification_stops_counting(tmp_path):
    path = take(tmp_path, FakeEtcdctl())["path"]
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    found = S.inventory(str(tmp_path / "bk"), NOW)
    assert found["backups"] == [] and found["ignored"][0]["reason"] == "changed since it was verified"


def test_listing_verify_newest_falls_back_past_a_damaged_backup(tmp_path):
    fake = FakeEtcdctl(revision=60)
    old = take(tmp_path, fake, now=NOW - datetime.timedelta(hours=2))["path"]
    new = take(tmp_path, fake, now=NOW - datetime.timedelta(hours=1))["path"]
    st = os.stat(new)
    data = bytearray(Path(new).read_bytes())
    data[7000] ^= 0xFF                                   # bit rot on disk, size and mtime unchanged
    Path(new).write_bytes(bytes(data))
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = S.listing(str(tmp_path / "bk"), NOW, verify_newest=True, etcdctl=sys.executable, etcdutl=None, run=fake)
    assert [r["path"] for r in result["rejected"]] == [new] and "damaged" in result["rejected"][0]["reason"]
    assert result["newest"]["path"] == old


def test_listing_verify_path(tmp_path):
    fake = FakeEtcdctl()
    path = take(tmp_path, fake)["path"]
    result = S.listing(str(tmp_path / "bk"), NOW, verify_path=path, etcdctl=sys.executable, etcdutl=None, run=fake)
    assert result["newest"]["path"] == path and result["newest"]["taken"] == "2024-05-01T09:00:00Z"
    with pytest.raises(S.SnapshotError, match="not a regular file"):
        S.listing(str(tmp_path / "bk"), NOW, verify_path="relative.db", etcdctl=sys.executable, etcdutl=None, run=FakeEtcdctl())


def test_snapshots_of_1_0_0_are_verified_once_and_recorded(tmp_path):
    bk = tmp_path / "bk"
    bk.mkdir()
    legacy = bk / "etcd-snapshot-20240430T090000Z.db"
    legacy.write_bytes(SNAPSHOT)
    os.utime(legacy, (NOW.timestamp() - 86400, NOW.timestamp() - 86400))
    check = take(tmp_path, FakeEtcdctl(), check_mode=True, keep_count=1)
    assert check["adopted"] == [str(legacy)] and check["deleted"] == [str(legacy)]
    assert not Path(str(legacy) + ".verified.json").exists()
    real = take(tmp_path, FakeEtcdctl(), keep_count=2)
    assert real["adopted"] == [str(legacy)] and real["deleted"] == []
    record = json.loads(Path(str(legacy) + ".verified.json").read_text())
    assert record["taken"] == "2024-04-30T09:00:00Z" and record["revision"] == 51
    assert counted(bk) == [os.path.basename(real["path"]), legacy.name]


def test_an_unverified_file_with_mtime_1e14_is_adopted_at_the_real_time_not_a_traceback(tmp_path):
    """A file whose mtime no calendar can hold (year out of range) cannot stop the backups."""
    bk = tmp_path / "bk"
    bk.mkdir()
    odd = bk / "etcd-snapshot-20240430T090000Z.db"
    odd.write_bytes(SNAPSHOT)
    os.utime(odd, (1e14, 1e14))
    result = take(tmp_path, FakeEtcdctl(), keep_count=5)
    assert result["adopted"] == [str(odd)] and not result.get("failed")
    assert json.loads(Path(str(odd) + ".verified.json").read_text())["taken"] == "2024-05-01T09:00:00Z"


# -- copies, failures after a change, check mode, locks, input -----------------------------------------------------

def test_retention_and_copy(tmp_path):
    for hours in (30, 20, 10):
        take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=hours), keep_count=10)
    share = tmp_path / "share"
    result = take(tmp_path, FakeEtcdctl(revision=90), keep_count=2, keep_days=1, copy_to=str(share))
    expected = ["etcd-snapshot-20240430T130000Z.db", "etcd-snapshot-20240430T030000Z.db"]
    assert sorted(os.path.basename(p) for p in result["deleted"]) == sorted(expected)
    assert not any(Path(p + ".verified.json").exists() for p in result["deleted"])
    assert len(counted(tmp_path / "bk")) == 2
    copy = Path(result["copy_path"])
    assert copy.read_bytes() == Path(result["path"]).read_bytes() and (copy.stat().st_mode & 0o777) == 0o600
    assert counted(share) == [copy.name]


def test_failure_after_a_change_reports_what_changed(tmp_path):
    """Snapshot stored, old ones deleted, then the copy fails: the run says so (changed) instead of changed=false."""
    for hours in (3, 2):
        take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=hours))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the share should be")
    with pytest.raises(S.PartialFailure) as caught:
        take(tmp_path, FakeEtcdctl(revision=70), keep_count=1, copy_to=str(blocker / "share"))
    result = caught.value.result
    assert result["changed"] and Path(result["path"]).exists() and len(result["deleted"]) == 2
    assert "copy to" in str(caught.value) and "after changing: stored" in str(caught.value)
    assert "deleted 2 old snapshot(s)" in str(caught.value)


def test_an_unexpected_error_after_the_snapshot_was_stored_still_reports_the_change(tmp_path, monkeypatch):
    """Whatever fails after the snapshot is stored (here retention raises an error no one planned for), the run reports
    changed with what it did, so the action writes the audit line; 1.1.0 let it escape as a traceback (no JSON, no
    audit, the task said changed: false)."""
    plan = S.plan_retention

    def broken(backups, *args, **kw):
        if backups:   # validate() plans an empty list first
            raise RuntimeError("retention broke")
        return plan(backups, *args, **kw)

    monkeypatch.setattr(S, "plan_retention", broken)
    with pytest.raises(S.PartialFailure) as caught:
        take(tmp_path, FakeEtcdctl(revision=70))
    result = caught.value.result
    assert result["changed"] and Path(result["path"]).exists()
    assert str(caught.value).startswith("RuntimeError: retention broke (after changing: stored ")
    assert snapshot_action.audit_records({**result, "failed": True, "msg": str(caught.value)}, str(tmp_path / "bk"))[0][
        "after"]["created"] == [result["path"]]


def test_check_mode_predicts_and_changes_nothing(tmp_path):
    for hours in (30, 20):
        take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=hours))
    _future_backups(tmp_path, count=3)
    before = names(tmp_path / "bk")
    fake = FakeEtcdctl()
    result = take(tmp_path, fake, keep_count=2, check_mode=True, copy_to=str(tmp_path / "share"))
    assert result["changed"] and result["path"].endswith("etcd-snapshot-20240501T090000Z.db")
    assert [os.path.basename(p) for p in result["deleted"]] == ["etcd-snapshot-20240430T030000Z.db"]
    assert result["copy_path"] == str(tmp_path / "share" / "etcd-snapshot-20240501T090000Z.db")
    assert fake.calls == [] and names(tmp_path / "bk") == before and not (tmp_path / "share").exists()
    real = take(tmp_path, FakeEtcdctl(revision=300), keep_count=2, copy_to=str(tmp_path / "share"))
    assert real["deleted"] == result["deleted"] and real["copy_path"] == result["copy_path"]


def test_skip_if_newer_than_is_idempotent(tmp_path):
    take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(minutes=5))
    result = take(tmp_path, FakeEtcdctl(), skip_if_newer_than=10)
    assert result["recent_kept"] and not result["changed"]


def test_lock_refuses_concurrent_run(tmp_path):
    (tmp_path / "bk").mkdir()
    with S.DirLock(str(tmp_path / "bk")):
        with pytest.raises(S.SnapshotError, match="another snapshot is running"):
            take(tmp_path, FakeEtcdctl())


@pytest.mark.parametrize("kw,match", [
    ({"endpoints": []}, "endpoints"),
    ({"endpoints": ["198.18.0.11:2379"]}, "endpoints"),
    ({"timeout": 0}, "timeout 0"),
    ({"keep_count": 0}, "keep_count 0"),
    ({"skip_if_newer_than": -1}, "skip_if_newer_than -1"),
    # the review's overflow reproducers: one line naming the value, no OverflowError
    ({"keep_days": 1000000000}, "keep_days 1e\\+09 must be more than 0 and at most 36525"),
    ({"skip_if_newer_than": 1e15}, "skip_if_newer_than 1e\\+15"),
])
def test_bad_input(tmp_path, kw, match):
    with pytest.raises(S.SnapshotError, match=match):
        take(tmp_path, FakeEtcdctl(), **kw)


def test_relative_dest_and_copy_to():
    with pytest.raises(S.SnapshotError, match="dest 'bk'"):
        S.take("bk", ["https://a:2379"], run=FakeEtcdctl())
    with pytest.raises(S.SnapshotError, match="copy_to"):
        S.take("/tmp/bk", ["https://a:2379"], copy_to="/tmp/bk", run=FakeEtcdctl())


def test_run_options_rejects_unknown_and_bad_command():
    with pytest.raises(S.SnapshotError, match="unknown options: bogus"):
        S.run_options({"command": "take", "bogus": 1})
    with pytest.raises(S.SnapshotError, match="command 'restore'"):
        S.run_options({"command": "restore", "dest": "/x"})


def test_cli_prints_one_json_line_and_fails_cleanly(tmp_path, capsys):
    assert S.main(["take", "--endpoints", "https://a:2379", "--dir", "relative"]) == 1
    out = json.loads(capsys.readouterr().out.strip())
    assert out == {"failed": True, "changed": False, "msg": "dest 'relative' must be an absolute directory path"}
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"command": "list", "dest": str(tmp_path / "none")}))
    assert S.main(["--args-file", str(args)]) == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out["exists"] is False and out["backups"] == [] and out["newest"] is None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not (shutil.which("etcd") and shutil.which("etcdctl")), reason="etcd/etcdctl not installed")
def test_real_etcd_snapshot_and_cli(tmp_path, capsys):
    client, peer = _free_port(), _free_port()
    proc = subprocess.Popen(["etcd", "--name", "t", "--data-dir", str(tmp_path / "data"),
                             "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
                             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                             "--initial-cluster", f"t=http://127.0.0.1:{peer}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ep = f"http://127.0.0.1:{client}"
        for dummy in range(50):
            if subprocess.run(["etcdctl", f"--endpoints={ep}", "put", "/k", "v"], env={**os.environ, "ETCDCTL_API": "3"},
                              capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.2)
        dead = f"http://127.0.0.1:{_free_port()}"
        assert S.main(["take", "--endpoints", f"{dead},{ep}", "--dir", str(tmp_path / "bk"), "--keep-count", "1",
                       "--timeout", "20"]) == 0
        result = json.loads(capsys.readouterr().out.strip())
        assert result["endpoint"] == ep and result["total_keys"] >= 1
        found = S.inventory(str(tmp_path / "bk"), datetime.datetime.now(UTC))
        assert [b["path"] for b in found["backups"]] == [result["path"]]
        assert json.loads(Path(result["path"] + ".verified.json").read_text())["trailer"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)
