"""log_scan logic (plugins/module_utils/_logscan.py) on real log files (tests/unit/fixtures/logscan/)."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _logscan as L

FIX = Path(__file__).parent / "fixtures" / "logscan"
DEFAULTS = L.compile_patterns(None)


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
    scan = scan_file("gbk_mixed.log")
    assert scan["lines"] == 6
    assert scan["encodings"] == {"utf-8": 3, "gbk": 3}
    assert scan["counts"]["oom"] == 1
    assert scan["counts"]["error"] == 1  # the kubelet E0529 line ("Error:" and klog E prefix count once)
    assert scan["counts"]["fail"] == 1
    texts = [L.decode_line(line)[0] for line in L.split_lines(fixture_bytes("gbk_mixed.log"))]
    assert any("白屏" in text for text in texts)  # a GBK line of the handbook, decoded back


def test_broken_utf8_never_fails():
    scan = scan_file("broken_utf8.log")
    assert scan["lines"] == 2
    assert scan["encodings"] == {"replace": 1, "utf-8": 1}
    assert scan["counts"]["no_space"] == 1
    assert scan["samples"]["no_space"][0].endswith("No space left on device")


def test_debootstrap_log_matches_like_grep():
    """Our 'error' pattern against grep -ciwE on the same real file."""
    data = (FIX / "debootstrap.log").read_bytes()
    pattern = [L.Pattern("gpgerror", re.compile(r"error", re.I), "warning")]
    ours = L.scan_lines(data, pattern)["counts"]["gpgerror"]
    grep = subprocess.run(["grep", "-ci", "error", str(FIX / "debootstrap.log")], capture_output=True, text=True,
                          check=False)
    assert ours == int(grep.stdout.strip()) == 5
    # word-bounded default pattern: "libgpg-error0" is not an error line
    assert L.scan_lines(data, DEFAULTS)["counts"]["error"] == 0


@pytest.mark.parametrize("lines", [1, 2, 10, 100, 736, 737, 738, 5000])
@pytest.mark.parametrize("block", [7, 64, 65536])
def test_tail_matches_coreutils_tail(lines, block, monkeypatch, tmp_path):
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


def test_incremental_first_scan_rotation_truncation(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"old error line\n" * 100)
    first = L.read_incremental(str(path), None, 64)
    assert first["reset"] == "first scan"
    assert first["data"] == b"old error line\n" * 4  # only whole lines within the last 64 bytes
    state = {"inode": first["inode"], "device": first["device"], "offset": first["end"]}
    assert L.read_incremental(str(path), state, 64)["data"] == b""
    with open(path, "ab") as handle:
        handle.write(b"new failed line\npartial")
    second = L.read_incremental(str(path), state, 4096)
    assert second["data"] == b"new failed line\n" and second["reset"] is None
    state["offset"] = second["end"]
    with open(path, "ab") as handle:
        handle.write(b" now complete\n")
    assert L.read_incremental(str(path), state, 4096)["data"] == b"partial now complete\n"
    # rotation: a new file under the same name
    os.rename(path, tmp_path / "messages.1")
    path.write_bytes(b"after rotation\n")
    rotated = L.read_incremental(str(path), state, 4096)
    assert rotated["reset"] == "rotated" and rotated["data"] == b"after rotation\n"
    # truncation in place (copytruncate)
    state = {"inode": rotated["inode"], "device": rotated["device"], "offset": rotated["end"]}
    path.write_bytes(b"x\n")
    truncated = L.read_incremental(str(path), state, 4096)
    assert truncated["reset"] == "truncated" and truncated["data"] == b"x\n"


def test_incremental_skips_when_more_than_max_bytes(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    st0 = L.read_incremental(str(path), None, 100)
    state = {"inode": st0["inode"], "device": st0["device"], "offset": 0}
    path.write_bytes(b"0123456789\n" * 50)
    got = L.read_incremental(str(path), state, 100)
    assert got["skipped_bytes"] == 550 - 100
    assert got["data"] == b"0123456789\n" * 9
    assert got["end"] == 550


@pytest.mark.parametrize("kind, expected", [
    ("missing", "does not exist"),
    ("directory", "is a directory"),
    ("fifo", "not a regular file"),
])
def test_unreadable_paths(tmp_path, kind, expected):
    path = tmp_path / "log"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
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


@pytest.mark.parametrize("name, expected_status, summary_part", [
    ("gbk_mixed.log", "critical", "oom 1"),
    ("broken_utf8.log", "critical", "no_space 1"),
    ("debootstrap.log", "ok", "no matching lines in 737 line(s)"),
    ("master1_messages_tail.log", "warning", "in 300 line(s)"),  # klog E lines, "panic-reason: <nil>" is no panic
])
def test_file_finding(name, expected_status, summary_part):
    scan = scan_file(name)
    item = L.file_finding("messages", f"/var/log/{name}", "node1", scan, DEFAULTS)
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


def test_min_count_and_optional():
    scan = scan_file("gbk_mixed.log")
    assert L.file_finding("m", "/x", "h", scan, DEFAULTS, min_count=2)["status"] == "ok"
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
])
def test_default_name(path, name):
    assert L.default_name(path) == name


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_fuzz_scan_never_raises(data):
    scan = L.scan_lines(data, DEFAULTS)
    assert scan["lines"] == len(L.split_lines(data))


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
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=1024, max_value=2048))
def test_fuzz_incremental_reads_every_complete_line_once(tmp_path_factory, chunks, max_bytes):
    path = tmp_path_factory.mktemp("inc") / "f.log"
    path.write_bytes(b"")
    first = L.read_incremental(str(path), None, max_bytes)
    state = {"inode": first["inode"], "device": first["device"], "offset": first["end"]}
    seen = b""
    for chunk in chunks:
        with open(path, "ab") as handle:
            handle.write(chunk)
        got = L.read_incremental(str(path), state, max_bytes)
        seen += got["data"]
        state["offset"] = got["end"]
    content = path.read_bytes()
    complete = content[:content.rfind(b"\n") + 1]
    assert seen == complete
