"""log_scan logic (plugins/module_utils/_logscan.py) on real log files (tests/unit/fixtures/logscan/)."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _logscan as L

FIX = Path(__file__).parent / "fixtures" / "logscan"
DEFAULTS = L.compile_patterns(None)
GREP = L.find_grep()
ENGINES = [pytest.param(None, id="python"),
           pytest.param(GREP, id="grep", marks=pytest.mark.skipif(GREP is None, reason="no GNU grep"))]


def fixture_bytes(name: str) -> bytes:
    """The bytes of log fixture `name`.

    Logs that are not valid UTF-8 (GBK lines, a cut UTF-8 character) are kept in the repo as text recipes,
    `<stem>.recipe.txt`: one `<encoding>[:<byte count>]<TAB><text>` per line; each line's text is encoded
    with that encoding, cut to the first <byte count> bytes if given, and ends with a newline.
    """
    recipe = FIX / f"{Path(name).stem}.recipe.txt"
    if not recipe.exists():
        return (FIX / name).read_bytes()
    data = b""
    for line in recipe.read_text(encoding="utf-8").split("\n")[:-1]:
        spec, text = line.split("\t", 1)
        encoding, has_cut, cut = spec.partition(":")
        raw = text.encode(encoding)
        data += (raw[:int(cut)] if has_cut else raw) + b"\n"
    return data


def scan_file(name: str, patterns=None) -> dict:
    return L.scan_lines(fixture_bytes(name), patterns or DEFAULTS)


def reference(data: bytes, patterns) -> dict:
    """What log_scan must find: every line decoded and matched on its own, the obvious slow way."""
    counts = {p.name: 0 for p in patterns}
    lines = 0
    for raw in L.split_lines(data):
        lines += 1
        text = L.decode_line(raw)[0]
        for pattern in patterns:
            if pattern.regex.search(text):
                counts[pattern.name] += 1
    return {"lines": lines, "counts": counts}


def spec(path, patterns=None, kind="errors", name="x", status_regex=None):
    regex = L.compile_status_regex(status_regex) if kind == "access" else None
    return L.FileSpec(str(path), name, False, kind, DEFAULTS if patterns is None else patterns, regex)


def scan(path, previous=None, grep=None, **kwargs):
    return L.scan_file(spec(path, **{k: kwargs.pop(k) for k in ("patterns", "kind", "status_regex") if k in kwargs}),
                       previous=previous, grep=grep, **kwargs)


# -- decoding and matching --------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, text, encoding", [
    ("K8s日志".encode("utf-8"), "K8s日志", "utf-8"),
    ("K8s日志".encode("gbk"), "K8s日志", "gbk"),
    (b"plain ascii", "plain ascii", "utf-8"),
    (b"cut \xe6", "cut \ufffd", "replace"),  # a lone lead byte is neither UTF-8 nor GBK
    (b"cut \xe6\x97", "cut 鏃", "gbk"),  # a cut UTF-8 character that happens to be GBK
    (b"\xff\xfe\xfd", None, None),
])
def test_decode_line(raw, text, encoding):
    decoded, used = L.decode_line(raw)
    assert isinstance(decoded, str)
    if text is not None:
        assert decoded == text and used == encoding


def test_gbk_mixed_file_decodes_and_matches():
    result = scan_file("gbk_mixed.log")
    assert result["lines"] == 6
    assert result["encodings"] == {"utf-8": 3, "gbk": 3}
    assert result["counts"]["oom"] == 1
    assert result["counts"]["error"] == 1  # the kubelet E0529 line ("Error:" and klog E prefix count once)
    assert result["counts"]["fail"] == 1
    texts = [L.decode_line(line)[0] for line in L.split_lines(fixture_bytes("gbk_mixed.log"))]
    assert any("白屏" in text for text in texts)  # a GBK line of the handbook, decoded back


def test_broken_utf8_never_fails():
    result = scan_file("broken_utf8.log")
    assert result["lines"] == 2
    assert result["encodings"] == {"replace": 1, "utf-8": 1}
    assert result["counts"]["no_space"] == 1
    assert result["samples"]["no_space"][0].endswith("No space left on device")


def test_debootstrap_log_matches_like_grep():
    """Our 'error' pattern against grep -ciwE on the same real file."""
    data = (FIX / "debootstrap.log").read_bytes()
    pattern = L.compile_patterns([{"name": "gpgerror", "regex": "error"}])
    ours = L.scan_lines(data, pattern)["counts"]["gpgerror"]
    grep = subprocess.run(["grep", "-ci", "error", str(FIX / "debootstrap.log")], capture_output=True, text=True,
                          check=False)
    assert ours == int(grep.stdout.strip()) == 5
    # word-bounded default pattern: "libgpg-error0" is not an error line
    assert L.scan_lines(data, DEFAULTS)["counts"]["error"] == 0


@pytest.mark.parametrize("regex, flags, expected", [
    ("fatal", re.I, {(b"fatal", True)}),
    (r"\bfail(s|ed|ure|ing)?\b", re.I, {(b"fail", True)}),
    (r"No space left on device|ENOSPC", re.I, {(b"no space left on device", True), (b"enospc", True)}),
    (r"(^|[\s:\]])panic: |Kernel panic", re.I, {(b"panic: ", True), (b"kernel panic", True)}),
    (r"(?-i:\bE[01]\d{3} \d\d:\d\d)", re.I, {(b"E0", False), (b"E1", False)}),
    (r"Killed process \d+", 0, {(b"Killed process ", False)}),
    (r"内存溢出", re.I, {("内存溢出".encode(), True), ("内存溢出".encode("gbk").lower(), True)}),
    (r"(?:up )+timed out", re.I, {(b"timed out", True)}),  # the longest literal run wins
    (r"x+y", 0, None),                      # no literal of 2 characters
    (r"\d{5}", 0, None),
    (r"ERROR|\w+", re.I, None),             # one branch without a literal: no prefilter at all
    (r"Ошибка", re.I, None),                # case-insensitive Cyrillic: variants not searched
    (r"Ошибка", 0, {("Ошибка".encode(), False), ("Ошибка".encode("gbk"), False)}),
])
def test_required_literals(regex, flags, expected):
    found = L.required_literals(re.compile(regex, flags))
    assert (set(found) if found is not None else None) == expected


LINES = [
    b"Nov 22 kernel: Memory cgroup out of memory: Killed process 4242 (java)",
    b"Nov 22 kubelet[812]: E1122 06:11:06.000000     812 pod_workers.go:1298] \"Error syncing pod\"",
    b"Nov 22 kubelet[812]: I1122 06:11:06.000000     812 node1 e1 info",
    b"Nov 22 dockerd[411]: write /var/lib/docker/tmp: No space left on device",
    b"Nov 22 systemd[1]: Started session-42.scope.",
    b"Nov 22 kernel: \xe2\x84\xaaILLED PROCESS 12",           # KELVIN SIGN K: (?i)k matches it
    b"Nov 22 app: \xc5\xbfegfault at 0 ip 00",                 # LONG S: (?i)s matches it
    "Nov 22 app: 连接失败 fatal 内存溢出".encode("gbk"),
    "Nov 22 app: 连接失败 FATAL 内存溢出".encode("utf-8"),
    b"Nov 22 app: cut \xe6 ERRORS\r",
    b"2021-04-27 tomcat: upstream timed out (110: Connection timed out)",
    b"",
]
EXTRA = L.compile_patterns([{"name": "oom_cn", "regex": "内存溢出", "severity": "critical"},
                            {"name": "digits", "regex": r"\d{5}"},
                            {"name": "lookbehind", "regex": r"(?<!\S)fatal"},
                            {"name": "every_line", "regex": "^"}])  # empty matches, also after the last newline


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.sampled_from(LINES), max_size=40), chunk=st.sampled_from([64, 200, 1 << 20]))
def test_engines_find_what_line_by_line_matching_finds(tmp_path_factory, engine, lines, chunk):
    """Prefilters (Python or grep), chunking and long-line pieces change nothing: same counts as the slow way."""
    patterns = DEFAULTS + EXTRA
    data = b"\n".join(lines) + b"\n" if lines else b""
    path = tmp_path_factory.mktemp("eng") / "f.log"
    path.write_bytes(data)
    old = L.CHUNK
    L.CHUNK = chunk
    try:
        result, read = scan(path, previous={"inode": 0, "device": 0, "offset": 0}, grep=engine, patterns=patterns)
    finally:
        L.CHUNK = old
    assert read["end"] == len(data) and read["unscanned_bytes"] == 0
    assert {"lines": result["lines"], "counts": result["counts"]} == reference(data, patterns)


@pytest.mark.parametrize("engine", ENGINES)
def test_special_case_folds_are_not_missed(tmp_path, engine):
    path = tmp_path / "k.log"
    path.write_bytes(LINES[5] + b"\n" + LINES[6] + b"\n")
    result = scan(path, previous={"inode": 0, "device": 0, "offset": 0}, grep=engine)[0]
    assert result["counts"]["oom"] == 1 and result["counts"]["panic"] == 1


# -- tail -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lines", [1, 2, 10, 100, 736, 737, 738, 5000])
@pytest.mark.parametrize("block", [7, 64, 65536])
def test_tail_matches_coreutils_tail(lines, block, monkeypatch):
    monkeypatch.setattr(L, "BLOCK", block)
    path = FIX / "debootstrap.log"
    expected = subprocess.run(["tail", "-n", str(lines), str(path)], capture_output=True, check=True).stdout
    got = L.read_tail(str(path), lines, 10 * 1024 * 1024)
    assert got["data"] == expected
    assert got["start"] == path.stat().st_size - len(expected)


@pytest.mark.parametrize("content, lines, expected", [
    (b"a\nb\nc", 2, b"b\nc"),
    (b"a\nb\nc\n", 1, b"c\n"),
    (b"\n\n\n", 2, b"\n\n"),
    (b"", 5, b""),
    (b"only line no newline", 3, b"only line no newline"),
])
def test_tail_edges(tmp_path, content, lines, expected):
    path = tmp_path / "x.log"
    path.write_bytes(content)
    assert L.read_tail(str(path), lines, 1024)["data"] == expected


def test_tail_reads_at_most_max_bytes(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 5000 + b"\n" + b"short line\n" * 3)
    got = L.read_tail(str(path), 100, 2048)
    assert got["data"] == b"short line\n" * 3  # the 5000-byte line is cut by max_bytes and dropped


def test_tail_of_a_64_mib_line(tmp_path):
    """One line of 64 MiB (1.0.0 took 88 s here, gluing blocks in front of each other); the end of the line
    within max_bytes comes back."""
    path = tmp_path / "one-line.log"
    with open(path, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    with open(path, "ab") as handle:
        handle.write(b" out of memory\n")
    got = L.read_tail(str(path), 1000, 128 * 1024 * 1024)
    assert len(got["data"]) == 64 * 1024 * 1024 + 15 and got["start"] == 0
    assert L.scan_lines(got["data"], DEFAULTS)["counts"]["oom"] == 1


# -- incremental ------------------------------------------------------------------------------------------
def test_incremental_first_scan_append_partial_line_rotation(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"old error line\n" * 100)
    result, read = scan(path, max_bytes=64)
    assert read["reset"] == "first scan" and result["lines"] == 4  # whole lines within the last 64 bytes
    state = read["state"]
    assert scan(path, state)[0]["lines"] == 0
    with open(path, "ab") as handle:
        handle.write(b"new failed line\npartial")
    result, read = scan(path, state)
    assert result["lines"] == 1 and result["counts"]["fail"] == 1 and read["reset"] is None
    state = read["state"]
    with open(path, "ab") as handle:
        handle.write(b" now complete error\n")
    result, read = scan(path, state)
    assert result["lines"] == 1 and result["samples"]["error"] == ["partial now complete error"]
    # rotation by rename (logrotate without copytruncate): the rest of the old file first, then the new file
    state = read["state"]
    with open(path, "ab") as handle:
        handle.write(b"written before rotation, error\n")
    os.rename(path, tmp_path / "messages.1")
    path.write_bytes(b"after rotation\n")
    result, read = scan(path, state)
    assert read["reset"].startswith("rotated, the rest of") and str(tmp_path / "messages.1") in read["reset"]
    assert result["lines"] == 2 and result["counts"]["error"] == 1
    # rotated and compressed away: the new file from its start
    state = read["state"]
    os.rename(path, tmp_path / "messages.2")
    path.write_bytes(b"x\n")
    os.unlink(tmp_path / "messages.2")
    result, read = scan(path, state)
    assert read["reset"] == "rotated" and result["lines"] == 1


def test_truncation_in_place(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"a line\n" * 10)
    state = scan(path, {"inode": 0, "device": 0, "offset": 0})[1]["state"]
    path.write_bytes(b"x\n")  # same inode, shorter
    result, read = scan(path, state)
    assert read["reset"] == "truncated" and result["lines"] == 1


def test_copytruncate_then_regrown_past_the_old_offset_is_read_from_the_start(tmp_path):
    """logrotate copytruncate, then the service writes more than before the next scan: the same inode, a size
    above the offset, but other bytes at the head. 1.0.0 resumed mid-line and never saw the first lines."""
    path = tmp_path / "redis-server.log"
    path.write_bytes(b"1:M 22 Nov 06:10:05.135 * Background saving started\n" * 20)
    state = scan(path, {"inode": 0, "device": 0, "offset": 0})[1]["state"]
    with open(path, "r+b") as handle:  # copytruncate keeps the inode
        handle.truncate(0)
        handle.write(b"1:M 23 Nov 00:00:01.000 # Out Of Memory allocating 1048576 bytes!\n")
        handle.write(b"1:M 23 Nov 00:00:02.000 * Background saving started, no error\n" * 40)
    assert os.stat(path).st_ino == state["inode"] and os.stat(path).st_size > state["offset"]
    result, read = scan(path, state)
    assert read["reset"] == "truncated and written again (copytruncate)" and read["start"] == 0
    assert result["lines"] == 41 and result["counts"]["oom"] == 1


@pytest.mark.parametrize("state, why", [
    ({"inode": 1, "device": 1, "offset": -5}, "offset -5"),
    ({"inode": 1, "device": 1, "offset": "12"}, "offset '12'"),
    ({"inode": 1, "device": 1, "offset": 1.5}, "offset 1.5"),
    ({"inode": 1, "device": 1, "offset": True}, "offset True"),
    ({"inode": None, "device": 1, "offset": 0}, "inode None"),
    ({"inode": 1, "device": 1, "offset": 0, "head_len": 99999}, "head_len 99999"),
    ({"inode": 1, "device": 1, "offset": 3, "head_len": 3}, "head_sha256 missing"),
    (["not", "a", "dict"], "not an object"),
    ("garbage", "not an object"),
])
def test_garbage_state_is_a_first_scan_not_a_traceback(tmp_path, state, why):
    path = tmp_path / "messages"
    path.write_bytes(b"error one\nerror two\n")
    result, read = scan(path, state)
    assert read["reset"].startswith(f"previous state unusable ({why}") and read["reset"].endswith("read as a first scan")
    assert result["counts"]["error"] == 2 and read["state"]["offset"] == 20


def test_offset_beyond_the_end_is_a_truncation(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"error\n")
    st_ = os.stat(path)
    result, read = scan(path, {"inode": st_.st_ino, "device": st_.st_dev, "offset": 10 ** 18})
    assert read["reset"] == "truncated" and result["counts"]["error"] == 1


def test_everything_appended_is_read_no_cap(tmp_path, monkeypatch):
    """1.0.0 read only the last 4 MiB appended between two scans; now all of it, chunk by chunk."""
    monkeypatch.setattr(L, "CHUNK", 4096)
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    state = scan(path, max_bytes=1024)[1]["state"]
    path.write_bytes(b"error at the start\n" + b"0123456789\n" * 50000 + b"failed at the end\n")
    result, read = scan(path, state, max_bytes=1024)
    assert result["lines"] == 50002 and result["counts"]["error"] == 1 and result["counts"]["fail"] == 1
    assert read["unscanned_bytes"] == 0 and read["end"] == path.stat().st_size


def test_time_budget_reports_what_was_not_read_and_the_next_scan_continues(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "CHUNK", 1000)
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    state = scan(path)[1]["state"]
    path.write_bytes(b"error line\n" * 1000)  # 11000 bytes
    ticks = iter(range(100))
    monkeypatch.setattr(L.time, "monotonic", lambda: next(ticks))
    result, read = scan(path, state, deadline=3)  # three chunks fit
    assert 0 < read["end"] < 11000 and read["unscanned_bytes"] == 11000 - read["end"]
    assert result["counts"]["error"] == result["lines"] == read["end"] // 11
    item = L.file_finding("app", str(path), "h", result, DEFAULTS, read)
    assert item["status"] == "unknown"
    assert f"{11000 - read['end']} bytes" in item["summary"] and "not scanned within the time budget" in item["summary"]
    monkeypatch.setattr(L.time, "monotonic", lambda: 0)
    rest, read2 = scan(path, read["state"], deadline=1)
    assert read2["start"] == read["end"] and result["lines"] + rest["lines"] == 1000 and read2["unscanned_bytes"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_long_lines_are_matched_in_pieces_in_bounded_memory(tmp_path, monkeypatch, engine):
    monkeypatch.setattr(L, "MAX_LINE", 100)
    monkeypatch.setattr(L, "CHUNK", 64)
    path = tmp_path / "long.log"
    long_line = b"x" * 500 + b" error " + b"y" * 500 + b" failed " + b"z" * 300
    path.write_bytes(b"short error\n" + long_line + b"\n" + b"after fatal\n")
    result, read = scan(path, {"inode": 0, "device": 0, "offset": 0}, grep=engine)
    assert result["lines"] == 3 and result["long_lines"] == 1
    assert result["counts"]["error"] == 2 and result["counts"]["fail"] == 1 and result["counts"]["fatal"] == 1
    assert read["end"] == path.stat().st_size


def test_glob_reads_the_newest_file_and_finishes_the_previous_one(tmp_path):
    d = tmp_path / "nginx"
    d.mkdir()
    first = d / "tomcat_access.2021-04-26.log"
    first.write_bytes(b"error one\n")
    os.utime(first, (1000, 1000))
    pattern = str(d / "tomcat_access.*.log")
    result, read = scan(pattern, {"inode": 0, "device": 0, "offset": 0, "path": str(first)})
    assert read["file"] == str(first) and result["counts"]["error"] == 1
    with open(first, "ab") as handle:
        handle.write(b"error two, before midnight\n")
    os.utime(first, (1000, 1000))
    second = d / "tomcat_access.2021-04-27.log"
    second.write_bytes(b"error three\n")
    result, read = scan(pattern, read["state"])
    assert read["file"] == str(second) and result["counts"]["error"] == 2
    assert read["previous_file"]["path"] == str(first)


def test_glob_without_match_is_unknown(tmp_path):
    with pytest.raises(L.LogUnreadable, match="no file matches"):
        scan(str(tmp_path / "tomcat_access.*.log"))


# -- opening safely ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, expected", [
    ("missing", "does not exist"),
    ("directory", "is a directory"),
    ("fifo", "not a regular file"),
    ("parent_is_file", "is not a directory"),
])
def test_unreadable_paths(tmp_path, kind, expected):
    path = tmp_path / "log"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "parent_is_file":
        path.write_text("x")
        path = path / "child.log"
    with pytest.raises(L.LogUnreadable, match=expected):
        L.read_tail(str(path), 10, 1024)
    finding = L.file_finding("x", str(path), "h", None, DEFAULTS, problem=expected)
    assert finding["status"] == "unknown" and finding["id"] == "logs.x"


def test_permission_denied(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = tmp_path / "secret.log"
    path.write_text("x\n")
    path.chmod(0)
    with pytest.raises(L.LogUnreadable, match="permission denied"):
        L.read_tail(str(path), 10, 1024)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="planting a link as another user needs root")


@pytest.fixture
def service_dir(tmp_path):
    """A log directory owned by a service user (uid 65534), next to a root-only secret."""
    secret = tmp_path / "secret"
    secret.write_text("root password: error hunter2\n")
    secret.chmod(0o600)
    logs = tmp_path / "redis"
    logs.mkdir()
    os.chown(logs, 65534, 65534)
    return logs, secret


@needs_root
def test_symlink_planted_by_a_service_user_is_refused(service_dir):
    logs, secret = service_dir
    link = logs / "redis-server.log"
    link.symlink_to(secret)
    os.lchown(link, 65534, 65534)
    with pytest.raises(L.LogUnreadable, match="symbolic link to .*secret outside its directory") as exc:
        scan(link)
    findings, facts, _offsets = L.run_scan([spec(link, name="redis")], host="mw1", offsets={})
    assert findings[0]["status"] == "unknown" and "hunter2" not in json.dumps(findings)
    assert "redis-server.log is a symbolic link" in findings[0]["summary"] and "error" in facts[0]
    assert "uid 65534" in str(exc.value)


@needs_root
def test_symlinked_directory_planted_by_a_service_user_is_refused(service_dir, tmp_path):
    logs, secret = service_dir
    sub = logs / "log"
    sub.symlink_to(tmp_path)
    os.lchown(sub, 65534, 65534)
    with pytest.raises(L.LogUnreadable, match="outside its directory"):
        scan(sub / "secret")


@needs_root
def test_root_made_link_in_a_root_only_directory_is_followed(tmp_path):
    real = tmp_path / "data"
    real.mkdir()
    (real / "messages").write_bytes(b"kernel: Out of memory: Killed process 1\n")
    link_dir = tmp_path / "log"
    link_dir.mkdir(mode=0o755)
    (link_dir / "messages").symlink_to(real / "messages")
    result = scan(link_dir / "messages", {"inode": 0, "device": 0, "offset": 0})[0]
    assert result["counts"]["oom"] == 1


@needs_root
def test_link_within_the_same_directory_is_followed_even_from_a_service_user(service_dir):
    logs, _secret = service_dir
    (logs / "app-2021-04-27.log").write_bytes(b"failed once\n")
    link = logs / "current.log"
    link.symlink_to("app-2021-04-27.log")
    os.lchown(link, 65534, 65534)
    assert scan(link, {"inode": 0, "device": 0, "offset": 0})[0]["counts"]["fail"] == 1
    loop = logs / "loop.log"
    loop.symlink_to("loop.log")
    with pytest.raises(L.LogUnreadable, match="too many symbolic links"):
        scan(loop)


# -- findings ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected_status, summary_part", [
    ("gbk_mixed.log", "critical", "oom 1"),
    ("broken_utf8.log", "critical", "no_space 1"),
    ("debootstrap.log", "ok", "no matching lines in 737 line(s)"),
    ("master1_messages_tail.log", "warning", "in 300 line(s)"),  # klog E lines, "panic-reason: <nil>" is no panic
])
def test_file_finding(name, expected_status, summary_part):
    result = scan_file(name)
    item = L.file_finding("messages", f"/var/log/{name}", "node1", result, DEFAULTS)
    assert item["status"] == expected_status
    assert summary_part in item["summary"]
    assert item["category"] == "logs" and item["target"] == f"/var/log/{name}"


@pytest.mark.parametrize("line, name", [
    ("Nov 22 kube-apiserver[67]: panic: runtime error: invalid memory address", "panic"),
    ("Nov 22 kernel: Kernel panic - not syncing: Fatal exception", "panic"),
    ("Nov 22 kernel: java[4242]: segfault at 0 ip 00007f sp 00007ffd error 4", "panic"),
    ("Nov 22 kernel: Memory cgroup out of memory: Killed process 4242 (java)", "oom"),
    ("Nov 22 dockerd: write /var/lib/docker/tmp: No space left on device", "no_space"),
])
def test_critical_patterns(line, name):
    assert L.scan_lines(line.encode(), DEFAULTS)["counts"][name] == 1


@pytest.mark.parametrize("line, counted", [
    ("E0529 10:04:05.123456    812 kubelet.go:1] x", True),
    ("kube-apiserver[67]: E1122 06:11:05.135795      67 status.go:71] y", True),
    ("I1122 06:11:05.135795 node1 e1122 06:11 a lower-case e is no klog severity", False),
    ("hash E9999 12:00 is no month", False),
])
def test_klog_error_lines(line, counted):
    assert L.scan_lines(line.encode(), DEFAULTS)["counts"]["error"] == int(counted)


def test_min_count_and_optional():
    result = scan_file("gbk_mixed.log")
    assert L.file_finding("m", "/x", "h", result, DEFAULTS, min_count=2)["status"] == "ok"
    assert L.file_finding("m", "/x", "h", None, DEFAULTS, problem="/x does not exist", optional=True)["status"] == "ok"


@pytest.mark.parametrize("patterns, message", [
    ([{"name": "Bad-Name", "regex": "x"}], "name"),
    ([{"name": "ok", "regex": "("}], "does not compile"),
    ([{"name": "ok", "regex": "x", "severity": "info"}], "severity"),
    ([{"name": "ok", "regex": ""}], "empty regex"),
    (["just a string"], "must be a dict"),
])
def test_bad_patterns(patterns, message):
    with pytest.raises(L.LogScanError, match=message):
        L.compile_patterns(patterns)


@pytest.mark.parametrize("path, name", [
    ("/var/log/messages", "messages"),
    ("/data/iuap/logs/nginx/developer-center_error.log", "developer_center_error"),
    ("/var/log/rabbitmq/rabbit@mw1.log", "rabbit_mw1"),
    ("/data/iuap/logs/nginx/tomcat_access.*.log", "tomcat_access"),
])
def test_default_name(path, name):
    assert L.default_name(path) == name


# -- access logs ------------------------------------------------------------------------------------------
NGINX = FIX / "nginx_access.log"
TOMCAT = FIX / "tomcat_access.log"


@pytest.mark.parametrize("path, requests, fives, fours", [
    (NGINX, 12, 3, 3),
    (TOMCAT, 10, 2, 1),
])
def test_access_counts_real_logs_like_awk(path, requests, fives, fours):
    result = L.scan_lines(path.read_bytes(), [], kind="access")
    assert result["requests"] == requests and result["statuses"]["5xx"] == fives and result["statuses"]["4xx"] == fours
    awk = subprocess.run(["awk", '$9 ~ /^5[0-9][0-9]$/ {n++} END {print n+0}', str(path)], capture_output=True,
                         text=True, check=True)
    assert int(awk.stdout) == fives
    assert all(" 5" in s for s in result["samples"]["5xx"])


@pytest.mark.parametrize("fives, requests, status, part", [
    (0, 100, "ok", "5xx 0.0% (0 of 100 requests)"),
    (1, 100, "warning", "5xx 1.0% (1 of 100 requests)"),
    (5, 100, "critical", "5xx 5.0%"),
    (9, 10, "ok", "too few requests to judge (fewer than 20)"),
    (0, 0, "ok", "no requests"),
])
def test_access_thresholds(fives, requests, status, part):
    statuses = {"1xx": 0, "2xx": requests - fives, "3xx": 0, "4xx": 0, "5xx": fives}
    result = {"lines": requests, "requests": requests, "statuses": statuses, "unparsed": 0, "samples": {}}
    item = L.access_finding("nginx_access", "/var/log/nginx/access.log", "mw1", result, 1.0, 5.0, 20)
    assert item["status"] == status and part in item["summary"] and item["id"] == "logs.nginx_access"


def test_access_log_in_another_format_is_unknown_unless_status_regex_says_how(tmp_path):
    path = tmp_path / "json_access.log"
    path.write_bytes(b'{"time":"2021-04-27T10:00:00","status":503,"uri":"/x"}\n' * 30
                     + b'{"time":"2021-04-27T10:00:01","status":200,"uri":"/y"}\n' * 70)
    result, read = scan(path, {"inode": 0, "device": 0, "offset": 0}, kind="access")
    item = L.access_finding("api", str(path), "mw1", result, 1.0, 5.0, 20, read)
    assert item["status"] == "unknown" and "set status_regex" in item["summary"]
    result, read = scan(path, {"inode": 0, "device": 0, "offset": 0}, kind="access", status_regex=r'"status":(\d{3})')
    item = L.access_finding("api", str(path), "mw1", result, 1.0, 5.0, 20, read)
    assert item["status"] == "critical" and "5xx 30.0% (30 of 100 requests)" in item["summary"]


def test_access_incremental_counts_only_new_requests(tmp_path):
    path = tmp_path / "access.log"
    lines = NGINX.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:6]))
    first, read = scan(path, {"inode": 0, "device": 0, "offset": 0}, kind="access")
    with open(path, "ab") as handle:
        handle.write(b"".join(lines[6:]))
    second = scan(path, read["state"], kind="access")[0]
    whole = L.scan_lines(NGINX.read_bytes(), [], kind="access")
    assert first["requests"] + second["requests"] == whole["requests"]
    assert first["statuses"]["5xx"] + second["statuses"]["5xx"] == whole["statuses"]["5xx"]


@pytest.mark.parametrize("regex, message", [("(", "does not compile"), ("status", "needs one group")])
def test_bad_status_regex(regex, message):
    with pytest.raises(L.LogScanError, match=message):
        L.compile_status_regex(regex)


# -- a whole run ------------------------------------------------------------------------------------------
def test_run_scan_state_round_trip_and_shared_budget(tmp_path):
    log = tmp_path / "messages"
    log.write_bytes(b"boot ok\n")
    access = tmp_path / "access.log"
    access.write_bytes(NGINX.read_bytes())
    specs = [spec(log, name="messages"), spec(access, kind="access", name="nginx_access"),
             spec(tmp_path / "missing.log", name="missing")]
    findings, facts, offsets = L.run_scan(specs, host="mw1", offsets={}, time_budget=60)
    by_id = {f["id"]: f for f in findings}
    assert by_id["logs.messages"]["status"] == "ok" and by_id["logs.missing"]["status"] == "unknown"
    assert by_id["logs.nginx_access"]["details"]["requests"] == 12
    assert set(offsets) == {str(log), str(access)} and facts[2]["error"].endswith("does not exist")
    json.dumps(offsets)  # what the module writes to the state file
    with open(log, "ab") as handle:
        handle.write(b"kernel: Out of memory: Killed process 9\n")
    findings, _facts, offsets = L.run_scan(specs, host="mw1", offsets=offsets, time_budget=60)
    assert findings[0]["status"] == "critical" and findings[1]["details"]["requests"] == 0


# -- fuzz -------------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_fuzz_scan_never_raises(data):
    result = L.scan_lines(data, DEFAULTS)
    assert result["lines"] == len(L.split_lines(data if data.endswith(b"\n") or not data else data + b"\n"))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=4096))
def test_fuzz_tail_is_a_suffix(tmp_path_factory, data, lines, max_bytes):
    path = tmp_path_factory.mktemp("fuzz") / "f.log"
    path.write_bytes(data)
    got = L.read_tail(str(path), lines, max_bytes)
    assert data.endswith(got["data"])
    assert len(got["data"]) <= max(max_bytes, 0)
    assert got["data"].rstrip(b"\n").count(b"\n") < lines


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=16, max_value=2048))
def test_fuzz_incremental_reads_every_complete_line_once(tmp_path_factory, chunks, chunk_size):
    path = tmp_path_factory.mktemp("inc") / "f.log"
    path.write_bytes(b"")
    every_line = L.compile_patterns([{"name": "any", "regex": "^"}])
    state = scan(path, patterns=every_line)[1]["state"]
    seen = 0
    old = L.CHUNK
    L.CHUNK = chunk_size
    try:
        for chunk in chunks:
            with open(path, "ab") as handle:
                handle.write(chunk)
            result, read = scan(path, state, patterns=every_line)
            seen += result["counts"]["any"]
            state = read["state"]
    finally:
        L.CHUNK = old
    content = path.read_bytes()
    assert seen == content.count(b"\n") and state["offset"] == content.rfind(b"\n") + 1


# -- ignore: known, harmless lines -----------------------------------------------------------------------------
REDIS_ADVICE = L.compile_ignore(["WARNING Memory overcommit must be enabled"])


@pytest.mark.parametrize("engine", ENGINES)
def test_ignored_lines_count_for_no_pattern(tmp_path, engine):
    """redis's start-up log on a host with vm.overcommit_memory = 0 (captured on the lab's mw2): its advice line says
    'a background save or replication may fail'; the redis_overcommit finding reports it, so the log scan leaves it
    out, and a real failure after it still counts."""
    path = tmp_path / "redis-server.log"
    data = fixture_bytes("redis_server_start.log")
    assert b"WARNING Memory overcommit must be enabled" in data
    path.write_bytes(data)
    plain, _read = scan(path, previous={"inode": 0, "device": 0, "offset": 0}, grep=engine)
    assert plain["counts"]["fail"] >= 1 and plain["ignored_lines"] == 0
    specs = L.FileSpec(str(path), "redis", False, "errors", DEFAULTS, None, REDIS_ADVICE)
    quiet, _read = L.scan_file(specs, previous={"inode": 0, "device": 0, "offset": 0}, grep=engine)
    assert quiet["counts"]["fail"] == plain["counts"]["fail"] - 1 and quiet["ignored_lines"] == 1
    assert all("overcommit" not in sample for sample in quiet["samples"].get("fail", []))
    with path.open("ab") as handle:
        handle.write(b"4242:M 06 Dec 2026 09:12:01.000 # Background saving error: fork failed: Cannot allocate memory\n")
    later, _read = L.scan_file(specs, previous={"inode": 0, "device": 0, "offset": 0}, grep=engine)
    assert later["counts"]["fail"] == quiet["counts"]["fail"] + 1 and later["counts"]["error"] >= 1
    finding = L.file_finding("redis", str(path), "mw2", quiet, list(DEFAULTS))
    assert finding["details"]["ignored_lines"] == 1


def test_ignore_in_tail_mode_and_bad_regexes():
    data = fixture_bytes("redis_server_start.log")
    assert L.scan_lines(data, DEFAULTS, ignore=REDIS_ADVICE)["ignored_lines"] == 1
    with pytest.raises(L.LogScanError, match=r"ignore: regex '\(' does not compile"):
        L.compile_ignore(["("])
    with pytest.raises(L.LogScanError, match="an empty regex would ignore every line"):
        L.compile_ignore([""])


def test_samples_carry_no_control_characters_nor_credentials():
    """An application that logs in colour, a NUL from a torn write, a request's Authorization header and a Spring
    password on its command line: the counts are unchanged, the samples (report, terminal) hold none of them."""
    data = (b"2026-11-22 09:00:00 \x1b[31m ERROR\x1b[0m request failed Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0\n"
            b"2026-11-22 09:00:01 ERROR start failed: java -Dspring.datasource.password=S3cr3t! -jar app.jar\x00\x00\n"
            b"access ok 200\n")
    result = L.scan_lines(data, DEFAULTS)
    assert result["counts"]["error"] == 2
    samples = result["samples"]["error"]
    assert samples == ["2026-11-22 09:00:00 [31m ERROR[0m request failed Authorization: Bearer <redacted>",
                       "2026-11-22 09:00:01 ERROR start failed: java -Dspring.datasource.password=<redacted> -jar app.jar"]


def test_access_log_5xx_samples_are_redacted():
    line = (b'198.18.0.1 - - [22/Nov/2026:09:00:00 +0800] "GET /api?user=a&password=pw1 HTTP/1.1" 502 0 "-" '
            b'"curl\x1b]0;owned\x07" Authorization: Bearer abcdefgh12345678\n')
    result = L.scan_lines(line, [], kind="access")
    assert result["statuses"]["5xx"] == 1
    sample = result["samples"]["5xx"][0]
    assert "pw1" not in sample and "abcdefgh12345678" not in sample and "\x1b" not in sample and "\x07" not in sample
