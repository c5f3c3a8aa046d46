"""python -m bench [--case P1 ...]: run the benchmark cases, write bench/results/<UTC date>.{json,md}, update
bench/README.md. `make bench` runs all cases, `make bench BENCH=P3` one (or BENCH="P1 P5" several)."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".build"))
sys.path.insert(0, str(ROOT))

from bench import _case, _measure  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = ROOT / "bench" / "results"
README = ROOT / "bench" / "README.md"
MARK_START, MARK_END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
NEED_ORDER = {(): 0, ("lab",): 1, ("lab", "scale"): 2}


def discover() -> dict[str, ModuleType]:
    """Case modules bench/p<N>_<name>.py, by their CASE id (P1, P2, ...)."""
    cases = {}
    for path in sorted((ROOT / "bench").glob("p[0-9]*_*.py")):
        mod = importlib.import_module(f"bench.{path.stem}")
        for attr in ("CASE", "TITLE", "NEEDS", "run"):
            if not hasattr(mod, attr):
                raise SystemExit(f"bench/{path.name} lacks {attr} (see bench/README.md, 'Writing a case')")
        cases[mod.CASE.upper()] = mod
    return cases


class Interrupted(Exception):
    """SIGTERM/SIGHUP: leave through the finally blocks (the lab is scaled down before the lock is released)."""


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def run_cases(selected: list[ModuleType], args: argparse.Namespace) -> dict[str, dict]:
    out: dict[str, dict] = {}
    selected = sorted(selected, key=lambda m: (NEED_ORDER[tuple(sorted(m.NEEDS))], m.CASE))
    needs_lab = any("lab" in m.NEEDS for m in selected)
    needs_scale = any("scale" in m.NEEDS for m in selected)
    options = dict(kv.split("=", 1) for kv in args.set)
    with contextlib.ExitStack() as stack:
        lab_info = scale_info = None
        if needs_lab:
            from lab import api as lab_api  # pylint: disable=import-outside-toplevel
            from lab.util import lab_lock  # pylint: disable=import-outside-toplevel
            _measure.log("taking the lab lock for the whole bench window")
            stack.enter_context(lab_lock())
            lab_info = _lab(lab_api)
        for mod in selected:
            if "scale" in mod.NEEDS and scale_info is None and needs_scale:
                from lab import scale  # pylint: disable=import-outside-toplevel
                scale_info = stack.enter_context(scale.scaled(factor=args.scale_factor))
            work = Path(tempfile.mkdtemp(prefix=f"kubeops-bench-{mod.CASE.lower()}-"))
            ctx = _case.Context(repeats=args.repeat, warmup=args.warmup, work=work, lab=lab_info,
                                scale=scale_info if "scale" in mod.NEEDS else None, options=options)
            _measure.log(f"{mod.CASE}: {mod.TITLE}")
            started = time.monotonic()
            try:
                res = mod.run(ctx)
            except _measure.MeasureError as exc:
                res = {"error": str(exc)}
                _measure.log(f"{mod.CASE} failed: {exc}")
            finally:
                shutil.rmtree(work, ignore_errors=True)
            res = {"case": mod.CASE, "title": mod.TITLE, **res,
                   "repeats": args.repeat, "duration_s": round(time.monotonic() - started, 1),
                   "ran_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            if scale_info and "scale" in mod.NEEDS:
                res["scale"] = scale_info
                # the quiet scale nodes stay Ready through the window (lab/scale.py): counted after every case
                res["scale_nodes_ready_after"] = scale.ready_nodes()
                _measure.log(f"{mod.CASE}: {res['scale_nodes_ready_after']} of {scale_info['spec']['nodes']} scale "
                             "nodes Ready after the case")
            out[mod.CASE] = res
            save(out, dev=args.dev, final=False)
    return out


def _lab(lab_api):
    """The running lab when its API answers (whatever checkout brought it up and whatever nodes it has: the
    bench only needs the inventory, the kubeconfig and master1/node1/node2), else `lab up`."""
    if lab_api.INFO.exists():
        info = lab_api._info()  # pylint: disable=protected-access
        if lab_api.kubectl(info.bin_dir, "get", "--raw", "/readyz", check=False).returncode == 0:
            return info
    return lab_api.up()


def _fmt_s(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(cases: dict[str, dict]) -> str:
    lines = ["| case | ours median s (min–max) | floor s | ratio | peers s | peak RSS MB (floor) | objects | goals |",
             "|---|---|---|---|---|---|---|---|"]
    for key in sorted(cases, key=lambda k: int(re.sub(r"\D", "", k) or 0)):
        r = cases[key]
        if "error" in r:
            lines.append(f"| {key} {r.get('title', '')} | failed: {r['error'].splitlines()[0][:120]} | | | | | | |")
            continue
        peers = ", ".join(f"{n} {_fmt_s(v)}" for n, v in r.get("peers", {}).items()) or "–"
        counts = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in r.get("counts", {}).items()) or "–"
        goals = "; ".join(f"{'✔' if g['met'] else '✘'} {g['goal']} ({g['value']:g})" for g in r.get("goals", [])) or "–"
        floor_rss = r.get("floor_peak_rss_mb")
        lines.append(f"| {key} {r['title']} | {_fmt_s(r['ours_s'])} ({_fmt_s(r['min'])}–{_fmt_s(r['max'])}) | "
                     f"{_fmt_s(r['floor_s'])} ({r.get('floor', '')}) | {r['ratio']} | {peers} | "
                     f"{r['peak_rss_mb']:.0f}" + (f" ({floor_rss:.0f})" if floor_rss is not None else "") +
                     f" | {counts} | {goals} |")
    return "\n".join(lines) + "\n"


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
            f"ansible-core {m['ansible_core']}")


def save(cases: dict[str, dict], dev: bool, final: bool = True) -> Path:
    """Merge these case results into today's bench/results/<UTC date>.json and write the .md beside it; a
    development run (fewer repeats, smaller scale) goes to dev-<date>.json (git-ignored) and leaves the README."""
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{'dev-' if dev else ''}{day}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("cases", {}).update(cases)
    data["machine"] = _case.machine()
    data["date"] = day
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    md = f"# Benchmarks {day}\n\nMachine: {machine_line(data['machine'])}\n\n{table(data['cases'])}"
    path.with_suffix(".md").write_text(md)
    if final and not dev:
        _update_readme(data)
    return path


def latest_per_case(results: Path = RESULTS) -> tuple[dict[str, dict], dict[str, dict]]:
    """The newest saved (not development) result of every case across bench/results/<date>.json, and the runs
    (date -> machine) they come from: a run of some cases keeps the other cases' last figures in the README."""
    cases: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    for path in sorted(results.glob("[0-9]*.json")):
        data = json.loads(path.read_text())
        for key, res in data.get("cases", {}).items():
            cases[key] = res
            cases[key]["_date"] = data["date"]
    for res in cases.values():
        runs.setdefault(res["_date"], json.loads((results / f"{res['_date']}.json").read_text())["machine"])
    return cases, runs


def _update_readme(data: dict) -> None:
    text = README.read_text()
    if MARK_START not in text or MARK_END not in text:
        return
    cases, runs = latest_per_case()
    cases = cases or data["cases"]
    runs = runs or {data["date"]: data["machine"]}
    origin = "\n".join(f"* {date} (`bench/results/{date}.json`): "
                        f"{', '.join(sorted((k for k, r in cases.items() if r.get('_date', date) == date), key=lambda k: int(re.sub(r'[^0-9]', '', k) or 0)))}"
                        f" on {machine_line(machine)}" for date, machine in sorted(runs.items(), reverse=True))
    block = (f"{MARK_START}\nThe latest saved run of each case:\n\n{origin}\n\n"
             f"{table({k: {x: y for x, y in r.items() if x != '_date'} for k, r in cases.items()})}{MARK_END}")
    README.write_text(re.sub(re.escape(MARK_START) + r".*?" + re.escape(MARK_END), lambda _: block, text, flags=re.S))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", default=[],
                        help="case id(s) to run (P1, P3, or 'P1 P5'); default all")
    parser.add_argument("--repeat", type=int, default=5, help="counted runs per command (default 5, at least 5 "
                        "for a result that is saved)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs per command first (default 1)")
    parser.add_argument("--scale-factor", type=float, default=1.0,
                        help="size of the scale objects relative to the handbook's (1.0 = 2,000 nodes, 10,000 pods)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a case option")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    cases = discover()
    if args.list:
        for key, mod in cases.items():
            print(f"{key}  {mod.TITLE}  (needs: {', '.join(mod.NEEDS) or 'nothing'})")
        return 0
    wanted = [w.upper() for spec in args.case for w in re.split(r"[\s,]+", spec) if w] or list(cases)
    unknown = [w for w in wanted if w not in cases]
    if unknown:
        print(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(cases)}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    args.dev = args.repeat < 5 or args.scale_factor != 1.0
    if args.dev:
        _measure.log("development run (fewer than 5 repeats or a scale factor other than 1): results go to "
                     "bench/results/dev-<date>.json, bench/README.md stays as it is")
    results = run_cases([cases[w] for w in wanted], args)
    path = save(results, dev=args.dev)
    print(table(results))
    _measure.log(f"results: {path} and {path.with_suffix('.md')}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
