"""The host Python the role helpers run with: the delegated host's, never the play host's."""
from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.kubeops.runbook.plugins.plugin_utils import _host_script as H


def action(delegate_to=None):
    return SimpleNamespace(_task=SimpleNamespace(delegate_to=delegate_to), _templar=SimpleNamespace(template=str))


def test_interpreter_of_the_host_itself():
    assert H.interpreter(action(), {"ansible_python_interpreter": "/opt/py/bin/python3"}) == "/opt/py/bin/python3"
    assert H.interpreter(action(), {"ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3.11"}}) == "/usr/bin/python3.11"
    assert H.interpreter(action(), {"ansible_python_interpreter": "auto_silent"}) == "/usr/bin/python3"


def test_delegated_task_uses_the_delegated_hosts_python_not_the_controllers():
    """The restore's play runs on localhost (whose interpreter is the controller's venv) and delegates to master1:
    the helper was started with the controller's venv Python on master1 (rc 127)."""
    task_vars = {"ansible_python_interpreter": "/work/main/.venv/bin/python3",
                 "ansible_delegated_vars": {"master1": {"ansible_host": "198.18.0.11"}}}
    assert H.interpreter(action("master1"), task_vars) == "/usr/bin/python3"
    task_vars["ansible_delegated_vars"]["master1"]["ansible_python_interpreter"] = "/usr/libexec/platform-python"
    assert H.interpreter(action("master1"), task_vars) == "/usr/libexec/platform-python"
