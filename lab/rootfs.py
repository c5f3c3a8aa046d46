"""Root filesystems of the nodes, cached by content: a Debian base layer (every node) and a full layer
(base + the services the nodes run). Nodes boot from overlay mounts on top of them."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from . import config
from .util import LabError, log, replace_dir, run, run_logged, write

NSPAWN = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit"]

RSYSLOG_MESSAGES = """# As on the handbook's hosts: everything of info and above goes to /var/log/messages too.
*.info;mail.none;authpriv.none;cron.none    /var/log/messages
"""


def _key(packages: list[str]) -> str:
    text = "\n".join([config.DEBIAN_SUITE, config.DEBIAN_MIRROR, *packages])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def base_dir() -> Path:
    return config.CACHE / f"rootfs-{config.DEBIAN_SUITE}-base-{_key(config.BASE_PACKAGES)}"


def full_dir() -> Path:
    return config.CACHE / f"rootfs-{config.DEBIAN_SUITE}-full-{_key(config.BASE_PACKAGES + config.FULL_PACKAGES)}"


def _in_root(root: Path, *cmd: str, logfile: Path | None = None, what: str = "") -> None:
    full = [*NSPAWN, "-D", str(root), "--", *cmd]
    if logfile:
        run_logged(full, logfile, what, env={"SYSTEMD_NSPAWN_TMPFS_TMP": "0"})
    else:
        run(full, quiet=True)


def ensure_base() -> Path:
    final = base_dir()
    if (final / ".complete").exists():
        return final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"building the base root filesystem with debootstrap ({config.DEBIAN_SUITE}, ~1-2 min, once)")
    run_logged(["debootstrap", "--variant=minbase", f"--include={','.join(config.BASE_PACKAGES)}",
                config.DEBIAN_SUITE, tmp, config.DEBIAN_MIRROR], config.CACHE / "logs" / "debootstrap.log",
               "debootstrap")
    # Things every node wants, before any per-node file is written on top.
    write(tmp / "etc/rsyslog.d/10-messages.conf", RSYSLOG_MESSAGES)
    (tmp / "var/log/journal").mkdir(parents=True, exist_ok=True)
    write(tmp / "etc/apt/apt.conf.d/99-lab-norecommends", 'APT::Install-Recommends "false";\n')
    write(tmp / "etc/ssh/sshd_config.d/lab.conf",
          "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\nMaxStartups 100:30:200\n"
          "MaxSessions 50\n")
    # Host keys are made per node at boot (sshd-keygen below), not shared from the image.
    for key in (tmp / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    write(tmp / "etc/systemd/system/ssh-hostkeys.service",
          "[Unit]\nDescription=Generate SSH host keys\nBefore=ssh.service\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n\n"
          "[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n[Install]\nWantedBy=multi-user.target\n")
    run(["systemctl", f"--root={tmp}", "enable", "ssh-hostkeys.service"], quiet=True)
    # Units that have nothing to do in a container.
    run(["systemctl", f"--root={tmp}", "mask", "systemd-networkd-wait-online.service", "getty@tty1.service",
         "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer"], quiet=True)
    (tmp / "etc/machine-id").write_text("")
    (tmp / ".complete").write_text("ok\n")
    replace_dir(tmp, final)
    return final


def ensure_full() -> Path:
    final = full_dir()
    if (final / ".complete").exists():
        return final
    base = ensure_base()
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log("building the full root filesystem (base + etcd, bird, containerd, nginx, redis, rabbitmq, mariadb; once)")
    run(["cp", "-a", base, tmp])
    (tmp / ".complete").unlink()
    # Packages must not start services while being installed.
    write(tmp / "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    _in_root(tmp, "/usr/bin/apt-get", "update", "-qq", logfile=config.CACHE / "logs" / "apt-update.log",
             what="apt-get update (full layer)")
    _in_root(tmp, "/usr/bin/env", "DEBIAN_FRONTEND=noninteractive", "/usr/bin/apt-get", "install", "-y", "-qq",
             "--no-install-recommends", *config.FULL_PACKAGES,
             logfile=config.CACHE / "logs" / "apt-install.log", what="apt-get install (full layer, ~3 min)")
    _in_root(tmp, "/usr/bin/apt-get", "clean")
    (tmp / "usr/sbin/policy-rc.d").unlink()
    for unit in config.SERVICE_UNITS:
        run(["systemctl", f"--root={tmp}", "disable", f"{unit}.service"], check=False, quiet=True)
    (tmp / "etc/machine-id").write_text("")
    (tmp / ".complete").write_text("ok\n")
    replace_dir(tmp, final)
    return final


def check_layers() -> None:
    for d in (base_dir(), full_dir()):
        if not (d / ".complete").exists():
            raise LabError(f"root filesystem layer {d} is missing")
