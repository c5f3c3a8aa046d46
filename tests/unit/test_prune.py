"""Unit tests of the pruning logic (plugins/module_utils/_prune.py) on real files in a temp directory."""
from __future__ import annotations

import datetime
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _prune as P

FIXTURES = Path(__file__).parent / "fixtures" / "prune"
TODAY = datetime.date(2021, 4, 27)


@pytest.mark.parametrize("fmt,name,expected", [
    ("%Y-%m-%d", "tomcat_access.2021-04-27.log", datetime.date(2021, 4, 27)),
    ("%Y-%m-%d", "tomcat_access.2020-12-16.log", datetime.date(2020, 12, 16)),
    ("%Y%m%d", "access-20210101.log", datetime.date(2021, 1, 1)),
    ("%Y-%m-%d", "tomcat_access.2021-02-30.log", None),        # no such day
    ("%Y-%m-%d", "tomcat_access.log", None),
    ("%Y-%m-%d", "x.1999-99-99.y.2020-01-02.log", datetime.date(2020, 1, 2)),  # first valid date wins
    ("%Y.%j", "gc.2021.032.log", datetime.date(2021, 2, 1)),
])
def test_date_from_name(fmt, name, expected):
    assert P.date_from_name(name, fmt) == expected


@pytest.mark.parametrize("fmt", ["", "plain", "%Y-%B", "%"])
def test_date_regex_rejects(fmt):
    with pytest.raises(P.PruneError, match="date_format"):
        P.date_regex(fmt)


@pytest.mark.parametrize("fixture,writing", [
    ("fdinfo_read.txt", False),
    ("fdinfo_write_append.txt", True),
    ("fdinfo_write_only.txt", True),
    ("fdinfo_readwrite.txt", True),
])
def test_fdinfo_flags_real_captures(fixture, writing):
    flags = P.parse_fdinfo_flags((FIXTURES / fixture).read_text())
    assert flags is not None
    assert P.opened_for_writing(flags) is writing


@pytest.mark.parametrize("text", ["", "pos: 0\n", "flags:\tzz\n"])
def test_fdinfo_flags_garbage(text):
    assert P.parse_fdinfo_flags(text) is None
    assert P.opened_for_writing(P.parse_fdinfo_flags(text)) is False


@given(st.text())
def test_fdinfo_fuzz(text):
    flags = P.parse_fdinfo_flags(text)
    assert flags is None or isinstance(flags, int)


@given(st.text(max_size=80), st.sampled_from(["%Y-%m-%d", "%Y%m%d", "%d.%m.%y", "%Y-%m-%d_%H"]))
def test_date_from_name_fuzz(name, fmt):
    result = P.date_from_name(name, fmt)
    assert result is None or isinstance(result, datetime.date)


def _entry(name, kind="file", size=10, ino=1, mtime=0.0):
    return {"name": name, "kind": kind, "size": size, "mtime": mtime, "dev": 1, "ino": ino}


@pytest.mark.parametrize("keep_days,expected_pruned", [
    (0, ["tomcat_access.2021-04-20.log", "tomcat_access.2021-04-26.log"]),
    (1, ["tomcat_access.2021-04-20.log"]),
    (7, []),
])
def test_plan_keep_days(keep_days, expected_pruned):
    entries = [_entry("tomcat_access.2021-04-20.log", ino=1), _entry("tomcat_access.2021-04-26.log", ino=2),
               _entry("tomcat_access.2021-04-27.log", ino=3), _entry("tomcat_access.2021-05-01.log", ino=4)]
    planned = P.plan(entries, TODAY, keep_days)
    assert [i["name"] for i in planned["prune"]] == expected_pruned
    assert "tomcat_access.2021-04-27.log" in [i["name"] for i in planned["keep"]]
    assert "tomcat_access.2021-05-01.log" in [i["name"] for i in planned["keep"]]


def test_plan_skips_links_dirs_writers_and_undated():
    entries = [_entry("tomcat_access.2021-01-01.log", kind="symlink", ino=1),
               _entry("tomcat_access.2021-01-02.log", kind="directory", ino=2),
               _entry("tomcat_access.2021-01-03.log", ino=3),
               _entry("tomcat_access.current.log", ino=4),
               _entry("tomcat_access.2021-01-04.log", ino=5)]
    planned = P.plan(entries, TODAY, 0, writers={(1, 3)})
    assert [i["name"] for i in planned["prune"]] == ["tomcat_access.2021-01-04.log"]
    reasons = {s["name"]: s["reason"] for s in planned["skip"]}
    assert reasons["tomcat_access.2021-01-01.log"].startswith("symlink")
    assert reasons["tomcat_access.2021-01-02.log"].startswith("directory")
    assert reasons["tomcat_access.2021-01-03.log"] == "open for writing by another process"
    assert "no %Y-%m-%d date" in reasons["tomcat_access.current.log"]


def test_plan_by_mtime():
    old = datetime.datetime(2021, 4, 1, 12).timestamp()
    new = datetime.datetime(2021, 4, 27, 1).timestamp()
    planned = P.plan([_entry("a.log", ino=1, mtime=old), _entry("b.log", ino=2, mtime=new)], TODAY, 0, "mtime")
    assert [i["name"] for i in planned["prune"]] == ["a.log"]
    assert [i["name"] for i in planned["keep"]] == ["b.log"]


@pytest.mark.parametrize("kwargs,match", [
    ({"keep_days": -1}, "keep_days -1"),
    ({"age_source": "ctime"}, "age_source 'ctime'"),
])
def test_plan_bad_input(kwargs, match):
    with pytest.raises(P.PruneError, match=match):
        P.plan([], TODAY, **kwargs)


@pytest.fixture
def logdir(tmp_path):
    """30 days of tomcat logs, a symlink to a file outside, a subdirectory and an unrelated file."""
    d = tmp_path / "nginx"
    d.mkdir()
    outside = tmp_path / "outside.2021-01-01.log"
    outside.write_text("precious\n")
    for i in range(30):
        day = TODAY - datetime.timedelta(days=i)
        (d / f"tomcat_access.{day.isoformat()}.log").write_text(f"GET / {day}\n" * 100)
    (d / "tomcat_access.2021-01-01.log").symlink_to(outside)
    (d / "tomcat_access.2021-01-02.log").mkdir()
    (d / "developer-center_error.log").write_text("error\n")
    return d, outside


def test_prune_deletes_old_regular_files_only(logdir):
    d, outside = logdir
    result = P.prune(str(d), "tomcat_access.*.log", today=TODAY)
    assert result["changed"] and result["files_pruned"] == 29
    expected = ["developer-center_error.log", "tomcat_access.2021-01-01.log", "tomcat_access.2021-01-02.log",
                "tomcat_access.2021-04-27.log"]
    assert sorted(p.name for p in d.iterdir()) == expected
    assert outside.read_text() == "precious\n"
    assert (d / "tomcat_access.2021-01-01.log").is_symlink()
    assert result["bytes_freed"] == sum(i["size"] for i in result["pruned"]) > 0
    assert {s["reason"].split(":")[0] for s in result["left_alone"]} == {"symlink", "directory"}
    again = P.prune(str(d), "tomcat_access.*.log", today=TODAY)
    assert not again["changed"] and again["files_pruned"] == 0


def test_prune_check_mode_changes_nothing(logdir):
    d = logdir[0]
    before = sorted(p.name for p in d.iterdir())
    result = P.prune(str(d), "tomcat_access.*.log", today=TODAY, check_mode=True)
    assert result["changed"] and result["files_pruned"] == 29
    assert sorted(p.name for p in d.iterdir()) == before
    real = P.prune(str(d), "tomcat_access.*.log", today=TODAY)
    assert [i["path"] for i in real["pruned"]] == [i["path"] for i in result["pruned"]]


def test_prune_compress(logdir):
    d = logdir[0]
    result = P.prune(str(d), "tomcat_access.*.log", keep_days=27, mode="compress", today=TODAY)
    assert result["files_pruned"] == 2
    for item in result["pruned"]:
        gz = Path(item["compressed_to"])
        assert not Path(item["path"]).exists()
        assert gzip.decompress(gz.read_bytes()).startswith(b"GET / ")
    assert 0 < result["bytes_freed"] < sum(i["size"] for i in result["pruned"])
    # .gz files do not match the pattern: a second run changes nothing
    assert not P.prune(str(d), "tomcat_access.*.log", keep_days=27, mode="compress", today=TODAY)["changed"]


def test_prune_skips_file_open_for_writing(logdir):
    d = logdir[0]
    victim = d / "tomcat_access.2021-04-01.log"
    writer = subprocess.Popen([sys.executable, "-c", f"import time; f=open({str(victim)!r}, 'a'); time.sleep(30)"])
    try:
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=10)
        while datetime.datetime.now() < deadline:
            if any((victim.stat().st_dev, victim.stat().st_ino) == w for w in P.files_open_for_writing()):
                break
        result = P.prune(str(d), "tomcat_access.*.log", today=TODAY)
    finally:
        writer.kill()
        writer.wait()
    assert victim.exists()
    assert {"path": str(victim), "reason": "open for writing by another process"} in result["left_alone"]
    assert result["files_pruned"] == 28


def test_prune_usage_threshold(logdir):
    d = logdir[0]
    usage = P.usage_percent(str(d))
    result = P.prune(str(d), "tomcat_access.*.log", when_usage_over=min(100.0, usage + 1), today=TODAY)
    assert not result["changed"] and "not over" in result["msg"]
    assert len(list(d.iterdir())) == 33
    if usage > 0:
        assert P.prune(str(d), "tomcat_access.*.log", when_usage_over=0, today=TODAY)["files_pruned"] == 29


def test_execute_refuses_swapped_file(logdir):
    """A file replaced by a symlink between planning and acting is not touched."""
    d, outside = logdir
    planned = P.plan(P.scan(str(d), "tomcat_access.*.log"), TODAY)
    target = planned["prune"][0]["name"]
    os.unlink(d / target)
    os.symlink(outside, d / target)
    done, skipped = P.execute(str(d), planned["prune"])
    assert target not in [i["name"] for i in done]
    assert any(s["name"] == target and "changed during the run" in s["reason"] for s in skipped)
    assert outside.exists()


@pytest.mark.parametrize("path,pattern,match", [
    ("relative/dir", "*.log", "must be an absolute"),
    ("/nonexistent/dir/x", "*.log", "is not a directory"),
    ("/tmp", "../*.log", "pattern '../\\*.log'"),
    ("/tmp", "", "pattern ''"),
])
def test_prune_bad_input(path, pattern, match):
    with pytest.raises(P.PruneError, match=match):
        P.prune(path, pattern)


def test_prune_bad_mode_and_threshold(tmp_path):
    with pytest.raises(P.PruneError, match="mode 'shred'"):
        P.prune(str(tmp_path), "*.log", mode="shred")
    with pytest.raises(P.PruneError, match="when_usage_over 120"):
        P.prune(str(tmp_path), "*.log", when_usage_over=120)


def test_cli_main(logdir, capsys):
    d = logdir[0]
    assert P.main(["--path", str(d), "--pattern", "tomcat_access.*.log", "--check"]) == 0
    assert '"files_pruned": ' in capsys.readouterr().out
    assert P.main(["--path", "rel", "--pattern", "x"]) == 2


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abc._-0123456789", min_size=1, max_size=30), max_size=15))
def test_prune_fuzz_names(tmp_path_factory, names):
    d = tmp_path_factory.mktemp("fuzz")
    for name in set(names):
        if name in (".", ".."):
            continue
        (d / name).write_text("x")
    before = len(list(d.iterdir()))
    result = P.prune(str(d), "*", today=TODAY)
    assert result["files_pruned"] + len(result["kept"]) + len(result["left_alone"]) == before
    assert len(list(d.iterdir())) == before - result["files_pruned"]
