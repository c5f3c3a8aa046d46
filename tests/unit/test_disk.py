"""disk_usage_info logic (plugins/module_utils/_disk.py) on /proc/mounts, statvfs and df captured for real."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _disk as D

FIX = Path(__file__).parent / "fixtures" / "disk"
PARAMS = {"space_warning": 80, "space_critical": 90, "inodes_warning": 80, "inodes_critical": 90}


@pytest.mark.parametrize("fixture, included, excluded", [
    # /run/netns is /dev/vda again (a bind mount): measured once, at /
    ("proc_mounts_controller.txt", ["/", "/var/lib/kubeops-lab/nodes/master1/root"],
     ["/proc", "/sys", "/dev/shm", "/sys/fs/cgroup/cpu", "/run/netns/kubeops-node1", "/dev/pts", "/run/netns"]),
    # a lab node (systemd-nspawn): overlay root, host files bind-mounted under /run/host, binaries bind-mounted
    ("proc_mounts_node1.txt", ["/", "/app/kubernetes/server/bin"],
     ["/proc", "/sys/fs/cgroup", "/dev/shm", "/run", "/run/host/os-release", "/run/host/incoming"]),
])
def test_parse_mounts_skips_pseudo(fixture, included, excluded):
    mounts = {m["mountpoint"]: m for m in D.parse_mounts((FIX / fixture).read_text())}
    for mp in included:
        assert mp in mounts
    for mp in excluded:
        assert mp not in mounts


def test_parse_mounts_include_tmpfs_and_escapes():
    mounts = D.parse_mounts((FIX / "proc_mounts_controller.txt").read_text(), include_fs=["tmpfs"])
    assert "/dev/shm" in {m["mountpoint"] for m in mounts}
    [m] = D.parse_mounts("/dev/sdb1 /data/my\\040logs ext4 rw 0 0\n")
    assert m["mountpoint"] == "/data/my logs" and m["options"] == ["rw"]


@pytest.mark.parametrize("entry", json.loads((FIX / "statvfs_df_controller.json").read_text()),
                         ids=lambda e: e["path"])
def test_usage_matches_df(entry):
    use = D.usage(entry["statvfs"])
    df = entry["df"].splitlines()[1].split()
    dfi = entry["df_i"].splitlines()[1].split()
    if df[4] == "-":
        assert use["used_percent"] is None
        return
    # statvfs and df ran one after the other on a live filesystem: a few blocks may have changed in between
    assert int(df[1]) == use["size_bytes"]
    assert abs(int(df[2]) - use["used_bytes"]) < 1 << 20 and abs(int(df[3]) - use["avail_bytes"]) < 1 << 20
    assert math.ceil(use["used_percent"]) == int(df[4].rstrip("%"))
    assert math.ceil(use["inodes_used_percent"]) == int(dfi[4].rstrip("%"))


@pytest.mark.parametrize("pct, status", [(10.0, "ok"), (80.0, "warning"), (89.9, "warning"), (90.0, "critical"), (100, "critical")])
def test_space_thresholds(pct, status):
    total = 1000
    used = int(pct * 10)
    stv = {"f_frsize": 1, "f_blocks": total, "f_bfree": total - used, "f_bavail": total - used,
           "f_files": 0, "f_ffree": 0, "f_favail": 0}
    entries = [{"target": "/data", "mountpoint": "/data", "usage": D.usage(stv)}]
    space, inodes = D.disk_findings(entries, "mw1", PARAMS)
    assert space["id"] == "disk.space" and space["status"] == status and space["target"] == "/data"
    assert inodes["id"] == "disk.inodes" and inodes["status"] == "ok" and "no inode limit" in inodes["summary"]


@pytest.mark.parametrize("params, message", [
    ({"space_warning": 101, "space_critical": 90}, "space_warning: must be a percentage between 0 and 100, got 101"),
    ({"space_warning": 80, "space_critical": -1}, "space_critical"),
    ({"space_warning": 95, "space_critical": 90}, "space_warning: 95 is above space_critical 90"),
    ({"inodes_warning": 91, "inodes_critical": 90}, "inodes_warning"),
])
def test_bad_thresholds(params, message):
    with pytest.raises(D.DiskError, match=message):
        D.validate_thresholds({**PARAMS, **params})


def test_collect_paths_and_errors():
    mounts = D.parse_mounts((FIX / "proc_mounts_controller.txt").read_text())

    def fake_statvfs(path):  # the process boundary: values captured from the controller's /
        if path == "/nope":
            raise FileNotFoundError(2, "No such file or directory")
        return json.loads((FIX / "statvfs_df_controller.json").read_text())[0]["statvfs"]

    entries = D.collect(mounts, ["/var/lib/kubeops-lab/nodes/node1/root/var/log", "/nope"], fake_statvfs)
    assert entries[0]["mountpoint"] == "/var/lib/kubeops-lab/nodes/node1/root"
    findings = D.disk_findings(entries, "h", PARAMS)
    assert [f["status"] for f in findings] == ["ok", "ok", "unknown", "unknown"]
    assert "(on /var/lib/kubeops-lab/nodes/node1/root)" in findings[0]["summary"]
    assert findings[2]["summary"] == "/nope does not exist"


def test_mount_of():
    assert D.mount_of("/data/iuap/logs/nginx", ["/", "/data", "/data/iuap2"]) == "/data"
    assert D.mount_of("/data2/x", ["/", "/data"]) == "/"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_fuzz_parse_mounts(data):
    for mount in D.parse_mounts(data):
        assert mount["mountpoint"].startswith("/")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 2**32), st.integers(0, 2**32))
def test_fuzz_usage(blocks, bfree, bavail, files, ffree):
    bfree, bavail, ffree = min(bfree, blocks), min(bavail, bfree, blocks), min(ffree, files)
    use = D.usage({"f_frsize": 4096, "f_blocks": blocks, "f_bfree": bfree, "f_bavail": bavail,
                   "f_files": files, "f_ffree": ffree, "f_favail": ffree})
    assert use["used_percent"] is None or 0 <= use["used_percent"] <= 100
    D.disk_findings([{"target": "/", "mountpoint": "/", "usage": use}], "h", PARAMS)
