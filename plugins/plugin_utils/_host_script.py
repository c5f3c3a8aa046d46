# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a stdlib-only helper that a role ships (``roles/<role>/files/<x>.py``) on the target. PRIVATE to the collection.

Some work runs on hosts both from a systemd timer and from a task: the helper is the one implementation, the role
installs it for the timer, and the task's action plugin copies it into the task's temporary directory and runs it
with ``--args-file`` (the options as a JSON object). The helper prints one JSON object on its last line of stdout.
"""
from __future__ import annotations

import json
import os
import shlex
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_PYTHON = "/usr/bin/python3"


def role_file(role: str, name: str) -> str:
    path = os.path.join(COLLECTION_ROOT, "roles", role, "files", name)
    if not os.path.isfile(path):
        raise AnsibleActionFail(f"the helper {path} is missing from the collection")
    return path


def interpreter(action: ActionBase, task_vars: dict) -> str:
    """The host's Python: ansible_python_interpreter, the discovered one, else /usr/bin/python3.

    For a delegated task these are the delegated host's variables (``ansible_delegated_vars``), not those of the host
    the play runs on: a task of a play on localhost delegated to an etcd member must not run the controller's Python.
    """
    delegate = getattr(action._task, "delegate_to", None)
    if delegate:
        task_vars = (task_vars.get("ansible_delegated_vars") or {}).get(delegate) or {}
    value = task_vars.get("ansible_python_interpreter")
    if value:
        value = str(action._templar.template(value))
        if value and not value.startswith("auto"):
            return value
    discovered = (task_vars.get("ansible_facts") or {}).get("discovered_interpreter_python")
    return str(discovered or DEFAULT_PYTHON)


def run_host_script(action: ActionBase, script: str, options: dict, task_vars: dict) -> dict:
    """Copy ``script`` to the host, run it with ``options`` and return its JSON result (``failed`` on rc != 0).

    Uses the task's remote temporary directory (``TRANSFERS_FILES = True`` in the action) and removes it.
    """
    shell = action._connection._shell
    tmpdir = shell.tmpdir or action._make_tmp_path()
    try:
        remote_script = shell.join_path(tmpdir, os.path.basename(script))
        remote_args = shell.join_path(tmpdir, "args.json")
        action._transfer_file(script, remote_script)
        action._transfer_data(remote_args, json.dumps(options))
        action._fixup_perms2((tmpdir, remote_script, remote_args))
        python = interpreter(action, task_vars)
        cmd = shell.wrap_for_exec(" ".join(shlex.quote(p) for p in (python, remote_script, "--args-file", remote_args)))
        res = action._low_level_execute_command(cmd, sudoable=True)
    finally:
        action._remove_tmp_path(tmpdir)
    return parse_output(res.get("rc"), res.get("stdout", ""), res.get("stderr", ""), script)


def parse_output(rc: t.Any, stdout: str, stderr: str, script: str) -> dict:
    """The helper's result: its last JSON line, ``failed`` when it exited non-zero or printed no JSON."""
    lines = [line for line in (stdout or "").splitlines() if line.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            result = None
    if not isinstance(result, dict):
        err = [line for line in (stderr or "").splitlines() if line.strip()]
        why = (err[-1] if err else (lines[-1] if lines else "no output"))[:300]
        return {"failed": True, "changed": False, "rc": rc,
                "msg": f"{os.path.basename(script)} failed on the host (rc={rc}): {why}"}
    if rc != 0:
        result["failed"] = True
        result.setdefault("msg", f"{os.path.basename(script)} exited {rc}")
    return result
