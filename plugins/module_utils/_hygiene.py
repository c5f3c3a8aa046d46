# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host hygiene from the field notes (seed 004) for kubeops.runbook. PRIVATE to the collection: not a public API.

* the container runtime's root directory must not be a symlink (kubelet "Stat fs failed ... no such file or
  directory" when overlayfs cleanup follows a symlinked /var/lib/docker);
* ``fs.may_detach_mounts`` = 1 where the kernel has it (docker processes stuck in state Dead on CentOS 7.4);
* kubectl client and server within one minor version ("group is already registered" errors).
"""
from __future__ import annotations

import json
import os
import re
import stat
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    OK, UNKNOWN, WARNING, finding,
)

MAY_DETACH_MOUNTS = "/proc/sys/fs/may_detach_mounts"
_MINOR = re.compile(r"^(\d+)")
_GIT_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


class HygieneError(Exception):
    """Bad input or output that cannot be understood; the message is for an operator."""


def container_root_finding(path: str, host: str | None, lstat: t.Callable[[str], os.stat_result] = os.lstat,
                           readlink: t.Callable[[str], str] = os.readlink) -> dict:
    fid = "host.docker_root_symlink"
    try:
        st = lstat(path)
    except FileNotFoundError:
        return finding(fid, path, OK, f"{path} does not exist (runtime not installed here)", host=host,
                       details={"path": path, "exists": False})
    except OSError as exc:
        return finding(fid, path, UNKNOWN, f"{path} cannot be inspected: {exc.strerror}", host=host,
                       details={"path": path})
    if stat.S_ISLNK(st.st_mode):
        try:
            target = readlink(path)
        except OSError:
            target = None
        return finding(fid, path, WARNING,
                       f"{path} is a symlink to {target}; configure the runtime's root directory (data-root/root) "
                       "instead of linking it", host=host, details={"path": path, "symlink": True, "target": target})
    if not stat.S_ISDIR(st.st_mode):
        return finding(fid, path, WARNING, f"{path} exists but is not a directory", host=host,
                       details={"path": path, "symlink": False})
    return finding(fid, path, OK, f"{path} is a real directory", host=host, details={"path": path, "symlink": False})


def may_detach_mounts_finding(value: str | None, host: str | None, error: str | None = None,
                              expected: str = "1") -> dict:
    """``value`` is the content of /proc/sys/fs/may_detach_mounts, None when the kernel has no such setting."""
    fid = "host.may_detach_mounts"
    target = "fs.may_detach_mounts"
    if error:
        return finding(fid, target, UNKNOWN, error, host=host)
    if value is None:
        return finding(fid, target, OK, "not applicable: this kernel has no fs.may_detach_mounts", host=host,
                       details={"present": False})
    value = value.strip()
    if value == expected:
        return finding(fid, target, OK, f"fs.may_detach_mounts = {value}", host=host,
                       details={"present": True, "value": value})
    return finding(fid, target, WARNING, f"fs.may_detach_mounts = {value}, expected {expected} "
                   "(docker containers can get stuck in state Dead)", host=host,
                   details={"present": True, "value": value, "expected": expected})


def read_may_detach_mounts(path: str = MAY_DETACH_MOUNTS) -> tuple[str | None, str | None]:
    """(value or None when absent, error or None)."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(64), None
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"{path} cannot be read: {exc.strerror}"


def parse_version(info: t.Any, which: str) -> tuple[int, int] | None:
    """(major, minor) of ``clientVersion`` / ``serverVersion`` in ``kubectl version -o json`` output."""
    if not isinstance(info, dict):
        return None
    major, minor = info.get("major"), info.get("minor")
    if isinstance(major, str) and isinstance(minor, str):
        m1, m2 = _MINOR.match(major), _MINOR.match(minor)
        if m1 and m2:
            return int(m1.group(1)), int(m2.group(1))
    git = info.get("gitVersion")
    if isinstance(git, str):
        match = _GIT_VERSION.match(git)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def parse_kubectl_version(text: str) -> dict:
    """``kubectl version -o json`` -> {client, server: (major, minor) | None, client_git, server_git}."""
    start = text.find("{")
    if start < 0:
        raise HygieneError("kubectl version printed no JSON")
    try:
        data = json.loads(text[start:])
    except ValueError:
        raise HygieneError("kubectl version printed JSON that cannot be read") from None
    if not isinstance(data, dict):
        raise HygieneError("kubectl version printed JSON that is not an object")
    client, server = data.get("clientVersion"), data.get("serverVersion")
    return {
        "client": parse_version(client, "client"),
        "server": parse_version(server, "server"),
        "client_git": client.get("gitVersion") if isinstance(client, dict) else None,
        "server_git": server.get("gitVersion") if isinstance(server, dict) else None,
    }


def kubectl_skew_finding(versions: dict | None, host: str | None, max_skew: int = 1, problem: str | None = None,
                         target: str = "kubectl") -> dict:
    fid = "host.kubectl_skew"
    if problem:
        return finding(fid, target, UNKNOWN, problem, host=host)
    if versions is None:
        raise AssertionError("kubectl_skew_finding needs versions or a problem")
    client, server = versions.get("client"), versions.get("server")
    details = {"client": versions.get("client_git"), "server": versions.get("server_git"), "max_skew": max_skew}
    if client is None:
        return finding(fid, target, UNKNOWN, "kubectl did not report its own version", host=host, details=details)
    if server is None:
        return finding(fid, target, UNKNOWN, f"kubectl {details['client']} could not get the server version",
                       host=host, details=details)
    if client[0] != server[0]:
        return finding(fid, target, WARNING, f"kubectl {details['client']} and server {details['server']} differ in "
                       "major version", host=host, details=details)
    skew = abs(client[1] - server[1])
    details["skew"] = skew
    if skew > max_skew:
        return finding(fid, target, WARNING, f"kubectl {details['client']} is {skew} minor versions away from server "
                       f"{details['server']} (supported: {max_skew}); install the matching kubectl", host=host,
                       details=details)
    return finding(fid, target, OK, f"kubectl {details['client']}, server {details['server']}", host=host,
                   details=details)
