"""Rate limit of unit restarts read from the audit log (plugins/plugin_utils/_restart_limit.py)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import audit_line, parse_lines, record
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
    ({"max_restarts": 0}, "max_restarts must be 1 to 1000, got 0"),
    ({"window_seconds": 0}, r"window_seconds must be 1 to 604800 \(7 days\), got 0"),
    # 1.1.0: OverflowError from timedelta, a traceback instead of a line
    ({"window_seconds": 10 ** 12}, r"window_seconds must be 1 to 604800 \(7 days\), got 1000000000000$"),
    ({"window_seconds": -(10 ** 18)}, "window_seconds must be 1 to 604800"),
    ({"unit": "kube let"}, "is not a systemd unit name"),
])
def test_bad_input(tmp_path, kw, match):
    args = {"path": str(tmp_path / "a.log"), "host": "node1", "unit": "kubelet", "max_restarts": 3, "window_seconds": 3600}
    args.update(kw)
    (tmp_path / "a.log").write_text(line(1) + "\n")
    with pytest.raises(L.RestartLimitError, match=match):
        L.check_limit(**args, now=NOW)


def restart(minutes_ago: int, host: str, unit="kube-apiserver.service", check=False, outcome="restarted") -> str:
    entry = record(L.ACTION, unit, {"ActiveState": "active"}, {"ActiveState": "active"}, outcome=outcome)
    return audit_line(entry, module=L.MODULE, host=host, user="ops", playbook="p", check_mode=check,
                      now=NOW - dt.timedelta(minutes=minutes_ago))


def health(minutes_ago: int, host: str, healthy: bool, unit="kube-apiserver.service") -> str:
    entry = record(L.HEALTH_ACTION, unit, None, {"healthy": healthy, "probe": "ok" if healthy else "HTTP 500"})
    return audit_line(entry, module=L.MODULE, host=host, user="ops", playbook="p", check_mode=False,
                      now=NOW - dt.timedelta(minutes=minutes_ago))


def records(*lines: str) -> list[dict]:
    return parse_lines("\n".join(lines))


@pytest.mark.parametrize("lines, host, expected", [
    ([], "master2", None),
    ([restart(5, "master1"), health(4, "master1", True)], "master2", None),                  # healthy again
    ([restart(5, "master1"), health(4, "master1", False)], "master2", "master1"),            # did not come back
    ([restart(5, "master1")], "master2", "master1"),                                         # no health line: killed
    ([restart(5, "master1", outcome="failed")], "master2", "master1"),                      # restart itself failed
    ([restart(5, "master1"), health(4, "master1", False), restart(3, "master1"), health(2, "master1", True)],
     "master2", None),                                                                       # the last one counts
    ([restart(5, "master1")], "master1", None),                                              # its own host
    ([restart(5, "master1", check=True)], "master2", None),                                  # check mode changes nothing
    ([restart(90, "master1")], "master2", None),                                             # outside the window
    ([restart(5, "master1", unit="etcd.service")], "master2", None),                         # another unit
    ([restart(5, "master1"), health(4, "master2", True)], "master3", "master1"),              # another host's health
])
def test_unconfirmed_restart_of_another_host(lines, host, expected):
    found = L.unconfirmed_restart(records(*lines), host, "kube-apiserver", NOW, 3600)
    assert (found or {}).get("host") == expected


@pytest.mark.parametrize("kind, address, module, key, value", [
    ("apiserver", "127.0.0.1", "ansible.builtin.uri", "url", "https://127.0.0.1:6443/readyz"),
    ("controller-manager", "127.0.0.1", "ansible.builtin.uri", "url", "https://127.0.0.1:10257/healthz"),
    ("scheduler", "198.18.0.11", "ansible.builtin.uri", "url", "https://198.18.0.11:10259/healthz"),
])
def test_http_health_probes(kind, address, module, key, value):
    settings = {"apiserver_ca": "/etc/kubernetes/ssl/ca.pem"}
    got_module, args = L.health_probe(kind, address, settings)
    assert got_module == module and args[key] == value
    assert args.get("ca_path") == ("/etc/kubernetes/ssl/ca.pem" if kind == "apiserver" else None)


def test_etcd_health_probe_is_the_members_endpoint_health():
    module, args = L.health_probe("etcd", "198.18.0.21", {"etcd_cacert": "/c", "etcd_cert": "/e", "etcd_key": "/k"})
    assert module == "ansible.builtin.command"
    assert args["argv"][2:] == ["etcdctl", "--endpoints=https://198.18.0.21:2379", "--cacert=/c", "--cert=/e", "--key=/k",
                                "--dial-timeout=3s", "--command-timeout=5s", "endpoint", "health"]


def test_serial_lock_lets_one_holder_in_at_a_time(tmp_path):
    path = str(tmp_path / "sub" / "audit.log.restart.lock")
    with L.serial_lock(path, 5):
        with pytest.raises(L.RestartLimitError, match="held .* for more than 0s"):
            with L.serial_lock(path, 0, sleep=lambda _s: None):
                pass
    with L.serial_lock(path, 0):
        pass


FIX = Path(__file__).parent / "fixtures" / "restart"


@pytest.mark.parametrize("kind, name, healthy, detail", [
    ("apiserver", "readyz_ok.json", True, "ok"),
    ("apiserver", "readyz_verbose.json", False, "HTTP 200: [+]ping ok"),          # only the bare 'ok' is ready
    ("apiserver", "readyz_refused.json", False, "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>"),
    ("controller-manager", "kcm_ok.json", True, "ok"),
    ("controller-manager", "kcm_by_address.json", False, "Status code was -1"),
    # etcdctl 3.4 prints its verdict on stderr
    ("etcd", "etcd_ok.json", True, "https://198.18.0.21:2379 is healthy: successfully committed proposal: took ="),
    ("etcd", "etcd_refused.json", False, "https://198.18.0.21:23799 is unhealthy: failed to commit proposal: context deadline exceeded"),
])
def test_probe_results_captured_on_the_lab(kind, name, healthy, detail):
    got, why = L.probe_result(kind, json.loads((FIX / name).read_text()))
    assert got is healthy and why.startswith(detail), why
