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


# -- the check, as host_hygiene_info and host_inspection_info run it ----------------------------------------
CHECKS = ("container_root", "may_detach_mounts", "kubectl_skew")
ARGUMENT_SPEC: dict[str, dict] = {
    "checks": {"type": "list", "elements": "str", "choices": list(CHECKS),
               "default": ["container_root", "may_detach_mounts"]},
    "container_roots": {"type": "list", "elements": "path", "default": ["/var/lib/docker", "/var/lib/containerd"]},
    "kubectl": {"type": "str", "default": "kubectl"},
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
    "max_skew": {"type": "int", "default": 1},
}
# What each check is about when it could not run: (finding id, target); container_root names each root.
CHECK_TARGETS = {
    "may_detach_mounts": [("host.may_detach_mounts", "fs.may_detach_mounts")],
    "kubectl_skew": [("host.kubectl_skew", "kubectl")],
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """The hygiene checks of ``params["checks"]`` (options: ARGUMENT_SPEC) on this host.

    ``module`` is the running AnsibleModule (``get_bin_path``, ``run_command``) for kubectl_skew.
    """
    if params["max_skew"] < 0:
        raise HygieneError(f"max_skew: must be 0 or more, got {params['max_skew']}")
    findings: list[dict] = []
    result: dict = {}
    if "container_root" in params["checks"]:
        findings += [container_root_finding(path, host) for path in params["container_roots"]]
    if "may_detach_mounts" in params["checks"]:
        value, error = read_may_detach_mounts()
        findings.append(may_detach_mounts_finding(value, host, error))
    if "kubectl_skew" in params["checks"]:
        findings.append(kubectl_skew(module, params, host, result))
    return {"findings": findings, **result}


def kubectl_skew(module: t.Any, params: dict, host: str | None, result: dict) -> dict:
    """``host.kubectl_skew`` from ``kubectl version`` run where the module runs; the versions go into ``result``."""
    argv, problem = kubectl_version_argv(module, params)
    if argv is None:
        return kubectl_skew_finding(None, host, problem=problem)
    try:
        rc, out, err = module.run_command(argv)
    except OSError as exc:
        return kubectl_skew_finding(None, host, problem=f"{argv[0]} cannot be run: {exc}")
    return kubectl_skew_outcome(rc, out, err, host, params["max_skew"], result)


def kubectl_version_argv(module: t.Any, params: dict) -> tuple[list[str] | None, str | None]:
    """(argv of ``kubectl version``, None), or (None, why it cannot run); options: ARGUMENT_SPEC's kubectl,
    kubeconfig and context. k8s_cluster_info starts the same command beside its LISTs."""
    kubectl = module.get_bin_path(params["kubectl"]) if "/" not in params["kubectl"] else params["kubectl"]
    if not kubectl:
        return None, f"kubectl {params['kubectl']!r} is not installed"
    # run_command would end the whole module (fail_json) on a command it cannot start
    if not (os.path.isfile(kubectl) and os.access(kubectl, os.X_OK)):
        return None, f"kubectl {kubectl} is not an executable file"
    argv = [kubectl, "version", "-o", "json", "--request-timeout=10s"]
    if params.get("kubeconfig"):
        argv += ["--kubeconfig", params["kubeconfig"]]
    if params.get("context"):
        argv += ["--context", params["context"]]
    return argv, None


def kubectl_skew_outcome(rc: int, out: str, err: str, host: str | None, max_skew: int, result: dict) -> dict:
    """``host.kubectl_skew`` from what ``kubectl version -o json`` printed; the versions go into ``result``."""
    try:
        versions = parse_kubectl_version(out)
    except HygieneError as exc:
        return kubectl_skew_finding(None, host, problem=f"{exc} (rc={rc}): {err.strip()[:200]}")
    result["kubectl_versions"] = {"client": versions["client_git"], "server": versions["server_git"]}
    if versions["server"] is None and err.strip():
        return kubectl_skew_finding(None, host, problem=f"kubectl {versions['client_git']} could not get the "
                                    f"server version: {err.strip()[:200]}")
    return kubectl_skew_finding(versions, host, max_skew)


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    """(finding id, target) of each hygiene check, for an unknown finding when the checks could not run."""
    checks = args.get("checks") if isinstance(args.get("checks"), list) else ["container_root", "may_detach_mounts"]
    roots = args.get("container_roots") if isinstance(args.get("container_roots"), list) else [
        "/var/lib/docker", "/var/lib/containerd"]
    pairs: list[tuple[str, str]] = []
    for check in checks:
        if check == "container_root":
            pairs += [("host.docker_root_symlink", str(root)) for root in roots]
        else:
            pairs += CHECK_TARGETS.get(check, [("host.hygiene", str(check))])
    return pairs or [("host.hygiene", label or "host")]
