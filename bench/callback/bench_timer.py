# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task timing for the benchmark (bench/p2_fanout.py), written as JSON to $BENCH_TIMER_OUT."""
from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Per-task and per-play wall time, per-host task counts and host_inspection_info's checks, as JSON
description:
  - Records when each task first starts and when each host's result arrives (one entry per task, also under the free
    strategy, which starts a task once per host), when each play starts, and the time host_inspection_info reports for
    each of its checks; writes a JSON file named by the environment variable BENCH_TIMER_OUT at the end of the
    playbook.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=bench_timer and ANSIBLE_CALLBACK_PLUGINS=<repo>/bench/callback
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.start = time.monotonic()
        self.tasks = {}          # uuid -> {name, action, path, started, last, hosts: {host: status}}
        self.plays = []          # [{name, started}]
        self.checks = {}         # check name -> {runs, total_s, max_s}

    def _now(self):
        return time.monotonic() - self.start

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name(), "started": self._now()})

    def _task(self, task):
        if task._uuid not in self.tasks:  # pylint: disable=protected-access
            self.tasks[task._uuid] = {"name": task.get_name(), "action": task.action,  # pylint: disable=protected-access
                                      "path": task.get_path() or "", "started": self._now(), "last": None,
                                      "hosts": {}}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def _result(self, result, status):
        task = self.tasks.get(result._task._uuid)  # pylint: disable=protected-access
        if task is None:
            return
        task["hosts"][result._host.get_name()] = status  # pylint: disable=protected-access
        task["last"] = self._now()
        task.setdefault("at", {})[result._host.get_name()] = round(task["last"] - task["started"], 3)  # pylint: disable=protected-access
        checks = result._result.get("checks") if status == "ok" else None  # pylint: disable=protected-access
        for item in checks if isinstance(checks, list) else []:
            if isinstance(item, dict) and isinstance(item.get("elapsed_s"), (int, float)):
                entry = self.checks.setdefault(str(item.get("check")), {"runs": 0, "total_s": 0.0, "max_s": 0.0})
                entry["runs"] += 1
                entry["total_s"] += item["elapsed_s"]
                entry["max_s"] = max(entry["max_s"], item["elapsed_s"])

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        out = os.environ.get("BENCH_TIMER_OUT")
        if not out:
            return
        end = self._now()
        ordered = sorted(self.tasks.values(), key=lambda t: t["started"])
        tasks = []
        for i, task in enumerate(ordered):
            last = task["last"] if task["last"] is not None else task["started"]
            nxt = ordered[i + 1]["started"] if i + 1 < len(ordered) else end
            tasks.append({"name": task["name"], "action": task["action"], "path": task["path"],
                          # until the next task started or this one's last result (linear: the task's share of the
                          # run), and from its first start to its last result (free: how long its hosts took)
                          "wall_s": round(max(last, nxt) - task["started"], 4),
                          "span_s": round(last - task["started"], 4), "hosts": task["hosts"],
                          # when each host's result came, from the task's first start
                          "at": task.get("at", {})})
        plays = [{"name": p["name"], "wall_s": round((self.plays[i + 1]["started"] if i + 1 < len(self.plays) else end)
                                                     - p["started"], 3)} for i, p in enumerate(self.plays)]
        checks = {name: {"runs": c["runs"], "total_s": round(c["total_s"], 3), "max_s": round(c["max_s"], 3)}
                  for name, c in sorted(self.checks.items(), key=lambda kv: -kv[1]["total_s"])}
        with open(out, "w", encoding="utf-8") as fh:
            json.dump({"total_s": round(end, 3), "tasks": tasks, "plays": plays, "checks": checks}, fh, indent=1)
