# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log file scanning for kubeops.runbook. PRIVATE to the collection: not a public API.

Two ways to read a log without reading all of it:

* ``read_incremental()``: what was appended since the last scan. The state (inode, device, offset) lives in a
  JSON file on the host; a new inode (rotation) or a file shorter than the offset (truncation) restarts at the
  beginning; a first scan reads only the last ``max_bytes``.
* ``read_tail()``: the last N lines, read backwards from the end in blocks (cost independent of file size).

``decode_line()`` never fails: UTF-8, then GBK, then UTF-8 with replacement characters.
``scan_lines()`` counts pattern hits and keeps samples; ``file_finding()`` turns that into a ``logs.<name>``
finding.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, UNKNOWN, WARNING, finding, worst,
)

SEVERITIES = (WARNING, CRITICAL)
BLOCK = 64 * 1024
MAX_SAMPLE_CHARS = 400
_NAME = re.compile(r"^[a-z0-9_]+$")

# The handbook greps /var/log/messages and the middleware logs for these by eye.
DEFAULT_PATTERNS: list[dict] = [
    {"name": "oom", "regex": r"out of memory|oom-kill|oom_reaper|invoked oom-killer|Killed process \d+", "severity": CRITICAL},
    {"name": "no_space", "regex": r"No space left on device|ENOSPC", "severity": CRITICAL},
    {"name": "read_only_fs", "regex": r"Read-only file system", "severity": CRITICAL},
    # Go "panic: ...", the kernel's "Kernel panic" / "kernel BUG at" / "segfault at"; not "panicked: false" or
    # "panic-reason: <nil>" that kube-apiserver prints on every request timeout
    {"name": "panic", "regex": r"(^|[\s:\]])panic: |Kernel panic|kernel BUG at|segfault at |Call Trace:", "severity": CRITICAL},
    # "fatal" stays a warning: boot-time noise such as "modprobe: FATAL: Module overlay not found" is common, and a
    # service that really died is the unit check's critical finding
    {"name": "fatal", "regex": r"\bfatal\b", "severity": WARNING},
    {"name": "error", "regex": r"\berr(or)?s?\b|\bE\d{4} \d\d:\d\d", "severity": WARNING},
    {"name": "fail", "regex": r"\bfail(s|ed|ure|ing)?\b", "severity": WARNING},
]


class LogScanError(Exception):
    """Bad input (a pattern that does not compile, a bad name); the message is for an operator."""


class LogUnreadable(Exception):
    """The log cannot be read (missing, directory, permission); becomes an ``unknown`` finding."""


# -- patterns ---------------------------------------------------------------------------------------------
class Pattern(t.NamedTuple):
    name: str
    regex: t.Pattern[str]
    severity: str


def compile_patterns(patterns: t.Iterable[dict] | None, ignore_case: bool = True) -> list[Pattern]:
    result: list[Pattern] = []
    for item in (DEFAULT_PATTERNS if patterns is None else patterns):
        if not isinstance(item, dict):
            raise LogScanError(f"patterns: {item!r} must be a dict with name, regex and severity")
        name = str(item.get("name") or "")
        if not _NAME.match(name):
            raise LogScanError(f"patterns: name {name!r} must be lower-case letters, digits and _")
        severity = str(item.get("severity") or WARNING)
        if severity not in SEVERITIES:
            raise LogScanError(f"patterns: severity {severity!r} of {name!r} must be one of {', '.join(SEVERITIES)}")
        try:
            regex = re.compile(str(item.get("regex") or ""), re.IGNORECASE if item.get("ignore_case", ignore_case) else 0)
        except re.error as exc:
            raise LogScanError(f"patterns: regex {item.get('regex')!r} of {name!r} does not compile: {exc}") from None
        if not regex.pattern:
            raise LogScanError(f"patterns: {name!r} has an empty regex")
        result.append(Pattern(name, regex, severity))
    return result


def log_name(name: str) -> str:
    name = str(name)
    if not _NAME.match(name):
        raise LogScanError(f"files: name {name!r} must be lower-case letters, digits and _ (it becomes logs.<name>)")
    return name


def default_name(path: str) -> str:
    base = os.path.basename(path.rstrip("/")) or "root"
    base = re.sub(r"\.log$", "", base)
    return re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_") or "log"


# -- decoding ---------------------------------------------------------------------------------------------
def decode_line(raw: bytes) -> tuple[str, str]:
    """Bytes of one line -> (text, encoding used). Never raises."""
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace"), "replace"


def split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.rstrip(b"\r") for line in lines]


# -- reading ----------------------------------------------------------------------------------------------
def open_log(path: str) -> tuple[t.BinaryIO, os.stat_result]:
    """Open a log for reading; a missing, special or unreadable file raises LogUnreadable."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise LogUnreadable(f"{path} does not exist") from None
    except OSError as exc:
        raise LogUnreadable(f"{path} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise LogUnreadable(f"{path} is a directory, not a log file")
    if not stat.S_ISREG(st.st_mode):
        raise LogUnreadable(f"{path} is not a regular file")
    try:
        handle = open(path, "rb")  # pylint: disable=consider-using-with
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise LogUnreadable(f"{path} cannot be read: permission denied") from None
        raise LogUnreadable(f"{path} cannot be read: {exc.strerror}") from None
    return handle, os.fstat(handle.fileno())


def tail_bytes(handle: t.BinaryIO, size: int, lines: int, max_bytes: int) -> tuple[bytes, int]:
    """The last ``lines`` lines of a file of ``size`` bytes, reading backwards; returns (data, start offset).

    Reads at most ``max_bytes``; when that limit falls inside a line, the partial line is dropped (unless it is
    the only line, then its end is kept).
    """
    if lines <= 0 or size <= 0:
        return b"", size
    floor = max(0, size - max_bytes)
    pos = size
    data = b""
    while pos > floor:
        step = min(BLOCK, pos - floor)
        pos -= step
        handle.seek(pos)
        data = handle.read(step) + data
        if data.count(b"\n", 0, max(0, len(data) - 1)) >= lines:
            break
    cut = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _line in range(lines):
        cut = data.rfind(b"\n", 0, cut)
        if cut < 0:
            break
    if cut >= 0:
        return data[cut + 1:], pos + cut + 1
    if pos == 0:
        return data, 0
    nl = data.find(b"\n")
    if 0 <= nl < len(data) - 1:
        return data[nl + 1:], pos + nl + 1
    return data, pos


def read_tail(path: str, lines: int, max_bytes: int) -> dict:
    handle, st = open_log(path)
    with handle:
        data, start = tail_bytes(handle, st.st_size, lines, max_bytes)
    return {"data": data, "start": start, "end": st.st_size, "size": st.st_size, "inode": st.st_ino,
            "device": st.st_dev, "reset": None, "skipped_bytes": 0}


def plan_incremental(previous: dict | None, inode: int, device: int, size: int, max_bytes: int) -> tuple[int, str | None, int]:
    """Where to start reading: (offset, why the previous offset was dropped or None, bytes skipped)."""
    reset = None
    start = max(0, size - max_bytes)
    if not isinstance(previous, dict) or not isinstance(previous.get("offset"), int):
        reset = "first scan"
    elif previous.get("inode") != inode or previous.get("device", device) != device:
        reset = "rotated"
        start = max(0, size - max_bytes)
    elif previous["offset"] > size:
        reset = "truncated"
        start = max(0, size - max_bytes)
    else:
        start = previous["offset"]
        if size - start > max_bytes:
            skipped = size - max_bytes - start
            return size - max_bytes, None, skipped
    return start, reset, 0


def read_incremental(path: str, previous: dict | None, max_bytes: int) -> dict:
    """What was appended since ``previous`` (``{"inode", "device", "offset"}``); returns data and new state.

    Only complete lines are consumed: a trailing partial line is left for the next scan, unless no line end
    shows up within ``max_bytes``. A read that starts inside a line (first scan, rotation, skipped bytes)
    drops that partial line.
    """
    handle, st = open_log(path)
    with handle:
        start, reset, skipped = plan_incremental(previous, st.st_ino, st.st_dev, st.st_size, max_bytes)
        head_partial = False
        if start > 0 and (reset is not None or skipped):
            handle.seek(start - 1)
            head_partial = handle.read(1) != b"\n"
        handle.seek(start)
        data = handle.read(max(0, st.st_size - start))
    head = 0
    if head_partial:
        nl = data.find(b"\n")
        head = nl + 1 if nl >= 0 else len(data)
    body = data[head:]
    if body and not body.endswith(b"\n"):
        last = body.rfind(b"\n")
        if last >= 0:
            body = body[:last + 1]
        elif len(data) < max_bytes:
            body = b""
    return {"data": body, "start": start + head, "end": start + head + len(body), "size": st.st_size,
            "inode": st.st_ino, "device": st.st_dev, "reset": reset, "skipped_bytes": skipped}


# -- scanning ---------------------------------------------------------------------------------------------
def scan_lines(data: bytes, patterns: list[Pattern], samples: int = 5) -> dict:
    """Count lines matching each pattern; keep up to ``samples`` lines per pattern. Never raises on bytes."""
    counts = {p.name: 0 for p in patterns}
    sample_lines: dict[str, list[str]] = {p.name: [] for p in patterns}
    encodings: dict[str, int] = {}
    total = 0
    for raw in split_lines(data):
        total += 1
        text, encoding = decode_line(raw)
        encodings[encoding] = encodings.get(encoding, 0) + 1
        for pattern in patterns:
            if pattern.regex.search(text):
                counts[pattern.name] += 1
                if len(sample_lines[pattern.name]) < samples:
                    sample_lines[pattern.name].append(text[:MAX_SAMPLE_CHARS])
    return {"lines": total, "counts": counts, "samples": {k: v for k, v in sample_lines.items() if v},
            "encodings": encodings}


def file_finding(name: str, path: str, host: str | None, scan: dict | None, patterns: list[Pattern],
                 read: dict | None = None, problem: str | None = None, min_count: int = 1,
                 optional: bool = False) -> dict:
    fid = f"logs.{name}"
    if problem is not None:
        if optional and "does not exist" in problem:
            return finding(fid, path, OK, f"{problem} (optional)", host=host, details={"path": path})
        return finding(fid, path, UNKNOWN, problem, host=host, details={"path": path})
    if scan is None:
        raise AssertionError("file_finding needs a scan or a problem")
    hits = {p.name: scan["counts"][p.name] for p in patterns if scan["counts"][p.name] >= min_count}
    severity = {p.name: p.severity for p in patterns}
    status = worst((severity[n] for n in hits), OK)
    details: dict[str, t.Any] = {"path": path, "lines_scanned": scan["lines"], "counts": scan["counts"],
                                 "samples": scan["samples"], "encodings": scan["encodings"]}
    if read:
        details.update({k: read[k] for k in ("start", "end", "size", "inode", "reset", "skipped_bytes")})
    where = f"{scan['lines']} line(s)"
    if read and read.get("reset"):
        where += f" ({read['reset']})"
    if not hits:
        return finding(fid, path, OK, f"no matching lines in {where}", host=host, details=details)
    parts = ", ".join(f"{n} {c}" for n, c in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0])))
    return finding(fid, path, status, f"{parts} in {where}", host=host, details=details)
