"""Waves and the maintenance window (plugins/module_utils/_maintenance.py) and their filters."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeops.runbook.plugins.filter import maintenance_waves as MW
from ansible_collections.kubeops.runbook.plugins.filter import maintenance_window as MWin
from ansible_collections.kubeops.runbook.plugins.module_utils import _maintenance as M

HOSTS = [f"k8snode{i:02d}" for i in range(1, 15)]


@pytest.mark.parametrize("serial, sizes", [
    (1, [1] * 14), ("3", [3, 3, 3, 3, 2]), ("25%", [3, 3, 3, 3, 2]), ("50%", [7, 7]), ("100%", [14]),
    ("5%", [1] * 14), (20, [14]), (2.0, [2] * 7),
])
def test_waves(serial, sizes):
    waves = MW.FilterModule().filters()["maintenance_waves"](HOSTS, serial)
    assert [len(w) for w in waves] == sizes
    assert [h for w in waves for h in w] == HOSTS


def test_waves_keep_the_order_and_drop_duplicates():
    assert M.waves(["node2", "node1", "node2"], 1) == [["node2"], ["node1"]]
    assert M.waves([], "25%") == []


@pytest.mark.parametrize("bad", [0, -1, "0%", "150%", "abc", "", None, True, 1.5, "2 nodes"])
def test_bad_serial_is_named(bad):
    with pytest.raises(AnsibleFilterError, match=r"maintenance_waves: maintenance_serial .* must be a number of nodes"):
        MW.maintenance_waves(HOSTS, bad)


@pytest.mark.parametrize("window, now, inside, left, opens", [
    ("22:00-06:00", "23:30", True, 390, 0),
    ("22:00-06:00", "05:59", True, 1, 0),
    ("22:00-06:00", "06:00", False, 0, 960),
    ("22:00-06:00", "14:00", False, 0, 480),
    ("01:00-04:30", "01:00", True, 210, 0),
    ("01:00-04:30", "00:59", False, 0, 1),
    ("9:05-17:00", "12:00", True, 300, 0),
])
def test_window(window, now, inside, left, opens):
    state = MWin.FilterModule().filters()["maintenance_window"](window, now)
    assert (state["inside"], state["minutes_left"], state["opens_in"]) == (inside, left, opens)


@pytest.mark.parametrize("bad", ["22:00", "22-06", "25:00-06:00", "22:00-06:60", "22:00-22:00", "", None, "a-b"])
def test_bad_window_is_named(bad):
    with pytest.raises(AnsibleFilterError, match=r"maintenance_window: maintenance_window .*"):
        MWin.maintenance_window(bad, "12:00")


def test_bad_now():
    with pytest.raises(AnsibleFilterError, match="the time '12h' to compare"):
        MWin.maintenance_window("22:00-06:00", "12h")
