"""P5 etcd snapshot + verify: kubeops.runbook.etcd_snapshot on master1 (ad-hoc ansible from the controller, as
the etcd_backup role runs it) against plain `etcdctl snapshot save` on the same member over SSH (the floor), with
the scale objects in etcd. Peers: `etcdctl snapshot save` + `snapshot status` (save and verify by hand), and the
same save through `ansible -m ansible.builtin.command` (Ansible's share of the cost).

Options (--set): host=master1 (an etcd host of the lab inventory).
"""
from __future__ import annotations

import json
import shlex
import subprocess

from bench import _case
from bench._measure import Command

CASE = "P5"
TITLE = "etcd snapshot + verify (etcd_snapshot)"
NEEDS = ("lab", "scale")
SSL = "/etc/etcd/ssl"
DEST = "/var/tmp/kubeops-bench-etcd"


def run(ctx: _case.Context) -> dict:
    lab = ctx.lab
    host = ctx.options.get("host", "master1")
    ip = lab.hosts[host]
    endpoint = f"https://{ip}:2379"
    tls = f"--cacert={SSL}/ca.pem --cert={SSL}/etcd-client.pem --key={SSL}/etcd-client-key.pem"
    etcdctl = f"ETCDCTL_API=3 etcdctl --endpoints={endpoint} {tls}"
    # The same connection reuse Ansible gets from ansible.cfg (ControlMaster, ControlPersist 60 s).
    ssh = ["ssh", "-i", str(lab.key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
           "-o", f"ControlPath={ctx.work}/cm-%C", f"root@{ip}"]

    def remote(cmd: str) -> str:
        return subprocess.run(ssh + [cmd], capture_output=True, text=True, check=True, timeout=600).stdout

    module_args = {"endpoints": [endpoint], "cacert": f"{SSL}/ca.pem", "cert": f"{SSL}/etcd-client.pem",
                   "key": f"{SSL}/etcd-client-key.pem", "dest": f"{DEST}/module", "keep_count": 2, "keep_days": 0}
    env = ctx.env
    adhoc = [ctx.bin("ansible"), host, "-i", str(lab.inventory), "-e", f"kubeops_audit_log={ctx.work / 'audit.log'}"]

    def clean() -> None:
        remote(f"rm -rf {DEST}/plain {DEST}/verify {DEST}/command; mkdir -p {DEST}/plain {DEST}/verify {DEST}/command")

    remote(f"rm -rf {DEST} && mkdir -p {DEST}")
    clean()
    commands = [
        Command("module", adhoc + ["-m", "kubeops.runbook.etcd_snapshot", "-a", json.dumps(module_args)], env=env),
        Command("etcdctl_save", ssh + [f"{etcdctl} snapshot save {DEST}/plain/s.db >/dev/null"], reset=clean),
        Command("etcdctl_save_status", ssh + [f"{etcdctl} snapshot save {DEST}/verify/s.db >/dev/null && "
                                              f"ETCDCTL_API=3 etcdctl snapshot status -w json {DEST}/verify/s.db >/dev/null"],
                reset=clean),
        Command("ansible_command", adhoc + ["-m", "ansible.builtin.command", "-a",
                                            f"etcdctl --endpoints={endpoint} {tls} snapshot save {DEST}/command/s.db"],
                env=dict(env, ETCDCTL_API="3"), reset=clean),
    ]
    try:
        db = json.loads(remote(f"{etcdctl} endpoint status -w json"))[0]["Status"]
        stats = ctx.measure(commands)
        sizes = remote(f"ls -l {DEST}/module/ | awk '/etcd-snapshot.*[.]db$/ {{print $5}}'").split()
        kept = len(sizes)
    finally:
        remote(f"rm -rf {shlex.quote(DEST)}")
    module, floor = stats["module"], stats["etcdctl_save"]
    return _case.result(
        module, floor,
        peers={"etcdctl save + status": stats["etcdctl_save_status"], "ansible -m command etcdctl": stats["ansible_command"]},
        counts={"etcd_db_mb": round(db["dbSize"] / 1e6, 1), "snapshot_mb": round(int(sizes[-1]) / 1e6, 1) if sizes else 0,
                "snapshots_kept": kept},
        goals=[_case.goal("≤ 1.3× etcdctl snapshot save", module.median_s / floor.median_s, 1.3),
               # What the module adds to running the same etcdctl through Ansible (Ansible's own cost taken out).
               _case.goal("≤ 1.3× the same etcdctl save through ansible -m command",
                          module.median_s / stats["ansible_command"].median_s, 1.3)],
        measured=stats,
        notes=[f"every command runs from the controller over SSH to {host}, all with a persistent SSH connection",
               "the module also verifies (snapshot status), fsyncs, renames and applies retention (keep_count 2)"])
