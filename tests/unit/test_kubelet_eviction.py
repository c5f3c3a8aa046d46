"""_kubelet_eviction: the disk check's thresholds for the kubelet's filesystems come before its eviction thresholds."""
from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _disk
from ansible_collections.kubeops.runbook.plugins.module_utils import _kubelet_eviction as E

FIX = Path(__file__).parent / "fixtures" / "disk" / "kubelet"
GiB = 2 ** 30


def usage(used_percent: float, size: int = 100 * GiB) -> dict:
    used = int(size * used_percent / 100)
    return {"size_bytes": size, "used_bytes": used, "avail_bytes": size - used, "used_percent": used_percent,
            "inodes_total": 1000, "inodes_used": 10, "inodes_free": 990, "inodes_used_percent": 1.0}


def entries(root_used: float, data_used: float = 10.0) -> list[dict]:
    return [{"target": "/", "mountpoint": "/", "device": "/dev/vda1", "fstype": "ext4", "usage": usage(root_used)},
            {"target": "/data", "mountpoint": "/data", "device": "/dev/vdb", "fstype": "xfs", "usage": usage(data_used)}]


PARAMS = {"space_warning": 80.0, "space_critical": 90.0, "inodes_warning": 80.0, "inodes_critical": 90.0,
          "kubelet_eviction": True, "kubelet_config": None, "kubelet_eviction_margin": 5.0}


def test_unit_text_follows_drop_ins_and_execstart_resets(tmp_path):
    dropins = tmp_path / "kubelet.service.d"
    dropins.mkdir()
    (dropins / "20-lab-stages.conf").write_text((FIX / "lab_20-lab-stages.conf").read_text())
    text = E.unit_text([str(tmp_path / "missing.service"), str(FIX / "lab_kubelet.service")], [str(dropins)])
    assert text.count("ExecStart=/app/kubernetes/server/bin/kwok") == 1    # the unit's own ExecStart was reset
    assert E._flag(text, "config") == "/etc/kwok/lab-stages.yaml"
    assert E.unit_text([str(tmp_path / "missing.service")], [str(dropins)]) is None


def test_kubeadm_drop_in_gives_the_config_path_through_environment(tmp_path):
    dropins = tmp_path / "d"
    dropins.mkdir()
    (dropins / "10-kubeadm.conf").write_text((FIX / "kubeadm_10-kubeadm.conf").read_text())
    unit = tmp_path / "kubelet.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/kubelet\n")
    text = E.unit_text([str(unit)], [str(dropins)])
    assert E._flag(text, "config") == "/var/lib/kubelet/config.yaml"
    assert E._flag(text, "kubeconfig") == "/etc/kubernetes/kubelet.conf"


def test_kubelet_configuration_yaml():
    got = E.parse_config((FIX / "kubelet-config.yaml.txt").read_text())
    assert got["hard"] == {"imagefs.available": "20%", "memory.available": "200Mi", "nodefs.available": "15%",
                           "nodefs.inodesFree": "5%"}
    assert got["soft"] == {"nodefs.available": "25%"}
    assert E.parse_config("kind: KubeletConfiguration\nevictionHard: {nodefs.available: '5%', imagefs.available: 2Gi}\n") \
        == {"hard": {"nodefs.available": "5%", "imagefs.available": "2Gi"}, "soft": None}
    assert E.parse_config('{"kind": "KubeletConfiguration", "evictionHard": {"nodefs.available": "12%"}}')["hard"] == {
        "nodefs.available": "12%"}


def test_the_labs_kwok_config_is_no_kubelet_configuration():
    with pytest.raises(E.EvictionError, match="not a KubeletConfiguration"):
        E.parse_config((FIX / "lab-stages.yaml.txt").read_text())


def test_thresholds_come_before_eviction(tmp_path):
    """nodefs.available hard 15 %, soft 25 %, imagefs.available hard 20 %, one filesystem for both: the kubelet evicts
    from 80 % used (75 % after the soft grace period), so the root filesystem warns from 70 % and is critical from
    80 %; /data is not the kubelet's and keeps 80/90."""
    unit = f"ExecStart=/usr/bin/kubelet --config={FIX / 'kubelet-config.yaml.txt'} --root-dir=/var/lib/kubelet"
    found = entries(72.0, 72.0)
    E.apply(found, dict(PARAMS), _disk.mount_of, unit=unit)
    assert (found[0]["space_warning"], found[0]["space_critical"]) == (70.0, 80.0)
    assert "space_warning" not in found[1] and "kubelet" not in found[1]
    findings = {f["target"]: f for f in _disk.disk_findings(found, "node1", PARAMS) if f["id"] == "disk.space"}
    root = findings["/"]
    assert root["status"] == "warning" and root["details"]["warning"] == 70.0 and root["details"]["critical"] == 80.0
    assert root["summary"].endswith("; the kubelet evicts pods below 15% free (nodefs.available), "
                                    "20% free (imagefs.available)")
    assert root["details"]["kubelet"]["source"].startswith("kubelet config ")
    assert root["details"]["kubelet"]["filesystems"] == ["nodefs", "imagefs"]   # the same filesystem here
    assert findings["/data"]["status"] == "ok"


def test_flags_win_and_quantities_are_read_against_the_filesystem_size():
    unit = ("ExecStart=/usr/bin/kubelet --config=/nonexistent/config.yaml "
            "--eviction-hard=memory.available<100Mi,nodefs.available<20Gi")
    found = entries(10.0)
    E.apply(found, dict(PARAMS), _disk.mount_of, unit=unit)
    assert (found[0]["space_warning"], found[0]["space_critical"]) == (75.0, 80.0)  # 20Gi of 100Gi = 20 %
    assert found[0]["kubelet"]["source"] == "kubelet flags"


def test_kubelet_defaults_without_config_and_stricter_configured_thresholds_stay():
    found = entries(10.0)
    E.apply(found, dict(PARAMS, space_warning=60.0, space_critical=70.0), _disk.mount_of,
            unit="ExecStart=/usr/bin/kubelet --kubeconfig=/etc/kubernetes/kubelet.conf")
    # defaults: nodefs 10 % and imagefs 15 % (same filesystem): 100 - 15 - 5 = 80 and 85 are later than 60/70
    assert (found[0]["space_warning"], found[0]["space_critical"]) == (60.0, 70.0)
    assert found[0]["kubelet"]["source"] == "kubelet defaults"


def test_an_unreadable_config_keeps_the_thresholds_and_says_why():
    """The lab: the kubelet unit is kwok's, its --config a kwok Stage file."""
    text = "\n".join((FIX / name).read_text() for name in ("lab_kubelet.service", "lab_20-lab-stages.conf"))
    text = text.replace("\\\n", " ").replace("/etc/kwok/lab-stages.yaml", str(FIX / "lab-stages.yaml.txt"))
    found = entries(88.0)
    E.apply(found, dict(PARAMS), _disk.mount_of, unit=text)
    assert "space_warning" not in found[0]
    assert found[0]["kubelet"]["note"].endswith("not a KubeletConfiguration (no kind: KubeletConfiguration); "
                                                "the configured thresholds apply")
    [root] = [f for f in _disk.disk_findings(found, "node1", PARAMS) if f["id"] == "disk.space" and f["target"] == "/"]
    assert root["status"] == "warning" and root["details"]["warning"] == 80.0   # as configured
    assert "configured thresholds apply" in root["details"]["kubelet"]["note"]


def test_no_kubelet_nothing_changes(monkeypatch):
    monkeypatch.setattr(E, "unit_text", lambda: None)
    found = entries(10.0)
    E.apply(found, dict(PARAMS), _disk.mount_of)
    assert all("kubelet" not in e and "space_warning" not in e for e in found)
    E.apply(found, dict(PARAMS, kubelet_eviction=False), _disk.mount_of, unit="ExecStart=/usr/bin/kubelet")
    assert all("kubelet" not in e for e in found)
