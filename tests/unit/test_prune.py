"""Unit tests of log pruning (roles/log_prune/files/kubeops_prune.py: the one implementation, which the timer runs and
the log_prune module's action runs on the host) on real files in temporary directories."""
from __future__ import annotations

import datetime
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

FIXTURES = Path(__file__).parent / "fixtures" / "prune"
HELPER = Path(__file__).parents[2] / "roles" / "log_prune" / "files" / "kubeops_prune.py"
TODAY = datetime.date(2021, 4, 27)


def load_helper():
    spec = importlib.util.spec_from_file_location("kubeops_prune", HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


P = load_helper()


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
    cache: dict = {}
    assert P.date_from_name(name, fmt, cache=cache) == expected == P.date_from_name(name, fmt, cache=cache)


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


# -- guards -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, match", [
    ("/", "is the root directory"),
    ("/etc", "a top-level directory"),
    ("/usr/bin", "in the system tree /usr"),
    ("/usr/local/lib", "in the system tree /usr"),
    ("/var/lib", "in the system tree /var/lib"),
    ("/proc/self", "in the system tree /proc"),
    ("/tmp", "a top-level directory"),
    ("/var", "a top-level directory"),
])
def test_system_directories_are_refused_with_one_line(path, match):
    if not os.path.isdir(path):
        pytest.skip(f"{path} is not on this machine")
    with pytest.raises(P.PruneError, match=match) as exc:
        P.prune(path, "*.log", check_mode=True)
    assert "\n" not in str(exc.value) and repr(path) in str(exc.value)


@pytest.mark.parametrize("pattern, match", [
    ("*", "too broad"),
    ("*.*", "too broad"),
    ("??*", "too broad"),
    ("[a-z]*", "too broad"),
    ("../*.log", "without '/'"),
    ("", "pattern ''"),
])
def test_over_broad_patterns_are_refused(tmp_path, pattern, match):
    (tmp_path / "a.log").write_text("x")
    with pytest.raises(P.PruneError, match=match):
        P.prune(str(tmp_path), pattern, check_mode=True)
    assert (tmp_path / "a.log").exists()


@pytest.mark.parametrize("pattern", ["[!]xyz]*", "[]xyz]*", "[!]ab]?*", "?[!]a-z]*.", "[!]]]*", "*[!]conf]*"])
def test_bracket_expressions_holding_a_closing_bracket_are_not_literal(tmp_path, pattern):
    """The review's reproducer: '[!]xyz]*' was read as '[!]' and four literal characters 'xyz]', so it passed the
    guard - and fnmatch reads it as one bracket expression, matching every name that does not start with ] x y z."""
    for name in ("ibdata1", "keystore.jks", "app.conf"):
        (tmp_path / name).write_text("x")
    assert P.literal_chars(pattern) < P.MIN_LITERAL_CHARS
    with pytest.raises(P.PruneError, match="too broad"):
        P.prune(str(tmp_path), pattern, check_mode=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf", "ibdata1", "keystore.jks"]


@pytest.mark.parametrize("pattern, count", [
    ("tomcat_access.*.log", 18), ("*.log", 4), ("[!]x]*.log", 4), ("app[0-9].log", 7), ("[abc.log", 8),
    ("a?b?c", 3), ("[!]", 3), ("[]]x", 1),
])
def test_literal_characters_are_counted_as_fnmatch_reads_the_glob(pattern, count):
    assert P.literal_chars(pattern) == count


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab.]![*?-", max_size=12), st.lists(st.text(alphabet="ab.]![-xyz", max_size=8), max_size=12))
def test_a_glob_never_matches_a_name_shorter_than_its_literal_characters(pattern, names):
    """Every character counted as literal is one character every matching name must have: a glob with n literal
    characters matches no name shorter than n."""
    import fnmatch
    count = P.literal_chars(pattern)
    for name in names:
        if fnmatch.fnmatchcase(name, pattern):
            assert len(name) >= count, (pattern, name)


def test_usr_bin_with_star_in_check_mode_would_delete_nothing():
    """1.0.0 listed 714 files of /usr/bin to delete here."""
    with pytest.raises(P.PruneError):
        P.prune("/usr/bin", "*", keep_days=0, age_source="mtime", check_mode=True)
    with pytest.raises(P.PruneError, match="system tree /usr"):
        P.prune("/usr/bin", "*.sh", age_source="mtime", check_mode=True)


def test_a_symlink_to_a_system_directory_is_refused(tmp_path):
    link = tmp_path / "logs"
    link.symlink_to("/etc")
    with pytest.raises(P.PruneError, match=r"\(/etc\) is a top-level directory|/etc"):
        P.prune(str(link), "*.conf", age_source="mtime", check_mode=True)


def test_outside_the_allowed_roots_is_refused_unless_allowed(tmp_path):
    with pytest.raises(P.PruneError, match="not under an allowed root"):
        P.prune(str(tmp_path), "*.log", allowed_roots=["/data"], check_mode=True)
    assert P.prune(str(tmp_path), "*.log", allowed_roots=[str(tmp_path)], check_mode=True)["files_pruned"] == 0


@pytest.mark.parametrize("keep_days", [-1, 36501, 1000000000, True, 1.5])
def test_keep_days_out_of_range_is_one_line(tmp_path, keep_days):
    """1.0.0: keep_days=1000000000 raised OverflowError."""
    with pytest.raises(P.PruneError, match=f"keep_days {keep_days!r} must be"):
        P.prune(str(tmp_path), "*.log", keep_days=keep_days)


def test_keep_days_at_the_limit(tmp_path):
    (tmp_path / "a.1950-01-01.log").write_text("x")
    assert P.prune(str(tmp_path), "*.log", keep_days=P.MAX_KEEP_DAYS, today=TODAY)["files_kept"] == 1


@pytest.mark.parametrize("mtime", [1e14, 253402300800.0, -1e10])
def test_a_file_with_an_absurd_mtime_does_not_stop_pruning(tmp_path, mtime):
    """1.0.0: a file with mtime 1e14 raised 'year out of range': its owner could stop all pruning."""
    for i in range(3):
        path = tmp_path / f"app.{i}.log"
        path.write_text("x")
        os.utime(path, (1e9, 1e9))
    odd = tmp_path / "app.odd.log"
    odd.write_text("odd")
    try:
        os.utime(odd, (mtime, mtime))
    except (OSError, OverflowError, ValueError):
        pytest.skip(f"this filesystem cannot store mtime {mtime}")
    old = odd.stat().st_mtime < 1e9  # what the filesystem stored: far future, or before 1970
    result = P.prune(str(tmp_path), "app.*.log", age_source="mtime", today=TODAY, list_limit=10)
    assert result["files_pruned"] == 3 + old and odd.exists() is not old
    assert result["files_kept"] == (0 if old else 1)
    json.dumps(result)  # dates in the sample are text, even for an mtime no calendar holds


# -- pruning ----------------------------------------------------------------------------------------------
@pytest.fixture
def logdir(tmp_path):
    """30 days of tomcat logs, a symlink to a file outside, a subdirectory, an executable and an unrelated file."""
    d = tmp_path / "nginx"
    d.mkdir()
    outside = tmp_path / "outside.2021-01-01.log"
    outside.write_text("precious\n")
    for i in range(30):
        day = TODAY - datetime.timedelta(days=i)
        (d / f"tomcat_access.{day.isoformat()}.log").write_text(f"GET / {day}\n" * 100)
    (d / "tomcat_access.2021-01-01.log").symlink_to(outside)
    (d / "tomcat_access.2021-01-02.log").mkdir()
    (d / "tomcat_access.2021-01-03.log").write_text("#!/bin/sh\n")
    (d / "tomcat_access.2021-01-03.log").chmod(0o755)
    (d / "developer-center_error.log").write_text("error\n")
    return d, outside


@pytest.mark.parametrize("keep_days, pruned", [(0, 29), (1, 28), (29, 0), (P.MAX_KEEP_DAYS, 0)])
def test_prune_deletes_old_regular_files_only(logdir, keep_days, pruned):
    d, outside = logdir
    result = P.prune(str(d), "tomcat_access.*.log", keep_days=keep_days, today=TODAY, list_limit=100)
    assert result["changed"] is (pruned > 0) and result["files_pruned"] == pruned
    assert result["files_kept"] == 30 - pruned and result["cutoff"] == str(TODAY - datetime.timedelta(days=keep_days))
    assert outside.read_text() == "precious\n"
    assert (d / "tomcat_access.2021-01-01.log").is_symlink() and (d / "tomcat_access.2021-01-03.log").exists()
    assert result["left_alone_reasons"] == {"symlink: only regular files are pruned": 1,
                                            "directory: only regular files are pruned": 1,
                                            "executable: log files are not executable": 1}
    assert result["bytes_freed"] == sum(i["size"] for i in result["pruned"])
    assert len(list(d.iterdir())) == 34 - pruned
    again = P.prune(str(d), "tomcat_access.*.log", keep_days=keep_days, today=TODAY)
    assert not again["changed"] and again["files_pruned"] == 0


def test_prune_check_mode_changes_nothing_and_predicts_exactly(logdir):
    d = logdir[0]
    before = sorted(p.name for p in d.iterdir())
    result = P.prune(str(d), "tomcat_access.*.log", today=TODAY, check_mode=True, list_limit=100)
    assert result["changed"] and result["files_pruned"] == 29
    assert sorted(p.name for p in d.iterdir()) == before
    real = P.prune(str(d), "tomcat_access.*.log", today=TODAY, list_limit=100)
    assert real["pruned"] == result["pruned"] and real["bytes_freed"] == result["bytes_freed"]


def test_result_is_bounded_whatever_the_number_of_files(tmp_path):
    """Counts and the first list_limit names, not one entry per file (1.0.0: 452 MB RSS for 100,000 files)."""
    for i in range(500):
        (tmp_path / f"app.2020-01-01.{i:04d}.log").write_text("x")
    result = P.prune(str(tmp_path), "app.*.log", today=TODAY, list_limit=7)
    assert result["files_pruned"] == 500 and len(result["pruned"]) == 7
    assert [Path(i["path"]).name for i in result["pruned"]] == [f"app.2020-01-01.{i:04d}.log" for i in range(7)]
    assert not list(tmp_path.iterdir())


def test_prune_compress(logdir):
    d = logdir[0]
    result = P.prune(str(d), "tomcat_access.*.log*", keep_days=27, mode="compress", today=TODAY)
    assert result["files_pruned"] == 2
    for item in result["pruned"]:
        gz = Path(item["compressed_to"])
        assert not Path(item["path"]).exists()
        assert gzip.decompress(gz.read_bytes()).startswith(b"GET / ")
    assert 0 < result["bytes_freed"] < sum(i["size"] for i in result["pruned"])
    # the .gz files match the pattern but are never compressed again
    again = P.prune(str(d), "tomcat_access.*.log*", keep_days=27, mode="compress", today=TODAY)
    assert not again["changed"] and again["left_alone_reasons"]["compressed already"] == 2


def test_prune_skips_file_open_for_writing(logdir):
    d = logdir[0]
    victim = d / "tomcat_access.2021-04-01.log"
    writer = subprocess.Popen([sys.executable, "-c", f"import time; f=open({str(victim)!r}, 'a'); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (victim.stat().st_dev, victim.stat().st_ino) in P.files_open_for_writing():
                break
        result = P.prune(str(d), "tomcat_access.*.log", today=TODAY, list_limit=100)
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
    assert len(list(d.iterdir())) == 34
    if usage > 0:
        assert P.prune(str(d), "tomcat_access.*.log", when_usage_over=0, today=TODAY)["files_pruned"] == 29


@pytest.mark.parametrize("kwargs, match", [
    ({"path": "relative/dir"}, "must be an absolute"),
    ({"path": "/nonexistent/dir/x"}, "is not a directory"),
    ({"mode": "shred"}, "mode 'shred'"),
    ({"when_usage_over": 120}, "when_usage_over 120"),
    ({"when_usage_over": float("nan")}, "when_usage_over nan"),
    ({"age_source": "ctime"}, "age_source 'ctime'"),
    ({"list_limit": -1}, "list_limit -1"),
])
def test_prune_bad_input(tmp_path, kwargs, match):
    args = {"path": str(tmp_path), "pattern": "*.log", **kwargs}
    with pytest.raises(P.PruneError, match=match):
        P.prune(**args)


# -- calendar days, as find -daystart ---------------------------------------------------------------------
@pytest.mark.parametrize("keep_days", [0, 1, 7])
def test_mtime_age_deletes_what_find_daystart_selects(tmp_path, keep_days):
    """Same set as `find DIR -maxdepth 1 -name PATTERN -type f -daystart -mtime +N` (calendar days), which is not
    the set of plain `-mtime +N` (24-hour periods from now)."""
    now = time.time()
    for hours in range(0, 24 * 12, 5):
        path = tmp_path / f"app.{hours:04d}.log"
        path.write_text("x")
        os.utime(path, (now - hours * 3600, now - hours * 3600))
    find = subprocess.run(["find", str(tmp_path), "-maxdepth", "1", "-name", "app.*.log", "-type", "f", "-daystart",
                           "-mtime", f"+{keep_days}"], capture_output=True, text=True, check=True)
    expected = sorted(Path(p).name for p in find.stdout.split())
    result = P.prune(str(tmp_path), "app.*.log", keep_days=keep_days, age_source="mtime", check_mode=True,
                     list_limit=1000)
    assert sorted(Path(i["path"]).name for i in result["pruned"]) == expected


# -- one file, two ways to run it: the timer's flags and the action's --args-file ---------------------------------
def run_helper(*args: str) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, str(HELPER), *args], capture_output=True, text=True, check=False)
    assert proc.stdout.count("\n") == 1, proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("kwargs", [
    {"keep_days": 0}, {"keep_days": 3}, {"keep_days": 3, "age_source": "mtime"},
    {"keep_days": 27, "mode": "compress"}, {"keep_days": 0, "date_format": "%Y%m%d"},
])
def test_helper_cli_and_args_file_decide_alike(logdir, tmp_path, kwargs):
    """The timer (command-line flags) and the log_prune action (--args-file, what _host_script passes) run the same
    file: on copies of one directory they prune the same files, as the function itself does."""
    d = logdir[0]
    for i, path in enumerate(sorted(d.iterdir())):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (time.time() - i * 86400, time.time() - i * 86400))
    timer, action = tmp_path / "timer", tmp_path / "action"
    shutil.copytree(d, timer, symlinks=True)
    shutil.copytree(d, action, symlinks=True)
    direct = P.prune(str(d), "tomcat_access.*.log", list_limit=1000, allowed_roots=[str(tmp_path), str(d.parent)],
                     **kwargs)
    flags = ["--path", str(timer), "--pattern", "tomcat_access.*.log", "--allowed-root", str(tmp_path),
             "--list-limit", "1000"] + [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items()]
    rc_timer, by_timer = run_helper(*flags)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"path": str(action), "pattern": "tomcat_access.*.log", "check_mode": False,
                                     "allowed_roots": [str(tmp_path)], "list_limit": 1000, **kwargs}))
    rc_action, by_action = run_helper("--args-file", str(args_file))
    assert rc_timer == rc_action == 0
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in timer.iterdir()) == \
        sorted(p.name for p in action.iterdir())
    for out in (by_timer, by_action):
        assert (out["files_pruned"], out["bytes_freed"], out["files_kept"], out["left_alone_reasons"]) == \
            (direct["files_pruned"], direct["bytes_freed"], direct["files_kept"], direct["left_alone_reasons"])
        assert [Path(i["path"]).name for i in out["pruned"]] == [Path(i["path"]).name for i in direct["pruned"]]


def test_helper_cli_prints_one_json_line(logdir):
    d = logdir[0]
    before = sorted(p.name for p in d.iterdir())
    rc, out = run_helper("--path", str(d), "--pattern", "tomcat_access.*.log", "--keep-days", "3", "--check",
                         "--allowed-root", str(d.parent))
    assert rc == 0 and out["files_pruned"] > 0 and len(out["pruned"]) <= P.DEFAULT_LIST_LIMIT
    assert sorted(p.name for p in d.iterdir()) == before          # --check deleted nothing
    rc, bad = run_helper("--path", "/usr/bin", "--pattern", "*")
    assert rc == 2 and bad["failed"] and bad["msg"].startswith("pattern '*' is too broad")


def test_helper_args_file_that_is_no_object_is_one_line(tmp_path):
    args_file = tmp_path / "args.json"
    args_file.write_text("[1, 2]")
    rc, out = run_helper("--args-file", str(args_file))
    assert rc == 2 and out == {"failed": True, "changed": False, "msg": f"{args_file} holds no JSON object"}


def test_helper_is_standard_library_only():
    text = HELPER.read_text()
    imports = [line.split()[1] for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert set(imports) <= {"__future__", "argparse", "bisect", "datetime", "fnmatch", "gzip", "json", "math", "os",
                            "re", "stat", "sys", "time", "typing"}


# -- fuzz -------------------------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abc._-0123456789", min_size=1, max_size=30), max_size=15))
def test_prune_fuzz_names(tmp_path_factory, names):
    d = tmp_path_factory.mktemp("fuzz")
    for name in set(names):
        if name in (".", ".."):
            continue
        (d / f"log.{name}").write_text("x")
    before = len(list(d.iterdir()))
    result = P.prune(str(d), "log.*", today=TODAY, list_limit=100)
    assert result["files_pruned"] + result["files_kept"] + result["files_left_alone"] == before
    assert len(list(d.iterdir())) == before - result["files_pruned"]
