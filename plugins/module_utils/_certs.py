# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""x509 certificate expiry for kubeops.runbook. PRIVATE to the collection: not a public API.

``find_files()`` walks the certificate directories (no symlinked directories), ``pem_blocks()`` splits a PEM
file and tells certificates from keys and requests, ``not_after_cryptography()`` / ``parse_openssl_enddate()``
are the two backends (the ``cryptography`` library when the host has it, else ``openssl x509 -enddate``), and
``cert_finding()`` turns days left into a ``certificates.expiry`` finding. ``kubeconfig_users()`` reads the users of a
kubeconfig, whose client certificates ``CertChecker.check_kubeconfig()`` checks like the files (their keys and tokens
are never read into a finding); ``served_certificate()`` reads the certificate an HTTPS endpoint serves, which
``CertChecker.check_endpoint()`` checks the same way.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import ipaddress
import os
import re
import socket
import ssl
import typing as t
from urllib.parse import urlsplit

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, UNKNOWN, by_threshold_below, finding,
)

CERT_SUFFIXES = (".pem", ".crt", ".cer", ".cert")
MAX_FILE_BYTES = 1024 * 1024
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
_ENDDATE = re.compile(r"notAfter=(.+)")
_SUBJECT = re.compile(r"subject=\s*(.*)")
_ISSUER = re.compile(r"issuer=\s*(.*)")
# the kubeconfig user fields that name a client certificate (never the key or token fields)
CERT_DATA, CERT_FILE = "client-certificate-data", "client-certificate"


class CertError(Exception):
    """Bad input (thresholds); the message is for an operator."""


class CertUnreadable(Exception):
    """A certificate file that cannot be read or parsed; becomes an ``unknown`` finding."""


def validate_thresholds(warning_days: int, critical_days: int) -> None:
    if critical_days < 0:
        raise CertError(f"critical_days: must be 0 or more, got {critical_days}")
    if warning_days < critical_days:
        raise CertError(f"warning_days: {warning_days} is below critical_days {critical_days}; warn earlier than critical")


def find_files(directory: str, max_depth: int = 3) -> list[str]:
    """Regular files under ``directory`` (sorted), not following symlinked directories."""
    result: list[str] = []
    base_depth = directory.rstrip("/").count("/")
    for root, dirs, files in os.walk(directory, followlinks=False):
        if root.rstrip("/").count("/") - base_depth >= max_depth:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                result.append(path)
    return result


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(label, whole PEM block) for each block, e.g. ('CERTIFICATE', b'-----BEGIN ...')."""
    return [(m.group(1).decode("ascii"), m.group(0)) for m in _BLOCK.finditer(data)]


def classify(path: str, data: bytes) -> str:
    """'certificate', 'skip' (keys, requests, other files) or 'broken' (looks like a certificate but is not)."""
    labels = [block[0] for block in pem_blocks(data)]
    if "CERTIFICATE" in labels:
        return "certificate"
    if labels:
        return "skip"  # PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY, CERTIFICATE REQUEST, PUBLIC KEY, ...
    if b"-----BEGIN CERTIFICATE-----" in data:
        return "broken"
    if path.endswith(CERT_SUFFIXES) and b"PRIVATE KEY" not in data and b"-----BEGIN" not in data:
        return "broken"  # a .pem/.crt without any PEM block (DER, empty, damaged)
    return "skip"


def read_limited(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES)
    except OSError as exc:
        raise CertUnreadable(f"{path} cannot be read: {exc.strerror}") from None


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def not_after_cryptography(block: bytes) -> dict:
    """notAfter/subject of one PEM certificate with the cryptography library (any version since 3.x)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    try:
        cert = x509.load_pem_x509_certificate(block)
    except Exception as exc:  # pylint: disable=broad-except  # cryptography raises ValueError and others
        raise CertUnreadable(f"not a valid x509 certificate: {str(exc)[:120]}") from None
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
    names = []
    for name in (cert.subject, cert.issuer):
        try:
            names.append(name.rfc4514_string())
        except Exception:  # pylint: disable=broad-except
            names.append("")
    return {"not_after": _utc(not_after), "subject": names[0], "issuer": names[1]}


def parse_openssl_enddate(text: str) -> dict:
    """``openssl x509 -noout -enddate -subject`` output -> notAfter (UTC) and subject."""
    match = _ENDDATE.search(text)
    if not match:
        raise CertUnreadable("openssl printed no notAfter date")
    raw = " ".join(match.group(1).split())
    try:
        not_after = dt.datetime.strptime(raw, "%b %d %H:%M:%S %Y GMT")
    except ValueError:
        raise CertUnreadable(f"cannot read the notAfter date {raw[:60]!r}") from None
    subject, issuer = _SUBJECT.search(text), _ISSUER.search(text)
    return {"not_after": _utc(not_after), "subject": subject.group(1).strip() if subject else "",
            "issuer": issuer.group(1).strip() if issuer else ""}


def days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    """Whole days until expiry, rounded down (negative once expired)."""
    return math.floor((not_after - now).total_seconds() / 86400)


def cert_finding(path: str, host: str | None, certs: list[dict] | None, now: dt.datetime, warning_days: int,
                 critical_days: int, problem: str | None = None) -> dict:
    """One finding per file; a bundle is as good as its first-expiring certificate."""
    if problem is not None or not certs:
        return finding("certificates.expiry", path, UNKNOWN, problem or f"{path}: no certificate found", host=host,
                       details={"path": path})
    first = min(certs, key=lambda c: c["not_after"])
    left = days_left(first["not_after"], now)
    details = {"path": path, "days_left": left, "not_after": first["not_after"].strftime("%Y-%m-%dT%H:%M:%SZ"),
               "subject": first["subject"], "certificates": len(certs), "warning_days": warning_days,
               "critical_days": critical_days}
    if left < 0:
        return finding("certificates.expiry", path, CRITICAL,
                       f"expired {-left} day(s) ago ({details['not_after']}) {first['subject']}".rstrip(),
                       host=host, details=details)
    status = by_threshold_below(left, warning_days, critical_days)
    return finding("certificates.expiry", path, status,
                   f"{left} day(s) left, expires {details['not_after']} {first['subject']}".rstrip(), host=host,
                   details=details)


# -- client certificates in kubeconfigs -------------------------------------------------------------------------
_TOP_KEY = re.compile(r"^([A-Za-z][\w-]*):\s*(.*?)\s*$")
_ITEM = re.compile(r"^(\s*)-\s+(.*)$")
_KEY = re.compile(r"^(\s*)([\w.-]+):\s*(.*?)\s*$")


def _scalar(raw: str) -> str:
    """A plain or quoted YAML scalar as written by kubectl (no escapes in the fields read here)."""
    raw = raw.split(" #", 1)[0].strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _users_block_yaml(text: str) -> list[dict]:
    """The ``users`` list of a block-style kubeconfig (what kubectl, kubeadm and the roles write), for a host without
    PyYAML: each item's ``name`` and the client-certificate fields under it; nothing else is read."""
    users: list[dict] = []
    inside, item_indent, key_indent = False, None, None
    current: dict | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        top = _TOP_KEY.match(line)
        if top:
            inside = top.group(1) == "users"
            if inside and top.group(2) not in ("", "[]", "null", "~"):
                raise CertUnreadable("its users are not written as a block list; install PyYAML on the host to read it")
            continue
        if not inside:
            continue
        item = _ITEM.match(line)
        if item and (item_indent is None or len(item.group(1)) == item_indent):
            item_indent, key_indent = len(item.group(1)), len(item.group(1)) + 2
            current = {"user": {}}
            users.append(current)
            line = " " * key_indent + item.group(2)
        key = _KEY.match(line)
        if current is None or not key:
            continue
        name, value = key.group(2), _scalar(key.group(3))
        if len(key.group(1)) == key_indent and name == "name":
            current["name"] = value
        elif len(key.group(1)) > key_indent and name in (CERT_DATA, CERT_FILE) and value:
            current["user"][name] = value
    return users


def kubeconfig_users(text: str) -> list[tuple[str, dict]]:
    """(name, {client-certificate-data|client-certificate: value}) of each user of a kubeconfig.

    JSON, else YAML with PyYAML when the host has it, else the block-style YAML that kubectl writes. A parse error
    names the line only: the text around it may be a key or a token."""
    users: t.Any
    try:
        users = json.loads(text).get("users")
    except (ValueError, AttributeError):
        try:
            import yaml  # pylint: disable=import-outside-toplevel
        except ImportError:
            users = _users_block_yaml(text)
        else:
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" at line {mark.line + 1}" if mark is not None else ""
                raise CertUnreadable(f"not valid YAML{where}") from None
            if not isinstance(doc, dict):
                raise CertUnreadable("not a kubeconfig (no mapping at the top)")
            users = doc.get("users")
    if users is None:
        return []
    if not isinstance(users, list):
        raise CertUnreadable("its users is not a list")
    result = []
    for index, entry in enumerate(users):
        entry = entry if isinstance(entry, dict) else {}
        fields = entry.get("user") if isinstance(entry.get("user"), dict) else {}
        result.append((str(entry.get("name") or f"users[{index}]"),
                       {k: str(fields[k]) for k in (CERT_DATA, CERT_FILE) if fields.get(k)}))
    return result


# -- certificates served on TLS endpoints ---------------------------------------------------------------------------
def split_address(address: str) -> tuple[str, int]:
    """(host, port) of ``https://host:port/...``, ``host:port`` or ``[v6]:port`` (443 when no port is given)."""
    raw = address.strip()
    parts = urlsplit(raw if "//" in raw else f"//{raw}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host:
        raise CertError(f"endpoints: {address!r} is not host:port or an https:// URL")
    return host, port or 443


def endpoint_target(endpoint: dict) -> str:
    """What a served certificate's finding is about: the endpoint's ``name``, else ``https://host:port``."""
    if endpoint.get("name"):
        return str(endpoint["name"])
    host, port = split_address(str(endpoint.get("address") or ""))
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def served_certificate(host: str, port: int, server_name: str | None, timeout: float,
                       client_cert: str | None = None, client_key: str | None = None) -> bytes:
    """The PEM of the leaf certificate ``host:port`` serves, read in a TLS handshake that does not verify it (the
    check is its expiry, not its trust); ``client_cert``/``client_key`` answer an endpoint that asks for a client
    certificate (etcd's client port)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key or None)
        except (OSError, ssl.SSLError) as exc:
            raise CertUnreadable(f"the client certificate {client_cert} cannot be loaded: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        ipaddress.ip_address(host)
        sni = server_name
    except ValueError:
        sni = server_name or host
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=sni) as tls:
                der = tls.getpeercert(binary_form=True)
    except socket.timeout:
        raise CertUnreadable(f"no TLS answer within {timeout:g}s") from None
    except (OSError, ssl.SSLError) as exc:
        raise CertUnreadable(f"no TLS answer: {getattr(exc, 'strerror', None) or exc}") from None
    if not der:
        raise CertUnreadable("the endpoint served no certificate")
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")


class CertChecker:
    """Checks certificate files and directories; ``run_openssl(pem_text) -> (rc, out, err)`` is the openssl backend."""

    def __init__(self, backend: str, host: str | None, warning_days: int, critical_days: int,
                 run_openssl: t.Callable[[str], tuple[int, str, str]] | None = None,
                 now: dt.datetime | None = None, max_depth: int = 3):
        validate_thresholds(warning_days, critical_days)
        if max_depth < 1:
            raise CertError(f"max_depth: must be at least 1, got {max_depth}")
        if backend == "openssl" and run_openssl is None:
            raise CertError("backend: openssl needs the openssl command")
        self.backend, self.host, self.run_openssl = backend, host, run_openssl
        self.warning_days, self.critical_days, self.max_depth = warning_days, critical_days, max_depth
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.findings: list[dict] = []
        self.facts: list[dict] = []
        self._seen: set[str] = set()

    def read_certs(self, data: bytes) -> list[dict]:
        certs = []
        for label, block in pem_blocks(data):
            if label != "CERTIFICATE":
                continue
            if self.backend == "cryptography":
                certs.append(not_after_cryptography(block))
                continue
            if self.run_openssl is None:
                raise AssertionError("the openssl backend needs a run_openssl callable")
            rc, out, err = self.run_openssl(block.decode("ascii", "replace"))
            if rc != 0:
                raise CertUnreadable(f"openssl cannot read it: {err.strip()[:120]}")
            certs.append(parse_openssl_enddate(out))
        return certs

    def check_file(self, path: str, explicit: bool = True) -> int:
        """Check one file; returns the number of findings added (0 for a skipped key or other file)."""
        if path in self._seen:
            return 0
        self._seen.add(path)
        try:
            data = read_limited(path)
            kind = classify(path, data)
            if kind == "skip" and not explicit:
                return 0
            if kind != "certificate":
                raise CertUnreadable(f"{path} holds no readable PEM certificate")
            certs = self.read_certs(data)
        except CertUnreadable as exc:
            problem = str(exc) if str(exc).startswith(path) else f"{path}: {exc}"
            self.facts.append({"path": path, "error": problem})
            self.findings.append(cert_finding(path, self.host, None, self.now, 0, 0, problem=problem))
            return 1
        item = cert_finding(path, self.host, certs, self.now, self.warning_days, self.critical_days)
        self.facts.append({k: item["details"].get(k) for k in ("path", "days_left", "not_after", "subject")})
        self.findings.append(item)
        return 1

    def check_kubeconfig(self, path: str) -> None:
        """One finding per user of the kubeconfig with a client certificate (embedded or a file), named
        ``<path> (user <name>)``; the kubeconfig's keys and tokens are not read into any finding."""
        try:
            users = kubeconfig_users(read_limited(path).decode("utf-8", "replace"))
        except CertUnreadable as exc:
            problem = str(exc) if str(exc).startswith(path) else f"{path}: {exc}"
            self.facts.append({"kubeconfig": path, "error": problem})
            self.findings.append(cert_finding(path, self.host, None, self.now, 0, 0, problem=problem))
            return
        with_cert = [(user, fields) for user, fields in users if fields]
        if not with_cert:
            self.findings.append(finding("certificates.expiry", path, OK,
                                         "no client certificate in it (its users authenticate otherwise)",
                                         host=self.host, details={"path": path, "kubeconfig": path, "users": len(users)}))
            return
        for user, fields in with_cert:
            target = f"{path} (user {user})"
            source = "embedded" if CERT_DATA in fields else fields[CERT_FILE]
            try:
                if CERT_DATA in fields:
                    try:
                        data = base64.b64decode(fields[CERT_DATA], validate=False)
                    except (binascii.Error, ValueError):
                        raise CertUnreadable(f"{CERT_DATA} is not base64") from None
                else:
                    cert_file = fields[CERT_FILE]
                    if not os.path.isabs(cert_file):  # relative to the kubeconfig, as kubectl reads it
                        cert_file = os.path.join(os.path.dirname(path), cert_file)
                    source, data = cert_file, read_limited(cert_file)
                if classify(source, data) != "certificate":
                    raise CertUnreadable(f"{source if source != 'embedded' else CERT_DATA} holds no PEM certificate")
                certs = self.read_certs(data)
            except CertUnreadable as exc:
                problem = f"{target}: {exc}"
                self.facts.append({"kubeconfig": path, "user": user, "error": problem})
                item = cert_finding(target, self.host, None, self.now, 0, 0, problem=problem)
                item["details"].update(path=path, kubeconfig=path, user=user)
                self.findings.append(item)
                continue
            item = cert_finding(target, self.host, certs, self.now, self.warning_days, self.critical_days)
            first = min(certs, key=lambda c: c["not_after"])
            item["summary"] = f"client certificate of user {user}: {item['summary']}"
            item["details"].update(path=path, kubeconfig=path, user=user, certificate=source,
                                   issuer=first.get("issuer", ""))
            self.facts.append({"kubeconfig": path, "user": user,
                               **{k: item["details"].get(k) for k in ("days_left", "not_after", "subject", "issuer")}})
            self.findings.append(item)

    def check_endpoint(self, endpoint: dict, timeout: float,
                       fetch: t.Callable[..., bytes] = served_certificate) -> None:
        """One finding for the certificate an endpoint serves, named by its ``name`` or ``https://host:port``; an
        endpoint that does not answer TLS is ``unknown``."""
        host, port = split_address(endpoint["address"])
        shown = f"[{host}]" if ":" in host else host
        target = endpoint_target(endpoint)
        extra = {"endpoint": f"{shown}:{port}", "server_name": endpoint.get("server_name")}
        try:
            pem = fetch(host, port, endpoint.get("server_name"), timeout, endpoint.get("client_cert"),
                        endpoint.get("client_key"))
            certs = self.read_certs(pem)
        except CertUnreadable as exc:
            problem = f"{target}: {exc}"
            self.facts.append({**extra, "error": problem})
            item = cert_finding(target, self.host, None, self.now, 0, 0, problem=problem)
            item["details"].update(extra)
            self.findings.append(item)
            return
        item = cert_finding(target, self.host, certs, self.now, self.warning_days, self.critical_days)
        item["summary"] = f"served certificate: {item['summary']}"
        item["details"].update(extra, issuer=certs[0].get("issuer", ""))
        keep = ("days_left", "not_after", "subject", "issuer")
        self.facts.append({**extra, **{k: item["details"].get(k) for k in keep}})
        self.findings.append(item)

    def check_dir(self, directory: str) -> None:
        if not os.path.isdir(directory):
            why = "does not exist" if not os.path.exists(directory) else "is not a directory"
            self.findings.append(cert_finding(directory, self.host, None, self.now, 0, 0, problem=f"{directory} {why}"))
            return
        added = sum(self.check_file(path, explicit=False) for path in find_files(directory, self.max_depth))
        if not added:
            self.findings.append(cert_finding(directory, self.host, None, self.now, 0, 0,
                                              problem=f"no x509 certificate found under {directory}"))


# -- the check, as cert_expiry_info and host_inspection_info run it -----------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "dirs": {"type": "list", "elements": "path", "default": []},
    "paths": {"type": "list", "elements": "path", "default": []},
    "kubeconfigs": {"type": "list", "elements": "path", "default": []},
    "endpoints": {"type": "list", "elements": "dict", "default": [], "options": {
        "address": {"type": "str", "required": True},
        "name": {"type": "str"},
        "server_name": {"type": "str"},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path", "no_log": False},
    }},
    "endpoint_timeout": {"type": "float", "default": 5},
    "max_depth": {"type": "int", "default": 3},
    "warning_days": {"type": "int", "default": 30},
    "critical_days": {"type": "int", "default": 7},
    "backend": {"type": "str", "choices": ["auto", "cryptography", "openssl"], "default": "auto"},
}


def has_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        return False
    return True


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """Expiry of the certificates under ``dirs`` and in ``paths`` on this host (options: ARGUMENT_SPEC).

    ``module`` is the running AnsibleModule (``get_bin_path``, ``run_command``) for the openssl backend.
    """
    if params["endpoint_timeout"] <= 0:
        raise CertError(f"endpoint_timeout: must be more than 0, got {params['endpoint_timeout']}")
    for endpoint in params["endpoints"]:
        split_address(endpoint["address"])  # a bad address fails the check before anything is read
    backend = params["backend"]
    if backend == "auto":
        backend = "cryptography" if has_cryptography() else "openssl"
    if backend == "cryptography" and not has_cryptography():
        raise CertError("backend: cryptography is not installed in this host's Python; install it or use "
                        "backend=openssl")
    openssl = module.get_bin_path("openssl")
    if backend == "openssl" and not openssl:
        raise CertError("backend: openssl needs the openssl command, which is not installed on this host")

    def run_openssl(pem: str) -> tuple[int, str, str]:
        return module.run_command([openssl, "x509", "-noout", "-enddate", "-subject", "-issuer"], data=pem)

    checker = CertChecker(backend, host, params["warning_days"], params["critical_days"],
                          run_openssl if openssl else None, max_depth=params["max_depth"])
    for directory in params["dirs"]:
        checker.check_dir(directory)
    for path in params["paths"]:
        checker.check_file(path, explicit=True)
    for path in params["kubeconfigs"]:
        checker.check_kubeconfig(path)
    for endpoint in params["endpoints"]:
        checker.check_endpoint(endpoint, params["endpoint_timeout"])
    return {"findings": checker.findings, "certificates": checker.facts, "backend": backend}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    """(``certificates.expiry``, place) of each directory and file, for an unknown finding when the check could
    not run."""
    places = [str(p) for key in ("dirs", "paths", "kubeconfigs") if isinstance(args.get(key), list) for p in args[key]]
    for endpoint in args.get("endpoints") if isinstance(args.get("endpoints"), list) else []:
        try:
            places.append(endpoint_target(endpoint))
        except (CertError, AttributeError):
            places.append(str(endpoint.get("address") if isinstance(endpoint, dict) else endpoint))
    return [("certificates.expiry", place) for place in places] or [("certificates.expiry", label or "certificates")]
