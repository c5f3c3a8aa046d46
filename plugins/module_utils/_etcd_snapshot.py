# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verified etcd snapshots with retention. PRIVATE to the collection: not a public API.

Standard library only: the ``etcd_snapshot`` module uses it, and the ``etcd_backup`` role copies this very
file to the etcd hosts as the script its systemd timer (or cron job) runs, so both take backups the same way.

A snapshot is taken from the first endpoint that delivers one, into a hidden temporary name in the target
directory, verified with ``etcdutl snapshot status`` (``etcdctl snapshot status`` where etcdutl does not
exist, as with etcd 3.4), fsync'ed, given mode 0600 and renamed into place. Only files named
``etcd-snapshot-<UTC>.db`` count as backups; temporary and partial files never match that name and are
removed by the next run. Retention (by count and by age) never deletes the newest snapshot.
"""
from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import typing as t

NAME_RE = re.compile(r"^etcd-snapshot-(\d{8}T\d{6}Z)\.db$")
TMP_PREFIX = ".etcd-snapshot-"
LOCK_NAME = ".etcd-snapshot.lock"
SEARCH_DIRS = ("/usr/local/bin", "/opt/etcd/bin", "/usr/bin", "/app/etcd/bin")

Runner = t.Callable[[list, dict, float], "tuple[int, str, str]"]


class SnapshotError(Exception):
    """Bad input, or no verified snapshot could be written; the message is for an operator."""


def snapshot_name(now: datetime.datetime) -> str:
    return f"etcd-snapshot-{now.astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.db"


def snapshot_time(name: str) -> datetime.datetime | None:
    """UTC time in a snapshot's name; None for anything that is not a backup by name."""
    match = NAME_RE.match(name)
    if not match:
        return None
    try:
        return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def parse_status(text: str | bytes) -> dict:
    """``snapshot status -w json`` -> {hash, revision, total_key, total_size}; SnapshotError on anything else."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = (text or "").strip()
    try:
        data = json.loads(text.splitlines()[-1]) if text else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SnapshotError(f"snapshot status printed no JSON object: {text[:200]!r}")
    try:
        status = {"hash": int(data["hash"]), "revision": int(data["revision"]), "total_key": int(data["totalKey"]),
                  "total_size": int(data["totalSize"])}
    except (KeyError, TypeError, ValueError):
        raise SnapshotError(f"snapshot status lacks hash/revision/totalKey/totalSize: {text[:200]!r}") from None
    if status["revision"] < 1 or status["total_size"] < 1:
        raise SnapshotError(f"snapshot status shows an empty database: {status}")
    return status


def list_snapshots(directory: str) -> list[dict]:
    """Backups in ``directory``, newest first: regular files named etcd-snapshot-<UTC>.db (links not followed)."""
    result = []
    try:
        iterator = os.scandir(directory)
    except FileNotFoundError:
        return []
    with iterator:
        for entry in iterator:
            when = snapshot_time(entry.name)
            if when is None or not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
            result.append({"name": entry.name, "path": os.path.join(directory, entry.name), "time": when,
                           "size": st.st_size})
    return sorted(result, key=lambda s: s["time"], reverse=True)


def plan_retention(snapshots: list[dict], keep_count: int | None, keep_days: float | None,
                   now: datetime.datetime) -> list[dict]:
    """Snapshots (newest first) to delete: beyond the newest ``keep_count`` or older than ``keep_days``.

    The newest snapshot is never deleted, whatever the policy says.
    """
    if keep_count is not None and keep_count < 1:
        raise SnapshotError(f"keep_count {keep_count} must be at least 1 (the newest snapshot is always kept)")
    if keep_days is not None and keep_days <= 0:
        raise SnapshotError(f"keep_days {keep_days} must be positive")
    ordered = sorted(snapshots, key=lambda s: s["time"], reverse=True)
    doomed = []
    for index, snap in enumerate(ordered):
        if index == 0:
            continue
        too_many = keep_count is not None and index >= keep_count
        too_old = keep_days is not None and now - snap["time"] > datetime.timedelta(days=keep_days)
        if too_many or too_old:
            doomed.append(snap)
    return doomed


def find_tool(name: str) -> str | None:
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for directory in SEARCH_DIRS:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def subprocess_runner(argv: list, env: dict, timeout: float) -> tuple[int, str, str]:
    """The process boundary: run argv with extra env, kill it after ``timeout`` seconds (rc 124)."""
    full_env = dict(os.environ)
    full_env.update(env)
    try:
        proc = subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out, f"timed out after {timeout:g}s"
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip() and not ln.lstrip().startswith("{")]
    return (lines[-1] if lines else (stderr or "").strip())[:300]


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def remove_partials(directory: str) -> list[str]:
    """Remove leftovers of interrupted runs (hidden temporary names). Call with the lock held."""
    removed = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for name in names:
        if name.startswith(TMP_PREFIX) and name != LOCK_NAME:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path) and _remove(path):
                removed.append(path)
    return removed


class DirLock:
    """Exclusive, non-blocking lock of a backup directory (a timer run and a playbook run never overlap)."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, LOCK_NAME)
        self.fd: int | None = None

    def __enter__(self) -> "DirLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            self.fd = None
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise SnapshotError(f"another snapshot is running in {os.path.dirname(self.path)} (lock {self.path})") from None
            raise
        return self

    def __exit__(self, *exc: t.Any) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def _copy_verified(src: str, dest_dir: str, name: str) -> str:
    os.makedirs(dest_dir, mode=0o700, exist_ok=True)
    tmp = os.path.join(dest_dir, f"{TMP_PREFIX}{os.getpid()}.copy")
    final = os.path.join(dest_dir, name)
    try:
        with open(src, "rb") as fin, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        if os.path.getsize(tmp) != os.path.getsize(src):
            raise SnapshotError(f"copy to {dest_dir} is incomplete")
        os.chmod(tmp, 0o600)
        os.rename(tmp, final)
        _fsync_dir(dest_dir)
    except BaseException:
        _remove(tmp)
        raise
    return final


def validate(directory: str, endpoints: list[str], keep_count: int | None, keep_days: float | None,
             copy_to: str | None, timeout: float) -> None:
    if not directory or not os.path.isabs(directory):
        raise SnapshotError(f"dest {directory!r} must be an absolute directory path")
    if copy_to is not None and (not os.path.isabs(copy_to) or os.path.realpath(copy_to) == os.path.realpath(directory)):
        raise SnapshotError(f"copy_to {copy_to!r} must be an absolute path other than dest")
    if not endpoints or any("://" not in e for e in endpoints):
        raise SnapshotError(f"endpoints {endpoints!r} must be client URLs like https://198.18.0.11:2379")
    if timeout <= 0:
        raise SnapshotError(f"timeout {timeout} must be positive")
    plan_retention([], keep_count, keep_days, datetime.datetime.now(datetime.timezone.utc))


def take_snapshot(directory: str, endpoints: list[str], tls: dict | None = None, etcdctl: str = "etcdctl",
                  etcdutl: str | None = "etcdutl", keep_count: int | None = None, keep_days: float | None = None,
                  copy_to: str | None = None, timeout: float = 300, dial_timeout: int = 5,
                  skip_if_newer_than: float = 0, check_mode: bool = False, run: Runner = subprocess_runner,
                  now: datetime.datetime | None = None) -> dict:
    """Take, verify and store one snapshot, then apply retention; returns what the module returns."""
    validate(directory, endpoints, keep_count, keep_days, copy_to, timeout)
    started = time.monotonic()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    tls = tls or {}
    etcdctl_path = find_tool(etcdctl)
    if not etcdctl_path:
        raise SnapshotError(f"etcdctl {etcdctl!r} not found on this host (PATH, {', '.join(SEARCH_DIRS)})")
    etcdutl_path = find_tool(etcdutl) if etcdutl else None
    name = snapshot_name(now)
    path = os.path.join(directory, name)
    result: dict[str, t.Any] = {"changed": False, "path": None, "size": None, "revision": None, "keys": None,
                                "hash": None, "endpoint": None, "duration": 0.0, "deleted": [], "copy": None,
                                "copy_deleted": [], "removed_partial": [], "attempts": [], "recent_kept": False,
                                "verified_with": "etcdutl" if etcdutl_path else "etcdctl"}
    existing = list_snapshots(directory)
    if skip_if_newer_than and existing and now - existing[0]["time"] < datetime.timedelta(minutes=skip_if_newer_than):
        result["recent_kept"] = True
        result["path"] = existing[0]["path"]
        result["msg"] = f"newest snapshot {existing[0]['name']} is younger than {skip_if_newer_than:g} minutes: none taken"
        new_set = existing
    elif check_mode:
        result.update(changed=True, path=path, msg=f"would snapshot the first healthy of {', '.join(endpoints)} to {path}")
        new_set = [{"name": name, "path": path, "time": now, "size": 0}] + existing
    else:
        new_set = None
    if new_set is not None:
        doomed = plan_retention(new_set, keep_count, keep_days, now)
        result["deleted"] = [d["path"] for d in doomed]
        result["changed"] = result["changed"] or bool(doomed)
        if doomed and not check_mode:
            with DirLock(directory):
                for snap in doomed:
                    _remove(snap["path"])
        result["duration"] = round(time.monotonic() - started, 3)
        return result

    os.makedirs(directory, mode=0o700, exist_ok=True)
    tls_args = [f"--{k}={v}" for k, v in sorted(tls.items()) if v and k in ("cacert", "cert", "key")]
    env = {"ETCDCTL_API": "3"}
    with DirLock(directory):
        result["removed_partial"] = remove_partials(directory)
        tmp = os.path.join(directory, f"{TMP_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}.db.tmp")
        status = None
        for endpoint in endpoints:
            common = [etcdctl_path, f"--endpoints={endpoint}", *tls_args, f"--dial-timeout={dial_timeout}s"]
            # etcdctl 3.4 `snapshot save` waits forever for a member that is down: ask its health first
            rc, _out, err = run(common + [f"--command-timeout={dial_timeout}s", "endpoint", "health"], env, timeout)
            if rc == 0:
                rc, _out, err = run(common + ["snapshot", "save", tmp], env, timeout)
            attempt = {"endpoint": endpoint, "rc": rc}
            if rc == 0 and os.path.isfile(tmp):
                if etcdutl_path:
                    check = [etcdutl_path, "snapshot", "status", "-w", "json", tmp]
                else:
                    check = [etcdctl_path, "snapshot", "status", "-w", "json", tmp]
                src, sout, serr = run(check, env, timeout)
                try:
                    if src != 0:
                        raise SnapshotError(f"snapshot status failed: {_last_line(serr)}")
                    status = parse_status(sout)
                except SnapshotError as exc:
                    attempt["error"] = str(exc)
            else:
                attempt["error"] = _last_line(err) or f"etcdctl exited {rc}"
            result["attempts"].append(attempt)
            if status:
                result["endpoint"] = endpoint
                break
            _remove(tmp)
            _remove(tmp + ".part")
        if not status:
            _remove(tmp)
            _remove(tmp + ".part")
            why = "; ".join(f"{a['endpoint']}: {a.get('error')}" for a in result["attempts"])
            raise SnapshotError(f"no verified snapshot could be taken into {directory}: {why}")
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fchmod(fd, 0o600)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, path)
            _fsync_dir(directory)
        except OSError as exc:
            _remove(tmp)
            raise SnapshotError(f"could not store the snapshot as {path}: {exc}") from exc
        result.update(changed=True, path=path, size=os.path.getsize(path), revision=status["revision"],
                      keys=status["total_key"], hash=status["hash"])
        doomed = plan_retention(list_snapshots(directory), keep_count, keep_days, now)
        for snap in doomed:
            if _remove(snap["path"]):
                result["deleted"].append(snap["path"])
    if copy_to:
        try:
            os.makedirs(copy_to, mode=0o700, exist_ok=True)
            with DirLock(copy_to):
                result["removed_partial"] += remove_partials(copy_to)
                result["copy"] = _copy_verified(path, copy_to, name)
                for snap in plan_retention(list_snapshots(copy_to), keep_count, keep_days, now):
                    if _remove(snap["path"]):
                        result["copy_deleted"].append(snap["path"])
        except (OSError, SnapshotError) as exc:
            raise SnapshotError(f"snapshot {path} is stored and verified, but the copy to {copy_to} failed: {exc}") from exc
    result["duration"] = round(time.monotonic() - started, 3)
    result["msg"] = (f"snapshot {path} from {result['endpoint']}: revision {result['revision']}, {result['keys']} keys, "
                     f"{result['size']} bytes; {len(result['deleted'])} old snapshot(s) deleted")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line of the scheduled backup (systemd timer / cron): one JSON line on stdout, rc 1 on failure."""
    parser = argparse.ArgumentParser(description="Take a verified etcd snapshot with retention (kubeops.runbook).")
    parser.add_argument("--endpoints", required=True, help="comma-separated client URLs, tried in order")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cacert")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--etcdctl", default="etcdctl")
    parser.add_argument("--etcdutl", default="etcdutl")
    parser.add_argument("--keep-count", type=int)
    parser.add_argument("--keep-days", type=float)
    parser.add_argument("--copy-to")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    try:
        result = take_snapshot(args.dir, endpoints, {"cacert": args.cacert, "cert": args.cert, "key": args.key},
                               args.etcdctl, args.etcdutl, args.keep_count, args.keep_days, args.copy_to, args.timeout)
    except (SnapshotError, OSError) as exc:
        sys.stdout.write(json.dumps({"failed": True, "msg": str(exc)}) + "\n")
        return 1
    sys.stdout.write(json.dumps(result, default=str, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
