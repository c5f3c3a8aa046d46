"""What a benchmark case gets (Context) and returns (result()). See bench/README.md, "Writing a case"."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import _measure

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Context:
    """Everything a case needs to run; built by bench/__main__.py."""

    repeats: int
    warmup: int
    work: Path                       # a scratch directory of this case, removed afterwards
    lab: Any = None                  # lab.api.LabInfo when the case NEEDS "lab" (the runner holds the lab lock)
    scale: dict | None = None        # what lab/scale.py created, when the case NEEDS "scale"
    options: dict = field(default_factory=dict)   # --set key=value from the command line, for a case's knobs
    root: Path = ROOT
    python: str = sys.executable

    @property
    def env(self) -> dict[str, str]:
        """Environment for ansible/ansible-playbook of this checkout (collection, config, module_utils)."""
        return {"ANSIBLE_CONFIG": str(self.root / "lab" / "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": str(self.root / ".build"),
                "PYTHONPATH": str(self.root / ".build"),
                "ANSIBLE_PYTHON_INTERPRETER": self.python,
                "ANSIBLE_NOCOLOR": "1"}

    def bin(self, name: str) -> str:
        """A console script of the virtualenv that runs the bench (ansible, ansible-playbook, ...)."""
        return str(Path(self.python).parent / name)

    def measure(self, commands: Sequence[_measure.Command]) -> dict[str, _measure.Stats]:
        """Interleaved whole-process measurement with this run's repeats and warm-up runs."""
        return _measure.measure(commands, repeats=self.repeats, warmup=self.warmup, progress=self.log)

    def log(self, msg: str) -> None:
        _measure.log(msg)


def result(ours: _measure.Stats, floor: _measure.Stats | float, *, peers: dict[str, _measure.Stats | float] | None = None,
           counts: dict | None = None, goals: list[dict] | None = None, measured: dict[str, _measure.Stats] | None = None,
           notes: list[str] | None = None, floor_name: str | None = None) -> dict:
    """The one result shape every case returns (bench/results/<date>.json keeps it per case).

    ours/floor: the Stats of our command and of the floor (or a number of seconds when the floor is derived,
    e.g. a sum of several measured commands). peers: other tools, by name. goals: from goal(). measured: every
    Stats the case took, kept in full (runs, min/median/max, RSS, argv).
    """
    floor_s = floor.median_s if isinstance(floor, _measure.Stats) else float(floor)
    out = {
        "ours_s": round(ours.median_s, 3),
        "min": round(ours.min_s, 3),
        "max": round(ours.max_s, 3),
        "floor_s": round(floor_s, 3),
        "floor": floor_name or (floor.name if isinstance(floor, _measure.Stats) else "derived"),
        "ratio": round(ours.median_s / floor_s, 2) if floor_s > 0 else None,
        "peers": {name: round(p.median_s if isinstance(p, _measure.Stats) else float(p), 3)
                  for name, p in (peers or {}).items()},
        "peak_rss_mb": round(ours.peak_rss_mb, 1),
        "floor_peak_rss_mb": round(floor.peak_rss_mb, 1) if isinstance(floor, _measure.Stats) else None,
        "counts": counts or {},
        "goals": goals or [],
        "measured": {name: s.as_dict() for name, s in (measured or {}).items()},
        "notes": notes or [],
    }
    return out


def goal(text: str, value: float, limit: float, higher_is_better: bool = False) -> dict:
    """One goal of a case: value against limit (e.g. ratio 1.2 against ≤ 1.5)."""
    met = value >= limit if higher_is_better else value <= limit
    return {"goal": text, "value": round(value, 3), "limit": limit, "met": bool(met)}


def machine() -> dict:
    """The machine the bench ran on (bench/README.md shows it with the table)."""
    import platform  # pylint: disable=import-outside-toplevel
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    try:
        from ansible.release import __version__ as ansible_version  # pylint: disable=import-outside-toplevel
    except ImportError:
        ansible_version = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(), "ansible_core": ansible_version}
