"""Rate limit of unit restarts read from the audit log (plugins/plugin_utils/_restart_limit.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import audit_line, record
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _restart_limit as L

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc)


def line(minutes_ago: int, host="node1", unit="kubelet.service", check=False, module=L.MODULE, action=L.ACTION) -> str:
    entry = record(action, unit, {"ActiveState": "failed"}, {"ActiveState": "active"})
    return audit_line(entry, module=module, host=host, user="ops", playbook="incident", check_mode=check,
                      now=NOW - dt.timedelta(minutes=minutes_ago))


def write(tmp_path, lines):
    path = tmp_path / "audit.log"
    path.write_text("".join(x + "\n" for x in lines) + "not json\n")
    return str(path)


def test_counts_only_real_restarts_of_that_unit_on_that_host_in_the_window(tmp_path):
    path = write(tmp_path, [
        line(90), line(50), line(10, unit="kubelet"),          # 90 min ago is outside the hour
        line(5, check=True),                                    # check mode does not count
        line(5, host="node2"), line(5, unit="kube-proxy.service"),
        line(5, module="kubeops.runbook.k8s_scale", action="scale"),
    ])
    recent = L.check_limit(path, "node1", "kubelet", 3, 3600, now=NOW)
    assert len(recent) == 2


def test_refuses_at_the_limit_in_one_line(tmp_path):
    path = write(tmp_path, [line(40), line(20), line(1)])
    with pytest.raises(L.RestartLimitReached) as info:
        L.check_limit(path, "node1", "kubelet", 3, 3600, now=NOW)
    msg = str(info.value)
    assert msg.startswith("refusing to restart kubelet.service on node1: restarted 3 times in the last 60 min")
    assert "\n" not in msg
    assert len(L.check_limit(path, "node1", "kubelet", 4, 3600, now=NOW)) == 3


def test_missing_log_means_no_restart_yet(tmp_path):
    assert L.check_limit(str(tmp_path / "none.log"), "node1", "kubelet", 1, 3600, now=NOW) == []


def test_tail_drops_a_cut_first_line(tmp_path):
    path = tmp_path / "audit.log"
    path.write_text("x" * 100 + "\n" + line(1) + "\n")
    text = L.read_tail(str(path), limit=len(line(1)) + 10)
    assert text.strip() == line(1)


@pytest.mark.parametrize("kw,match", [
    ({"max_restarts": 0}, "max_restarts must be at least 1, got 0"),
    ({"window_seconds": 0}, "window_seconds must be at least 1, got 0"),
    ({"unit": "kube let"}, "is not a systemd unit name"),
])
def test_bad_input(tmp_path, kw, match):
    args = {"path": str(tmp_path / "a.log"), "host": "node1", "unit": "kubelet", "max_restarts": 3, "window_seconds": 3600}
    args.update(kw)
    (tmp_path / "a.log").write_text(line(1) + "\n")
    with pytest.raises(L.RestartLimitError, match=match):
        L.check_limit(**args, now=NOW)
