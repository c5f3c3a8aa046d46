"""The etcd_restore role's data directory steps (roles/etcd_restore/files/kubeops_etcd_datadir.sh), run on temporary
directories: aside, install (owned by etcd's user), back - for a plain directory, and for one that is a mount point
(which cannot be renamed: 1.1.0's `mv -T` failed there with EBUSY). `mountpoint` is answered by a stand-in on PATH that
says yes for the one directory, the only part of the system replaced."""
from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "etcd_restore" / "files" / "kubeops_etcd_datadir.sh"
STAMP = "20261206T100000Z"


def run(tmp_path: Path, *args: str, mount: Path | None = None, check: bool = True) -> dict:
    env = dict(os.environ)
    if mount is not None:
        shim = tmp_path / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "mountpoint").write_text(f'#!/bin/sh\n[ "$2" = "{mount}" ]\n')
        (shim / "mountpoint").chmod(0o755)
        env["PATH"] = f"{shim}:{env['PATH']}"
    proc = subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    return {"rc": proc.returncode, "stderr": proc.stderr}


def etcd_dir(path: Path, revision: str) -> None:
    (path / "member" / "snap").mkdir(parents=True)
    (path / "member" / "snap" / "db").write_text(revision)


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def me() -> str:
    user = pwd.getpwuid(os.getuid())
    return f"{user.pw_name}:"


@pytest.mark.parametrize("mounted", [False, True], ids=["directory", "mount_point"])
def test_aside_restore_install_then_back(tmp_path, mounted):
    data = tmp_path / "var-lib" / "etcd"
    data.mkdir(parents=True)
    etcd_dir(data, "old")
    mount = data if mounted else None
    where = run(tmp_path, "where", str(data), STAMP, mount=mount)
    assert where["mount_point"] is mounted and where["exists"] is True and not where["changed"]
    if mounted:       # everything stays on the data directory's own file system
        assert where["before"] == f"{data}/.before-restore-{STAMP}" and where["staging"] == f"{data}/.restore-{STAMP}"
    else:
        assert where["before"] == f"{data}.before-restore-{STAMP}" and where["staging"] == f"{data}.restore-{STAMP}"

    aside = run(tmp_path, "aside", str(data), STAMP, mount=mount)
    assert aside["changed"] and (Path(aside["before"]) / "member" / "snap" / "db").read_text() == "old"
    assert run(tmp_path, "aside", str(data), STAMP, mount=mount)["changed"] is False      # again: nothing more to do
    etcd_dir(Path(where["staging"]), "restored")          # what `etcdctl snapshot restore --data-dir <staging>` makes
    installed = run(tmp_path, "install", str(data), STAMP, me(), mount=mount)
    assert installed["changed"] and (data / "member" / "snap" / "db").read_text() == "restored"
    assert not Path(where["staging"]).exists() and oct(data.stat().st_mode & 0o777) == "0o700"
    assert data.stat().st_uid == os.getuid()

    back = run(tmp_path, "back", str(data), STAMP, mount=mount)
    assert back["changed"] and (data / "member" / "snap" / "db").read_text() == "old"
    assert (Path(where["failed"]) / "member" / "snap" / "db").read_text() == "restored"
    assert not Path(where["before"]).exists()
    if mounted:
        assert sorted(p.name for p in data.iterdir()) == [f".failed-restore-{STAMP}", "member"]


@pytest.mark.parametrize("mounted", [False, True], ids=["directory", "mount_point"])
def test_back_after_a_restore_that_failed_before_install(tmp_path, mounted):
    """snapshot restore failed half-way on this member: its partial output is kept as the failed restore."""
    data = tmp_path / "etcd"
    data.mkdir()
    etcd_dir(data, "old")
    mount = data if mounted else None
    where = run(tmp_path, "where", str(data), STAMP, mount=mount)
    run(tmp_path, "aside", str(data), STAMP, mount=mount)
    Path(where["staging"]).mkdir()
    run(tmp_path, "back", str(data), STAMP, mount=mount)
    assert (data / "member" / "snap" / "db").read_text() == "old" and not Path(where["staging"]).exists()


def test_install_refuses_to_overwrite_data_that_was_not_kept_aside(tmp_path):
    data = tmp_path / "etcd"
    data.mkdir()
    etcd_dir(data, "live")
    Path(f"{data}.restore-{STAMP}").mkdir()
    refused = run(tmp_path, "install", str(data), STAMP, me(), check=False)
    assert refused["rc"] == 1 and "its data was not kept aside" in refused["stderr"]
    (data / f".restore-{STAMP}").mkdir()
    refused = run(tmp_path, "install", str(data), STAMP, me(), mount=data, check=False)
    assert refused["rc"] == 1 and "is not empty: its data was not kept aside" in refused["stderr"]
    assert tree(data) == [f".restore-{STAMP}", "member", "member/snap", "member/snap/db"]


def test_a_missing_data_directory_has_nothing_to_keep(tmp_path):
    data = tmp_path / "etcd"
    assert run(tmp_path, "where", str(data), STAMP)["exists"] is False
    assert run(tmp_path, "aside", str(data), STAMP)["changed"] is False
