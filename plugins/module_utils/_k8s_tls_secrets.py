# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS Secrets (``type: kubernetes.io/tls``): the expiry of each one's ``tls.crt``. PRIVATE to the collection.

k8s_cluster_info lists them with ONE paginated LIST across namespaces (field selector ``type=kubernetes.io/tls``),
keeps only the namespace, the name and ``tls.crt`` of the Secrets in the namespaces asked for (``tls.key`` is dropped
at once and never parsed, logged or returned), and ``secret_findings()`` turns them into ``certificates.expiry``
findings with the thresholds of the host certificate check (``_certs``). Like the other cluster checks, it reports
what is wrong plus one aggregate ok finding per namespace.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _certs
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import OK, UNKNOWN, could_not_run, finding

ARGUMENT_SPEC: dict[str, dict] = {
    "tls_secret_namespaces": {"type": "list", "elements": "str", "default": [], "no_log": False},
    "tls_secret_warning_days": {"type": "int", "default": 30, "no_log": False},
    "tls_secret_critical_days": {"type": "int", "default": 7, "no_log": False},
}

FIELD_SELECTOR = "type=kubernetes.io/tls"
FID = "certificates.expiry"
ALL = "*"


def target(namespace: str, name: str) -> str:
    return f"secret/{namespace}/{name}"


def slim(secrets: list[dict], namespaces: t.Collection[str]) -> list[dict]:
    """{namespace, name, crt} of the Secrets in ``namespaces`` (``*``: all); every other field, the key included,
    is left behind."""
    out = []
    for obj in secrets:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if ALL not in namespaces and namespace not in namespaces:
            continue
        out.append({"namespace": namespace, "name": str(meta.get("name") or "?"),
                    "crt": (obj.get("data") or {}).get("tls.crt")})
    return out


def _read(crt: t.Any) -> list[dict]:
    if not crt:
        raise _certs.CertUnreadable("it has no tls.crt")
    try:
        data = base64.b64decode(str(crt), validate=True)
    except (binascii.Error, ValueError):
        raise _certs.CertUnreadable("its tls.crt is not base64") from None
    blocks = [block for label, block in _certs.pem_blocks(data) if label == "CERTIFICATE"]
    if not blocks:
        raise _certs.CertUnreadable("its tls.crt holds no PEM certificate")
    return [_certs.not_after_cryptography(block) for block in blocks]


def secret_findings(secrets: list[dict], namespaces: t.Collection[str], warning_days: int, critical_days: int,
                    now: dt.datetime) -> list[dict]:
    """Findings of the slimmed Secrets (``slim()``): each one expiring, expired or unreadable, then one ok finding
    per namespace asked for (``secret/<namespace>/*``, also when it holds no TLS Secret)."""
    findings: list[dict] = []
    fine: dict[str, list[int]] = {}
    seen: set[str] = set()
    for secret in sorted(secrets, key=lambda s: (s["namespace"], s["name"])):
        where = target(secret["namespace"], secret["name"])
        seen.add(secret["namespace"])
        try:
            certs = _read(secret["crt"])
        except _certs.CertUnreadable as exc:
            findings.append(finding(FID, where, UNKNOWN, f"{where}: {exc}", details={"secret": where}))
            continue
        item = _certs.cert_finding(where, None, certs, now, warning_days, critical_days)
        first = min(certs, key=lambda c: c["not_after"])
        details = dict(item["details"], secret=where, issuer=first.get("issuer", ""))
        details.pop("path", None)
        if item["status"] == OK:
            fine.setdefault(secret["namespace"], []).append(details["days_left"])
            continue
        findings.append(finding(FID, where, item["status"], f"TLS secret: {item['summary']}", details=details))
    for namespace, days in sorted(fine.items()):
        findings.append(finding(FID, target(namespace, "*"), OK,
                                f"{len(days)} TLS secret(s), the first expiring in {min(days)} day(s)",
                                details={"secrets": len(days), "days_left_min": min(days)}))
    for namespace in sorted({n for n in namespaces if n != ALL} - seen):
        findings.append(finding(FID, target(namespace, "*"), OK, "no TLS secret in this namespace",
                                details={"secrets": 0}))
    return findings


def inspect(api_client: t.Any, lister: t.Callable, options: dict, page_size: int, timeout: float) -> dict:
    """``{findings, objects, requests}`` of the TLS Secrets in ``options["tls_secret_namespaces"]`` (none: nothing
    is listed); a LIST that fails (the credentials may not list Secrets) is an unknown finding, never a failure."""
    namespaces = [str(n) for n in options.get("tls_secret_namespaces") or []]
    if not namespaces:
        return {"findings": [], "objects": None, "requests": 0}
    warning_days, critical_days = options.get("tls_secret_warning_days", 30), options.get("tls_secret_critical_days", 7)
    try:
        _certs.validate_thresholds(warning_days, critical_days)
    except _certs.CertError as exc:   # its message names warning_days/critical_days: name these options
        raise ValueError(str(exc).replace("critical_days", "tls_secret_critical_days")
                         .replace("warning_days", "tls_secret_warning_days")) from None
    targets = [(FID, target(n, "*")) for n in namespaces]
    if not _certs.has_cryptography():
        return {"findings": could_not_run(targets, "the cryptography Python library is not installed",
                                          "k8s_cluster_info", None), "objects": None, "requests": 0}
    from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
    try:
        result = lister(api_client, "secrets", page_size, timeout, field_selector=FIELD_SELECTOR,
                        from_cache=not options.get("consistent_read", False))
    except _k8s.K8sConfigError:
        raise
    except _k8s.K8sError as exc:
        return {"findings": could_not_run(targets, f"cannot list TLS secrets: {exc}", "k8s_cluster_info", None),
                "objects": None, "requests": 0}
    secrets = slim(result.items, namespaces)
    count, requests = len(result.items), result.requests
    del result
    now = options.get("now") or dt.datetime.now(dt.timezone.utc)
    return {"findings": secret_findings(secrets, namespaces, warning_days, critical_days, now), "objects": count,
            "requests": requests}
