# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeops-log-prune: the pruning that the log_prune role's systemd timer runs on the host.

Standard library only, one file, installed by the role (roles/log_prune/files/). It applies the rules of the
kubeops.runbook.log_prune module (the unit tests run both on the same directories and compare):

* refuses ``/``, top-level directories, system trees (/etc, /usr, /var/lib, ...) and directories outside the
  allowed roots, globs with fewer than 3 characters that are not wildcards, keep_days outside 0..36500;
* one scandir of a directory file descriptor; only regular, non-executable files directly in the directory
  are touched (unlinkat on that descriptor: a name cannot escape the directory); links, directories and
  files some process holds open for writing are left alone and counted;
* a file goes when its date (from its name, or the local date of its mtime) is before today - keep_days:
  with mtimes, the set ``find DIR -maxdepth 1 -daystart -mtime +<keep_days>`` selects.

Prints one JSON line (counts, the reasons files were left alone, the first names as a sample) for the journal.
Exit status 0, or 2 when the arguments or the directory are refused.
"""
from __future__ import annotations

import argparse
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

MODES = ("delete", "compress")
AGE_SOURCES = ("name", "mtime")
MAX_KEEP_DAYS = 36500
MIN_LITERAL_CHARS = 3
DEFAULT_ALLOWED_ROOTS = ("/var/log", "/data", "/opt", "/srv", "/home", "/mnt", "/tmp", "/var/tmp")
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
                "/sbin", "/snap", "/sys", "/usr", "/var/lib", "/var/cache", "/var/spool", "/var/mail",
                "/var/backups", "/var/run", "/var/lock")
SAMPLE = 20
_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}",
               "S": r"\d{2}", "j": r"\d{3}", "%": "%"}


class Refused(Exception):
    """Bad arguments or a directory that must not be pruned."""


def name_date_regex(date_format):
    if not date_format or "%" not in date_format:
        raise Refused(f"date_format {date_format!r} has no strftime directive such as %Y-%m-%d")
    out, i = [], 0
    while i < len(date_format):
        if date_format[i] == "%":
            directive = date_format[i + 1:i + 2]
            if directive not in _DIRECTIVES:
                raise Refused(f"date_format {date_format!r}: directive %{directive} is not supported")
            out.append(_DIRECTIVES[directive] if directive == "%" else f"({_DIRECTIVES[directive]})")
            i += 2
        else:
            out.append(re.escape(date_format[i]))
            i += 1
    return re.compile("".join(out))


def glob_literals(pattern):
    """Characters of a glob that match only themselves (the module's literal_chars, same reading of brackets)."""
    count, i = 0, 0
    while i < len(pattern):
        if pattern[i] == "[":
            j = i + 1
            j += j < len(pattern) and pattern[j] == "!"
            j += j < len(pattern) and pattern[j] == "]"
            end = pattern.find("]", j)
            if end >= 0:
                i = end + 1
                continue
        count += pattern[i] not in "*?"
        i += 1
    return count


def below(path, root):
    root = root.rstrip("/") or "/"
    return root == "/" or path == root or path.startswith(root + "/")


def refuse_directory(real, roots, shown):
    if real == "/" or real.count("/") < 2:
        raise Refused(f"path {shown!r} is {'the root directory' if real == '/' else 'a top-level directory'} "
                      f"({real}): log_prune works only in a log directory below it")
    for tree in SYSTEM_TREES:
        if below(real, tree):
            raise Refused(f"path {shown!r} ({real}) is in the system tree {tree}: log_prune never prunes "
                          f"{', '.join(SYSTEM_TREES)} or below")
    roots = [os.path.normpath(r) for r in roots]
    if not any(below(real, r) for r in roots):
        raise Refused(f"path {shown!r} ({real}) is not under an allowed root ({', '.join(roots) or 'none'}); "
                      f"add its parent to allowed_roots to prune there")


def writers(matches, proc="/proc"):
    """(dev, ino) of regular files whose name matches, that some other process holds open for writing."""
    found = set()
    me = str(os.getpid())
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit() and p != me]
    except OSError:
        return found
    for pid in pids:
        try:
            fds = os.listdir(f"{proc}/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:  # the name first (one readlink): most descriptors are sockets, pipes and other files
                target = os.readlink(f"{proc}/{pid}/fd/{fd}")
                if target.endswith(" (deleted)"):
                    target = target[:-len(" (deleted)")]
                if not matches(os.path.basename(target)):
                    continue
                with open(f"{proc}/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as handle:
                    flags = next((int(line.split(":", 1)[1].strip(), 8) for line in handle
                                  if line.startswith("flags:")), None)
                if flags is None or flags & os.O_ACCMODE not in (os.O_WRONLY, os.O_RDWR):
                    continue
                st = os.stat(f"{proc}/{pid}/fd/{fd}")
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(st.st_mode):
                found.add((st.st_dev, st.st_ino))
    return found


def usage(path):
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    total = used + st.f_bavail * st.f_frsize
    return round(100.0 * used / total, 1) if total else 0.0


def gzip_file(dir_fd, name, expected):
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(src)
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino) or not stat.S_ISREG(st.st_mode):
            raise OSError(f"{name} changed during the run")
        dst = os.open(name + ".gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640, dir_fd=dir_fd)
        try:
            with os.fdopen(dst, "wb") as raw, gzip.GzipFile(filename=name, mode="wb", fileobj=raw, mtime=0) as gz:
                for chunk in iter(lambda: os.read(src, 1 << 20), b""):
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


def prune(path, pattern, keep_days=0, age_source="name", date_format="%Y-%m-%d", mode="delete",
          when_usage_over=None, check=False, allowed_roots=DEFAULT_ALLOWED_ROOTS, today=None):
    if not pattern or "/" in pattern or "\x00" in pattern or pattern in (".", ".."):
        raise Refused(f"pattern {pattern!r} must be a file name glob without '/' (e.g. tomcat_access.*.log)")
    if glob_literals(pattern) < MIN_LITERAL_CHARS:
        raise Refused(f"pattern {pattern!r} is too broad: it needs at least {MIN_LITERAL_CHARS} characters that "
                      f"are not wildcards (e.g. tomcat_access.*.log or *.log)")
    if not 0 <= keep_days <= MAX_KEEP_DAYS:
        raise Refused(f"keep_days {keep_days!r} must be a whole number of days from 0 to {MAX_KEEP_DAYS}")
    if when_usage_over is not None and not (math.isfinite(when_usage_over) and 0 <= when_usage_over <= 100):
        raise Refused(f"when_usage_over {when_usage_over} must be a percentage between 0 and 100")
    regex = name_date_regex(date_format) if age_source == "name" else None
    if not os.path.isabs(path) or not os.path.isdir(path):
        raise Refused(f"path {path!r} must be an absolute path of a directory")
    real = os.path.realpath(path)
    refuse_directory(real, allowed_roots, path)
    dir_fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        refuse_directory(os.readlink(f"/proc/self/fd/{dir_fd}"), allowed_roots, path)
        return _prune(dir_fd, real, path, pattern, keep_days, date_format, regex, mode, when_usage_over, check,
                      today or datetime.date.today())
    finally:
        os.close(dir_fd)


def _prune(dir_fd, real, path, pattern, keep_days, date_format, regex, mode, when_usage_over, check, today):
    cutoff = today - datetime.timedelta(days=keep_days)
    cutoff_ts = time.mktime(cutoff.timetuple())
    out = {"path": path, "pattern": pattern, "mode": mode, "keep_days": keep_days, "cutoff": cutoff.isoformat(),
           "check": check, "usage_percent_before": usage(real), "files_pruned": 0, "bytes_freed": 0,
           "files_kept": 0, "files_left_alone": 0, "left_alone_reasons": {}, "pruned": []}
    out["usage_percent_after"] = out["usage_percent_before"]
    if when_usage_over is not None and out["usage_percent_before"] <= when_usage_over:
        out["msg"] = f"usage {out['usage_percent_before']}% is not over {when_usage_over}%: nothing pruned"
        return out
    matches = re.compile(fnmatch.translate(pattern)).match
    busy = writers(matches)
    dates = {}
    names = []
    later = []

    def leave(reason):
        out["left_alone_reasons"][reason] = out["left_alone_reasons"].get(reason, 0) + 1

    above = []  # the SAMPLE-th smallest name once known: larger names are not kept

    def gone(name, freed):
        out["files_pruned"] += 1
        out["bytes_freed"] += freed
        if not above or name < above[0]:
            names.append(name)
            if len(names) > 4 * SAMPLE:
                names.sort()
                del names[SAMPLE:]
                above[:] = [names[-1]]

    with os.scandir(dir_fd) as entries:
        for entry in entries:
            name = entry.name
            if not matches(name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                leave("gone before it was looked at")
                continue
            kind = st.st_mode & 0o170000
            if kind != stat.S_IFREG:
                leave("symlink: only regular files are pruned" if kind == stat.S_IFLNK else
                      "directory: only regular files are pruned" if kind == stat.S_IFDIR else "not a regular file")
                continue
            if st.st_mode & 0o111:
                leave("executable: log files are not executable")
                continue
            if mode == "compress" and name.endswith(".gz"):
                leave("compressed already")
                continue
            if regex is not None:
                day = None
                for found in regex.finditer(name):
                    text = found.group(0)
                    if text not in dates:
                        try:
                            dates[text] = datetime.datetime.strptime(text, date_format).date()
                        except ValueError:
                            dates[text] = None
                    day = dates[text]
                    if day is not None:
                        break
                if day is None:
                    leave(f"no {date_format} date in the name")
                    continue
                old = day < cutoff
            else:
                old = st.st_mtime < cutoff_ts
            if not old:
                out["files_kept"] += 1
                continue
            if busy and (st.st_dev, st.st_ino) in busy:
                leave("open for writing by another process")
                continue
            if mode == "compress":
                later.append((name, st))
                continue
            if not check:
                try:
                    os.unlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    leave("gone before it was pruned")
                    continue
                except OSError as exc:
                    leave(f"failed: {exc.strerror}")
                    continue
            gone(name, st.st_size)
    for name, st in later:
        try:
            os.stat(name + ".gz", dir_fd=dir_fd, follow_symlinks=False)
            leave("a .gz of that name exists already")
            continue
        except FileNotFoundError:
            pass
        if check:
            gone(name, st.st_size)
            continue
        try:
            gone(name, st.st_size - gzip_file(dir_fd, name, st))
        except OSError as exc:
            leave(f"failed: {exc}")
    if not check and out["files_pruned"]:
        if mode == "compress":
            os.fsync(dir_fd)  # the .gz names are durable before anyone counts on them
        out["usage_percent_after"] = usage(real)
    out["pruned"] = sorted(names)[:SAMPLE]
    out["files_left_alone"] = sum(out["left_alone_reasons"].values())
    out["msg"] = (f"{out['files_pruned']} file(s) {'to prune' if check else 'pruned'} in {path} (dated before "
                  f"{cutoff.isoformat()}), {out['bytes_freed']} bytes; {out['files_kept']} kept, "
                  f"{out['files_left_alone']} left alone")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Prune dated log files in one directory (kubeops.runbook).")
    parser.add_argument("--path", required=True)
    parser.add_argument("--pattern", required=True)
    parser.add_argument("--keep-days", type=int, default=0)
    parser.add_argument("--age-source", choices=AGE_SOURCES, default="name")
    parser.add_argument("--date-format", default="%Y-%m-%d")
    parser.add_argument("--mode", choices=MODES, default="delete")
    parser.add_argument("--when-usage-over", type=float, default=None)
    parser.add_argument("--allowed-root", action="append", dest="allowed_roots")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = prune(args.path, args.pattern, args.keep_days, args.age_source, args.date_format, args.mode,
                       args.when_usage_over, args.check, args.allowed_roots or DEFAULT_ALLOWED_ROOTS)
    except Refused as exc:
        sys.stdout.write(json.dumps({"failed": True, "msg": str(exc)}) + "\n")
        return 2
    except OSError as exc:
        sys.stdout.write(json.dumps({"failed": True, "msg": f"cannot prune path={args.path}: {exc}"}) + "\n")
        return 1
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
