# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of the daily inspection in one Python process: the registry of checks. PRIVATE to the collection.

``kubeops.runbook.host_inspection_info`` runs, on one host, a list of check invocations ``{check, options}`` one
after the other and returns all their findings. Each check is the one its single-purpose module runs
(``systemd_unit_info``, ``log_scan``, ``nginx_info``, ...): the same argument spec and the same function in the
topic's module_utils file, so a check has one implementation whichever way it runs.

A check whose options are invalid, that raises its domain error (the message the single-purpose module would fail
with) or that crashes becomes ``unknown`` findings for what it is about (its ``failure_targets``), with the same
summary the findings action gives a failed single-purpose module (``check could not run: ...``); the host's other
checks still run.

Adding a check (see docs/architecture.md, "Where to add a check"): a function ``inspect(module, params, host)``
returning ``{"findings": [...], <facts>}``, its ``ARGUMENT_SPEC`` and its ``failure_targets(args, label)`` in the
topic's module_utils file, and one ``Check`` line in CHECKS below.
"""
from __future__ import annotations

import time
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kubeops.runbook.plugins.module_utils import (
    _calico, _certs, _disk, _etcd, _etcd_trends, _findings, _hygiene, _logscan, _middleware, _middleware_mysql,
    _middleware_nginx, _middleware_rabbitmq, _middleware_redis, _systemd, _versions,
)

COLLECTION = "kubeops.runbook"
# The option holding each invocation's secret options (no_log in its spec), keyed by the invocation's index.
SECRETS = "secrets"


class Check(t.NamedTuple):
    """One registered check: what the combined call needs to run it and to report it when it cannot run."""

    spec: dict                      # its options: the argument spec of its single-purpose module (without `host`)
    run: t.Callable[[t.Any, dict, t.Optional[str]], dict]   # inspect(module, params, host) -> {"findings", ...facts}
    failure_targets: t.Callable[[dict, t.Optional[str]], t.List[t.Tuple[str, str]]]
    errors: t.Tuple[t.Type[Exception], ...] = ()   # its domain errors: their message is for an operator
    module: str = ""                # the single-purpose module running the same check (named in unknown findings)
    # Turns the invocation's options into ``spec``'s with the results of the checks that ran before it in the same
    # call, ``prepare(options, {check: result})`` (e.g. adds the logs nginx declares); raises CheckFailed.
    prepare: t.Optional[t.Callable[[dict, dict], dict]] = None
    # What its findings are about, as FindingsActionBase.SCOPE says it: "host" (all about this host: they get its
    # name), "peers" (the check labels them: calico reports a broken session for the peer's host too), "cluster" (the
    # cluster's: unlabelled, unless the check names a member; an unknown finding of it is unlabelled too).
    scope: str = "host"


class CheckFailed(Exception):
    """A check's options are invalid; the message names the bad value."""


# -- the middleware's logs: log_scan of the files given plus the logs nginx declared (nginx_info ran before) ------
NGINX_LOGS_SPEC: dict[str, dict] = {
    "nginx_error_logs": {"type": "bool", "default": True},
    "nginx_access_logs": {"type": "bool", "default": True},
}


def _with_nginx_logs(args: dict, earlier: dict) -> dict:
    """log_scan options from middleware_log_scan's: ``files`` (optional here) after the error_log files, and with
    ``nginx_access_logs`` the access_log files, that nginx_info found declared earlier in the same call."""
    mine = validate(NGINX_LOGS_SPEC, {k: args[k] for k in NGINX_LOGS_SPEC if k in args})
    args = {k: v for k, v in args.items() if k not in NGINX_LOGS_SPEC}
    files = args.get("files") if isinstance(args.get("files"), list) else []
    nginx = earlier.get("nginx_info", {}).get("nginx")
    declared = _middleware_nginx.scan_files(nginx, mine["nginx_error_logs"], mine["nginx_access_logs"])
    return dict(args, files=declared + files)


# -- the certificates nginx serves: cert_expiry_info of the TLS listeners nginx_info found (it ran before) ----------
NGINX_TLS_SPEC: dict[str, dict] = {"nginx_tls": {"type": "bool", "default": True}}


def _with_nginx_tls(args: dict, earlier: dict) -> dict:
    """cert_expiry_info options with, after ``endpoints``, the TLS listeners (``listen ... ssl``) that nginx_info
    found in ``nginx -T`` earlier in the same call."""
    mine = validate(NGINX_TLS_SPEC, {k: args[k] for k in NGINX_TLS_SPEC if k in args})
    args = {k: v for k, v in args.items() if k not in NGINX_TLS_SPEC}
    endpoints = list(args.get("endpoints")) if isinstance(args.get("endpoints"), list) else []
    nginx = earlier.get("nginx_info", {}).get("nginx") or {}
    if mine["nginx_tls"]:
        endpoints += _middleware_nginx.tls_endpoints(nginx)
    return dict(args, endpoints=endpoints)


CHECKS: dict[str, Check] = {
    "systemd_unit_info": Check(_systemd.ARGUMENT_SPEC, _systemd.inspect, _systemd.failure_targets,
                               (_systemd.SystemdError,)),
    "log_scan": Check(_logscan.ARGUMENT_SPEC, _logscan.inspect, _logscan.failure_targets, (_logscan.LogScanError,)),
    "disk_usage_info": Check(_disk.ARGUMENT_SPEC, _disk.inspect, _disk.failure_targets, (_disk.DiskError,)),
    "cert_expiry_info": Check(_certs.ARGUMENT_SPEC, _certs.inspect, _certs.failure_targets, (_certs.CertError,)),
    "host_hygiene_info": Check(_hygiene.ARGUMENT_SPEC, _hygiene.inspect, _hygiene.failure_targets,
                               (_hygiene.HygieneError,)),
    "nginx_info": Check(_middleware_nginx.ARGUMENT_SPEC, _middleware_nginx.inspect, _middleware_nginx.failure_targets,
                        (_middleware.MiddlewareError,)),
    "redis_info": Check(_middleware_redis.ARGUMENT_SPEC, _middleware_redis.inspect, _middleware_redis.failure_targets,
                        (_middleware.MiddlewareError,)),
    "rabbitmq_info": Check(_middleware_rabbitmq.ARGUMENT_SPEC, _middleware_rabbitmq.inspect,
                           _middleware_rabbitmq.failure_targets, (_middleware.MiddlewareError,)),
    "mysql_info": Check(_middleware_mysql.ARGUMENT_SPEC, _middleware_mysql.inspect, _middleware_mysql.failure_targets,
                        (_middleware.MiddlewareError,)),
    "tcp_service_info": Check(_middleware.TCP_ARGUMENT_SPEC, _middleware.inspect_tcp, _middleware.tcp_failure_targets,
                              (_middleware.MiddlewareError,)),
    "calico_bgp_info": Check(_calico.ARGUMENT_SPEC, _calico.inspect, _calico.failure_targets, (_calico.CalicoError,),
                             scope="peers"),
    # the cluster's etcd, from the etcd host that runs it (in playbooks/daily_inspection.yml: the first of the play)
    "etcd_cluster_info": Check(_etcd.ARGUMENT_SPEC, _etcd.inspect, _etcd.failure_targets, (_etcd.EtcdError, OSError),
                               scope="cluster"),
    # the versions of kube-proxy and kubectl installed here (version_skew_info compares the fleet on the controller)
    "component_versions": Check(_versions.ARGUMENT_SPEC, _versions.inspect, _versions.failure_targets,
                                (_versions.VersionError,), module="host_inspection_info"),
    # the etcd snapshots of an etcd host that takes backups (its backup directory and copy_to)
    "etcd_backup_info": Check(_etcd_trends.BACKUP_SPEC, _etcd_trends.inspect_backups, _etcd_trends.backup_failure_targets,
                              (_etcd.EtcdError,)),
    # the middleware's own logs, after nginx_info in the same call (what middleware_inspection's log task scans)
    "middleware_log_scan": Check(_logscan.ARGUMENT_SPEC, _logscan.inspect, _logscan.failure_targets,
                                 (_logscan.LogScanError,), module="log_scan", prepare=_with_nginx_logs),
    # the certificates nginx's TLS listeners serve, after nginx_info in the same call
    "middleware_cert_expiry": Check(_certs.ARGUMENT_SPEC, _certs.inspect, _certs.failure_targets, (_certs.CertError,),
                                    module="cert_expiry_info", prepare=_with_nginx_tls),
}


def module_of(name: str) -> str:
    """The single-purpose module that runs check ``name`` (what an unknown finding names)."""
    check = CHECKS.get(name)
    return f"{COLLECTION}.{(check.module if check and check.module else name)}"


def secret_options(name: str) -> tuple[str, ...]:
    """The options of check ``name`` that are secrets (no_log in its spec)."""
    check = CHECKS.get(name)
    return tuple(key for key, spec in (check.spec.items() if check else ()) if spec.get("no_log"))


def split_secrets(invocations: list) -> tuple[list, dict]:
    """(invocations without their secret options, {index: secret options}): the module gets the secrets in an
    option of their own, declared no_log, so that they are masked in every output (the module's invocation, the
    target's syslog, the task result)."""
    cleaned, secrets = [], {}
    for index, item in enumerate(invocations):
        if not isinstance(item, t.Mapping) or not isinstance(item.get("options"), t.Mapping):
            cleaned.append(item)
            continue
        names = secret_options(str(item.get("check")))
        options = {k: v for k, v in item["options"].items() if k not in names}
        hidden = {k: v for k, v in item["options"].items() if k in names and v not in (None, "")}
        if hidden:
            secrets[str(index)] = hidden
        cleaned.append(dict(item, options=options))
    return cleaned, secrets


def validate(spec: dict, options: t.Any) -> dict:
    """The options through the argument spec (types, choices, defaults), as AnsibleModule would validate them.

    An option given as None that has no default is left out, as ``default(omit)`` leaves it out of a single-purpose
    task (its value is None either way, and a choice such as ``expected_role`` is not checked against None); one
    with a default stays None, as in the single-purpose module (for example a threshold switched off)."""
    if not isinstance(options, t.Mapping):
        raise CheckFailed(f"options: must be a mapping, got {type(options).__name__}")
    options = {k: v for k, v in options.items() if v is not None or (spec.get(k) or {}).get("default") is not None}
    result = ArgumentSpecValidator(spec).validate(options)
    if result.error_messages:
        raise CheckFailed("; ".join(str(m) for m in result.error_messages))
    return result.validated_parameters


def failure_findings(name: str, args: t.Any, host: str | None, error: str, reason: str = "failed") -> list[dict]:
    """``unknown`` findings for what check ``name`` is about, when it could not run."""
    check = CHECKS.get(name)
    targets: list[tuple[str, str]] = []
    if check is not None:
        try:
            targets = check.failure_targets(args if isinstance(args, dict) else {}, host)
        except Exception:  # pylint: disable=broad-except  # never lose the finding over odd arguments
            targets = []
    label = None if check is not None and check.scope == "cluster" else host
    return _findings.could_not_run(targets or [("host.inspection", str(name))], error, module_of(name), label, reason)


def run_one(module: t.Any, name: str, options: t.Any, host: str | None, earlier: dict) -> tuple[list[dict], dict]:
    """Run one invocation; (findings, result facts). Never raises: a failure is unknown findings."""
    check = CHECKS.get(name)
    if check is None:
        error = f"check: {name!r} is not a check of host_inspection_info (known: {', '.join(CHECKS)})"
        return failure_findings(name, {}, host, error), {"check": name, "error": error}
    args = options
    try:
        if check.prepare is not None and isinstance(options, t.Mapping):
            args = check.prepare(dict(options), earlier)
        params = validate(check.spec, args)
        out = check.run(module, params, host)
    except (CheckFailed, *check.errors) as exc:
        error = _findings.one_line(exc)
    except Exception as exc:  # pylint: disable=broad-except  # one broken check must not cost the host its others
        error = _findings.one_line(f"{type(exc).__name__}: {exc}")
    else:
        found = list(out.get("findings") or [])
        if check.scope == "host":
            found = [dict(f, host=host) if isinstance(f, dict) else f for f in found]
        facts = {k: v for k, v in out.items() if k != "findings"}
        return found, {"check": name, **facts}
    return failure_findings(name, args, host, error), {"check": name, "error": error}


def run_checks(module: t.Any, invocations: list, host: str | None, secrets: dict | None = None) -> tuple[list, list]:
    """Run every invocation in order; (all findings, one result per invocation)."""
    findings: list[dict] = []
    results: list[dict] = []
    earlier: dict[str, dict] = {}
    for index, item in enumerate(invocations):
        item = item if isinstance(item, t.Mapping) else {}
        name = str(item.get("check"))
        options = item.get("options") or {}
        hidden = (secrets or {}).get(str(index))
        if isinstance(options, t.Mapping) and isinstance(hidden, t.Mapping):
            options = {**options, **hidden}
        started = time.monotonic()
        found, result = run_one(module, name, options, host, earlier)
        result["elapsed_s"] = round(time.monotonic() - started, 3)
        findings += found
        results.append(result)
        if "error" not in result:
            earlier[name] = result
    return findings, results
