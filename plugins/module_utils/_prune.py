# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pruning dated log files (tomcat_access.2021-04-27.log) in one directory. PRIVATE to the collection.

Only the standard library is used, so the same file runs as the ``log_prune`` module's logic and, copied to a
host by the ``log_prune`` role, as the script its systemd timer calls (``python3 prune.py --path ...``).

Safety rules: only regular files directly inside the directory are touched (lstat, O_NOFOLLOW, a realpath
check, a re-check of device/inode right before acting); symlinks, directories and files some other process
holds open for writing (found by scanning /proc/*/fd) are skipped and reported.
"""
from __future__ import annotations

import argparse
import datetime
import fnmatch
import gzip
import json
import os
import re
import stat
import sys
import typing as t

MODES = ("delete", "compress")
AGE_SOURCES = ("name", "mtime")

# strftime directives a file name may carry, as regular expressions.
_DIRECTIVES = {
    "Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}",
    "S": r"\d{2}", "j": r"\d{3}", "%": "%",
}


class PruneError(Exception):
    """Bad input or a directory that cannot be pruned; the message names the value."""


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


def date_from_name(name: str, date_format: str, regex: re.Pattern | None = None) -> datetime.date | None:
    """The date carried in a file name, or None when the name carries no valid one."""
    regex = regex or date_regex(date_format)
    for match in regex.finditer(name):
        try:
            return datetime.datetime.strptime(match.group(0), date_format).date()
        except ValueError:
            continue
    return None


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


def files_open_for_writing(proc_root: str = "/proc", exclude_pid: int | None = None) -> set[tuple[int, int]]:
    """(st_dev, st_ino) of every file some process holds open for writing. Unreadable processes are skipped."""
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
                with open(os.path.join(proc_root, pid, "fdinfo", fd), encoding="ascii", errors="replace") as handle:
                    flags = parse_fdinfo_flags(handle.read())
                if not opened_for_writing(flags):
                    continue
                target = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if stat.S_ISREG(target.st_mode):
                found.add((target.st_dev, target.st_ino))
    return found


def scan(directory: str, pattern: str) -> list[dict]:
    """Entries of ``directory`` whose name matches the glob ``pattern``, from lstat (links are not followed)."""
    entries = []
    with os.scandir(directory) as iterator:
        for entry in iterator:
            if not fnmatch.fnmatchcase(entry.name, pattern):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                kind = "symlink"
            elif stat.S_ISREG(st.st_mode):
                kind = "file"
            elif stat.S_ISDIR(st.st_mode):
                kind = "directory"
            else:
                kind = "other"
            entries.append({"name": entry.name, "kind": kind, "size": st.st_size, "mtime": st.st_mtime,
                            "dev": st.st_dev, "ino": st.st_ino})
    return sorted(entries, key=lambda e: e["name"])


def plan(entries: t.Iterable[dict], today: datetime.date, keep_days: int = 0, age_source: str = "name",
         date_format: str = "%Y-%m-%d", writers: set[tuple[int, int]] | None = None) -> dict:
    """Split scanned entries into what goes, what stays and what is skipped (with the reason).

    A file goes when its date (from the name, or the local date of its mtime) is before
    ``today - keep_days``: keep_days=0 keeps today's files only. Future dates are kept.
    """
    if keep_days < 0:
        raise PruneError(f"keep_days {keep_days} must be 0 or more")
    if age_source not in AGE_SOURCES:
        raise PruneError(f"age_source {age_source!r} must be one of {', '.join(AGE_SOURCES)}")
    regex = date_regex(date_format) if age_source == "name" else None
    cutoff = today - datetime.timedelta(days=keep_days)
    writers = writers or set()
    result: dict[str, list] = {"prune": [], "keep": [], "skip": []}
    for entry in entries:
        name = entry["name"]
        if entry["kind"] != "file":
            result["skip"].append({"name": name, "reason": f"{entry['kind']}: only regular files are pruned"})
            continue
        if age_source == "name":
            day = date_from_name(name, date_format, regex)
            if day is None:
                result["skip"].append({"name": name, "reason": f"no {date_format} date in the name"})
                continue
        else:
            day = datetime.datetime.fromtimestamp(entry["mtime"]).date()
        item = {"name": name, "date": day.isoformat(), "size": entry["size"], "dev": entry["dev"], "ino": entry["ino"]}
        if day >= cutoff:
            result["keep"].append(item)
        elif (entry["dev"], entry["ino"]) in writers:
            result["skip"].append({"name": name, "reason": "open for writing by another process"})
        else:
            result["prune"].append(item)
    return result


def usage_percent(path: str) -> float:
    """Used space of the filesystem holding ``path`` in percent, as df computes it."""
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    total = used + avail
    return round(100.0 * used / total, 1) if total else 0.0


def check_directory(path: str) -> str:
    if not path or not os.path.isabs(path):
        raise PruneError(f"path {path!r} must be an absolute directory path")
    if not os.path.isdir(path):
        raise PruneError(f"path {path!r} is not a directory")
    return os.path.realpath(path)


def check_pattern(pattern: str) -> None:
    if not pattern or "/" in pattern or pattern in (".", ".."):
        raise PruneError(f"pattern {pattern!r} must be a file name glob without '/' (e.g. tomcat_access.*.log)")


def _inside(real_dir: str, name: str) -> bool:
    return os.path.dirname(os.path.realpath(os.path.join(real_dir, name))) == real_dir


def _compress(dir_fd: int, name: str, expected: os.stat_result) -> int:
    """gzip ``name`` to ``name.gz`` next to it, then remove ``name``; return the size of the .gz."""
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        st = os.fstat(src)
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            raise PruneError(f"{name} changed during the run")
        dst = os.open(name + ".gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640, dir_fd=dir_fd)
        try:
            with os.fdopen(dst, "wb") as raw, gzip.GzipFile(filename=name, mode="wb", fileobj=raw, mtime=int(st.st_mtime)) as gz:
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
    os.utime(name + ".gz", (st.st_atime, st.st_mtime), dir_fd=dir_fd)
    size = os.stat(name + ".gz", dir_fd=dir_fd, follow_symlinks=False).st_size
    os.unlink(name, dir_fd=dir_fd)
    return size


def execute(directory: str, items: list[dict], mode: str = "delete") -> tuple[list[dict], list[dict]]:
    """Delete or compress the planned files; return (done, skipped). Each file is re-checked first."""
    if mode not in MODES:
        raise PruneError(f"mode {mode!r} must be one of {', '.join(MODES)}")
    real_dir = os.path.realpath(directory)
    done: list[dict] = []
    skipped: list[dict] = []
    dir_fd = os.open(real_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for item in items:
            name = item["name"]
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                skipped.append({"name": name, "reason": "gone before it was pruned"})
                continue
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (item["dev"], item["ino"]) \
                    or not _inside(real_dir, name):
                skipped.append({"name": name, "reason": "changed during the run (not the file that was planned)"})
                continue
            try:
                if mode == "delete":
                    os.unlink(name, dir_fd=dir_fd)
                    freed = st.st_size
                else:
                    if os.path.lexists(os.path.join(real_dir, name + ".gz")):
                        skipped.append({"name": name, "reason": f"{name}.gz exists already"})
                        continue
                    freed = st.st_size - _compress(dir_fd, name, st)
            except (OSError, PruneError) as exc:
                skipped.append({"name": name, "reason": f"failed: {exc}"})
                continue
            done.append({**item, "freed": freed})
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return done, skipped


def prune(path: str, pattern: str, keep_days: int = 0, age_source: str = "name", date_format: str = "%Y-%m-%d",
          mode: str = "delete", when_usage_over: float | None = None, check_mode: bool = False,
          today: datetime.date | None = None, proc_root: str = "/proc") -> dict:
    """Plan and (unless check_mode) carry out one pruning; the result is what the module returns."""
    real_dir = check_directory(path)
    check_pattern(pattern)
    if mode not in MODES:
        raise PruneError(f"mode {mode!r} must be one of {', '.join(MODES)}")
    if when_usage_over is not None and not 0 <= when_usage_over <= 100:
        raise PruneError(f"when_usage_over {when_usage_over} must be a percentage between 0 and 100")
    today = today or datetime.date.today()
    usage_before = usage_percent(real_dir)
    result: dict[str, t.Any] = {"path": path, "pattern": pattern, "mode": mode, "usage_percent_before": usage_before,
                                "usage_percent_after": usage_before, "pruned": [], "kept": [], "left_alone": [],
                                "files_pruned": 0, "bytes_freed": 0, "changed": False}
    if when_usage_over is not None and usage_before <= when_usage_over:
        result["msg"] = f"usage {usage_before}% of {path}'s filesystem is not over {when_usage_over}%: nothing pruned"
        return result
    writers = files_open_for_writing(proc_root)
    planned = plan(scan(real_dir, pattern), today, keep_days, age_source, date_format, writers)
    result["kept"] = [i["name"] for i in planned["keep"]]
    skipped = [{"path": os.path.join(path, s["name"]), "reason": s["reason"]} for s in planned["skip"]]
    if check_mode:
        done = [{**i, "freed": i["size"]} for i in planned["prune"]]
    else:
        done, late = execute(real_dir, planned["prune"], mode)
        skipped += [{"path": os.path.join(path, s["name"]), "reason": s["reason"]} for s in late]
        result["usage_percent_after"] = usage_percent(real_dir)
    result["left_alone"] = skipped
    result["pruned"] = [{"path": os.path.join(path, i["name"]), "date": i["date"], "size": i["size"],
                         "action": "deleted" if mode == "delete" else "compressed",
                         **({"compressed_to": os.path.join(path, i["name"] + ".gz")} if mode == "compress" else {})}
                        for i in done]
    result["files_pruned"] = len(done)
    result["bytes_freed"] = sum(i["freed"] for i in done)
    result["changed"] = bool(done)
    verb = "would free" if check_mode else "freed"
    result["msg"] = (f"{len(done)} file(s) {'to prune' if check_mode else 'pruned'} in {path}, {verb} "
                     f"{result['bytes_freed']} bytes; {len(result['kept'])} kept, {len(skipped)} skipped")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line used by the scheduled job: prints the result as one JSON line."""
    parser = argparse.ArgumentParser(description="Prune dated log files in one directory (kubeops.runbook).")
    parser.add_argument("--path", required=True)
    parser.add_argument("--pattern", required=True)
    parser.add_argument("--keep-days", type=int, default=0)
    parser.add_argument("--age-source", choices=AGE_SOURCES, default="name")
    parser.add_argument("--date-format", default="%Y-%m-%d")
    parser.add_argument("--mode", choices=MODES, default="delete")
    parser.add_argument("--when-usage-over", type=float, default=None)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = prune(args.path, args.pattern, args.keep_days, args.age_source, args.date_format, args.mode,
                       args.when_usage_over, args.check)
    except PruneError as exc:
        sys.stdout.write(json.dumps({"failed": True, "msg": str(exc)}) + "\n")
        return 2
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
