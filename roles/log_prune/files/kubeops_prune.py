# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pruning dated log files (tomcat_access.2021-04-27.log) in one directory: the one implementation of log_prune.

Standard library only, one file, Python 3.8 or later. It runs on the host in two ways, always this same file:

- the systemd timer of the ``log_prune`` role runs it as ``kubeops_log_prune.py --path DIR --pattern GLOB ...``
  (the role installs this file under that name);
- the ``kubeops.runbook.log_prune`` action plugin copies it to the host and runs it with ``--args-file`` (a JSON
  object of the module options, ``plugins/plugin_utils/_host_script.py``), so a playbook run and a scheduled run
  decide alike.

It prints one JSON object on stdout (the result, or ``failed`` with ``msg``) and exits 0, 2 when the arguments or the
directory are refused, 1 when the directory cannot be pruned.

Guards (refuse rather than over-act, one line naming the bad value):

* the directory must be at or below one of ``allowed_roots`` (default: DEFAULT_ALLOWED_ROOTS) once every
  symlink in it is resolved, and never ``/``, a top-level directory (``/data``), or a system tree
  (SYSTEM_TREES: ``/etc``, ``/usr``, ``/var/lib``, ...), whatever ``allowed_roots`` says;
* the glob needs at least MIN_LITERAL_CHARS characters that are not wildcards (``*`` is refused);
* ``keep_days`` is 0..MAX_KEEP_DAYS.

Per file: only regular files directly in the directory are touched, found with one ``scandir`` of a directory
file descriptor (``fstatat``, never following links); symbolic links, directories, executables, ``.gz`` files
(in compress mode) and files some process holds open for writing (``/proc/*/fdinfo``) are left alone and
counted with the reason. Deleting is ``unlinkat`` on the directory descriptor: a name cannot escape the
directory, whatever is swapped in under it. One pass, counters and a bounded sample of names, so memory does
not grow with the number of files.

Age: a file goes when its date (from the name, or the local date of its mtime) is before ``today -
keep_days``, i.e. calendar days: with mtimes this is the set ``find DIR -maxdepth 1 -daystart -mtime
+<keep_days>`` selects.
"""
from __future__ import annotations

import argparse
import bisect
import datetime
import fnmatch
import gzip
import json
import math
import os
import re
import stat
import sys
import time
import typing as t

MODES = ("delete", "compress")
AGE_SOURCES = ("name", "mtime")
MAX_KEEP_DAYS = 36500
MIN_LITERAL_CHARS = 3
DEFAULT_ALLOWED_ROOTS = ("/var/log", "/data", "/opt", "/srv", "/home", "/mnt", "/tmp", "/var/tmp")
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
                "/sbin", "/snap", "/sys", "/usr", "/var/lib", "/var/cache", "/var/spool", "/var/mail",
                "/var/backups", "/var/run", "/var/lock")
DEFAULT_LIST_LIMIT = 20

# strftime directives a file name may carry, as regular expressions.
_DIRECTIVES = {
    "Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}",
    "S": r"\d{2}", "j": r"\d{3}", "%": "%",
}


class PruneError(Exception):
    """Bad input or a directory that cannot be pruned; the message names the value."""


# -- input ------------------------------------------------------------------------------------------------
def date_regex(date_format: str) -> re.Pattern:
    """Regular expression matching ``date_format`` (a strftime pattern such as ``%Y-%m-%d``) in a name."""
    if not date_format or "%" not in date_format:
        raise PruneError(f"date_format {date_format!r} has no strftime directive such as %Y-%m-%d")
    out = []
    i = 0
    while i < len(date_format):
        char = date_format[i]
        if char == "%":
            directive = date_format[i + 1:i + 2]
            if directive not in _DIRECTIVES:
                raise PruneError(f"date_format {date_format!r}: directive %{directive} is not supported "
                                 f"(use %Y %y %m %d %H %M %S %j)")
            out.append(_DIRECTIVES[directive] if directive == "%" else f"({_DIRECTIVES[directive]})")
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out))


def date_from_name(name: str, date_format: str, regex: re.Pattern | None = None,
                   cache: dict | None = None) -> datetime.date | None:
    """The date carried in a file name, or None when the name carries no valid one."""
    regex = regex or date_regex(date_format)
    for match in regex.finditer(name):
        text = match.group(0)
        if cache is not None and text in cache:
            found = cache[text]
        else:
            try:
                found = datetime.datetime.strptime(text, date_format).date()
            except ValueError:
                found = None
            if cache is not None:
                cache[text] = found
        if found is not None:
            return found
    return None


def bracket_end(pattern: str, start: int) -> int | None:
    """Index just after the bracket expression opening at ``pattern[start]`` (``[``), read the way ``fnmatch`` reads
    it (``[!]x]`` and ``[]x]`` are one expression each: a ``]`` right after ``[`` or ``[!`` is a member); None when
    the ``[`` has no closing ``]`` and so matches itself."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    end = pattern.find("]", i)
    return None if end < 0 else end + 1


def literal_chars(pattern: str) -> int:
    """Characters of a glob that match only themselves: not ``*``, ``?`` nor a bracket expression ``[...]``."""
    count = 0
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            end = bracket_end(pattern, i)
            if end is not None:
                i = end
                continue
        if pattern[i] not in "*?":
            count += 1
        i += 1
    return count


def check_pattern(pattern: str) -> None:
    if not pattern or "/" in pattern or "\x00" in pattern or pattern in (".", ".."):
        raise PruneError(f"pattern {pattern!r} must be a file name glob without '/' (e.g. tomcat_access.*.log)")
    if literal_chars(pattern) < MIN_LITERAL_CHARS:
        raise PruneError(f"pattern {pattern!r} is too broad: it needs at least {MIN_LITERAL_CHARS} characters that "
                         f"are not wildcards (e.g. tomcat_access.*.log or *.log)")


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/") or root == "/"


def check_allowed(real: str, allowed_roots: t.Sequence[str], shown: str) -> None:
    """Refuse system directories, top-level directories and anything outside ``allowed_roots``."""
    if real == "/" or real.count("/") < 2:
        raise PruneError(f"path {shown!r} is {'the root directory' if real == '/' else 'a top-level directory'} "
                         f"({real}): log_prune works only in a log directory below it")
    for tree in SYSTEM_TREES:
        if _under(real, tree):
            raise PruneError(f"path {shown!r} ({real}) is in the system tree {tree}: log_prune never prunes "
                             f"{', '.join(SYSTEM_TREES)} or below")
    roots = [os.path.normpath(str(r)) for r in allowed_roots]
    if not any(_under(real, r) for r in roots):
        raise PruneError(f"path {shown!r} ({real}) is not under an allowed root ({', '.join(roots) or 'none'}); "
                         f"add its parent to allowed_roots to prune there")


def check_keep_days(keep_days: t.Any) -> int:
    if not isinstance(keep_days, int) or isinstance(keep_days, bool) or not 0 <= keep_days <= MAX_KEEP_DAYS:
        raise PruneError(f"keep_days {keep_days!r} must be a whole number of days from 0 to {MAX_KEEP_DAYS}")
    return keep_days


def open_directory(path: str, allowed_roots: t.Sequence[str]) -> tuple[int, str]:
    """Open the directory to prune after the guards; returns (fd, real path of the open directory)."""
    if not path or not os.path.isabs(path):
        raise PruneError(f"path {path!r} must be an absolute directory path")
    if not os.path.isdir(path):
        raise PruneError(f"path {path!r} is not a directory")
    real = os.path.realpath(path)
    check_allowed(real, allowed_roots, path)
    fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        # what was opened, not what the name resolved to a moment ago
        opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else real
        check_allowed(opened, allowed_roots, path)
    except BaseException:
        os.close(fd)
        raise
    return fd, opened


# -- who writes -------------------------------------------------------------------------------------------
def parse_fdinfo_flags(text: str) -> int | None:
    """The open flags (octal in /proc/<pid>/fdinfo/<fd>) or None when absent."""
    for line in text.splitlines():
        key, dummy, value = line.partition(":")
        if key.strip() == "flags":
            try:
                return int(value.strip(), 8)
            except ValueError:
                return None
    return None


def opened_for_writing(flags: int | None) -> bool:
    return flags is not None and (flags & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR)


def files_open_for_writing(proc_root: str = "/proc", exclude_pid: int | None = None,
                           name_matches: t.Callable[[str], t.Any] | None = None) -> set[tuple[int, int]]:
    """(st_dev, st_ino) of every file some process holds open for writing. Unreadable processes are skipped.

    With ``name_matches``, only descriptors whose file name it accepts are looked at (one readlink each first):
    most descriptors are sockets, pipes and unrelated files.
    """
    found: set[tuple[int, int]] = set()
    exclude = str(exclude_pid if exclude_pid is not None else os.getpid())
    try:
        pids = [p for p in os.listdir(proc_root) if p.isdigit() and p != exclude]
    except OSError:
        return found
    for pid in pids:
        fd_dir = os.path.join(proc_root, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if name_matches is not None:
                    target = os.readlink(os.path.join(fd_dir, fd))
                    if target.endswith(" (deleted)"):
                        target = target[:-len(" (deleted)")]
                    if not name_matches(os.path.basename(target)):
                        continue
                with open(os.path.join(proc_root, pid, "fdinfo", fd), encoding="ascii", errors="replace") as handle:
                    flags = parse_fdinfo_flags(handle.read())
                if not opened_for_writing(flags):
                    continue
                target_st = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if stat.S_ISREG(target_st.st_mode):
                found.add((target_st.st_dev, target_st.st_ino))
    return found


def usage_percent(path: str) -> float:
    """Used space of the filesystem holding ``path`` in percent, as df computes it."""
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    total = used + avail
    return round(100.0 * used / total, 1) if total else 0.0


# -- acting -----------------------------------------------------------------------------------------------
def _compress(dir_fd: int, name: str, expected: os.stat_result) -> int:
    """gzip ``name`` to ``name.gz`` next to it, then remove ``name``; return the size of the .gz."""
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(src)
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino) or not stat.S_ISREG(st.st_mode):
            raise PruneError(f"{name} changed during the run")
        dst = os.open(name + ".gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640, dir_fd=dir_fd)
        try:
            with os.fdopen(dst, "wb") as raw, gzip.GzipFile(filename=name, mode="wb", fileobj=raw, mtime=0) as gz:
                while True:
                    chunk = os.read(src, 1 << 20)
                    if not chunk:
                        break
                    gz.write(chunk)
                gz.flush()
                raw.flush()
                os.fsync(raw.fileno())
        except BaseException:
            os.unlink(name + ".gz", dir_fd=dir_fd)
            raise
    finally:
        os.close(src)
    os.utime(name + ".gz", ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dir_fd, follow_symlinks=False)
    size = os.stat(name + ".gz", dir_fd=dir_fd, follow_symlinks=False).st_size
    os.unlink(name, dir_fd=dir_fd)
    return size


class _Sample:
    """The first ``limit`` items by name (bounded memory whatever the number of files)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.names: list[str] = []
        self.items: list[dict] = []

    def add(self, name: str, make: t.Callable[[], dict]) -> None:
        if len(self.names) >= self.limit and (not self.names or name >= self.names[-1]):
            return
        index = bisect.bisect(self.names, name)
        self.names.insert(index, name)
        self.items.insert(index, make())
        if len(self.names) > self.limit:
            self.names.pop()
            self.items.pop()

    def values(self) -> list[dict]:
        return list(self.items)


def _local_date(timestamp: float) -> str:
    try:
        return datetime.datetime.fromtimestamp(timestamp).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return f"mtime {timestamp!r} is no date"


def prune(path: str, pattern: str, keep_days: int = 0, age_source: str = "name", date_format: str = "%Y-%m-%d",
          mode: str = "delete", when_usage_over: float | None = None, check_mode: bool = False,
          today: datetime.date | None = None, proc_root: str = "/proc",
          allowed_roots: t.Sequence[str] = DEFAULT_ALLOWED_ROOTS, list_limit: int = DEFAULT_LIST_LIMIT) -> dict:
    """Plan and (unless check_mode) carry out one pruning, in one pass; the result is what the module returns."""
    check_pattern(pattern)
    keep_days = check_keep_days(keep_days)
    if mode not in MODES:
        raise PruneError(f"mode {mode!r} must be one of {', '.join(MODES)}")
    if age_source not in AGE_SOURCES:
        raise PruneError(f"age_source {age_source!r} must be one of {', '.join(AGE_SOURCES)}")
    regex = date_regex(date_format) if age_source == "name" else None
    if when_usage_over is not None and not (math.isfinite(when_usage_over) and 0 <= when_usage_over <= 100):
        raise PruneError(f"when_usage_over {when_usage_over} must be a percentage between 0 and 100")
    if not isinstance(list_limit, int) or not 0 <= list_limit <= 10000:
        raise PruneError(f"list_limit {list_limit!r} must be from 0 to 10000")
    dir_fd, real_dir = open_directory(path, allowed_roots)
    try:
        return _prune_open(dir_fd, real_dir, path, pattern, keep_days, age_source, date_format, regex, mode,
                           when_usage_over, check_mode, today or datetime.date.today(), proc_root, list_limit)
    finally:
        os.close(dir_fd)


def _prune_open(dir_fd: int, real_dir: str, path: str, pattern: str, keep_days: int, age_source: str,
                date_format: str, regex: re.Pattern | None, mode: str, when_usage_over: float | None,
                check_mode: bool, today: datetime.date, proc_root: str, list_limit: int) -> dict:
    cutoff = today - datetime.timedelta(days=keep_days)
    cutoff_ts = time.mktime(cutoff.timetuple())  # local midnight starting the cutoff day
    usage_before = usage_percent(real_dir)
    result: dict[str, t.Any] = {
        "path": path, "pattern": pattern, "mode": mode, "age_source": age_source, "keep_days": keep_days,
        "cutoff": cutoff.isoformat(), "usage_percent_before": usage_before, "usage_percent_after": usage_before,
        "files_pruned": 0, "bytes_freed": 0, "files_kept": 0, "files_left_alone": 0,
        "pruned": [], "kept": [], "left_alone": [], "left_alone_reasons": {}, "list_limit": list_limit,
        "changed": False}
    if when_usage_over is not None and usage_before <= when_usage_over:
        result["msg"] = f"usage {usage_before}% of {path}'s filesystem is not over {when_usage_over}%: nothing pruned"
        return result
    matches = re.compile(fnmatch.translate(pattern)).match
    writers = files_open_for_writing(proc_root, name_matches=matches)
    action = "deleted" if mode == "delete" else "compressed"
    pruned, kept, alone = _Sample(list_limit), _Sample(list_limit), _Sample(list_limit)
    reasons: dict[str, int] = {}
    dates: dict[str, datetime.date | None] = {}
    todo: list[tuple[str, os.stat_result, datetime.date | None]] = []  # compress mode acts after the scan (it creates files)

    def leave(name: str, reason: str) -> None:
        reasons[reason] = reasons.get(reason, 0) + 1
        alone.add(name, lambda: {"path": os.path.join(path, name), "reason": reason})

    def done(name: str, st: os.stat_result, day: datetime.date | None, freed: int) -> None:
        result["files_pruned"] += 1
        result["bytes_freed"] += freed

        def item() -> dict:
            entry = {"path": os.path.join(path, name), "date": day.isoformat() if day else _local_date(st.st_mtime), "size": st.st_size,
                     "action": action}
            if mode == "compress":
                entry["compressed_to"] = os.path.join(path, name + ".gz")
            return entry
        pruned.add(name, item)

    with os.scandir(dir_fd) as entries:
        for entry in entries:
            name = entry.name
            if not matches(name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                leave(name, "gone before it was looked at")
                continue
            kind = st.st_mode & 0o170000
            if kind != stat.S_IFREG:
                leave(name, "symlink: only regular files are pruned" if kind == stat.S_IFLNK else
                      "directory: only regular files are pruned" if kind == stat.S_IFDIR else "not a regular file")
                continue
            if st.st_mode & 0o111:
                leave(name, "executable: log files are not executable")
                continue
            if mode == "compress" and name.endswith(".gz"):
                leave(name, "compressed already")
                continue
            if regex is not None:
                found = date_from_name(name, date_format, regex, dates)
                if found is None:
                    leave(name, f"no {date_format} date in the name")
                    continue
                old, day = found < cutoff, found
            else:
                old, day = st.st_mtime < cutoff_ts, None
            if not old:
                result["files_kept"] += 1
                kept.add(name, lambda: {"name": name})
                continue
            if writers and (st.st_dev, st.st_ino) in writers:
                leave(name, "open for writing by another process")
                continue
            if mode == "compress":
                todo.append((name, st, day))
                continue
            if not check_mode:
                try:
                    os.unlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    leave(name, "gone before it was pruned")
                    continue
                except OSError as exc:
                    leave(name, f"failed: {exc.strerror}")
                    continue
            done(name, st, day, st.st_size)
    for name, st, day in todo:
        if check_mode:
            if _exists(dir_fd, name + ".gz"):
                leave(name, "a .gz of that name exists already")
            else:
                done(name, st, day, st.st_size)
            continue
        if _exists(dir_fd, name + ".gz"):
            leave(name, "a .gz of that name exists already")
            continue
        try:
            done(name, st, day, st.st_size - _compress(dir_fd, name, st))
        except (OSError, PruneError) as exc:
            leave(name, f"failed: {exc}")
    if not check_mode and result["files_pruned"]:
        if mode == "compress":
            os.fsync(dir_fd)  # the .gz names are durable before anyone counts on them
        result["usage_percent_after"] = usage_percent(real_dir)
    result["pruned"] = pruned.values()
    result["kept"] = [k["name"] for k in kept.values()]
    result["left_alone"] = alone.values()
    result["left_alone_reasons"] = reasons
    result["files_left_alone"] = sum(reasons.values())
    result["changed"] = result["files_pruned"] > 0
    verb = "would free" if check_mode else "freed"
    result["msg"] = (f"{result['files_pruned']} file(s) {'to prune' if check_mode else 'pruned'} in {path} (dated "
                     f"before {cutoff.isoformat()}), {verb} {result['bytes_freed']} bytes; {result['files_kept']} "
                     f"kept, {result['files_left_alone']} left alone")
    return result


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


# -- the command line (the timer) and --args-file (the action plugin) ----------------------------------------
def parse_args(argv: list[str] | None = None) -> dict:
    """The options of one run: from ``--args-file`` (the action's JSON object), else from the flags of the timer."""
    parser = argparse.ArgumentParser(description="Prune dated log files in one directory (kubeops.runbook log_prune).")
    parser.add_argument("--args-file", help="JSON object of the options (as the log_prune action passes them)")
    parser.add_argument("--path")
    parser.add_argument("--pattern")
    parser.add_argument("--keep-days", type=int, default=0)
    parser.add_argument("--age-source", choices=AGE_SOURCES, default="name")
    parser.add_argument("--date-format", default="%Y-%m-%d")
    parser.add_argument("--mode", choices=MODES, default="delete")
    parser.add_argument("--when-usage-over", type=float, default=None)
    parser.add_argument("--allowed-root", action="append", dest="allowed_roots")
    parser.add_argument("--list-limit", type=int, default=DEFAULT_LIST_LIMIT)
    parser.add_argument("--check", dest="check_mode", action="store_true")
    args = vars(parser.parse_args(argv))
    args_file = args.pop("args_file")
    if args_file:
        with open(args_file, encoding="utf-8") as handle:
            options = json.load(handle)
        if not isinstance(options, dict):
            raise PruneError(f"{args_file} holds no JSON object")
        return options
    if not args["path"] or not args["pattern"]:
        parser.error("--path and --pattern are required")
    args["allowed_roots"] = args["allowed_roots"] or list(DEFAULT_ALLOWED_ROOTS)
    return args


def main(argv: list[str] | None = None) -> int:
    """One JSON line on stdout: the result, or ``failed`` with ``msg``; exit 2 when refused, 1 on another failure."""
    options: dict = {}
    try:
        options = parse_args(argv)
        known = ("path", "pattern", "keep_days", "age_source", "date_format", "mode", "when_usage_over",
                 "check_mode", "allowed_roots", "list_limit")
        result = prune(**{k: v for k, v in options.items() if k in known and v is not None})
    except (PruneError, TypeError, ValueError) as exc:
        sys.stdout.write(json.dumps({"failed": True, "changed": False, "msg": str(exc)}) + "\n")
        return 2
    except OSError as exc:
        sys.stdout.write(json.dumps({"failed": True, "changed": False,
                                     "msg": f"cannot prune path={options.get('path')}: {exc}"}) + "\n")
        return 1
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
