# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx checks: master process, ``nginx -T`` (test and dump the configuration), an HTTP probe, and the log files
the configuration declares (``error_log``, ``access_log``). PRIVATE to the collection: not a public API."""
from __future__ import annotations

import os
import re
import ssl
import time
import typing as t
import urllib.request
from urllib.error import HTTPError, URLError

from ansible_collections.kubeops.runbook.plugins.module_utils._middleware import (
    CRITICAL, OK, UNKNOWN, WARNING, MiddlewareError, Problems, Runner, Which, check_positive, first_error_line,
    middleware_finding, module_runner, wrap_timeout,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._redact import redact_text

# 2026/11/22 05:50:19 [emerg] 393#393: unknown directive "locaton" in /tmp/bad.conf:2
LOG_LINE_RE = re.compile(r"\[(?P<level>emerg|alert|crit|error|warn|notice|info)\]\s+(?:\d+#\d+:\s+)?(?P<text>.*)$")
MASTER_MARK = "nginx: master process"


class NginxOptions(t.NamedTuple):
    nginx_bin: str = "nginx"
    config_file: str | None = None
    pid_file: str = "/run/nginx.pid"
    probe_url: str | None = None
    expected_status: tuple[int, ...] = (200,)
    probe_timeout: float = 5.0
    validate_certs: bool = True
    command_timeout: int = 30


class HttpResult(t.NamedTuple):
    status: int | None   # HTTP status code, None when no response came back
    error: str | None    # why there is no response
    elapsed_ms: int


Fetch = t.Callable[[str, float, bool], HttpResult]


def validate(opts: NginxOptions) -> None:
    check_positive("probe_timeout", opts.probe_timeout)
    check_positive("command_timeout", opts.command_timeout)
    for code in opts.expected_status:
        if not 100 <= code <= 599:
            raise MiddlewareError(f"expected_status: {code} is not an HTTP status code (100-599)")
    if opts.probe_url is not None and not re.match(r"^https?://[^/\s]+", opts.probe_url):
        raise MiddlewareError(f"probe_url: must be an http:// or https:// URL, got {opts.probe_url!r}")


def parse_config_test(rc: int, stdout: str, stderr: str) -> dict:
    """Parse ``nginx -t`` / ``-T`` results (written to stderr; -T dumps the configuration on stdout, pass only stderr
    then): {'ok', 'errors', 'warnings'}."""
    errors: list[str] = []
    warnings: list[str] = []
    for line in f"{stderr}\n{stdout}".splitlines():
        match = LOG_LINE_RE.search(line)
        if not match:
            continue
        text = match.group("text").strip()
        if match.group("level") in ("emerg", "alert", "crit", "error"):
            errors.append(text)
        elif match.group("level") == "warn":
            warnings.append(text)
    ok = rc == 0 and "test is successful" in f"{stderr}\n{stdout}"
    if not ok and not errors:
        errors.append(first_error_line(stderr, stdout) or f"nginx -t exited with {rc} and printed nothing")
    return {"ok": ok, "errors": errors, "warnings": warnings}


# -- the log files nginx itself declares ----------------------------------------------------------------------
_VARIABLE = re.compile(r"\$(\{[A-Za-z0-9_]+\}|[A-Za-z0-9_]+)")
_PREFIX = re.compile(r"--prefix=(\S+)")
DEFAULT_PREFIX = "/usr/local/nginx"   # nginx's own when built without --prefix


def tokenize(text: str) -> t.Iterator[str]:
    """Tokens of an nginx configuration: words (quotes removed), ``;``, ``{`` and ``}``; comments skipped."""
    i, size = 0, len(text)
    while i < size:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = size if end < 0 else end + 1
        elif ch in ";{}":
            yield ch
            i += 1
        elif ch in "\"'":
            word, i = [], i + 1
            while i < size and text[i] != ch:
                if text[i] == "\\" and i + 1 < size:
                    i += 1
                word.append(text[i])
                i += 1
            yield "".join(word)
            i += 1
        else:
            start = i
            while i < size and not text[i].isspace() and text[i] not in ";{}":
                i += 1
            yield text[start:i]


def directives(text: str) -> list[tuple[str, list[str]]]:
    """Every simple directive (name, arguments) of a configuration, at any block depth."""
    out: list[tuple[str, list[str]]] = []
    words: list[str] = []
    for token in tokenize(text):
        if token == ";":
            if words:
                out.append((words[0], words[1:]))
            words = []
        elif token in "{}":
            words = []
        else:
            words.append(token)
    return out


def declared_logs(config_dump: str, prefix: str | None = None) -> dict[str, list[str]]:
    """{'error': [...], 'access': [...]}: the files ``nginx -T`` declares as logs, in order, each once.

    Variables in a path (``tomcat_access.$logdate.log``) become ``*`` (a glob of the files nginx writes); syslog,
    ``stderr``, ``memory:``, ``off`` and devices are not files to scan. Relative paths are under ``prefix``
    (nginx's default prefix when None; left relative when ``""``).
    """
    found: dict[str, list[str]] = {"error": [], "access": []}
    for name, args in directives(config_dump):
        if name not in ("error_log", "access_log") or not args:
            continue
        path = args[0]
        if path in ("off", "stderr") or path.startswith(("syslog:", "memory:", "/dev/", "/proc/")):
            continue
        path = _VARIABLE.sub("*", path)
        if not path.startswith("/") and prefix != "":
            path = os.path.join(prefix or DEFAULT_PREFIX, path)
        kind = "error" if name == "error_log" else "access"
        if path not in found[kind]:
            found[kind].append(path)
    return found


# -- the TLS listeners nginx declares (whose served certificates cert_expiry_info reads) ----------------------------
def _sni(names: list[str]) -> str | None:
    """The first plain server_name (not ``_``, a wildcard or a regex): the name to ask for with SNI."""
    for name in names:
        if name and name != "_" and not name.startswith("~") and "*" not in name and "$" not in name:
            return name
    return None


def _connect_to(address: str) -> tuple[str, int, bool] | None:
    """(host to connect to, port, whether the address is a wildcard) of a ``listen`` address; a wildcard is reached
    on the loopback; None for a unix socket."""
    if address.startswith("unix:"):
        return None
    host, port = "", address
    if address.startswith("["):
        host, _sep, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "80"
    elif ":" in address:
        host, _sep, port = address.rpartition(":")
    elif not address.isdigit():
        host, port = address, "80"   # nginx's default port for an address without one
    if not port.isdigit():
        return None
    if host in ("", "*", "0.0.0.0", "::"):
        return ("::1" if host == "::" else "127.0.0.1"), int(port), True
    return host, int(port), False


def tls_listeners(config_dump: str) -> list[dict]:
    """``{address, port, server_name, listen}`` of each TLS listener of the ``server`` blocks of ``nginx -T`` (a
    ``listen ... ssl`` or a server with ``ssl on``), once per port and SNI name; a wildcard address is reached on the
    loopback."""
    found: list[dict] = []
    seen: set[tuple] = set()
    stack: list[str] = []
    servers: list[dict] = []   # the open server blocks: {"depth", "listen": [[args]], "names": [...], "ssl_on"}
    words: list[str] = []
    for token in tokenize(config_dump):
        if token == "{":
            stack.append(words[0] if words else "")
            if stack[-1] == "server":
                servers.append({"depth": len(stack), "listen": [], "names": [], "ssl_on": False})
            words = []
        elif token == "}":
            if stack and stack[-1] == "server" and servers and servers[-1]["depth"] == len(stack):
                block = servers.pop()
                sni = _sni(block["names"])
                for args in block["listen"]:
                    target = _connect_to(args[0]) if args else None
                    if target is None or not ("ssl" in args[1:] or block["ssl_on"]):
                        continue
                    # a wildcard on IPv4 and on IPv6 is one listener: reached once, on the first of them
                    key = (target[1], sni) if target[2] else (target[0], target[1], sni)
                    if key not in seen:
                        seen.add(key)
                        found.append({"address": target[0], "port": target[1], "server_name": sni,
                                      "listen": " ".join(args)})
            if stack:
                stack.pop()
            words = []
        elif token == ";":
            if words and servers and servers[-1]["depth"] == len(stack):
                name, args = words[0], words[1:]
                if name == "listen":
                    servers[-1]["listen"].append(args)
                elif name == "server_name":
                    servers[-1]["names"].extend(args)
                elif name == "ssl" and args[:1] == ["on"]:
                    servers[-1]["ssl_on"] = True
            words = []
        else:
            words.append(token)
    return found


def tls_endpoints(facts: dict | None) -> list[dict]:
    """cert_expiry_info ``endpoints`` of the TLS listeners an nginx check found, named ``nginx <listen> <name>``."""
    out = []
    for item in (facts or {}).get("tls_listeners") or []:
        host = f"[{item['address']}]" if ":" in item["address"] else item["address"]
        name = f"nginx {item['listen']}" + (f" {item['server_name']}" if item.get("server_name") else "")
        out.append({"address": f"{host}:{item['port']}", "name": name, "server_name": item.get("server_name")})
    return out


def log_name(path: str, taken: set[str]) -> str:
    """``nginx_<file name without .log>``, made safe and unique among ``taken`` (which it extends)."""
    base = re.sub(r"\.log$", "", os.path.basename(path).replace("*", ""))
    base = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_") or "log"
    name = base if base.startswith("nginx") else f"nginx_{base}"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def log_files(found: dict[str, list[str]]) -> dict[str, list[dict]]:
    """The declared logs as log_scan ``files`` entries: {'error': [{path, name}], 'access': [{path, name}]}."""
    taken: set[str] = set()
    return {kind: [{"path": path, "name": log_name(path, taken)} for path in paths] for kind, paths in found.items()}


def read_cmdline(proc_root: str, pid: int) -> str | None:
    try:
        with open(os.path.join(proc_root, str(pid), "cmdline"), "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", errors="replace").strip()
    except OSError:
        return None


def find_master(pid_file: str, proc_root: str = "/proc") -> dict:
    """Locate the nginx master: from the pid file when it points at a live master, else by scanning /proc."""
    result: dict = {"running": False, "pid": None, "source": None, "pid_file_problem": None}
    try:
        with open(pid_file, encoding="ascii", errors="replace") as handle:
            pid = int(handle.read().strip())
        cmdline = read_cmdline(proc_root, pid)
        if cmdline and cmdline.startswith(MASTER_MARK):
            result.update(running=True, pid=pid, source="pid_file")
            return result
        result["pid_file_problem"] = f"pid file {pid_file} names pid {pid}, which is not an nginx master"
    except FileNotFoundError:
        result["pid_file_problem"] = f"pid file {pid_file} does not exist"
    except (OSError, ValueError) as exc:
        result["pid_file_problem"] = f"pid file {pid_file} is unreadable: {exc}"
    try:
        entries = os.listdir(proc_root)
    except OSError:
        entries = []
    for entry in sorted(entries, key=lambda e: (len(e), e)):
        if not entry.isdigit():
            continue
        cmdline = read_cmdline(proc_root, int(entry))
        if cmdline and cmdline.startswith(MASTER_MARK):
            result.update(running=True, pid=int(entry), source="proc")
            break
    return result


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the probe's answer (its status), not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
        return None


def default_fetch(url: str, timeout: float, validate_certs: bool) -> HttpResult:
    """GET url with the standard library's urllib (an HTTP error status is a response, not an error). Not Ansible's
    open_url: importing it (and what it imports for authentication) cost a host 0.15-0.2 s of CPU, for one GET."""
    handlers: list = [_NoRedirect()]
    if url.lower().startswith("https:"):
        context = ssl.create_default_context()
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "kubeops.runbook nginx_info"})
    started = time.monotonic()
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            response.read(65536)
            return HttpResult(response.status, None, _ms(started))
    except HTTPError as exc:
        return HttpResult(exc.code, None, _ms(started))
    except URLError as exc:
        return HttpResult(None, str(getattr(exc, "reason", exc)), _ms(started))
    except (OSError, ValueError) as exc:
        return HttpResult(None, f"{type(exc).__name__}: {exc}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def check(opts: NginxOptions, run: Runner, which: Which, host: str | None, fetch: Fetch = default_fetch,
          proc_root: str = "/proc") -> tuple[dict, dict]:
    validate(opts)
    problems = Problems()
    details: dict = {}
    master = find_master(opts.pid_file, proc_root)
    details["master"] = master
    if master["running"]:
        problems.add(OK, f"master process {master['pid']}")
    else:
        problems.add(CRITICAL, "nginx master process is not running")
    nginx = which(opts.nginx_bin)
    if not nginx:
        problems.add(UNKNOWN, f"{opts.nginx_bin} not found on this host: configuration not tested")
        details["config_test"] = None
    else:
        # -T tests the configuration like -t and prints it: the logs to scan are the ones it declares.
        argv = [nginx, "-T"] + (["-c", opts.config_file] if opts.config_file else [])
        rc, out, err = run(wrap_timeout(which("timeout"), opts.command_timeout, argv), None)
        test = parse_config_test(rc, "", err)
        details["config_test"] = test
        if test["ok"]:
            found = declared_logs(out, prefix="")
            if any(not path.startswith("/") for paths in found.values() for path in paths):
                # a relative log path is under nginx's --prefix, which only nginx -V tells
                version = run(wrap_timeout(which("timeout"), opts.command_timeout, [nginx, "-V"]), None)
                match = _PREFIX.search(f"{version.stderr}\n{version.stdout}")
                found = declared_logs(out, match.group(1) if match else None)
            details["logs"] = log_files(found)
            details["tls_listeners"] = tls_listeners(out)
        if rc == 124:
            problems.add(UNKNOWN, "nginx -t timed out")
        elif not test["ok"]:
            if any("Permission denied" in e for e in test["errors"]):
                problems.add(UNKNOWN, f"nginx -t could not run (run it as root): {test['errors'][0]}")
            else:
                problems.add(CRITICAL, f"nginx -t failed: {test['errors'][0]}")
        elif test["warnings"]:
            problems.add(WARNING, f"nginx -t warns: {test['warnings'][0]}")
    shown_url = redact_text(opts.probe_url or "")  # a user:password@ in the URL is never shown
    if opts.probe_url:
        probe = fetch(opts.probe_url, opts.probe_timeout, opts.validate_certs)
        details["probe"] = {"url": shown_url, "status": probe.status, "error": redact_text(probe.error) if probe.error else probe.error,
                            "elapsed_ms": probe.elapsed_ms, "expected_status": list(opts.expected_status)}
        if probe.status is None:
            problems.add(CRITICAL, f"GET {shown_url} failed: {redact_text(str(probe.error))}")
        elif probe.status not in opts.expected_status:
            expected = "/".join(str(c) for c in opts.expected_status)
            problems.add(CRITICAL, f"GET {shown_url} returned {probe.status}, expected {expected}")
    parts = [f"master process {master['pid']} running", "nginx -t ok"]
    if opts.probe_url:
        parts.append(f"GET {shown_url} -> {details['probe']['status']}")
    return middleware_finding("nginx", "nginx", problems, ", ".join(parts), host, details), details


# -- the check, as nginx_info and host_inspection_info run it -----------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "nginx_bin": {"type": "str", "default": "nginx"},
    "config_file": {"type": "path"},
    "pid_file": {"type": "path", "default": "/run/nginx.pid"},
    "probe_url": {"type": "str"},
    "expected_status": {"type": "list", "elements": "int", "default": [200]},
    "probe_timeout": {"type": "float", "default": 5},
    "validate_certs": {"type": "bool", "default": True},
    "command_timeout": {"type": "int", "default": 30},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """nginx on this host (options: ARGUMENT_SPEC): one ``middleware.nginx`` finding and its facts (``nginx``,
    with the log files its configuration declares)."""
    opts = NginxOptions(**{k: tuple(v) if k == "expected_status" else v for k, v in params.items() if k in NginxOptions._fields})
    result, facts = check(opts, module_runner(module), module.get_bin_path, host)
    return {"findings": [result], "nginx": facts}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del args, label
    return [("middleware.nginx", "nginx")]


def scan_files(facts: dict | None, error_logs: bool = True, access_logs: bool = True) -> list[dict]:
    """log_scan ``files`` entries of the logs an nginx check found declared: every error_log, and every access_log
    as ``kind=access`` (optional: a dated access log may not exist yet)."""
    logs = (facts or {}).get("logs") or {}
    files = [dict(item) for item in logs.get("error") or []] if error_logs else []
    if access_logs:
        files += [dict(item, kind="access", optional=True) for item in logs.get("access") or []]
    return files
