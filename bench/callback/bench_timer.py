# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task timing for the benchmark (bench/p2_fanout.py), written as JSON to $BENCH_TIMER_OUT."""
from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Per-task wall time and per-host task counts, as JSON, for the benchmark
description:
  - Records when each task starts and when each host's result arrives; writes a JSON file named by the
    environment variable BENCH_TIMER_OUT at the end of the playbook.
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
        self.tasks = []          # [{name, action, started, last, hosts: {host: status}}]
        self.current = None

    def _task(self, task):
        self.current = {"name": task.get_name(), "action": task.action, "path": task.get_path() or "",
                        "started": time.monotonic() - self.start, "last": None, "hosts": {}}
        self.tasks.append(self.current)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def _result(self, result, status):
        if self.current is None:
            return
        host = result._host.get_name()  # pylint: disable=protected-access
        self.current["hosts"][host] = status
        self.current["last"] = time.monotonic() - self.start

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
        tasks = []
        for i, task in enumerate(self.tasks):
            end = task["last"] if task["last"] is not None else task["started"]
            nxt = self.tasks[i + 1]["started"] if i + 1 < len(self.tasks) else time.monotonic() - self.start
            tasks.append({"name": task["name"], "action": task["action"], "path": task["path"],
                          "wall_s": round(max(end, nxt) - task["started"], 4), "hosts": task["hosts"]})
        with open(out, "w", encoding="utf-8") as fh:
            json.dump({"total_s": round(time.monotonic() - self.start, 3), "tasks": tasks}, fh, indent=1)
