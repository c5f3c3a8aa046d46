# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verified etcd snapshots with safe retention: the one implementation of kubeops.runbook's etcd backups.

Standard library only. It runs in two ways, always this same file:
- the systemd timer (or cron job) of the ``etcd_backup`` role runs it on the etcd host: ``kubeops_etcd_backup.py take
  --endpoints ... --dir ...`` (one JSON line on stdout, exit 1 on failure);
- the ``kubeops.runbook.etcd_snapshot`` / ``etcd_snapshot_info`` action plugins copy it to the host and run it with
  ``--args-file`` (a JSON object of the module options).

What counts as a backup (and nothing else does):
- a regular file ``etcd-snapshot-<UTC>.db`` (no symlink), not empty,
- with its verification record ``etcd-snapshot-<UTC>.db.verified.json`` written by this program after
  ``snapshot status`` read the database and etcd's own SHA-256 trailer matched, whose size and mtime still match
  the file,
- neither named nor recorded in the future (a clock that ran ahead and was corrected): such files are reported,
  never counted and never deleted.

A snapshot is written under a hidden temporary name, verified, fsync'ed, given mode 0600; its record is renamed into
place first and the database last, so a killed run leaves only hidden files (removed by the next run) or a record
without its database (removed too). Retention ranks backups by the etcd revision they hold (clock-independent), then
by the real time they were verified; it never deletes the snapshot just taken nor the newest backup, and it runs only
after a new snapshot is stored and verified.
"""
from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import typing as t

NAME_RE = re.compile(r"^etcd-snapshot-(\d{8}T\d{6}Z)\.db$")
RECORD_SUFFIX = ".verified.json"
RECORD_SCHEMA = "kubeops.runbook/etcd-snapshot/v1"
TMP_PREFIX = ".etcd-snapshot-"
LOCK_NAME = ".etcd-snapshot.lock"
SEARCH_DIRS = ("/usr/local/bin", "/opt/etcd/bin", "/usr/bin", "/app/etcd/bin")
FUTURE_SKEW = datetime.timedelta(minutes=5)
MAX_DAYS = 36525  # 100 years: a larger age limit is a typo, and datetime arithmetic overflows long before it matters
HASH_SIZE = 32  # etcd appends the SHA-256 of the database to a snapshot it streams

Runner = t.Callable[[list, dict, float], "tuple[int, str, str]"]
UTC = datetime.timezone.utc


class SnapshotError(Exception):
    """Bad input, or no verified snapshot could be written; the message is for an operator."""


class PartialFailure(SnapshotError):
    """Failed after changing state (a snapshot stored, old ones deleted); ``result`` says what was changed."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


# -- names, times, verification -----------------------------------------------------------------------------------

def snapshot_name(now: datetime.datetime) -> str:
    return f"etcd-snapshot-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.db"


def name_time(name: str) -> datetime.datetime | None:
    """UTC time in a snapshot's name; None for anything that is not named like a backup."""
    match = NAME_RE.match(name)
    if not match:
        return None
    try:
        return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def mtime_time(mtime: float, now: datetime.datetime) -> datetime.datetime:
    """A file's mtime as UTC time; one no calendar can hold (``touch -d @1e14``) counts as ``now``."""
    try:
        return datetime.datetime.fromtimestamp(mtime, UTC).replace(microsecond=0)
    except (ValueError, OverflowError, OSError):
        return now


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: t.Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
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


def check_trailer(path: str) -> bool | None:
    """etcd's integrity trailer: True when the SHA-256 appended to the database matches, None when there is none.

    A snapshot streamed by ``etcdctl snapshot save`` is the database (a multiple of 512 bytes) followed by the
    SHA-256 of it. Raises SnapshotError when the trailer is there and does not match (a truncated or damaged file).
    """
    size = os.path.getsize(path)
    if size % 512 != HASH_SIZE:
        return None
    digest = hashlib.sha256()
    left = size - HASH_SIZE
    with open(path, "rb") as handle:
        while left:
            chunk = handle.read(min(left, 1 << 20))
            if not chunk:
                raise SnapshotError(f"{path} shrank while it was being verified")
            digest.update(chunk)
            left -= len(chunk)
        if handle.read(HASH_SIZE) != digest.digest():
            raise SnapshotError(f"{path} is damaged: its SHA-256 trailer does not match the database")
    return True


def error_line(text: str) -> str:
    """The operator-relevant line of a tool's stderr (the last one that is not a JSON log record)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.lstrip().startswith("{")]
    return (lines[-1] if lines else (text or "").strip())[:300]


def find_tool(name: str) -> str | None:
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH") or os.defpath, *SEARCH_DIRS]))


def subprocess_runner(argv: list, env: dict, timeout: float) -> tuple[int, str, str]:
    """The process boundary: run argv with extra env, kill it after ``timeout`` seconds (rc 124)."""
    try:
        proc = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
                              check=False, errors="replace")
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:g}s"
    except OSError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def verify(path: str, status_argv: list, run: Runner, timeout: float) -> dict:
    """Status of the database at ``path`` (``status_argv`` + path) and its integrity trailer; SnapshotError if bad."""
    rc, out, err = run(status_argv + [path], {"ETCDCTL_API": "3"}, timeout)
    if rc != 0:
        raise SnapshotError(f"snapshot status failed: {error_line(err) or f'exit {rc}'}")
    status = parse_status(out)
    status["trailer"] = check_trailer(path)
    return status


# -- what is in a backup directory -----------------------------------------------------------------------------

def record_path(path: str) -> str:
    return path + RECORD_SUFFIX


def make_record(name: str, st: os.stat_result, status: dict, taken: datetime.datetime, endpoint: str | None,
                verified_with: str) -> dict:
    return {"schema": RECORD_SCHEMA, "name": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "revision": status["revision"], "hash": status["hash"], "total_key": status["total_key"],
            "total_size": status["total_size"], "trailer": status.get("trailer"), "taken": iso(taken),
            "endpoint": endpoint, "verified_with": verified_with}


def read_record(path: str) -> dict | None:
    try:
        with open(record_path(path), "rb") as handle:
            data = json.loads(handle.read(65536).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == RECORD_SCHEMA else None


def inventory(directory: str, now: datetime.datetime) -> dict:
    """{backups, ignored, leftovers} of a directory; backups newest first (by revision, then real time).

    ``ignored`` are files named like backups that do not count (empty, unverified, named in the future), with the
    reason; ``leftovers`` are hidden temporary files and records without their database.
    """
    backups, ignored, leftovers = [], [], []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return {"backups": [], "ignored": [], "leftovers": []}
    names = {e.name for e in entries}
    for entry in entries:
        if entry.name.startswith(TMP_PREFIX) and entry.name != LOCK_NAME:
            if entry.is_file(follow_symlinks=False):
                leftovers.append(entry.path)
            continue
        if entry.name.endswith(RECORD_SUFFIX) and entry.name[:-len(RECORD_SUFFIX)] not in names:
            leftovers.append(entry.path)
            continue
        named = name_time(entry.name)
        if named is None:
            continue
        base = {"name": entry.name, "path": entry.path}
        if not entry.is_file(follow_symlinks=False):
            ignored.append({**base, "reason": "not a regular file"})
            continue
        st = entry.stat(follow_symlinks=False)
        base["size"] = st.st_size
        record = read_record(entry.path)
        taken = parse_iso(record.get("taken")) if record else None
        if st.st_size == 0:
            ignored.append({**base, "reason": "empty"})
        elif named > now + FUTURE_SKEW or (taken and taken > now + FUTURE_SKEW):
            ignored.append({**base, "reason": f"named or recorded in the future ({iso(max(named, taken or named))})"})
        elif not record or taken is None or record.get("name") != entry.name:
            ignored.append({**base, "reason": "unverified (no verification record)", "mtime": st.st_mtime})
        elif record.get("size") != st.st_size or record.get("mtime_ns") != st.st_mtime_ns:
            ignored.append({**base, "reason": "changed since it was verified", "mtime": st.st_mtime})
        else:
            backups.append({**base, "revision": int(record.get("revision") or 0), "hash": record.get("hash"),
                            "total_key": record.get("total_key"), "taken": taken})
    return {"backups": rank(backups), "ignored": sorted(ignored, key=lambda i: i["name"]), "leftovers": sorted(leftovers)}


def rank(backups: list[dict]) -> list[dict]:
    """Newest first: the highest etcd revision (clocks cannot fool it), then the latest real time, then the name."""
    return sorted(backups, key=lambda b: (b["revision"], b["taken"], b["name"]), reverse=True)


def plan_retention(backups: list[dict], keep_count: int | None, keep_days: float | None, now: datetime.datetime,
                   protect: t.Collection[str] = ()) -> list[dict]:
    """Backups to delete: beyond the newest ``keep_count`` or verified more than ``keep_days`` ago.

    Paths in ``protect`` (the snapshot just taken) come first and are always kept, as is the newest backup.
    """
    if keep_count is not None and keep_count < 1:
        raise SnapshotError(f"keep_count {keep_count} must be at least 1 (the newest snapshot is always kept)")
    if keep_days is not None and not 0 < keep_days <= MAX_DAYS:
        raise SnapshotError(f"keep_days {keep_days:g} must be more than 0 and at most {MAX_DAYS} (100 years)")
    ordered = [b for b in backups if b["path"] in protect] + [b for b in rank(backups) if b["path"] not in protect]
    doomed = []
    for index, snap in enumerate(ordered):
        if index == 0 or snap["path"] in protect:
            continue
        too_many = keep_count is not None and index >= keep_count
        too_old = keep_days is not None and now - snap["taken"] > datetime.timedelta(days=keep_days)
        if too_many or too_old:
            doomed.append(snap)
    return doomed


# -- writing ----------------------------------------------------------------------------------------------------

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


def _write_record(directory: str, final: str, record: dict) -> str:
    """The record of ``final`` written under a hidden name, fsync'ed and renamed: it exists before its database."""
    tmp = os.path.join(directory, f"{TMP_PREFIX}{os.getpid()}.record.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(record, sort_keys=True).encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, record_path(final))
    except BaseException:
        _remove(tmp)
        raise
    return record_path(final)


def store(tmp: str, final: str, record_for: t.Callable[[os.stat_result], dict]) -> None:
    """fsync + 0600 the verified ``tmp``, put its record in place, then rename it to ``final``."""
    directory = os.path.dirname(final)
    fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fchmod(fd, 0o600)
        os.fsync(fd)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    written = _write_record(directory, final, record_for(st))
    try:
        os.rename(tmp, final)
        _fsync_dir(directory)
    except BaseException:
        _remove(written)
        raise


def delete_backup(path: str) -> bool:
    """Database first, then its record (a record alone is a leftover the next run removes)."""
    gone = _remove(path)
    _remove(record_path(path))
    return gone


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


# -- the two commands -------------------------------------------------------------------------------------------

class Snapshotter:
    """One run against one set of endpoints: tools found once, the process boundary injectable."""

    def __init__(self, endpoints: t.Sequence[str] = (), tls: dict | None = None, etcdctl: str = "etcdctl",
                 etcdutl: str | None = "etcdutl", timeout: float = 300, dial_timeout: int = 5,
                 run: Runner = subprocess_runner):
        self.endpoints = list(endpoints)
        self.tls_args = [f"--{k}={v}" for k, v in sorted((tls or {}).items()) if v and k in ("cacert", "cert", "key")]
        self.timeout = timeout
        self.dial_timeout = dial_timeout
        self.run = run
        self.etcdctl = find_tool(etcdctl)
        self.etcdutl = find_tool(etcdutl) if etcdutl else None
        if not self.etcdctl and not self.etcdutl:
            raise SnapshotError(f"etcdctl {etcdctl!r} not found on this host (PATH, {', '.join(SEARCH_DIRS)})")
        self.verified_with = "etcdutl" if self.etcdutl else "etcdctl"
        self.status_argv = [self.etcdutl or self.etcdctl, "snapshot", "status", "-w", "json"]

    def verify(self, path: str) -> dict:
        return verify(path, self.status_argv, self.run, self.timeout)

    def save(self, tmp: str, attempts: list[dict]) -> tuple[str, dict] | None:
        """Snapshot from the first endpoint that delivers a verified one into ``tmp``: (endpoint, status) or None."""
        if not self.etcdctl:
            raise SnapshotError("etcdctl not found on this host: it is needed to take a snapshot")
        env = {"ETCDCTL_API": "3"}
        for endpoint in self.endpoints:
            common = [self.etcdctl, f"--endpoints={endpoint}", *self.tls_args, f"--dial-timeout={self.dial_timeout}s"]
            # etcdctl 3.4 `snapshot save` waits forever for a member that is down: ask its health first
            rc, _out, err = self.run(common + [f"--command-timeout={self.dial_timeout}s", "endpoint", "health"], env,
                                     self.timeout)
            if rc == 0:
                rc, _out, err = self.run(common + ["snapshot", "save", tmp], env, self.timeout)
            attempt: dict[str, t.Any] = {"endpoint": endpoint, "rc": rc}
            attempts.append(attempt)
            try:
                if rc != 0 or not os.path.isfile(tmp):
                    raise SnapshotError(error_line(err) or f"etcdctl exited {rc}")
                return endpoint, self.verify(tmp)
            except (SnapshotError, OSError) as exc:
                attempt["error"] = str(exc)
                _remove(tmp)
                _remove(tmp + ".part")
        return None


def _public(backup: dict) -> dict:
    return {k: (iso(v) if isinstance(v, datetime.datetime) else v) for k, v in backup.items() if k != "mtime"}


def adopt(directory: str, found: dict, snap: Snapshotter, now: datetime.datetime, check_mode: bool) -> list[str]:
    """Verify backups that have no record yet (taken before records existed, or by hand) and record them.

    Only non-empty files not named in the future; their real time is their mtime (at most now). In check mode
    the verification runs (it is read-only) but no record is written. Returns the adopted paths; ``found`` is updated.
    """
    adopted = []
    for item in list(found["ignored"]):
        if not item["reason"].startswith(("unverified", "changed since")):
            continue
        try:
            status = snap.verify(item["path"])
            st = os.stat(item["path"], follow_symlinks=False)
        except (SnapshotError, OSError) as exc:
            item["reason"] = f"not a valid snapshot: {exc}"
            continue
        # the real time it was written: its mtime, or the time recorded when it was first verified if earlier
        earlier = parse_iso((read_record(item["path"]) or {}).get("taken"))
        taken = min(mtime_time(st.st_mtime, now), now, earlier or now)
        if not check_mode:
            _write_record(directory, item["path"], make_record(item["name"], st, status, taken, None, snap.verified_with))
        found["ignored"].remove(item)
        found["backups"].append({"name": item["name"], "path": item["path"], "size": st.st_size,
                                 "revision": status["revision"], "hash": status["hash"],
                                 "total_key": status["total_key"], "taken": taken})
        adopted.append(item["path"])
    found["backups"] = rank(found["backups"])
    return adopted


def _copy(src: str, dest_dir: str, record: dict) -> str:
    """Copy a stored snapshot and its record to ``dest_dir`` (same temp + record + rename dance)."""
    name = os.path.basename(src)
    tmp = os.path.join(dest_dir, f"{TMP_PREFIX}{os.getpid()}.copy")
    final = os.path.join(dest_dir, name)
    try:
        with open(src, "rb") as fin, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        if os.path.getsize(tmp) != os.path.getsize(src) or (record.get("trailer") and not check_trailer(tmp)):
            raise SnapshotError(f"the copy in {dest_dir} is incomplete")
        store(tmp, final, lambda st: {**record, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    except BaseException:
        _remove(tmp)
        raise
    return final


def validate(directory: str, endpoints: list[str], keep_count: int | None, keep_days: float | None,
             copy_to: str | None, timeout: float, skip_if_newer_than: float) -> None:
    if not directory or not os.path.isabs(directory):
        raise SnapshotError(f"dest {directory!r} must be an absolute directory path")
    if copy_to is not None and (not os.path.isabs(copy_to) or os.path.realpath(copy_to) == os.path.realpath(directory)):
        raise SnapshotError(f"copy_to {copy_to!r} must be an absolute path other than dest")
    if not endpoints or any("://" not in e for e in endpoints):
        raise SnapshotError(f"endpoints {endpoints!r} must be client URLs like https://198.18.0.11:2379")
    if timeout <= 0:
        raise SnapshotError(f"timeout {timeout} must be positive")
    if not 0 <= skip_if_newer_than <= MAX_DAYS * 1440:
        raise SnapshotError(f"skip_if_newer_than {skip_if_newer_than:g} must be 0 or more minutes, at most {MAX_DAYS * 1440}")
    plan_retention([], keep_count, keep_days, datetime.datetime.now(UTC))


def take(directory: str, endpoints: list[str], tls: dict | None = None, etcdctl: str = "etcdctl",
         etcdutl: str | None = "etcdutl", keep_count: int | None = None, keep_days: float | None = None,
         copy_to: str | None = None, timeout: float = 300, dial_timeout: int = 5, skip_if_newer_than: float = 0,
         check_mode: bool = False, run: Runner = subprocess_runner, now: datetime.datetime | None = None) -> dict:
    """Take, verify and store one snapshot, then apply retention; returns the module's result.

    Raises SnapshotError when nothing was changed, PartialFailure (with the result so far) when it failed after
    changing something, so that the change is still reported and audited.
    """
    validate(directory, endpoints, keep_count, keep_days, copy_to, timeout, skip_if_newer_than)
    started = time.monotonic()
    now = (now or datetime.datetime.now(UTC)).replace(microsecond=0)
    snap = Snapshotter(endpoints, tls, etcdctl, etcdutl, timeout, dial_timeout, run)
    name = snapshot_name(now)
    path = os.path.join(directory, name)
    result: dict[str, t.Any] = {
        "changed": False, "path": None, "size": None, "revision": None, "total_keys": None, "hash": None,
        "endpoint": None, "duration": 0.0, "deleted": [], "copy_path": None, "copy_deleted": [], "removed_partial": [],
        "adopted": [], "ignored": [], "attempts": [], "recent_kept": False, "verified_with": snap.verified_with,
        "backups": 0}
    if not check_mode:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        with DirLock(directory) if not check_mode else _NoLock():
            _take_locked(directory, path, name, snap, result, keep_count, keep_days, skip_if_newer_than, check_mode, now)
        if copy_to and result["path"] and not result["recent_kept"]:
            _copy_locked(copy_to, result, snap, keep_count, keep_days, check_mode, now)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # any failure after a change still reports it
        result["duration"] = round(time.monotonic() - started, 3)
        changed = result["changed"] and not check_mode
        text = str(exc) if isinstance(exc, (SnapshotError, OSError)) else f"{type(exc).__name__}: {exc}"
        if changed:
            result["msg"] = f"{text} (after changing: {describe(result)})"
            raise PartialFailure(result["msg"], result) from exc
        raise SnapshotError(text) from exc
    result["duration"] = round(time.monotonic() - started, 3)
    if not result["recent_kept"]:
        result["msg"] = (f"{'would take' if check_mode else 'took'} snapshot {path}"
                         + (f" from {result['endpoint']}: revision {result['revision']}, {result['total_keys']} keys, "
                            f"{result['size']} bytes" if not check_mode else "")
                         + f"; {len(result['deleted'])} old snapshot(s) {'to delete' if check_mode else 'deleted'}")
    if result["ignored"]:
        result["msg"] += f"; {len(result['ignored'])} file(s) named like backups do not count: " + ", ".join(
            f"{i['name']} ({i['reason']})" for i in result["ignored"][:5])
    return result


class _NoLock:
    def __enter__(self) -> "_NoLock":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        return None


def describe(result: dict) -> str:
    done = []
    if result.get("removed_partial"):
        done.append(f"removed {len(result['removed_partial'])} leftover(s) of interrupted runs")
    if result.get("path") and not result.get("recent_kept"):
        done.append(f"stored {result['path']}")
    if result.get("deleted"):
        done.append(f"deleted {len(result['deleted'])} old snapshot(s)")
    if result.get("adopted"):
        done.append(f"recorded {len(result['adopted'])} older snapshot(s) as verified")
    if result.get("copy_path"):
        done.append(f"copied to {result['copy_path']}")
    if result.get("copy_deleted"):
        done.append(f"deleted {len(result['copy_deleted'])} old copies")
    return ", ".join(done) or "nothing"


def _take_locked(directory: str, path: str, name: str, snap: Snapshotter, result: dict, keep_count: int | None,
                 keep_days: float | None, skip_if_newer_than: float, check_mode: bool, now: datetime.datetime) -> None:
    found = inventory(directory, now)
    if not check_mode:
        for leftover in found["leftovers"]:
            if _remove(leftover):
                result["removed_partial"].append(leftover)
    else:
        result["removed_partial"] = list(found["leftovers"])
    result["adopted"] = adopt(directory, found, snap, now, check_mode)
    result["changed"] = bool(result["removed_partial"] or result["adopted"])
    result["ignored"] = [_public(i) for i in found["ignored"]]
    latest = max((b["taken"] for b in found["backups"]), default=None)
    protect: list[str] = []
    if skip_if_newer_than and latest is not None and now - latest < datetime.timedelta(minutes=skip_if_newer_than):
        newest = max(found["backups"], key=lambda b: b["taken"])
        result.update(recent_kept=True, path=newest["path"],
                      msg=f"newest backup {newest['name']} was verified less than {skip_if_newer_than:g} minutes ago: none taken")
    elif check_mode:
        result.update(changed=True, path=path)
        found["backups"].insert(0, {"name": name, "path": path, "revision": 0, "taken": now})
        protect = [path]
    else:
        tmp = os.path.join(directory, f"{TMP_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.db.tmp")
        saved = snap.save(tmp, result["attempts"])
        if not saved:
            why = "; ".join(f"{a['endpoint']}: {a.get('error')}" for a in result["attempts"])
            raise SnapshotError(f"no verified snapshot could be taken into {directory}: {why}")
        endpoint, status = saved
        try:
            store(tmp, path, lambda st: make_record(name, st, status, now, endpoint, snap.verified_with))
        except OSError as exc:
            _remove(tmp)
            raise SnapshotError(f"could not store the verified snapshot as {path}: {exc}") from exc
        result.update(changed=True, path=path, size=os.path.getsize(path), revision=status["revision"],
                      total_keys=status["total_key"], hash=status["hash"], endpoint=endpoint)
        found["backups"].insert(0, {"name": name, "path": path, "revision": status["revision"], "taken": now})
        protect = [path]
    for doomed in plan_retention(found["backups"], keep_count, keep_days, now, protect):
        if check_mode or delete_backup(doomed["path"]):
            result["deleted"].append(doomed["path"])
    result["changed"] = result["changed"] or bool(result["deleted"])
    result["backups"] = len(found["backups"]) - len(result["deleted"])


def _copy_locked(copy_to: str, result: dict, snap: Snapshotter, keep_count: int | None, keep_days: float | None,
                 check_mode: bool, now: datetime.datetime) -> None:
    final = os.path.join(copy_to, os.path.basename(result["path"]))
    if check_mode:
        found = inventory(copy_to, now)
        found["backups"].insert(0, {"name": os.path.basename(final), "path": final, "revision": 0, "taken": now})
        result["copy_path"] = final
        result["copy_deleted"] = [d["path"] for d in plan_retention(found["backups"], keep_count, keep_days, now, [final])]
        return
    try:
        os.makedirs(copy_to, mode=0o700, exist_ok=True)
        with DirLock(copy_to):
            found = inventory(copy_to, now)
            for leftover in found["leftovers"]:
                if _remove(leftover):
                    result["removed_partial"].append(leftover)
            record = read_record(result["path"])
            if record is None:
                raise SnapshotError(f"the verification record of {result['path']} is missing")
            result["copy_path"] = _copy(result["path"], copy_to, record)
            found["backups"].insert(0, {"name": os.path.basename(final), "path": final, "revision": record["revision"],
                                        "taken": now})
            for doomed in plan_retention(found["backups"], keep_count, keep_days, now, [final]):
                if delete_backup(doomed["path"]):
                    result["copy_deleted"].append(doomed["path"])
    except (OSError, SnapshotError) as exc:
        raise SnapshotError(f"snapshot {result['path']} is stored and verified, but the copy to {copy_to} failed: {exc}") from exc


def listing(directory: str, now: datetime.datetime | None = None, verify_newest: bool = False,
            verify_path: str | None = None, etcdctl: str = "etcdctl", etcdutl: str | None = "etcdutl",
            timeout: float = 300, run: Runner = subprocess_runner) -> dict:
    """Read-only: the backups of a directory, newest first; optionally re-verify the newest (or one given file).

    With ``verify_newest`` the content of the newest backup is verified again (status + trailer, and the status hash
    and revision against its record); one that fails is reported and the next is tried. ``newest`` is the newest
    backup that passed. With ``verify_path`` that file is verified instead, and is ``newest`` if it passes.
    """
    if not directory or not os.path.isabs(directory):
        raise SnapshotError(f"dest {directory!r} must be an absolute directory path")
    now = (now or datetime.datetime.now(UTC)).replace(microsecond=0)
    found = inventory(directory, now)
    result: dict[str, t.Any] = {"changed": False, "dest": directory, "exists": os.path.isdir(directory),
                                "backups": [_public(b) for b in found["backups"]],
                                "ignored": [_public(i) for i in found["ignored"]], "leftovers": found["leftovers"],
                                "newest": None, "rejected": []}
    if not (verify_newest or verify_path):
        result["newest"] = result["backups"][0] if result["backups"] else None
        return result
    snap = Snapshotter(etcdctl=etcdctl, etcdutl=etcdutl, timeout=timeout, run=run)
    if verify_path:
        if not os.path.isabs(verify_path) or not os.path.isfile(verify_path) or os.path.islink(verify_path):
            raise SnapshotError(f"snapshot {verify_path!r} is not a regular file given by its absolute path")
        status = snap.verify(verify_path)
        record = read_record(verify_path)
        if record and (record.get("hash"), record.get("revision")) != (status["hash"], status["revision"]):
            raise SnapshotError(f"snapshot {verify_path} does not match its verification record")
        result["newest"] = {"name": os.path.basename(verify_path), "path": verify_path, "size": os.path.getsize(verify_path),
                            "revision": status["revision"], "hash": status["hash"], "total_key": status["total_key"],
                            "taken": record.get("taken") if record else None}
        return result
    for backup in result["backups"]:
        try:
            status = snap.verify(backup["path"])
            if (status["hash"], status["revision"]) != (backup["hash"], backup["revision"]):
                raise SnapshotError("its content no longer matches its verification record")
        except (SnapshotError, OSError) as exc:
            result["rejected"].append({"path": backup["path"], "reason": str(exc)})
            continue
        result["newest"] = backup
        break
    return result


# -- command line -----------------------------------------------------------------------------------------------

OPTIONS = ("command", "dest", "endpoints", "cacert", "cert", "key", "etcdctl_path", "etcdutl_path", "keep_count",
           "keep_days", "copy_to", "timeout", "dial_timeout", "skip_if_newer_than", "check_mode", "verify_newest",
           "verify_path")


def run_options(opts: dict, run: Runner = subprocess_runner) -> dict:
    """Run ``take`` or ``list`` from a dict of module options (the action plugins' way in)."""
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise SnapshotError(f"unknown options: {', '.join(unknown)}")
    if opts.get("command") == "list":
        return listing(opts["dest"], verify_newest=bool(opts.get("verify_newest")), verify_path=opts.get("verify_path"),
                       etcdctl=opts.get("etcdctl_path") or "etcdctl", etcdutl=opts.get("etcdutl_path"),
                       timeout=float(opts.get("timeout") or 300), run=run)
    if opts.get("command") != "take":
        raise SnapshotError(f"command {opts.get('command')!r} must be take or list")
    return take(opts["dest"], list(opts.get("endpoints") or []),
                {"cacert": opts.get("cacert"), "cert": opts.get("cert"), "key": opts.get("key")},
                opts.get("etcdctl_path") or "etcdctl", opts.get("etcdutl_path"), opts.get("keep_count"),
                opts.get("keep_days") or None, opts.get("copy_to"), float(opts.get("timeout") or 300),
                int(opts.get("dial_timeout") or 5), float(opts.get("skip_if_newer_than") or 0),
                bool(opts.get("check_mode")), run)


def parse_args(argv: list[str] | None) -> dict:
    parser = argparse.ArgumentParser(description="Verified etcd snapshots with safe retention (kubeops.runbook).")
    parser.add_argument("command", choices=["take", "list"], nargs="?", default="take")
    parser.add_argument("--args-file", help="JSON object of options (as the action plugins pass them)")
    parser.add_argument("--endpoints", help="comma-separated client URLs, tried in order")
    parser.add_argument("--dir", dest="dest")
    parser.add_argument("--cacert")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--etcdctl", dest="etcdctl_path", default="etcdctl")
    parser.add_argument("--etcdutl", dest="etcdutl_path", default="etcdutl")
    parser.add_argument("--keep-count", type=int)
    parser.add_argument("--keep-days", type=float)
    parser.add_argument("--copy-to")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--dial-timeout", type=int, default=5)
    parser.add_argument("--skip-if-newer-than", type=float, default=0)
    parser.add_argument("--check", dest="check_mode", action="store_true")
    parser.add_argument("--verify-newest", action="store_true")
    parser.add_argument("--verify-path")
    args = vars(parser.parse_args(argv))
    args_file = args.pop("args_file")
    if args_file:
        with open(args_file, encoding="utf-8") as handle:
            opts = json.load(handle)
        if not isinstance(opts, dict):
            raise SnapshotError(f"{args_file} holds no JSON object")
        return {**opts, "command": opts.get("command") or args["command"]}
    if args["endpoints"] is not None:
        args["endpoints"] = [e.strip() for e in args["endpoints"].split(",") if e.strip()]
    if not args["dest"]:
        parser.error("--dir is required")
    return {k: v for k, v in args.items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    """One JSON line on stdout: the result, or ``failed`` with ``msg`` (and what was changed); exit 1 on failure."""
    try:
        result = run_options(parse_args(argv))
    except PartialFailure as exc:
        sys.stdout.write(json.dumps({**exc.result, "failed": True, "msg": str(exc)}, default=str, sort_keys=True) + "\n")
        return 1
    except (SnapshotError, OSError, ValueError, KeyError, TypeError) as exc:
        sys.stdout.write(json.dumps({"failed": True, "changed": False, "msg": str(exc)}) + "\n")
        return 1
    sys.stdout.write(json.dumps(result, default=str, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
