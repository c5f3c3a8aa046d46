"""lab/api.py's wait_for: a wait that times out says why the last attempt failed, not only what it waited for."""
from __future__ import annotations

import pytest

from lab import api


def test_timeout_names_the_last_reason_given(monkeypatch):
    monkeypatch.setattr(api, "log", lambda message: None)
    answers = iter([(False, "Error from server: first"), (False, 'error: nodeInfo.machineID: Required value\n')])
    with pytest.raises(api.LabError, match=r"waiting for the apply; last: error: nodeInfo.machineID: Required value$"):
        api.wait_for("the apply", lambda: next(answers, (False, "error: nodeInfo.machineID: Required value")),
                     timeout=0.05, interval=0.01)


def test_timeout_names_the_last_error_raised_and_a_bool_predicate_still_works(monkeypatch):
    monkeypatch.setattr(api, "log", lambda message: None)

    def refuse():
        raise api.LabError("ssh to 198.18.0.21: Connection refused")

    with pytest.raises(api.LabError, match=r"waiting for SSH; last: ssh to 198.18.0.21: Connection refused$"):
        api.wait_for("SSH", refuse, timeout=0.05, interval=0.01)
    with pytest.raises(api.LabError, match=r"waiting for nothing$"):
        api.wait_for("nothing", lambda: False, timeout=0.05, interval=0.01)
    calls = iter([False, True])
    api.wait_for("the second try", lambda: next(calls), timeout=5, interval=0.01)
