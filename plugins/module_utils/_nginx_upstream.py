# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx's forwarding targets, read from ``nginx -T``, and whether each answers. PRIVATE to the collection.

The handbook's incident step "check nginx's forwarding rules": every ``proxy_pass`` (and ``grpc_pass``,
``fastcgi_pass``, ``uwsgi_pass``) target and every ``server`` of the ``upstream`` blocks they name is an address
nginx sends requests to; each must accept a TCP connection from the nginx host. ``parse()`` is pure (the text of
``nginx -T`` -> targets with where they are used); ``check()`` probes them through an injected prober.
"""
from __future__ import annotations

import re
import socket
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CRITICAL, OK, UNKNOWN, finding
from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import (
    Runner, Which, first_error_line, probe_tcp, wrap_timeout,
)

PASS_DIRECTIVES = ("proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass")
DEFAULT_PORTS = {"http": 80, "https": 443, "grpc": 80, "grpcs": 443}
_TOKEN = re.compile(r"""\s*(?:(\#[^\n]*)|("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|([{};])|([^\s{};"'#]+))""")


class UpstreamError(ValueError):
    """The nginx -T output cannot be read; the message says why."""


def tokens(text: str) -> t.Iterator[str]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            rest = text[pos:].strip()
            if not rest:
                return
            raise UpstreamError(f"cannot read nginx -T output near {rest[:60]!r}")
        pos = match.end()
        comment, quoted, punct, word = match.groups()
        if comment:
            continue
        if quoted:
            yield quoted[1:-1]
        elif punct or word:
            yield punct or word


def directives(text: str) -> list[dict]:
    """The configuration as a tree: [{name, args, block: [...] | None}]."""
    stack: list[list[dict]] = [[]]
    current: list[str] = []
    for token in tokens(text):
        if token == ";":
            if current:
                stack[-1].append({"name": current[0], "args": current[1:], "block": None})
            current = []
        elif token == "{":
            node = {"name": current[0] if current else "", "args": current[1:], "block": []}
            stack[-1].append(node)
            stack.append(node["block"])
            current = []
        elif token == "}":
            if len(stack) == 1:
                raise UpstreamError("unbalanced '}' in nginx -T output")
            stack.pop()
            current = []
        else:
            current.append(token)
    return stack[0]


def _address(value: str, scheme: str | None = None) -> dict:
    """'10.0.0.1:8080', 'backend', 'unix:/run/x.sock', '[::1]:80' -> {host, port} or {unix}."""
    if value.startswith("unix:"):
        return {"unix": value[5:].split(":", 1)[0]}
    host, port = value, None
    if value.startswith("["):
        host, _sep, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif value.count(":") == 1:
        host, port = value.split(":")
    return {"host": host, "port": int(port) if port and port.isdigit() else DEFAULT_PORTS.get(scheme or "http", 80)}


def parse(text: str) -> list[dict]:
    """Distinct forwarding targets: {address, host|unix, port, used_by: ["proxy_pass in server x location /", ...]}."""
    tree = directives(text)
    upstreams: dict[str, list[str]] = {}

    def walk_upstreams(nodes: list[dict]) -> None:
        for node in nodes:
            if node["name"] == "upstream" and node["args"] and node["block"] is not None:
                upstreams[node["args"][0]] = [d["args"][0] for d in node["block"] if d["name"] == "server" and d["args"]]
            elif node["block"]:
                walk_upstreams(node["block"])

    walk_upstreams(tree)
    targets: dict[str, dict] = {}

    def add(addr: dict, used: str, upstream: str | None = None) -> None:
        key = f"unix:{addr['unix']}" if "unix" in addr else f"{addr['host']}:{addr['port']}"
        item = targets.setdefault(key, {"address": key, **addr, "upstream": upstream, "used_by": []})
        if used not in item["used_by"]:
            item["used_by"].append(used)

    def walk(nodes: list[dict], where: list[str]) -> None:
        for node in nodes:
            if node["name"] in PASS_DIRECTIVES and node["args"]:
                value = node["args"][0]
                used = f"{node['name']} {value}" + (f" in {' '.join(where)}" if where else "")
                if "$" in value:
                    targets.setdefault(f"variable:{value}", {"address": value, "variable": True, "used_by": []})["used_by"].append(used)
                    continue
                scheme = None
                if "://" in value:
                    scheme, _sep, value = value.partition("://")
                hostport = value.split("/", 1)[0]
                name = hostport.split(":")[0] if not hostport.startswith("[") else hostport
                if name in upstreams:
                    for server in upstreams[name]:
                        add(_address(server, scheme), used, name)
                else:
                    add(_address(hostport, scheme), used)
            elif node["block"] is not None and node["name"] != "upstream":
                label = node["name"] + (f" {' '.join(node['args'])}" if node["args"] else "")
                if node["name"] == "server":
                    names = [d["args"] for d in node["block"] if d["name"] in ("server_name", "listen") and d["args"]]
                    label = "server " + (" ".join(names[0]) if names else "")
                walk(node["block"], where + [label.strip()])

    walk(tree, [])
    return [targets[k] for k in sorted(targets)]


Prober = t.Callable[[dict, float], t.Tuple[bool, t.Optional[str], int]]


def check(run: Runner, which: Which, nginx_bin: str, config_file: str | None, timeout: float, probe: Prober,
          host: str | None, command_timeout: int = 30) -> tuple[list[dict], list[dict]]:
    """(findings, targets): one ``middleware.nginx_upstream`` finding per target, or one saying why none could be read."""
    nginx = which(nginx_bin)
    if not nginx:
        return [finding("middleware.nginx_upstream", "nginx", UNKNOWN, f"{nginx_bin} not found: forwarding targets not read",
                        host=host)], []
    argv = [nginx, "-T"] + (["-c", config_file] if config_file else [])
    rc, out, err = run(wrap_timeout(which("timeout"), command_timeout, argv), None)
    if rc != 0:
        why = first_error_line(err, out) or f"exited {rc}"
        status = UNKNOWN if "Permission denied" in why or rc == 124 else CRITICAL
        return [finding("middleware.nginx_upstream", "nginx", status, f"nginx -T failed: {why}", host=host)], []
    try:
        targets = parse(out)
    except UpstreamError as exc:
        return [finding("middleware.nginx_upstream", "nginx", UNKNOWN, str(exc), host=host)], []
    if not targets:
        return [finding("middleware.nginx_upstream", "nginx", OK, "nginx forwards nothing (no proxy_pass or upstream)",
                        host=host)], []
    findings = []
    for target in targets:
        where = "; ".join(target["used_by"][:3]) + (f" and {len(target['used_by']) - 3} more" if len(target["used_by"]) > 3 else "")
        if target.get("variable"):
            findings.append(finding("middleware.nginx_upstream", target["address"], UNKNOWN,
                                    f"target set from a variable, not checked ({where})", host=host, details=target))
            continue
        ok, error, elapsed = probe(target, timeout)
        target.update(reachable=ok, error=error, elapsed_ms=elapsed)
        if ok:
            findings.append(finding("middleware.nginx_upstream", target["address"], OK,
                                    f"{target['address']} accepts connections ({elapsed} ms; {where})", host=host,
                                    details=target))
        else:
            findings.append(finding("middleware.nginx_upstream", target["address"], CRITICAL,
                                    f"{target['address']} unreachable from nginx: {error} ({where})", host=host,
                                    details=target))
    return findings, targets


def default_probe(target: dict, timeout: float) -> tuple[bool, str | None, int]:
    """TCP connect to host:port (or a unix socket) from this host."""
    if "unix" in target:
        started = time.monotonic()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(target["unix"])
            return True, None, int((time.monotonic() - started) * 1000)
        except OSError as exc:
            return False, f"cannot connect: {exc.strerror or exc}", int((time.monotonic() - started) * 1000)
        finally:
            sock.close()
    result = probe_tcp(target["host"], int(target["port"]), timeout)
    return result.connected, result.error, result.elapsed_ms
