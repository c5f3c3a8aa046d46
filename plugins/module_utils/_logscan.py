# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log file scanning for kubeops.runbook. PRIVATE to the collection: not a public API.

Reading:

* ``open_log()`` opens a log without letting whoever owns its directory redirect root elsewhere: every
  component is opened relative to its parent (``O_NOFOLLOW``); a symbolic link is followed only when it
  points within its own directory or when only root (or the user running the scan) could have made it.
* Incremental scans (``plan_incremental()`` + ``scan_range()``) read everything appended since the last
  scan, in chunks, in bounded memory, until a time budget runs out; what is left is reported, and the next
  scan continues there. The state per file is (device, inode, offset, a hash of the first bytes): a new
  inode (rotation), a file shorter than the offset, or a different head (truncated and written again,
  copytruncate) restarts at the beginning.
* ``read_tail()`` reads the last N lines backwards from the end (cost independent of file size).

Matching (``Scanner``): every line is decoded as UTF-8, else GBK, else UTF-8 with replacement characters.
Lines that cannot match are skipped without decoding: each pattern's regex is parsed for literals every
match must contain (``required_literals()``), and only lines holding one of them are decoded and matched.
The literal search runs in GNU grep when the host has it (``grep -F``-like, fed the same bytes through a
pipe), else in Python. Patterns without such literals are matched on whole chunks. Access logs
(``kind=access``) count requests and HTTP status classes instead.
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
import stat
import subprocess
import threading
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, UNKNOWN, WARNING, finding, worst,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._redact import sample_text
from ansible_collections.kubeops.runbook.plugins.module_utils._systemd import load_state, save_state

try:  # Python 3.11+
    from re import _constants as _sre_const, _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons on managed hosts
    import sre_constants as _sre_const  # type: ignore[no-redef]  # pylint: disable=deprecated-module
    import sre_parse as _sre_parse  # type: ignore[no-redef]  # pylint: disable=deprecated-module

SEVERITIES = (WARNING, CRITICAL)
KINDS = ("errors", "access")
BLOCK = 64 * 1024             # tail: read backwards in blocks of this size
CHUNK = 1024 * 1024           # incremental: read forwards in chunks of this size
MAX_LINE = 1024 * 1024        # longer lines are matched in pieces of this size (bounded memory)
HEAD_BYTES = 4096             # fingerprint of the head of a file, to see copytruncate
MAX_SAMPLE_CHARS = 400
MAX_LINKS = 40
_NAME = re.compile(r"^[a-z0-9_]+$")
_GLOB_CHARS = re.compile(r"[*?\[]")
GREP_PATHS = ("/usr/bin/grep", "/bin/grep")

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
    # klog's error lines start with E and the date as MMDD (month 01-12): E0529 10:04:05.123456
    {"name": "error", "regex": r"\berr(or)?s?\b|(?-i:\bE[01]\d{3} \d\d:\d\d)", "severity": WARNING},
    {"name": "fail", "regex": r"\bfail(s|ed|ure|ing)?\b", "severity": WARNING},
]

# Common / combined log format (nginx "combined" and "main", tomcat AccessLogValve "common" and "combined"):
# host ident user [time] "request" status bytes ...; the status follows the quoted request.
DEFAULT_STATUS_REGEX = r'^[^ ]+ [^ ]+ [^\[]*\[[^\]]*\] "[^"\\]*(?:\\.[^"\\]*)*" (\d{3})(?= |\r?$)'
# the same for a whole chunk at once (no class crosses a line end)
_STATUS_CHUNK = re.compile(rb'(?m)^[^ \n]+ [^ \n]+ [^\[\n]*\[[^\]\n]*\] "[^"\\\n]*(?:\\.[^"\\\n]*)*" (\d{3})(?= |\r?$)')
_STATUS_5XX = re.compile(rb'(?m)^[^ \n]+ [^ \n]+ [^\[\n]*\[[^\]\n]*\] "[^"\\\n]*(?:\\.[^"\\\n]*)*" (5\d\d)(?= |\r?$)')

# Characters outside ASCII that a case-insensitive Python regex matches for ASCII letters (İ ı ſ K).
# Their UTF-8 bytes mark lines the ASCII-only case folding of the literal search could miss.
_FOLD_SPECIALS = tuple(ch.encode("utf-8") for ch in ("\u0130", "\u0131", "\u017f", "\u212a"))


class LogScanError(Exception):
    """Bad input (a pattern that does not compile, a bad name); the message is for an operator."""


class LogUnreadable(Exception):
    """The log cannot be read (missing, directory, permission, refused link); becomes an ``unknown`` finding."""


# -- patterns ---------------------------------------------------------------------------------------------
Literal = t.Tuple[bytes, bool]  # (bytes, case-insensitive)


class Pattern(t.NamedTuple):
    name: str
    regex: t.Pattern[str]
    severity: str
    literals: tuple[Literal, ...] | None = None  # every matching line holds one of these (None: unknown)
    finder: t.Pattern[str] | None = None          # MULTILINE twin for searching whole chunks


def _op(name: str) -> t.Any:
    return getattr(_sre_const, name, None)


_LITERAL, _IN, _AT, _BRANCH, _SUBPATTERN = _op("LITERAL"), _op("IN"), _op("AT"), _op("BRANCH"), _op("SUBPATTERN")
_REPEATS = tuple(x for x in (_op("MAX_REPEAT"), _op("MIN_REPEAT"), _op("POSSESSIVE_REPEAT")) if x is not None)
_ATOMIC, _RANGE = _op("ATOMIC_GROUP"), _op("RANGE")


def _class_chars(items: t.Iterable, ci: bool) -> set[str] | None:
    """The few characters a ``[...]`` class matches, or None (negated, categories, too many)."""
    chars: set[str] = set()
    for op, av in items:
        if op is _LITERAL:
            chars.add(chr(av))
        elif op is _RANGE and av[1] - av[0] < 4:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None
    return _fold(chars, ci)


def _fold(chars: set[str], ci: bool) -> set[str] | None:
    if not ci:
        return chars
    if any(not c.isascii() and c.lower() != c.upper() for c in chars):
        return None  # a case-insensitive non-ASCII letter: its variants are not searched
    return {c.lower() for c in chars}


def _required(items: t.Iterable, ci: bool) -> frozenset | None:
    """A set of (text, ci) literals one of which every match of ``items`` contains, or None."""
    options: list[frozenset] = []
    run: set[str] = {""}

    def close() -> None:
        nonlocal run
        if all(run):
            options.append(frozenset((s, ci) for s in run))
        run = {""}

    for op, av in items:
        if op is _LITERAL or op is _IN:
            chars = _fold({chr(av)}, ci) if op is _LITERAL else _class_chars(av, ci)
            if chars and len(chars) * len(run) <= 8:
                run = {s + c for s in run for c in chars}
                continue
            close()
        elif op is _AT:
            continue  # zero width: \b, ^, $ do not break a literal run
        else:
            close()
            found = _nested(op, av, ci)
            if found:
                options.append(found)
    close()
    if not options:
        return None
    return max(options, key=lambda o: (min(len(s) for s, _ci in o), -len(o)))


def _nested(op: t.Any, av: t.Any, ci: bool) -> frozenset | None:
    """What ``_required`` finds in a group, a repeat of at least once, an alternation (a literal of every
    branch) or an atomic group; None for anything else."""
    if op is _SUBPATTERN:
        add, remove, sub = av[-3], av[-2], av[-1]
        return _required(sub, bool((ci or add & re.IGNORECASE) and not remove & re.IGNORECASE))
    if op in _REPEATS:
        return _required(av[2], ci) if av[0] >= 1 else None
    if op is _BRANCH:
        branches = [_required(b, ci) for b in av[1]]
        return frozenset().union(*branches) if branches and all(branches) else None
    if _ATOMIC is not None and op is _ATOMIC:
        return _required(av, ci)
    return None


def required_literals(regex: t.Pattern[str]) -> tuple[Literal, ...] | None:
    """Byte strings at least one of which every line matching ``regex`` contains (lower-cased where the
    match is case-insensitive); None when the regex guarantees none of at least 2 characters."""
    try:
        parsed = _sre_parse.parse(regex.pattern, regex.flags & ~re.UNICODE)
        found = _required(list(parsed), bool(regex.flags & re.IGNORECASE))
    except Exception:  # pylint: disable=broad-except  # a parser of another Python: no prefilter, still exact
        return None
    if not found:
        return None
    result: set[Literal] = set()
    for text, ci in found:
        encodings = {text.encode("utf-8")}
        if not text.isascii():
            try:
                encodings.add(text.encode("gbk"))
            except UnicodeEncodeError:
                pass
        for raw in encodings:
            if len(raw) < 2 or b"\n" in raw or b"\x00" in raw:
                return None
            result.add((raw.lower() if ci else raw, ci))
    return tuple(sorted(result))


def _finder(regex: t.Pattern[str]) -> t.Pattern[str] | None:
    """The regex with MULTILINE for searching a whole chunk at once, when that finds every line a line-by-line
    search finds (no lookaround or \\A/\\Z, which see the neighbouring lines)."""
    if any(token in regex.pattern for token in ("(?<", "(?=", "(?!", "\\A", "\\Z", "\\z")):
        return None
    try:
        return re.compile(regex.pattern, regex.flags | re.MULTILINE)
    except re.error:
        return None


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
        except (re.error, OverflowError, RecursionError) as exc:
            raise LogScanError(f"patterns: regex {item.get('regex')!r} of {name!r} does not compile: {exc}") from None
        if not regex.pattern:
            raise LogScanError(f"patterns: {name!r} has an empty regex")
        result.append(Pattern(name, regex, severity, required_literals(regex), _finder(regex)))
    return result


def compile_ignore(regexes: t.Iterable[str] | None, ignore_case: bool = True) -> tuple[t.Pattern[str], ...]:
    """Regexes of lines that are known and harmless (a service's own advice at start-up, reported elsewhere)."""
    result = []
    for item in regexes or ():
        source = str(item)
        if not source:
            raise LogScanError("ignore: an empty regex would ignore every line")
        try:
            result.append(re.compile(source, re.IGNORECASE if ignore_case else 0))
        except (re.error, OverflowError, RecursionError) as exc:
            raise LogScanError(f"ignore: regex {source!r} does not compile: {exc}") from None
    return tuple(result)


def compile_status_regex(regex: str | None) -> t.Pattern[bytes]:
    source = DEFAULT_STATUS_REGEX if regex is None else str(regex)
    try:
        compiled = re.compile(source.encode("utf-8"))
    except (re.error, OverflowError, RecursionError) as exc:
        raise LogScanError(f"status_regex {source!r} does not compile: {exc}") from None
    if compiled.groups < 1:
        raise LogScanError(f"status_regex {source!r} needs one group that captures the HTTP status")
    return compiled


def log_name(name: str) -> str:
    name = str(name)
    if not _NAME.match(name):
        raise LogScanError(f"files: name {name!r} must be lower-case letters, digits and _ (it becomes logs.<name>)")
    return name


def default_name(path: str) -> str:
    base = os.path.basename(path.rstrip("/")) or "root"
    base = re.sub(r"\.log$", "", base)
    base = _GLOB_CHARS.sub("", base)
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


def _line_at(data: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the line holding ``pos`` in newline-terminated ``data`` (end excludes the newline)."""
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return start, (len(data) if end < 0 else end)


def _line_starts(data: bytes, needle: bytes, starts: set[int]) -> None:
    """Add to ``starts`` the start of every line of ``data`` that holds ``needle`` (one find per line)."""
    pos = data.find(needle)
    while pos >= 0:
        start, end = _line_at(data, pos)
        starts.add(start)
        pos = data.find(needle, end + 1)


# -- opening safely ---------------------------------------------------------------------------------------
def _trusted_link(dir_fd: int, name: str) -> bool:
    """A link only root (or we) could have made: owned by root/us, in a directory only root/we can write."""
    mine = {0, os.geteuid()}
    link = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    parent = os.fstat(dir_fd)
    writable_by_others = parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return link.st_uid in mine and parent.st_uid in mine and not writable_by_others


def open_log(path: str) -> tuple[int, os.stat_result]:
    """Open a log for reading without following symlinks out of reach; returns (fd, fstat).

    Every path component is opened relative to its parent with O_NOFOLLOW. A symbolic link is followed only
    when its target is a plain name in the same directory (``current.log -> app-2024-05-01.log``) or when the
    link and its directory belong to root or to the user running the scan and nobody else can write that
    directory. Anything else is refused: a service user must not be able to point its log at /root/secret
    and have root copy matching lines into the report.
    """
    path = os.path.abspath(path)
    parts = [p for p in path.split("/") if p]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    where = ""
    hops = 0
    try:
        while parts:
            name = parts.pop(0)
            last = not parts
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                nfd = os.open(name, flags, dir_fd=fd)
            except FileNotFoundError:
                raise LogUnreadable(f"{path} does not exist") from None
            except PermissionError:
                raise LogUnreadable(f"{path} cannot be read: permission denied") from None
            except OSError as exc:
                try:
                    is_link = stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
                except OSError:
                    is_link = False
                if not is_link:
                    if not last and not stat.S_ISDIR(os.stat(name, dir_fd=fd).st_mode):
                        raise LogUnreadable(f"{path} does not exist ({where}/{name} is not a directory)") from None
                    raise LogUnreadable(f"{path} cannot be read: {exc.strerror}") from None
                hops += 1
                target = os.readlink(name, dir_fd=fd)
                if hops > MAX_LINKS:
                    raise LogUnreadable(f"{path} not read: too many symbolic links") from None
                if "/" in target or target in (".", ".."):
                    if not _trusted_link(fd, name):
                        owner = os.stat(name, dir_fd=fd, follow_symlinks=False).st_uid
                        raise LogUnreadable(
                            f"{path} not read: {where}/{name} is a symbolic link to {target} outside its directory, "
                            f"made by uid {owner} or in a directory others can write (only links within the "
                            f"directory, or made by root in a directory only root can write, are followed)") from None
                    if target.startswith("/"):
                        os.close(fd)
                        fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
                        where = ""
                    parts[:0] = [p for p in target.split("/") if p]
                else:
                    parts.insert(0, target)
                continue
            os.close(fd)
            fd = nfd
            where = f"{where}/{name}" if name != ".." else os.path.dirname(where)
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise LogUnreadable(f"{path} is a directory, not a log file")
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LogUnreadable(f"{path} is not a regular file")
    return fd, st


def resolve_glob(path: str) -> str:
    """``path`` itself, or for a glob (``tomcat_access.*.log``) the newest matching file (mtime, then name)."""
    if not _GLOB_CHARS.search(os.path.basename(path)):
        return path
    best: tuple[float, str] | None = None
    for candidate in glob.glob(path):
        try:
            st = os.stat(candidate, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (best is None or (st.st_mtime, candidate) > best):
            best = (st.st_mtime, candidate)
    if best is None:
        raise LogUnreadable(f"{path} does not exist (no file matches)")
    return best[1]


# -- tail -------------------------------------------------------------------------------------------------
def tail_bytes(fd: int, size: int, lines: int, max_bytes: int) -> tuple[bytes, int]:
    """The last ``lines`` lines of a file of ``size`` bytes, reading backwards; returns (data, start offset).

    Reads at most ``max_bytes`` (linear in what is read); when that limit falls inside a line, the partial line
    is dropped (unless it is the only line, then its end is kept).
    """
    if lines <= 0 or size <= 0:
        return b"", size
    floor = max(0, size - max_bytes)
    pos = size
    blocks: list[bytes] = []
    newlines = 0
    trailing = 0
    while pos > floor:
        step = min(BLOCK, pos - floor)
        pos -= step
        block = os.pread(fd, step, pos)
        if not blocks and block.endswith(b"\n"):
            trailing = 1
        blocks.append(block)
        newlines += block.count(b"\n")
        if newlines - trailing >= lines:
            break
    data = b"".join(reversed(blocks))
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
    fd, st = open_log(path)
    try:
        data, start = tail_bytes(fd, st.st_size, lines, max_bytes)
    finally:
        os.close(fd)
    return {"data": data, "start": start, "end": st.st_size, "size": st.st_size, "inode": st.st_ino,
            "device": st.st_dev, "reset": None, "skipped_bytes": 0}


# -- incremental state ------------------------------------------------------------------------------------
def head_digest(fd: int, length: int) -> str:
    return hashlib.sha256(os.pread(fd, length, 0)).hexdigest()


def _valid_state(previous: t.Any) -> dict | str | None:
    """The previous state of one file, a reason why it cannot be used, or None (never scanned)."""
    if previous is None:
        return None
    if not isinstance(previous, dict):
        return f"not an object: {repr(previous)[:40]}"
    for key in ("inode", "device", "offset"):
        value = previous.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{key} {repr(value)[:40]}"
    head_len = previous.get("head_len", 0)
    if not isinstance(head_len, int) or isinstance(head_len, bool) or not 0 <= head_len <= HEAD_BYTES:
        return f"head_len {repr(head_len)[:40]}"
    if head_len and not isinstance(previous.get("head_sha256"), str):
        return "head_sha256 missing"
    return previous


def plan_incremental(previous: t.Any, fd: int, st: os.stat_result, max_bytes: int) -> tuple[int, str | None]:
    """Where to start reading and why the previous offset was dropped (None: it was used)."""
    size = st.st_size
    first = max(0, size - max_bytes)
    prev = _valid_state(previous)
    if prev is None:
        return first, "first scan"
    if isinstance(prev, str):
        return first, f"previous state unusable ({prev}), read as a first scan"
    if (prev["inode"], prev["device"]) != (st.st_ino, st.st_dev):
        return 0, "rotated"
    if prev["offset"] > size:
        return 0, "truncated"
    head_len = prev.get("head_len", 0)
    if head_len and head_digest(fd, head_len) != prev["head_sha256"]:
        return 0, "truncated and written again (copytruncate)"
    return prev["offset"], None


def new_state(fd: int, st: os.stat_result, offset: int, path: str) -> dict:
    head_len = min(HEAD_BYTES, offset)
    state = {"inode": st.st_ino, "device": st.st_dev, "offset": offset, "head_len": head_len, "path": path}
    if head_len:
        state["head_sha256"] = head_digest(fd, head_len)
    return state


# -- matching ---------------------------------------------------------------------------------------------
def matching(raw: bytes, patterns: t.Sequence[Pattern], exhaustive: bool = False) -> tuple[list[str], str]:
    """Names of the patterns that match one line, and its text. A pattern whose literals the line lacks is not
    run (``exhaustive`` runs all: lines the ASCII-only literal search cannot judge)."""
    low = None
    text = ""
    decoded = False
    names = []
    for pattern in patterns:
        if pattern.literals and not exhaustive:
            if low is None:
                low = raw.lower()
            if not any((lit in low) if ci else (lit in raw) for lit, ci in pattern.literals):
                continue
        if not decoded:
            text, decoded = decode_line(raw)[0], True
        if pattern.regex.search(text):
            names.append(pattern.name)
    return names, text


class _Tally:
    """Counts of one thread (the grep reader thread keeps its own; merged at the end). A line that matches one of
    the ``ignore`` regexes is not counted for any pattern (``ignored`` counts those lines)."""

    def __init__(self, names: t.Iterable[str], samples: int, ignore: t.Sequence[t.Pattern[str]] = ()):
        self.counts = {n: 0 for n in names}
        self.samples: dict[str, list[str]] = {n: [] for n in self.counts}
        self.limit = samples
        self.ignore = tuple(ignore)
        self.ignored = 0
        self._last_ignored: str | None = None

    def check(self, raw: bytes, patterns: t.Sequence[Pattern], exhaustive: bool = False) -> None:
        names, text = matching(raw.rstrip(b"\r"), patterns, exhaustive)
        for name in names:
            self.hit(name, text)

    def hit(self, name: str, text: str) -> None:
        if self.ignore and any(regex.search(text) for regex in self.ignore):
            if text is not self._last_ignored:  # one line matching several patterns is one ignored line
                self.ignored += 1
                self._last_ignored = text
            return
        self.counts[name] += 1
        if len(self.samples[name]) < self.limit:
            self.samples[name].append(sample_text(text[:MAX_SAMPLE_CHARS]))


def find_grep() -> str | None:
    """GNU grep (for its fast fixed-string search), or None."""
    for candidate in GREP_PATHS:
        if os.access(candidate, os.X_OK):
            try:
                # Pure helpers without an AnsibleModule at hand (importable without Ansible): no run_command here.
                out = subprocess.run([candidate, "--version"], capture_output=True, timeout=10,  # pylint: disable=ansible-bad-function
                                     check=False, env={"LC_ALL": "C"}).stdout
            except (OSError, subprocess.SubprocessError):
                return None
            return candidate if b"GNU grep" in out else None
    return None


def _ere(raw: bytes, ci: bool) -> bytes:
    out = bytearray()
    for byte in raw:
        char = bytes([byte])
        if ci and char.isalpha():
            out += b"[" + char.lower() + char.upper() + b"]"
        elif char in b".[]()*+?{}|^$\\":
            out += b"\\" + char
        else:
            out += char
    return bytes(out)


class _GrepFilter:
    """GNU grep as the literal prefilter: bytes in on stdin, candidate lines (with their offset) out on stdout.

    A thread reads grep's output and matches the candidates; ``skip`` holds offsets (in grep's input) of lines
    the caller matches itself.
    """

    def __init__(self, grep: str, literals: t.Sequence[Literal], tally: _Tally, patterns: t.Sequence[Pattern]):
        args = [grep, "-a", "-b", "-E"]
        for raw, ci in literals:
            args += ["-e", _ere(raw, ci).decode("latin-1")]
        self.skip: set[int] = set()
        self.error: str | None = None
        # A streaming pipe both ways while the file is read in bounded chunks: run_command buffers all output.
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={"LC_ALL": "C"})
        self.thread = threading.Thread(target=self._read, args=(tally, patterns), daemon=True)
        self.thread.start()
        self.sent = 0

    def _read(self, tally: _Tally, patterns: t.Sequence[Pattern]) -> None:
        try:
            for raw in self.proc.stdout:  # type: ignore[union-attr]
                offset, _sep, line = raw.partition(b":")
                if int(offset) not in self.skip:
                    tally.check(line[:-1] if line.endswith(b"\n") else line, patterns)
        except Exception as exc:  # pylint: disable=broad-except  # reported by close()
            self.error = f"reading grep's output failed: {exc}"

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)  # type: ignore[union-attr]
        self.sent += len(data)

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        code = self.proc.wait()
        self.thread.join()
        if code not in (0, 1) and self.error is None:
            self.error = f"grep exited with status {code}"

    def kill(self) -> None:
        self.proc.kill()
        self.close()


class Scanner:
    """Counts pattern hits (kind ``errors``) or requests by HTTP status (kind ``access``) over complete lines.

    ``feed()`` takes newline-terminated bytes; ``long_piece()``/``end_long()`` take a line too long to hold
    in memory, piece by piece. ``result()`` gives the counts.
    """

    def __init__(self, patterns: t.Sequence[Pattern] = (), samples: int = 5, kind: str = "errors",
                 status_regex: t.Pattern[bytes] | None = None, grep: str | None = None,
                 ignore: t.Sequence[t.Pattern[str]] = ()):
        if kind not in KINDS:
            raise LogScanError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
        self.kind = kind
        self.patterns = list(patterns)
        self.samples = samples
        self.lines = 0
        self.long_lines = 0
        self.encodings: dict[str, int] = {}
        self.tally = _Tally((p.name for p in self.patterns), samples, ignore)
        self.literal_patterns = [p for p in self.patterns if p.literals]
        self.other_patterns = [p for p in self.patterns if not p.literals]
        literals: set[Literal] = set()
        for pattern in self.literal_patterns:
            literals.update(pattern.literals or ())
        self.literals = _reduce_literals(literals)
        self.has_ci = any(ci for _raw, ci in self.literals)
        self.fold_sensitive = any(ci and re.search(rb"[iks]", raw) for raw, ci in self.literals)
        self.grep: _GrepFilter | None = None
        self.grep_tally: _Tally | None = None
        if kind == "errors" and grep and self.literals:
            self.grep_tally = _Tally((p.name for p in self.patterns), samples, ignore)
            self.grep = _GrepFilter(grep, self.literals, self.grep_tally, self.literal_patterns)
        # access logs
        self.status_regex = status_regex if status_regex is not None else compile_status_regex(None)
        self.requests = 0
        self.statuses = {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
        self.unparsed = 0
        self.error_samples: list[str] = []
        self._long: list[bytes] = []
        self._long_hits: set[str] = set()

    # -- feeding
    def feed(self, data: bytes) -> None:
        if not data:
            return
        count = data.count(b"\n")
        self.lines += count
        if self.kind == "access":
            self._access(data)
            return
        ascii_only = data.isascii()
        text = self._count_encodings(data, count, ascii_only)
        specials: list[int] = []
        if self.fold_sensitive and not ascii_only:
            specials = self._special_lines(data)
        if self.grep is not None:
            for start in specials:
                self.grep.skip.add(self.grep.sent + start)
            self.grep.send(data)
        elif self.literal_patterns:
            self._python_literals(data, set(specials))
        for start in specials:
            self.tally.check(data[start:_line_at(data, start)[1]], self.literal_patterns, exhaustive=True)
        for pattern in self.other_patterns:
            self._other(pattern, data, text)

    def _count_encodings(self, data: bytes, count: int, ascii_only: bool) -> str | None:
        """Tally line encodings; returns the chunk as text when it is all UTF-8 and text is needed (else None)."""
        if ascii_only:
            self.encodings["utf-8"] = self.encodings.get("utf-8", 0) + count
            return data.decode("ascii") if self.other_patterns else None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            for line in split_lines(data):
                encoding = decode_line(line)[1]
                self.encodings[encoding] = self.encodings.get(encoding, 0) + 1
            return None
        self.encodings["utf-8"] = self.encodings.get("utf-8", 0) + count
        return text

    def _special_lines(self, data: bytes) -> list[int]:
        starts: set[int] = set()
        for seq in _FOLD_SPECIALS:
            _line_starts(data, seq, starts)
        return sorted(starts)

    def _python_literals(self, data: bytes, done: set[int]) -> None:
        low = data.lower() if self.has_ci else data
        starts: set[int] = set()
        for raw, ci in self.literals:
            _line_starts(low if ci else data, raw, starts)
        for start in sorted(starts - done):
            self.tally.check(data[start:_line_at(data, start)[1]], self.literal_patterns)

    def _other(self, pattern: Pattern, data: bytes, text: str | None) -> None:
        """A pattern without literals: search the whole chunk at once where that is exact, else line by line."""
        if text is None or pattern.finder is None:
            for raw in split_lines(data):
                line = decode_line(raw)[0]
                if pattern.regex.search(line):
                    self.tally.hit(pattern.name, line)
            return
        pos = 0
        while pos < len(text):
            match = pattern.finder.search(text, pos)
            if match is None or match.start() >= len(text):  # (?m)^ matches after the last newline too
                return
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.start())
            end = len(text) if end < 0 else end
            line = text[start:end].rstrip("\r")
            if pattern.regex.search(line):
                self.tally.hit(pattern.name, line)
            pos = end + 1

    def _access(self, data: bytes) -> None:
        if self.status_regex.pattern == DEFAULT_STATUS_REGEX.encode("utf-8"):
            statuses = b"".join(_STATUS_CHUNK.findall(data))
            firsts = statuses[0::3]
            fives = firsts.count(b"5")
            for digit in "12345":
                found = fives if digit == "5" else firsts.count(digit.encode())
                self.statuses[f"{digit}xx"] += found
                self.requests += found
            self.unparsed += data.count(b"\n") - sum(firsts.count(d) for d in (b"1", b"2", b"3", b"4", b"5"))
            pos = 0
            while fives and len(self.error_samples) < self.samples:
                match = _STATUS_5XX.search(data, pos)
                if match is None:
                    break
                start, end = _line_at(data, match.start())
                self.error_samples.append(sample_text(decode_line(data[start:end].rstrip(b"\r"))[0][:MAX_SAMPLE_CHARS]))
                pos = end + 1
            return
        for raw in split_lines(data):
            match = self.status_regex.search(raw)
            status = match.group(1) if match else None
            if not status or len(status) != 3 or not status.isdigit() or not b"1" <= status[:1] <= b"5":
                self.unparsed += 1
                continue
            self.requests += 1
            klass = f"{status[:1].decode()}xx"
            self.statuses[klass] += 1
            if klass == "5xx" and len(self.error_samples) < self.samples:
                self.error_samples.append(sample_text(decode_line(raw)[0][:MAX_SAMPLE_CHARS]))

    # -- lines too long to hold
    def long_piece(self, piece: bytes) -> None:
        """One piece (at most MAX_LINE bytes) of a line too long to hold; each pattern counts the line once."""
        if self.kind == "access":
            if not self._long:
                self._long.append(piece[:MAX_LINE])
            return
        if not self._long:
            self._long.append(piece[:MAX_SAMPLE_CHARS])
        exhaustive = self.fold_sensitive and not piece.isascii() and any(seq in piece for seq in _FOLD_SPECIALS)
        self._long_hits.update(matching(piece, self.patterns, exhaustive)[0])

    def end_long(self) -> None:
        self.lines += 1
        self.long_lines += 1
        if self.kind == "access":
            self.feed(self._long[0] + b"\n")
            self.lines -= 1
        else:
            self.encodings["long"] = self.encodings.get("long", 0) + 1
            text = decode_line(self._long[0])[0] if self._long else ""
            for name in sorted(self._long_hits):
                self.tally.hit(name, text)
        self._long, self._long_hits = [], set()

    # -- results
    def close(self) -> str | None:
        """Stop the grep helper; returns an error message when it failed (the counts are then incomplete)."""
        if self.grep is None:
            return None
        self.grep.close()
        return self.grep.error

    def abort(self) -> None:
        if self.grep is not None:
            self.grep.kill()

    def result(self) -> dict:
        if self.kind == "access":
            return {"kind": "access", "lines": self.lines, "requests": self.requests, "statuses": dict(self.statuses),
                    "unparsed": self.unparsed, "samples": {"5xx": self.error_samples} if self.error_samples else {},
                    "long_lines": self.long_lines}
        counts = dict(self.tally.counts)
        samples = {k: list(v) for k, v in self.tally.samples.items()}
        if self.grep_tally is not None:
            for name, count in self.grep_tally.counts.items():
                counts[name] += count
                samples[name] = (samples[name] + self.grep_tally.samples[name])[:self.samples]
        ignored = self.tally.ignored + (self.grep_tally.ignored if self.grep_tally is not None else 0)
        return {"kind": "errors", "lines": self.lines, "counts": counts,
                "samples": {k: v for k, v in samples.items() if v}, "encodings": dict(self.encodings),
                "long_lines": self.long_lines, "ignored_lines": ignored}


def _reduce_literals(literals: set[Literal]) -> tuple[Literal, ...]:
    """Drop literals that contain another one (a line holding the longer one holds the shorter one)."""
    def covers(short: Literal, long: Literal) -> bool:
        (s, s_ci), (lg, l_ci) = short, long
        if s_ci:
            return s in (lg.lower() if not l_ci else lg)
        return not l_ci and s in lg
    kept = [lit for lit in literals if not any(o != lit and covers(o, lit) for o in literals)]
    return tuple(sorted(kept))


class _Lines:
    """Cuts blocks of a byte stream into complete lines for a scanner; a line longer than MAX_LINE goes to it
    piece by piece, so memory stays bounded whatever the input."""

    def __init__(self, scanner: Scanner, skip_partial_head: bool = False):
        self.scanner = scanner
        self.carry = b""
        self.in_long = False
        self.skipping = skip_partial_head

    def push(self, data: bytes) -> None:
        scanner = self.scanner
        if self.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return
            self.skipping = False
            data = data[nl + 1:]
        if self.in_long:
            nl = data.find(b"\n")
            if nl < 0:
                scanner.long_piece(data)
                return
            scanner.long_piece(data[:nl])
            scanner.end_long()
            self.in_long = False
            data = data[nl + 1:]
        last = data.rfind(b"\n")
        if last >= 0:
            if self.carry:
                first = data.find(b"\n")
                scanner.feed(self.carry + data[:first + 1])
                if last > first:
                    scanner.feed(data[first + 1:last + 1])
            else:
                scanner.feed(data[:last + 1] if last + 1 < len(data) else data)
            self.carry = data[last + 1:]
        else:
            self.carry += data
        if len(self.carry) > MAX_LINE:
            scanner.long_piece(self.carry)
            self.carry = b""
            self.in_long = True

    def finish(self) -> None:
        """The end of the data ends the last line (a tail: the file's last line may lack its newline)."""
        if self.in_long:
            self.scanner.end_long()
            self.in_long = False
        elif self.carry:
            self.scanner.feed(self.carry + b"\n")
        self.carry = b""


def scan_lines(data: bytes, patterns: t.Sequence[Pattern], samples: int = 5, kind: str = "errors",
               status_regex: t.Pattern[bytes] | None = None, ignore: t.Sequence[t.Pattern[str]] = ()) -> dict:
    """Scan bytes held in memory (a tail); the last line needs no newline. Never raises on bytes."""
    scanner = Scanner(patterns, samples, kind, status_regex, ignore=ignore)
    lines = _Lines(scanner)
    for pos in range(0, len(data), CHUNK):
        lines.push(data[pos:pos + CHUNK])
    lines.finish()
    return scanner.result()


# -- streaming a range of a file --------------------------------------------------------------------------
def scan_range(fd: int, start: int, end: int, scanner: Scanner, deadline: float | None = None,
               skip_partial_head: bool = False) -> int:
    """Feed the complete lines of [start, end) to ``scanner`` in chunks; returns the offset reached.

    Memory stays bounded (a chunk plus an incomplete line of at most MAX_LINE bytes): longer lines go to the
    scanner piece by piece. Stops early (at a line boundary) when ``deadline`` (time.monotonic()) passes. A
    trailing line without its newline is left for the next scan.
    """
    lines = _Lines(scanner, skip_partial_head)
    pos = start
    while pos < end:
        if deadline is not None and time.monotonic() >= deadline:
            break
        data = os.pread(fd, min(CHUNK, end - pos), pos)
        if not data:
            break  # shrank under us
        pos += len(data)
        lines.push(data)
    return pos - len(lines.carry)


# -- findings ---------------------------------------------------------------------------------------------
def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def _notes(read: dict | None) -> tuple[str, str | None]:
    """Summary suffix for reset/unscanned, and the status the unscanned part forces (unknown) or None."""
    if not read:
        return "", None
    text = ""
    if read.get("reset"):
        text += f" ({read['reset']})"
    if read.get("unscanned_bytes"):
        text += (f"; {read['unscanned_bytes']} bytes ({_size(read['unscanned_bytes'])}) not scanned within the time "
                 f"budget, the next scan continues at offset {read['end']}")
        return text, UNKNOWN
    if read.get("error"):
        text += f"; {read['error']}"
        return text, UNKNOWN
    return text, None


_READ_DETAILS = ("start", "end", "size", "inode", "reset", "skipped_bytes", "unscanned_bytes", "file", "previous_file")


def file_finding(name: str, path: str, host: str | None, scan: dict | None, patterns: list[Pattern],
                 read: dict | None = None, problem: str | None = None, min_count: int = 1,
                 optional: bool = False) -> dict:
    fid = f"logs.{name}"
    if problem is not None:
        if optional and "does not exist" in problem:
            return finding(fid, path, OK, f"{problem} (optional)", host=host, details={"path": path})
        return finding(fid, path, UNKNOWN, problem, host=host, details={"path": path})
    if scan is None:
        raise LogScanError("file_finding needs a scan or a problem")
    hits = {p.name: scan["counts"][p.name] for p in patterns if scan["counts"][p.name] >= min_count}
    severity = {p.name: p.severity for p in patterns}
    note, forced = _notes(read)
    status = worst([severity[n] for n in hits] + ([forced] if forced else []), OK)
    details: dict[str, t.Any] = {"path": path, "lines_scanned": scan["lines"], "counts": scan["counts"],
                                 "samples": scan["samples"], "encodings": scan["encodings"]}
    if scan.get("long_lines"):
        details["long_lines"] = scan["long_lines"]
    if scan.get("ignored_lines"):
        details["ignored_lines"] = scan["ignored_lines"]
    if read:
        details.update({k: read[k] for k in _READ_DETAILS if k in read})
    where = f"{scan['lines']} line(s)" + note
    if not hits:
        return finding(fid, path, status, f"no matching lines in {where}", host=host, details=details)
    parts = ", ".join(f"{n} {c}" for n, c in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0])))
    return finding(fid, path, status, f"{parts} in {where}", host=host, details=details)


def access_finding(name: str, path: str, host: str | None, scan: dict, warning: float, critical: float,
                   min_requests: int, read: dict | None = None) -> dict:
    """HTTP 5xx share of the requests read: warning/critical from those percentages, given enough requests."""
    fid = f"logs.{name}"
    requests, errors = scan["requests"], scan["statuses"]["5xx"]
    percent = round(100.0 * errors / requests, 2) if requests else 0.0
    details: dict[str, t.Any] = {"path": path, "lines_scanned": scan["lines"], "requests": requests,
                                 "statuses": scan["statuses"], "unparsed": scan["unparsed"], "percent_5xx": percent,
                                 "samples": scan["samples"], "warning_percent": warning,
                                 "critical_percent": critical, "min_requests": min_requests}
    if read:
        details.update({k: read[k] for k in _READ_DETAILS if k in read})
    note, forced = _notes(read)
    if scan["unparsed"] and requests:
        note += f"; {scan['unparsed']} line(s) not in the access log format"
    if not requests:
        if scan["lines"]:
            return finding(fid, path, UNKNOWN, f"none of {scan['lines']} line(s) is an access log line with an HTTP "
                           f"status (set status_regex for this log format){note}", host=host, details=details)
        return finding(fid, path, forced or OK, f"no requests{note}", host=host, details=details)
    summary = f"5xx {percent}% ({errors} of {requests} requests){note}"
    if requests < min_requests:
        return finding(fid, path, forced or OK, f"{summary}, too few requests to judge (fewer than {min_requests})",
                       host=host, details=details)
    status = CRITICAL if percent >= critical else WARNING if percent >= warning else OK
    return finding(fid, path, worst([status] + ([forced] if forced else []), OK), summary, host=host, details=details)


# -- one run over several files ---------------------------------------------------------------------------
class FileSpec(t.NamedTuple):
    path: str
    name: str
    optional: bool = False
    kind: str = "errors"
    patterns: t.Sequence[Pattern] = ()
    status_regex: t.Pattern[bytes] | None = None
    ignore: t.Sequence[t.Pattern[str]] = ()   # lines matching one of these count for no pattern


def _last_newline(fd: int, low: int, high: int) -> int:
    """Offset of the last newline in [low, high), or -1; reads backwards in blocks."""
    pos = high
    while pos > low:
        step = min(BLOCK, pos - low)
        pos -= step
        found = os.pread(fd, step, pos).rfind(b"\n")
        if found >= 0:
            return pos + found
    return -1


def _previous_file(previous: t.Any, current: str) -> tuple[int, os.stat_result, str] | None:
    """The file scanned last time when it is no longer at its name (renamed by rotation, or a glob now picks a
    newer file) and still holds what was scanned: its inode in the same directory, same head. Else None."""
    prev = _valid_state(previous)
    if not isinstance(prev, dict):
        return None
    directory = os.path.dirname(str(prev.get("path") or current))
    candidates = [str(prev["path"])] if prev.get("path") and prev["path"] != current else []
    try:
        with os.scandir(directory) as entries:
            candidates += [e.path for e in entries if e.inode() == prev["inode"] and e.path not in candidates]
    except OSError:
        pass
    for candidate in candidates:
        try:
            fd, st = open_log(candidate)
        except LogUnreadable:
            continue
        same = (st.st_ino, st.st_dev) == (prev["inode"], prev["device"]) and st.st_size >= prev["offset"]
        if same and prev.get("head_len"):
            same = head_digest(fd, prev["head_len"]) == prev["head_sha256"]
        if same:
            return fd, st, candidate
        os.close(fd)
    return None


def _unscanned(fd: int, end: int, size: int) -> int:
    """Bytes of complete lines in [end, size)."""
    if end >= size:
        return 0
    last_nl = _last_newline(fd, end, size)
    return last_nl + 1 - end if last_nl >= end else 0


def scan_file(spec: FileSpec, *, mode: str = "incremental", lines: int = 1000, max_bytes: int = 4194304,
              samples: int = 5, previous: t.Any = None, deadline: float | None = None,
              grep: str | None = None) -> tuple[dict, dict]:
    """Read and scan one file; returns (scan result, read facts incl. the new ``state``). Raises LogUnreadable."""
    real = resolve_glob(spec.path)
    fd, st = open_log(real)
    try:
        read: dict[str, t.Any] = {"size": st.st_size, "inode": st.st_ino}
        if real != spec.path:
            read["file"] = real
        if mode == "tail":
            data, start = tail_bytes(fd, st.st_size, lines, max_bytes)
            read.update({"start": start, "end": st.st_size, "reset": None})
            return scan_lines(data, spec.patterns, samples, spec.kind, spec.status_regex, spec.ignore), read
        scanner = Scanner(spec.patterns, samples, spec.kind, spec.status_regex, grep, spec.ignore)
        try:
            start, reset = plan_incremental(previous, fd, st, max_bytes)
            if reset == "rotated" or (isinstance(previous, dict) and previous.get("path") not in (None, real)):
                start, reset = 0, "rotated"
                old = _previous_file(previous, real)
                if old is not None:  # first the rest of the file scanned last time
                    old_fd, old_st, old_path = old
                    try:
                        old_end = scan_range(old_fd, previous["offset"], old_st.st_size, scanner, deadline)
                        read["previous_file"] = {"path": old_path, "start": previous["offset"], "end": old_end}
                        left = _unscanned(old_fd, old_end, old_st.st_size)
                    finally:
                        os.close(old_fd)
                    reset = f"rotated, the rest of {old_path} scanned first"
                    if left:
                        reset = f"rotated, {left} bytes at the end of {old_path} not scanned"
            skip_head = start > 0 and reset is not None and os.pread(fd, 1, start - 1) != b"\n"
            end = scan_range(fd, start, st.st_size, scanner, deadline, skip_head)
        except BaseException:
            scanner.abort()
            raise
        error = scanner.close()
        read.update({"start": start, "end": end, "reset": reset,
                     "skipped_bytes": start if reset and reset.startswith(("first scan", "previous state")) else 0})
        if error:
            read["error"] = f"scan incomplete ({error}); the next scan reads this part again"
            return scanner.result(), read
        read["unscanned_bytes"] = _unscanned(fd, end, st.st_size)
        read["state"] = new_state(fd, st, end, real)
        return scanner.result(), read
    finally:
        os.close(fd)


def run_scan(specs: t.Sequence[FileSpec], *, mode: str = "incremental", lines: int = 1000, max_bytes: int = 4194304,
             samples: int = 5, min_count: int = 1, host: str | None = None, offsets: dict | None = None,
             time_budget: float | None = None, access_thresholds: tuple[float, float, int] = (1.0, 5.0, 20),
             grep: str | None = None, clock: t.Callable[[], float] = time.monotonic) -> tuple[list, list, dict]:
    """Scan every file; returns (findings, facts per file, new offsets). The time budget is shared: each file
    gets what is left divided by the files still to scan."""
    offsets = dict(offsets or {})
    findings: list[dict] = []
    facts: list[dict] = []
    started = clock()
    for index, spec in enumerate(specs):
        deadline = None
        if time_budget is not None:
            left = time_budget - (clock() - started)
            deadline = clock() + max(0.0, left) / (len(specs) - index)
        try:
            scan, read = scan_file(spec, mode=mode, lines=lines, max_bytes=max_bytes, samples=samples,
                                   previous=offsets.get(spec.path), deadline=deadline, grep=grep)
        except (LogUnreadable, OSError) as exc:  # OSError: read errors (EIO, a file on a vanished mount)
            unreadable = isinstance(exc, LogUnreadable)
            problem = str(exc) if unreadable else f"{spec.path} cannot be read: {exc.strerror or exc}"
            findings.append(file_finding(spec.name, spec.path, host, None, list(spec.patterns), problem=problem,
                                         optional=spec.optional and unreadable))
            facts.append({"name": spec.name, "path": spec.path, "kind": spec.kind, "error": problem})
            continue
        if "state" in read:
            offsets[spec.path] = read.pop("state")
        if spec.kind == "access":
            warning, critical, min_requests = access_thresholds
            findings.append(access_finding(spec.name, spec.path, host, scan, warning, critical, min_requests, read))
            facts.append({"name": spec.name, "path": spec.path, "kind": "access", "lines": scan["lines"],
                          "requests": scan["requests"], "statuses": scan["statuses"],
                          **{k: read.get(k) for k in ("start", "end", "reset", "unscanned_bytes", "file") if k in read}})
        else:
            findings.append(file_finding(spec.name, spec.path, host, scan, list(spec.patterns), read,
                                         min_count=min_count))
            facts.append({"name": spec.name, "path": spec.path, "kind": "errors", "lines": scan["lines"],
                          "counts": scan["counts"],
                          **{k: read.get(k) for k in ("start", "end", "reset", "unscanned_bytes", "file") if k in read}})
    return findings, facts, offsets


# -- the check, as log_scan and host_inspection_info run it -------------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "files": {"type": "list", "elements": "dict", "required": True, "options": {
        "path": {"type": "path", "required": True},
        "name": {"type": "str"},
        "optional": {"type": "bool", "default": False},
        "kind": {"type": "str", "choices": list(KINDS), "default": "errors"},
        "patterns": {"type": "list", "elements": "dict"},
        "ignore": {"type": "list", "elements": "str"},
        "status_regex": {"type": "str"},
    }},
    "patterns": {"type": "list", "elements": "dict"},
    "ignore": {"type": "list", "elements": "str", "default": []},
    "extra_patterns": {"type": "list", "elements": "dict", "default": []},
    "mode": {"type": "str", "choices": ["incremental", "tail"], "default": "incremental"},
    "lines": {"type": "int", "default": 1000},
    "max_bytes": {"type": "int", "default": 4194304},
    "time_budget": {"type": "float", "default": 120},
    "min_count": {"type": "int", "default": 1},
    "samples": {"type": "int", "default": 5},
    "access_5xx_warning": {"type": "float", "default": 1.0},
    "access_5xx_critical": {"type": "float", "default": 5.0},
    "access_min_requests": {"type": "int", "default": 20},
    "state_file": {"type": "path", "default": "/var/lib/kubeops/log_scan.json"},
}


def file_specs(params: dict) -> list[FileSpec]:
    """The validated files of the options: a FileSpec each, with its compiled patterns."""
    base = compile_patterns(params["patterns"]) + compile_patterns(params["extra_patterns"])
    specs, seen = [], set()
    for item in params["files"]:
        path = item["path"]
        name = log_name(item["name"]) if item.get("name") else default_name(path)
        if name in seen:
            raise LogScanError(f"files: name {name!r} is used twice; give each file its own name")
        seen.add(name)
        patterns = base if item.get("patterns") is None else compile_patterns(item["patterns"])
        status_regex = None
        if item["kind"] == "access":
            status_regex = compile_status_regex(item.get("status_regex"))
        elif item.get("status_regex") is not None:
            raise LogScanError(f"files: status_regex of {name!r} needs kind=access")
        ignore = compile_ignore(params["ignore"] + (item.get("ignore") or []))
        specs.append(FileSpec(path, name, item["optional"], item["kind"], patterns, status_regex, ignore))
    return specs


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """Scan the files of ``params`` (options: ARGUMENT_SPEC) on this host; findings and what was read per file.

    ``module`` is the running AnsibleModule (``check_mode``, ``warn``): the offsets are recorded in the state file
    outside check mode only.
    """
    for option, minimum in (("lines", 1), ("max_bytes", 1024), ("min_count", 1), ("samples", 0),
                            ("access_min_requests", 0), ("time_budget", 0)):
        if not params[option] >= minimum:  # also refuses nan
            raise LogScanError(f"{option}: must be at least {minimum}, got {params[option]}")
    for option in ("access_5xx_warning", "access_5xx_critical"):
        if not 0 <= params[option] <= 100:
            raise LogScanError(f"{option}: must be a percentage between 0 and 100, got {params[option]}")
    if params["access_5xx_warning"] > params["access_5xx_critical"]:
        raise LogScanError(f"access_5xx_warning {params['access_5xx_warning']} is above "
                           f"access_5xx_critical {params['access_5xx_critical']}")
    specs = file_specs(params)
    incremental = params["mode"] == "incremental"
    state = load_state(params["state_file"]) if incremental else {}
    offsets = state.get("files") if isinstance(state.get("files"), dict) else {}
    findings, facts, offsets = run_scan(
        specs, mode=params["mode"], lines=params["lines"], max_bytes=params["max_bytes"], samples=params["samples"],
        min_count=params["min_count"], host=host, offsets=offsets, time_budget=params["time_budget"],
        grep=find_grep(), clock=time.monotonic,
        access_thresholds=(params["access_5xx_warning"], params["access_5xx_critical"], params["access_min_requests"]))
    if incremental and not module.check_mode:
        try:
            save_state(params["state_file"], {**state, "files": offsets})
        except OSError as exc:
            module.warn(f"could not record the scan offsets in {params['state_file']}: {exc}")
    return {"findings": findings, "files": facts}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    """(``logs.<name>``, path) of each file, for an unknown finding when the scan could not run."""
    pairs = []
    for item in args.get("files") if isinstance(args.get("files"), list) else []:
        path = str(item.get("path") or "") if isinstance(item, dict) else str(item)
        try:
            name = log_name(item["name"]) if isinstance(item, dict) and item.get("name") else default_name(path)
        except LogScanError:
            name = default_name(path)
        pairs.append((f"logs.{name}", path or "log"))
    return pairs or [("logs.scan", label or "logs")]
