"""The bench harness itself (bench/_measure.py, bench/_case.py): interleaving, wall time, peak RSS, failures."""
from __future__ import annotations

import sys

import pytest

from bench import _case, _measure

PY = sys.executable
ALLOC = "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"


def test_schedule_interleaves_and_rotates():
    rounds = _measure.schedule(["a", "b", "c"], 5)
    assert len(rounds) == 5
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)
    assert [r[0] for r in rounds] == ["a", "b", "c", "a", "b"]


def test_wall_time_and_peak_rss_of_the_child():
    run = _measure.run_once(_measure.Command("alloc", [PY, "-c", ALLOC + "; import time; time.sleep(0.2)"]))
    assert run.wall_s >= 0.2
    assert run.rss_mb >= 200
    small = _measure.run_once(_measure.Command("true", ["true"]))
    assert small.rss_mb < 50 and small.returncode == 0   # no wall-time comparison: a busy machine can stall `true`


def test_peak_rss_is_the_childs_not_the_big_parents():
    """Linux charges a child with its forking parent's RSS; the launcher keeps a large bench process out of it."""
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = _measure.run_once(_measure.Command("true", ["true"]))
    assert small.rss_mb < 50, small
    del ballast


def test_a_command_that_cannot_start_is_no_measurement():
    with pytest.raises(_measure.MeasureError, match=r"nope: .*exit 127.*\n.*cannot start"):
        _measure.run_once(_measure.Command("nope", ["/nonexistent/kubeops-bench-tool"]))


def test_peak_rss_includes_grandchildren():
    run = _measure.run_once(_measure.Command("sh", ["sh", "-c", f'"{PY}" -c "{ALLOC}"; true']))
    assert run.rss_mb >= 200


def test_failure_names_the_command_and_carries_stderr():
    with pytest.raises(_measure.MeasureError, match=r"boom: .*exit 3.*\n.*kaputt"):
        _measure.run_once(_measure.Command("boom", ["sh", "-c", "echo kaputt >&2; exit 3"]))
    assert _measure.run_once(_measure.Command("grep-miss", ["sh", "-c", "exit 1"], ok_codes=(0, 1))).returncode == 1


def test_timeout_kills_the_process_group():
    with pytest.raises(_measure.MeasureError, match="timed out"):
        _measure.run_once(_measure.Command("hang", ["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5))


def test_stdout_to_a_file_and_setup_reset_around_every_run(tmp_path):
    calls = []
    out = tmp_path / "out"
    cmds = [_measure.Command("a", ["sh", "-c", f"echo a >> {tmp_path}/order"], setup=lambda: calls.append("setup"),
                             reset=lambda: calls.append("reset")),
            _measure.Command("b", ["sh", "-c", f"echo b >> {tmp_path}/order; echo hello"], stdout=out)]
    stats = _measure.measure(cmds, repeats=5, warmup=1)
    assert [len(s.runs) for s in stats.values()] == [5, 5]
    assert calls == ["setup", "reset"] * 6            # warm-up included, strictly around each run
    order = (tmp_path / "order").read_text().split()
    assert order[:2] == ["a", "b"] and order[2:] == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert out.read_text() == "hello\n"
    s = stats["a"]
    assert s.min_s <= s.median_s <= s.max_s and s.as_dict()["runs_s"] and s.peak_rss_mb > 0


def test_unique_names():
    with pytest.raises(ValueError):
        _measure.measure([_measure.Command("x", ["true"]), _measure.Command("x", ["true"])], repeats=1)


def test_result_shape_and_goals():
    ours = _measure.Stats("ours", ["x"], [_measure.Run(w, 100, w, 0) for w in (1.0, 1.2, 3.0)])
    floor = _measure.Stats("floor", ["y"], [_measure.Run(w, 300, w, 0) for w in (0.5, 0.6, 0.7)])
    res = _case.result(ours, floor, peers={"popeye": 12.0}, counts={"pods": 10000},
                       goals=[_case.goal("≤ 1.5× floor", 1.2 / 0.6, 1.5)], measured={"ours": ours, "floor": floor})
    assert res["ours_s"] == 1.2 and res["floor_s"] == 0.6 and res["ratio"] == 2.0
    assert res["min"] == 1.0 and res["max"] == 3.0 and res["peak_rss_mb"] == 100 and res["floor_peak_rss_mb"] == 300
    assert res["peers"] == {"popeye": 12.0} and res["counts"] == {"pods": 10000}
    assert res["goals"][0]["met"] is False
    assert _case.goal("≥ 50 % of grep", 0.6, 0.5, higher_is_better=True)["met"] is True


def test_the_readme_keeps_the_newest_saved_result_of_every_case(tmp_path):
    import json  # pylint: disable=import-outside-toplevel
    from bench import __main__ as runner  # pylint: disable=import-outside-toplevel
    machine = {"cpu": "x", "cores": 2, "memory_gib": 1, "kernel": "k", "python": "3", "ansible_core": "2"}
    (tmp_path / "2026-11-30.json").write_text(json.dumps({"date": "2026-11-30", "machine": machine, "cases": {
        "P2": {"ours_s": 2.0}, "P3": {"ours_s": 3.0}}}))
    (tmp_path / "2026-12-06.json").write_text(json.dumps({"date": "2026-12-06", "machine": machine, "cases": {
        "P3": {"ours_s": 1.0}}}))
    (tmp_path / "dev-2026-12-07.json").write_text(json.dumps({"date": "2026-12-07", "machine": machine, "cases": {
        "P2": {"ours_s": 9.0}}}))
    cases, runs = runner.latest_per_case(tmp_path)
    assert {k: (r["ours_s"], r["_date"]) for k, r in cases.items()} == {"P2": (2.0, "2026-11-30"), "P3": (1.0, "2026-12-06")}
    assert set(runs) == {"2026-11-30", "2026-12-06"}
