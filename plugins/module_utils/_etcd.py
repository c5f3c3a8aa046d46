# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd via etcdctl (v3 API) for kubeops.runbook. PRIVATE to the collection: not a public API.

ETCD_AUTH_SPEC is paired one-to-one with the doc fragment ``kubeops.runbook.etcd_auth``.
``etcdctl_command()`` builds the argv and environment of one etcdctl call (``ETCDCTL_API=3``, TLS flags,
``-w json``); parsers turn etcdctl's JSON into plain data; ``etcd_findings()`` turns that into findings.
"""
from __future__ import annotations

import json
import os
import shutil
import typing as t

ETCD_AUTH_SPEC: dict[str, dict] = {
    "endpoints": {"type": "list", "elements": "str", "required": True},
    "cacert": {"type": "path"},
    "cert": {"type": "path"},
    "key": {"type": "path", "no_log": False},
    "etcdctl_path": {"type": "str", "default": "etcdctl"},
    "dial_timeout": {"type": "int", "default": 5},
    "command_timeout": {"type": "int", "default": 10},
}

ETCDCTL_SEARCH_DIRS = ("/usr/local/bin", "/opt/etcd/bin", "/usr/bin", "/app/etcd/bin")


class EtcdError(Exception):
    """etcdctl could not be run or its output not understood; the message is for an operator."""


def normalize_endpoints(endpoints: t.Iterable[str] | str | None) -> list[str]:
    """Endpoints from a list and/or comma-separated strings; each must be a URL (https://host:port)."""
    if endpoints is None:
        return []
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    result: list[str] = []
    for item in endpoints:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if "://" not in part:
                raise EtcdError(f"endpoints: {part!r} is not a URL like https://198.18.0.11:2379")
            if part not in result:
                result.append(part)
    return result


def find_etcdctl(path: str = "etcdctl") -> str | None:
    """Absolute path of etcdctl (given path, PATH, then the usual install dirs), or None."""
    if os.sep in path:
        return path if os.access(path, os.X_OK) else None
    found = shutil.which(path)
    if found:
        return found
    for directory in ETCDCTL_SEARCH_DIRS:
        candidate = os.path.join(directory, path)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def etcdctl_command(params: dict, *args: str, endpoints: t.Iterable[str] | None = None,
                    output_json: bool = True, etcdctl: str | None = None) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment for one etcdctl v3 call.

    ``params`` holds ETCD_AUTH_SPEC keys; ``endpoints`` overrides ``params['endpoints']`` (e.g. one member).
    """
    eps = normalize_endpoints(endpoints if endpoints is not None else params.get("endpoints"))
    if not eps:
        raise EtcdError("endpoints: at least one etcd client URL is required")
    for option in ("dial_timeout", "command_timeout"):
        value = params.get(option)
        if value is not None and int(value) < 1:
            raise EtcdError(f"{option}: must be at least 1 second, got {value}")
    argv = [etcdctl or params.get("etcdctl_path") or "etcdctl", f"--endpoints={','.join(eps)}"]
    for option in ("cacert", "cert", "key"):
        if params.get(option):
            argv.append(f"--{option}={params[option]}")
    argv.append(f"--dial-timeout={int(params.get('dial_timeout') or 5)}s")
    argv.append(f"--command-timeout={int(params.get('command_timeout') or 10)}s")
    if output_json:
        argv += ["-w", "json"]
    argv += list(args)
    return argv, {"ETCDCTL_API": "3"}


def loads_json(text: str, what: str) -> t.Any:
    """JSON from etcdctl output; raises EtcdError (never anything else) on garbage."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = (text or "").strip()
    if not text:
        raise EtcdError(f"etcdctl {what} printed nothing")
    try:
        return json.loads(text)
    except ValueError:
        pass
    # `endpoint health --cluster -w json` of etcdctl 3.4 prints one JSON document per line
    docs = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            docs.append(json.loads(line))
        except ValueError:
            raise EtcdError(f"etcdctl {what} printed no JSON: {text[:200]!r}") from None
    return docs
