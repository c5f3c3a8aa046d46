"""The whole etcd restore on the lab's 3-member cluster: backup, markers written after it, restore, and the cluster back
healthy with exactly the snapshot's data. Then a restore that fails half-way rolls every member back.

Both restores rewind etcd to a snapshot taken moments before and leave the lab as `make lab-up` made it (markers
removed, data kept aside deleted); they restart the whole control plane, so they run with the lab-changing tests.
"""
from __future__ import annotations

import base64
import json
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from test_etcd_member import ETCDCTL, LIVE, healthy, members

pytestmark = pytest.mark.mutates_lab

MEMBERS = ("master1", "node1", "node2")
MARK = "/kubeops-itest/restore"
# Keys that come and go on their own (events expire, leases are renewed by deleting and creating): not compared.
VOLATILE = ("/registry/events/", "/registry/leases/", "/registry/masterleases/")


def etcd(lab, command: str, check: bool = True):
    return lab.ssh("master1", f"{ETCDCTL} --endpoints={','.join(LIVE)} {command}", check=check)


def keys(lab) -> set[str]:
    out = etcd(lab, "get / --prefix --keys-only").stdout.split()
    return {k for k in out if not k.startswith(VOLATILE)}


def confirm(lab) -> dict:
    return {"etcd_restore_confirm": "yes-restore-lab"}


# A fourth endpoint the inventory still lists, of a member that is dead and left out of the restore (nothing serves
# there): the restore's health check must not wait for it (1.1.0 did, and rolled the good restore back).
DEAD_ENDPOINT = "https://198.18.0.41:2379"


def lease_renewed(lab, node: str) -> str:
    return lab.kubectl("-n", "kube-node-lease", "get", "lease", node, "-o", "jsonpath={.spec.renewTime}").stdout


def leftovers(lab) -> dict:
    found = {h: lab.ssh(h, "ls -d /var/lib/.kubeops-etcd-restore-* 2>/dev/null || true").stdout.split() for h in MEMBERS}
    return {h: v for h, v in found.items() if v}


@pytest.fixture
def marked(lab, tmp_path):
    """A marker key and a ConfigMap before the backup, another pair after it; everything removed at the end."""
    token = uuid.uuid4().hex[:8]
    etcd(lab, f"put {MARK}/before {token}")
    lab.kubectl("-n", "default", "create", "configmap", f"restore-before-{token}", "--from-literal=k=v")
    audit = tmp_path / "audit.log"
    backup = lab.playbook("playbooks/etcd_backup.yml", extra_vars={"kubeops_audit_log": str(audit)})
    assert backup.returncode == 0, backup.stdout + backup.stderr
    at_backup = keys(lab)
    etcd(lab, f"put {MARK}/after {token}")
    lab.kubectl("-n", "default", "create", "configmap", f"restore-after-{token}", "--from-literal=k=v")
    try:
        yield token, at_backup, audit
    finally:
        etcd(lab, f"del {MARK} --prefix", check=False)
        for when in ("before", "after"):
            lab.kubectl("-n", "default", "delete", "configmap", f"restore-{when}-{token}", "--ignore-not-found", check=False)
        for host in MEMBERS:
            lab.ssh(host, "rm -rf /var/lib/etcd.before-restore-* /var/lib/etcd.failed-restore-* /var/lib/.kubeops-etcd-restore-* "
                          "/var/lib/etcd.restore-* /var/lib/etcd/.before-restore-* /var/lib/etcd/.failed-restore-* "
                          "/var/lib/etcd/.restore-*", check=False)
        lab.wait(lambda: healthy(lab, LIVE) and lab.kubectl("get", "--raw", "/readyz", check=False).stdout == "ok",
                 "etcd and the apiserver healthy", 180)
        lab.wait(lambda: all('"True"' in lab.kubectl("get", "node", n, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")]}",
                                                     check=False).stdout.replace(" ", "") for n in ("node1", "node2")),
                 "nodes Ready again", 180)


@pytest.fixture
def hard_members(lab):
    """The conditions the review found the 1.1.0 restore to fail under: node1's data directory is a mount point (bound
    onto itself: it cannot be renamed), node2's etcd runs as the user etcd (it cannot open a root-owned 0700 data
    directory). Undone at the end."""
    lab.ssh("node1", "mount --bind /var/lib/etcd /var/lib/etcd && mountpoint -q /var/lib/etcd")
    lab.ssh("node2", "stat -c '%a %U %G %n' /etc/etcd/ssl /etc/etcd/ssl/*.pem /var/lib/etcd > /root/itest-etcd-modes && "
                     "(id etcd >/dev/null 2>&1 || { useradd --system --no-create-home --shell /usr/sbin/nologin etcd && "
                     "touch /root/itest-etcd-user; }) && "
                     "mkdir -p /etc/systemd/system/etcd.service.d && "
                     "printf '[Service]\nUser=etcd\nGroup=etcd\n' > /etc/systemd/system/etcd.service.d/itest-user.conf && "
                     "chown -R etcd:etcd /var/lib/etcd && chgrp etcd /etc/etcd/ssl/*.pem && chmod g+r /etc/etcd/ssl/*.pem && "
                     "systemctl daemon-reload && systemctl restart etcd")
    lab.wait(lambda: healthy(lab, LIVE), "etcd healthy with node2's etcd as user etcd", 120)
    try:
        yield
    finally:
        lab.ssh("node1", "umount -l /var/lib/etcd", check=False)     # etcd keeps its files open: detach, same directory
        lab.ssh("node2", "rm -f /etc/systemd/system/etcd.service.d/itest-user.conf && systemctl daemon-reload && "
                         "chown -R root:root /var/lib/etcd && "
                         "while read -r mode user group path; do chown \"$user:$group\" \"$path\"; chmod \"$mode\" \"$path\"; "
                         "done < /root/itest-etcd-modes && rm -f /root/itest-etcd-modes && systemctl restart etcd; "
                         "[ -e /root/itest-etcd-user ] && userdel etcd && rm -f /root/itest-etcd-user", check=False)
        lab.wait(lambda: healthy(lab, LIVE), "etcd healthy with node2's etcd as root again", 120)


def test_backup_then_restore_brings_back_exactly_the_snapshot(lab, marked, hard_members):
    """The full restore, under the conditions 1.1.0 failed in: a dead member's endpoint still in kubeops_etcd_endpoints,
    a data directory that is a mount point, a non-root etcd. Afterwards the kubelets' leases renew."""
    token, at_backup, audit = marked
    controller_tmp = Path(tempfile.gettempdir())          # where the controller's private copy is made (TMPDIR)
    before_tmp = set(controller_tmp.glob("kubeops-etcd-restore-*"))
    proc = lab.playbook("playbooks/etcd_restore.yml", extra_vars={**confirm(lab), "kubeops_audit_log": str(audit),
                                                                  "kubeops_etcd_endpoints": LIVE + [DEAD_ENDPOINT]})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    assert "etcd restored from /var/backups/etcd/etcd-snapshot-" in proc.stdout
    # three healthy voting members, the apiserver serves
    now = members(lab)
    assert sorted(m["name"] for m in now) == list(MEMBERS) and all(m["status"] == "started" for m in now), now
    assert healthy(lab, LIVE)
    lab.wait(lambda: lab.kubectl("get", "--raw", "/readyz", check=False).stdout == "ok", "apiserver ready", 120)
    # the snapshot's data: what was there at backup time is there, what came later is not
    assert etcd(lab, f"get {MARK}/before --print-value-only").stdout.strip() == token
    assert etcd(lab, f"get {MARK}/after --print-value-only").stdout.strip() == ""
    assert lab.kubectl("-n", "default", "get", "configmap", f"restore-before-{token}", check=False).returncode == 0
    assert lab.kubectl("-n", "default", "get", "configmap", f"restore-after-{token}", check=False).returncode != 0
    missing = at_backup - keys(lab)
    assert not missing, sorted(missing)[:20]
    # no copy of the database is left anywhere, the old data is kept aside, every step is audited
    assert not leftovers(lab)
    assert set(controller_tmp.glob("kubeops-etcd-restore-*")) == before_tmp
    assert "Fetch the snapshot into it" in proc.stdout and "Delete the controller's copy of the snapshot" in proc.stdout
    for host in ("master1", "node2"):
        assert lab.ssh(host, "ls -d /var/lib/etcd.before-restore-*").stdout.strip()
    # node1's data directory is a mount point: the previous data is kept inside it, the mount is still there
    assert lab.ssh("node1", "mountpoint -q /var/lib/etcd && ls -d /var/lib/etcd/.before-restore-*/member").stdout.strip()
    # node2's etcd runs as etcd: the restored data is etcd's, and it serves
    assert lab.ssh("node2", "stat -c %U:%G /var/lib/etcd /var/lib/etcd/member").stdout.split() == ["etcd:etcd", "etcd:etcd"]
    assert lab.ssh("node2", "ps -o user= -C etcd").stdout.split() == ["etcd"]
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    actions = [x["action"] for x in lines]
    assert "etcd_restore stop" in actions and "etcd_restore restored" in actions, actions
    stop = next(x for x in lines if x["action"] == "etcd_restore stop")
    assert stop["after"]["apiservers_stopped"] == ["master1"] and sorted(stop["after"]["etcd_stopped"]) == list(MEMBERS)
    # what caches cluster state was restarted, one host at a time, and the node leases renew again (after a 1.1.0
    # restore the kubelets failed every lease update for 6.5 minutes: "the object has been modified")
    assert [x["target"] for x in lines if x["action"] == "etcd_restore restart control plane"] == ["master1"]
    assert [x["target"] for x in lines if x["action"] == "etcd_restore restart kubelet"] == ["node1", "node2"]
    assert "the kubelets of node1, node2 restarted and their leases renewed" in proc.stdout
    renewed = {n: lease_renewed(lab, n) for n in ("node1", "node2")}
    lab.wait(lambda: all(lease_renewed(lab, n) > renewed[n] for n in renewed), "node leases renewed again", 60)


def test_restore_refused_before_any_change_when_a_member_host_is_down(lab, tmp_path):
    """node2 does not answer (here: the inventory points Ansible at a closed port): refused in one line, nothing stops."""
    inventory = yaml.safe_load(lab.inventory.read_text())
    inventory["all"]["hosts"]["node2"]["ansible_port"] = 1
    broken = tmp_path / "hosts.yml"
    broken.write_text(yaml.safe_dump(inventory))
    cmd = [str(lab.root / ".venv/bin/ansible-playbook"), "-i", str(broken), str(lab.root / "playbooks/etcd_restore.yml"),
           "-e", json.dumps(confirm(lab))]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=lab.env(), cwd=lab.root, timeout=600, check=False)
    assert proc.returncode != 0
    assert "etcd restore refused before any change: unreachable: node2" in proc.stdout, proc.stdout[-3000:]
    assert "Stop kube-apiserver" not in proc.stdout
    assert lab.ssh("master1", "systemctl is-active kube-apiserver etcd").stdout.split() == ["active", "active"]


def test_restore_refused_when_the_data_directory_is_a_full_file_system_of_its_own(lab, tmp_path):
    """The data directory (here a decoy path: the real ones stay untouched) is a 1 MiB file system of its own: refused
    before any change, naming it. 1.1.0 measured its parent (/var/lib, plenty free) and went on."""
    lab.ssh("node1", "mkdir -p /var/lib/etcd-itest && mount -t tmpfs -o size=1m tmpfs /var/lib/etcd-itest")
    try:
        proc = lab.playbook("playbooks/etcd_restore.yml", extra_vars={**confirm(lab), "etcd_restore_data_dir": "/var/lib/etcd-itest"})
    finally:
        lab.ssh("node1", "umount /var/lib/etcd-itest; rmdir /var/lib/etcd-itest", check=False)
    assert proc.returncode != 0
    assert ("etcd restore refused before any change: node1 has" in proc.stdout
            and "MiB in /var/lib/etcd-itest (a file system of its own), the restore needs" in proc.stdout), proc.stdout[-3000:]
    assert "Stop kube-apiserver" not in proc.stdout
    assert lab.ssh("master1", "systemctl is-active kube-apiserver etcd").stdout.split() == ["active", "active"]


def test_restore_that_fails_half_way_rolls_every_member_back(lab, marked, tmp_path):
    """`snapshot restore` fails on node2 (an etcdctl wrapper refuses it there): the data of every member was already
    moved aside, so the rescue puts it back - the cluster serves the data it had before, including the later marker -
    and the last line and the audit log say so."""
    token, _at_backup, _audit = marked
    audit = tmp_path / "audit.log"
    wrapper = ("#!/bin/sh\ncase \"$*\" in *'snapshot restore'*) [ \"$(hostname)\" = node2 ] && "
               "{ echo 'injected failure' >&2; exit 3; };; esac\nexec etcdctl \"$@\"\n")
    for host in MEMBERS:
        encoded = base64.b64encode(wrapper.encode()).decode()   # no shell quoting of the script's own quotes and $*
        lab.ssh(host, f"echo {encoded} | base64 -d > /usr/local/sbin/etcdctl-itest && chmod 0755 /usr/local/sbin/etcdctl-itest")
    try:
        proc = lab.playbook("playbooks/etcd_restore.yml",
                            extra_vars={**confirm(lab), "kubeops_audit_log": str(audit),
                                        "etcd_restore_etcdctl": "/usr/local/sbin/etcdctl-itest"})
    finally:
        for host in MEMBERS:
            lab.ssh(host, "rm -f /usr/local/sbin/etcdctl-itest", check=False)
    assert proc.returncode != 0
    last = [ln for ln in proc.stdout.splitlines() if "etcd restore FAILED" in ln]
    assert last, proc.stdout[-4000:]
    assert "'Restore the snapshot into a fresh data directory'" in last[-1] and "| rolled back |" in last[-1], last[-1]
    assert "left stopped: nothing" in last[-1], last[-1]
    lab.wait(lambda: healthy(lab, LIVE) and lab.kubectl("get", "--raw", "/readyz", check=False).stdout == "ok",
             "the previous cluster serving again", 120)
    assert etcd(lab, f"get {MARK}/after --print-value-only").stdout.strip() == token     # the data of before the restore
    assert not leftovers(lab)
    failed = [json.loads(x) for x in audit.read_text().splitlines() if "etcd_restore failed" in x]
    assert failed and failed[-1]["after"]["rolled_back"] is True and failed[-1]["after"]["stopped"] == []
    assert "nothing is left stopped" in failed[-1]["recover"]
