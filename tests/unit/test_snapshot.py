"""Unit tests of verified etcd snapshots with retention (plugins/module_utils/_etcd_snapshot.py).

The process boundary (etcdctl) is replaced by a runner that replays real captured etcdctl 3.4.23 behaviour:
`snapshot save` writes the captured snapshot.db, `snapshot status` prints the captured JSON; failures leave a
`.part` file exactly as etcdctl does. One test runs a real single-member etcd when the binary is installed.
"""
from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_snapshot as S

FIX = Path(__file__).parent / "fixtures" / "etcd_ops"
NOW = datetime.datetime(2024, 5, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)
UTC = datetime.timezone.utc


class FakeEtcdctl:
    """Replays etcdctl: endpoints in `down` fail health, `fill` makes save fail midway leaving a .part."""

    def __init__(self, down=(), fill=(), hang=(), bad_status=False):
        self.down, self.fill, self.hang, self.bad_status = set(down), set(fill), set(hang), bad_status
        self.calls = []

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
                Path(part).write_bytes((FIX / "snapshot.db").read_bytes()[:4096])
                return 1, "", "Error: write " + part + ": no space left on device\n"
            shutil.copyfile(FIX / "snapshot.db", argv[-1])
            return 0, "Snapshot saved at " + argv[-1] + "\n", (FIX / "snapshot_save.stderr").read_text()
        if argv[1:4] == ["snapshot", "status", "-w"]:
            if self.bad_status:
                return 1, "", "Error: invalid database\n"
            return 0, (FIX / "snapshot_status.json").read_text(), ""
        raise AssertionError(f"unexpected call {argv}")


def take(tmp_path, fake, **kw):
    kw.setdefault("now", NOW)
    return S.take_snapshot(str(tmp_path / "bk"), kw.pop("endpoints", ["https://a:2379", "https://b:2379"]),
                           {"cacert": "/ca.pem"}, etcdctl=sys.executable, etcdutl=None, run=fake, **kw)


def test_parse_status_real_capture():
    assert S.parse_status((FIX / "snapshot_status.json").read_text()) == {
        "hash": 12253668, "revision": 51, "total_key": 56, "total_size": 24576}


@pytest.mark.parametrize("text", ["", "Error: invalid database", "{}", '{"hash":1,"revision":0,"totalKey":0,"totalSize":0}',
                                  '[1,2]', '{"hash":"x","revision":1,"totalKey":1,"totalSize":1}'])
def test_parse_status_rejects(text):
    with pytest.raises(S.SnapshotError):
        S.parse_status(text)


@given(st.binary(max_size=200))
def test_parse_status_fuzz(data):
    try:
        S.parse_status(data)
    except S.SnapshotError:
        pass


@pytest.mark.parametrize("name,ok", [
    ("etcd-snapshot-20240501T090000Z.db", True),
    ("etcd-snapshot-20240501T090000Z.db.part", False),
    (".etcd-snapshot-20240501T090000Z.db.tmp", False),
    ("etcd-snapshot-20241301T090000Z.db", False),
    ("snapshot.db", False),
])
def test_only_proper_names_count(name, ok):
    assert (S.snapshot_time(name) is not None) is ok


def _snaps(hours_ago):
    return [{"name": f"s{h}", "path": f"/x/s{h}", "time": NOW - datetime.timedelta(hours=h), "size": 1} for h in hours_ago]


@pytest.mark.parametrize("hours,keep_count,keep_days,expected", [
    ([0, 1, 2, 3], 2, None, ["s2", "s3"]),
    ([0, 1, 2, 3], None, 0.1, ["s3"]),             # 0.1 day = 2.4 h
    ([0, 1, 2, 3], 3, 0.1, ["s3"]),
    ([500], 1, 1, []),                            # the newest is kept even when too old
    ([500, 600], 5, 1, ["s600"]),
    ([], 1, 1, []),
])
def test_plan_retention(hours, keep_count, keep_days, expected):
    assert [s["name"] for s in S.plan_retention(_snaps(hours), keep_count, keep_days, NOW)] == expected


@pytest.mark.parametrize("keep_count,keep_days,match", [(0, None, "keep_count 0"), (None, -1, "keep_days -1")])
def test_plan_retention_bad(keep_count, keep_days, match):
    with pytest.raises(S.SnapshotError, match=match):
        S.plan_retention([], keep_count, keep_days, NOW)


def test_take_verified_snapshot(tmp_path):
    result = take(tmp_path, FakeEtcdctl())
    path = Path(result["path"])
    assert path.name == "etcd-snapshot-20240501T090000Z.db"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert result["revision"] == 51 and result["keys"] == 56 and result["size"] == path.stat().st_size
    assert result["endpoint"] == "https://a:2379"
    assert sorted(p.name for p in path.parent.iterdir()) == [".etcd-snapshot.lock", path.name]


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
    with pytest.raises(S.SnapshotError, match="no verified snapshot"):
        take(tmp_path, fake)
    names = sorted(p.name for p in (tmp_path / "bk").iterdir())
    assert names == [".etcd-snapshot.lock", os.path.basename(older)]
    assert [s["path"] for s in S.list_snapshots(str(tmp_path / "bk"))] == [older]


def test_leftover_partials_are_removed_next_run(tmp_path):
    bk = tmp_path / "bk"
    bk.mkdir()
    (bk / ".etcd-snapshot-20240101T000000Z.db.tmp.part").write_bytes(b"half")
    result = take(tmp_path, FakeEtcdctl())
    assert result["removed_partial"] == [str(bk / ".etcd-snapshot-20240101T000000Z.db.tmp.part")]


def test_retention_and_copy(tmp_path):
    for hours in (30, 20, 10):
        take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=hours), keep_count=10)
    share = tmp_path / "share"
    result = take(tmp_path, FakeEtcdctl(), keep_count=2, keep_days=1, copy_to=str(share))
    expected = ["etcd-snapshot-20240430T130000Z.db", "etcd-snapshot-20240430T030000Z.db"]
    assert [os.path.basename(p) for p in result["deleted"]] == expected
    assert len(S.list_snapshots(str(tmp_path / "bk"))) == 2
    copy = Path(result["copy"])
    assert copy.read_bytes() == Path(result["path"]).read_bytes() and (copy.stat().st_mode & 0o777) == 0o600


def test_check_mode_predicts_and_changes_nothing(tmp_path):
    for hours in (30, 20):
        take(tmp_path, FakeEtcdctl(), now=NOW - datetime.timedelta(hours=hours))
    before = sorted(p.name for p in (tmp_path / "bk").iterdir())
    fake = FakeEtcdctl()
    result = take(tmp_path, fake, keep_count=2, check_mode=True)
    assert result["changed"] and result["path"].endswith("etcd-snapshot-20240501T090000Z.db")
    assert [os.path.basename(p) for p in result["deleted"]] == ["etcd-snapshot-20240430T030000Z.db"]
    assert fake.calls == [] and sorted(p.name for p in (tmp_path / "bk").iterdir()) == before
    real = take(tmp_path, FakeEtcdctl(), keep_count=2)
    assert real["deleted"] == result["deleted"]


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
])
def test_bad_input(tmp_path, kw, match):
    with pytest.raises(S.SnapshotError, match=match):
        take(tmp_path, FakeEtcdctl(), **kw)


def test_relative_dest_and_copy_to():
    with pytest.raises(S.SnapshotError, match="dest 'bk'"):
        S.take_snapshot("bk", ["https://a:2379"], run=FakeEtcdctl())
    with pytest.raises(S.SnapshotError, match="copy_to"):
        S.take_snapshot("/tmp/bk", ["https://a:2379"], copy_to="/tmp/bk", run=FakeEtcdctl())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not (shutil.which("etcd") and shutil.which("etcdctl")), reason="etcd/etcdctl not installed")
def test_real_etcd_snapshot_and_cli(tmp_path):
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
        assert S.main(["--endpoints", f"{dead},{ep}", "--dir", str(tmp_path / "bk"), "--keep-count", "1", "--timeout", "20"]) == 0
        snaps = S.list_snapshots(str(tmp_path / "bk"))
        assert len(snaps) == 1 and snaps[0]["size"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
