# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version skew across the fleet, and known-bad versions. PRIVATE to the collection: not a public API.

Two halves:

- on each host, inside the one ``host_inspection_info`` call (check ``component_versions``): the versions of the
  binaries installed there (``kube-proxy --version``, ``kubectl version --client``), one ``versions.host`` finding
  per host that carries them in its details;
- on the controller, once per inspection (``version_skew_info``): the versions the run already found - the API
  server's ``/version`` (``control_plane_services.api``), each node's ``kubeletVersion`` (``nodes.ready``), each etcd
  member's version (``etcd.member``) and every host's ``versions.host`` - compared with the Kubernetes version skew
  policy and with a list of known-bad versions. One finding per component kind (``versions.kubelet``,
  ``versions.kube_proxy``, ``versions.kubectl``, ``versions.etcd``, ``versions.kube_apiserver``) with the version
  of each host in its details.

Skew policy (https://kubernetes.io/releases/version-skew-policy/): kubelet and kube-proxy never newer than
kube-apiserver, and at most 3 minor versions older since kube-apiserver 1.28 (2 before); kubectl within one minor
version either way.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, UNKNOWN, WARNING, finding, one_line, worst,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._hygiene import HygieneError, parse_kubectl_version

Version = t.Tuple[int, int, int]

# component -> finding id of its fleet finding
FINDING_IDS = {
    "kube-apiserver": "versions.kube_apiserver",
    "kubelet": "versions.kubelet",
    "kube-proxy": "versions.kube_proxy",
    "kubectl": "versions.kubectl",
    "etcd": "versions.etcd",
}
COMPONENTS = tuple(FINDING_IDS)
HOST_COMPONENTS = ("kube-proxy", "kubectl")   # what the host check reads from the binaries
HOST_FINDING = "versions.host"
KNOWN_BAD_STATUSES = (WARNING, CRITICAL)
SUMMARY_HOSTS = 3   # hosts named in a summary; the details have all of them

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$")


class VersionError(ValueError):
    """Bad input (a known-bad entry, a threshold); the message names the bad value."""


def parse_version(text: t.Any) -> Version | None:
    """'v1.30.14' / '1.30.14' / 'v1.30.14-eks-1' / '3.5.9' -> (1, 30, 14); anything else (kwok-0.6.1, '') -> None."""
    if not isinstance(text, str):
        return None
    match = _VERSION.match(text.strip())
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


# -- known-bad versions -------------------------------------------------------------------------------------------
def load_known_bad(entries: t.Any, source: str = "known_bad") -> list[dict]:
    """Validated known-bad entries: ``{component, from?, fixed?, status, reason, url?}``.

    ``from`` is the first affected version (inclusive), ``fixed`` the first version with the fix (exclusive); at
    least one of them. ``status`` is ``warning`` (default) or ``critical``. Raises VersionError naming the entry."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise VersionError(f"{source}: must be a list of entries, got {type(entries).__name__}")
    out = []
    for index, entry in enumerate(entries):
        where = f"{source}[{index}]"
        if not isinstance(entry, t.Mapping):
            raise VersionError(f"{where}: must be a mapping, got {type(entry).__name__}")
        unknown_keys = sorted(set(entry) - {"component", "from", "fixed", "status", "reason", "url"})
        if unknown_keys:
            raise VersionError(f"{where}: unknown key(s) {', '.join(map(str, unknown_keys))}")
        component = entry.get("component")
        if component not in COMPONENTS:
            raise VersionError(f"{where}: component must be one of {', '.join(COMPONENTS)}, got {component!r}")
        bounds = {}
        for key in ("from", "fixed"):
            if entry.get(key) in (None, ""):
                continue
            bounds[key] = parse_version(str(entry[key]))
            if bounds[key] is None:
                raise VersionError(f"{where}: {key} must be a version like 3.5.3, got {entry[key]!r}")
        if not bounds:
            raise VersionError(f"{where}: needs from and/or fixed")
        if "from" in bounds and "fixed" in bounds and bounds["from"] >= bounds["fixed"]:
            raise VersionError(f"{where}: from {entry['from']} is not before fixed {entry['fixed']}")
        status = entry.get("status") or WARNING
        if status not in KNOWN_BAD_STATUSES:
            raise VersionError(f"{where}: status must be warning or critical, got {status!r}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise VersionError(f"{where}: reason must be a non-empty string")
        out.append({"component": component, "from": str(entry["from"]) if "from" in bounds else None,
                    "fixed": str(entry["fixed"]) if "fixed" in bounds else None, "status": status,
                    "reason": " ".join(reason.split()), "url": str(entry.get("url") or "") or None,
                    "_from": bounds.get("from"), "_fixed": bounds.get("fixed")})
    return out


def known_bad_matches(component: str, version: Version, known_bad: list[dict]) -> list[dict]:
    """The entries of ``load_known_bad()`` that ``version`` of ``component`` falls into."""
    return [e for e in known_bad if e["component"] == component
            and (e["_from"] is None or version >= e["_from"]) and (e["_fixed"] is None or version < e["_fixed"])]


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if not k.startswith("_") and v is not None}


# -- skew ---------------------------------------------------------------------------------------------------------
def supported_node_skew(apiserver: Version) -> int:
    """Minor versions a kubelet or kube-proxy may be older than kube-apiserver: 3 since 1.28, 2 before."""
    return 3 if apiserver[:2] >= (1, 28) else 2


def skew_problem(component: str, version: Version, apiserver: Version, max_skew: int) -> str | None:
    """Why ``version`` of ``component`` is outside the supported skew with ``apiserver``; None when inside."""
    api = "v" + _vstr(apiserver)
    if version[0] != apiserver[0]:
        return f"other major version than kube-apiserver {api}"
    diff = apiserver[1] - version[1]
    if component == "kubectl":
        if abs(diff) > max_skew:
            return f"{abs(diff)} minor versions from kube-apiserver {api} (supported: {max_skew})"
        return None
    if diff < 0:
        return f"newer than kube-apiserver {api} (never supported)"
    if diff > max_skew:
        return f"{diff} minor versions older than kube-apiserver {api} (supported: {max_skew})"
    return None


def _vstr(version: Version) -> str:
    return "%d.%d.%d" % version


def component_finding(component: str, versions: t.Mapping[str, t.Any], apiserver: Version | None,
                      known_bad: list[dict], max_skew: int | None = None, hosts: t.Mapping[str, str] | None = None,
                      same_version: bool = False) -> dict:
    """The fleet finding of one component kind: ``versions`` is where it runs (node, member or host) -> version.

    Skew against ``apiserver`` (kubelet, kube-proxy, kubectl; no skew check when it is None: the finding says so),
    known-bad entries, and with ``same_version`` (etcd) one version across all of them."""
    fid = FINDING_IDS[component]
    hosts = hosts or {}
    skewed = component in ("kubelet", "kube-proxy", "kubectl")
    if skewed and apiserver is not None and max_skew is None:
        max_skew = 1 if component == "kubectl" else supported_node_skew(apiserver)
    problems: dict[str, list[str]] = {}
    statuses = [OK]
    matched: dict[str, dict] = {}
    parsed: dict[str, Version] = {}
    for where in sorted(versions):
        raw = versions[where]
        version = parse_version(raw)
        if version is None:
            problems.setdefault(where, []).append(f"version {raw!r} is not a release version, not compared")
            statuses.append(UNKNOWN)
            continue
        parsed[where] = version
        if skewed and apiserver is not None:
            why = skew_problem(component, version, apiserver, max_skew or 0)
            if why:
                problems.setdefault(where, []).append(why)
                statuses.append(WARNING)
        for entry in known_bad_matches(component, version, known_bad):
            problems.setdefault(where, []).append(f"known bad: {entry['reason']}")
            statuses.append(entry["status"])
            matched[entry["reason"]] = _public(entry)
    distinct = sorted({str(versions[w]) for w in parsed}, key=lambda s: (parse_version(s) or (0, 0, 0), s))
    if same_version and len(distinct) > 1:
        statuses.append(WARNING)
    status = worst(statuses)
    details: dict[str, t.Any] = {"versions": {w: versions[w] for w in sorted(versions)}, "problems": problems}
    if skewed:
        details["kube_apiserver"] = _vstr(apiserver) if apiserver else None
        details["max_skew"] = max_skew
    if hosts:
        details["hosts"] = {w: hosts[w] for w in sorted(versions) if w in hosts}
    if matched:
        details["known_bad"] = list(matched.values())
    where_word = {"kubelet": "node", "etcd": "member"}.get(component, "host") + ("" if len(versions) == 1 else "s")
    seen = ", ".join(distinct) or "no readable version"
    if not problems and not (same_version and len(distinct) > 1):
        if component == "kube-apiserver":
            return finding(fid, "cluster", status, f"kube-apiserver {seen}: not a known-bad version", details=details)
        tail = (f", within the supported skew of kube-apiserver v{_vstr(apiserver)}" if skewed and apiserver
                else "; skew not checked: the kube-apiserver version is unknown" if skewed else "")
        return finding(fid, "cluster", status, f"{component} {seen} on {len(versions)} {where_word}{tail}",
                       details=details)
    parts = []
    if same_version and len(distinct) > 1:
        parts.append(f"{len(distinct)} versions across {len(versions)} {where_word} ({seen}): run one version")
    for where in list(problems)[:SUMMARY_HOSTS]:
        parts.append(f"{where} {versions[where]}: {'; '.join(problems[where])}")
    if len(problems) > SUMMARY_HOSTS:
        parts.append(f"and {len(problems) - SUMMARY_HOSTS} more")
    if skewed and apiserver is None:
        parts.append("skew not checked: the kube-apiserver version is unknown")
    return finding(fid, "cluster", status, f"{component}: " + "; ".join(parts), details=details)


# -- the fleet, from the findings of the run ----------------------------------------------------------------------
def versions_from_findings(findings: t.Iterable[t.Any]) -> dict:
    """What the run's findings say about versions.

    ``{"kube-apiserver": "v1.30.14" | None, "components": {component: {where: version}}, "hosts": {component:
    {where: inventory host}}}`` from ``control_plane_services.api`` (details.version), ``nodes.ready``
    (details.kubelet_version), ``etcd.member`` (details.status.version) and ``versions.host`` (details.versions)."""
    api: str | None = None
    components: dict[str, dict[str, str]] = {c: {} for c in COMPONENTS if c != "kube-apiserver"}
    hosts: dict[str, dict[str, str]] = {c: {} for c in components}
    for item in findings:
        if not isinstance(item, t.Mapping):
            continue
        fid, target, details = item.get("id"), str(item.get("target") or ""), item.get("details") or {}
        if not isinstance(details, t.Mapping):
            continue
        if fid == "control_plane_services.api" and details.get("version"):
            api = str(details["version"])
        elif fid == "nodes.ready" and details.get("kubelet_version"):
            components["kubelet"][target] = str(details["kubelet_version"])
            hosts["kubelet"][target] = str(item.get("host") or target)
        elif fid == "etcd.member" and isinstance(details.get("status"), t.Mapping) and details["status"].get("version"):
            components["etcd"][target] = str(details["status"]["version"])
            hosts["etcd"][target] = str(item.get("host") or target)
        elif fid == HOST_FINDING and isinstance(details.get("versions"), t.Mapping):
            for component, version in details["versions"].items():
                if component in HOST_COMPONENTS and version:
                    components[component][str(item.get("host") or target)] = str(version)
    return {"kube-apiserver": api, "components": components, "hosts": hosts}


def fleet_findings(findings: t.Iterable[t.Any], known_bad: list[dict], kubelet_max_skew: int | None = None,
                   kubectl_max_skew: int = 1) -> list[dict]:
    """One finding per component kind seen in the run's findings (see ``versions_from_findings``)."""
    if kubelet_max_skew is not None and kubelet_max_skew < 0:
        raise VersionError(f"kubelet_max_skew: must be 0 or more, got {kubelet_max_skew}")
    if kubectl_max_skew < 0:
        raise VersionError(f"kubectl_max_skew: must be 0 or more, got {kubectl_max_skew}")
    found = versions_from_findings(findings)
    api_raw = found["kube-apiserver"]
    apiserver = parse_version(api_raw) if api_raw else None
    out = []
    if api_raw:
        out.append(component_finding("kube-apiserver", {"kube-apiserver": api_raw}, None, known_bad))
    for component in ("kubelet", "kube-proxy", "kubectl", "etcd"):
        versions = found["components"][component]
        if not versions:
            continue
        max_skew = {"kubelet": kubelet_max_skew, "kube-proxy": kubelet_max_skew, "kubectl": kubectl_max_skew}.get(component)
        out.append(component_finding(component, versions, apiserver, known_bad, max_skew, found["hosts"][component],
                                     same_version=component == "etcd"))
    return out


def failure_targets_fleet() -> list[tuple[str, str]]:
    """(finding id, target) of every fleet finding, for unknown findings when the comparison could not run."""
    return [(fid, "cluster") for fid in FINDING_IDS.values()]


# -- the host side: the versions of the binaries installed here ----------------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "components": {"type": "list", "elements": "str", "choices": list(HOST_COMPONENTS),
                   "default": list(HOST_COMPONENTS)},
    "kube_proxy": {"type": "str", "default": "kube-proxy"},
    "kubectl": {"type": "str", "default": "kubectl"},
    "bin_dirs": {"type": "list", "elements": "path", "default": ["/app/kubernetes/server/bin", "/usr/local/bin"]},
}


def parse_kube_proxy_version(text: str) -> str | None:
    """``kube-proxy --version`` ('Kubernetes v1.30.14') -> 'v1.30.14'."""
    for token in reversed((text or "").split()):
        if parse_version(token):
            return token
    return None


def parse_kubectl_client_version(text: str) -> str | None:
    """``kubectl version --client -o json`` -> clientVersion.gitVersion (read as the kubectl skew check reads it)."""
    try:
        git = parse_kubectl_version(text or "")["client_git"]
    except HygieneError:
        return None
    return str(git) if git else None


def host_versions(module: t.Any, params: dict) -> tuple[dict[str, str], dict[str, str]]:
    """({component: version}, {component: error}) of the binaries installed on this host; a component that is not
    installed is in neither."""
    commands = {"kube-proxy": (params["kube_proxy"], ["--version"], parse_kube_proxy_version),
                "kubectl": (params["kubectl"], ["version", "--client", "-o", "json"], parse_kubectl_client_version)}
    versions: dict[str, str] = {}
    errors: dict[str, str] = {}
    for component in params["components"]:
        name, args, parse = commands[component]
        path = module.get_bin_path(name, required=False, opt_dirs=list(params["bin_dirs"]))
        if not path:
            continue
        try:
            rc, out, err = module.run_command([path] + args, environ_update={"LC_ALL": "C"})
        except OSError as exc:
            errors[component] = one_line(f"{path} cannot be run: {exc}")
            continue
        version = parse(out)
        if version:
            versions[component] = version
        else:
            errors[component] = one_line(f"{path} {' '.join(args)} printed no version (rc={rc}): {(err or out)[:200]}")
    return versions, errors


def host_finding(versions: dict[str, str], errors: dict[str, str], host: str | None) -> dict:
    """``versions.host``: what is installed here (ok), unknown when a binary did not tell its version."""
    seen = ", ".join(f"{c} {v}" for c, v in sorted(versions.items())) or "none of kube-proxy, kubectl installed"
    if errors:
        return finding(HOST_FINDING, host or "host", UNKNOWN,
                       f"{seen}; " + "; ".join(f"{c}: {e}" for c, e in sorted(errors.items())), host=host,
                       details={"versions": versions, "errors": errors})
    return finding(HOST_FINDING, host or "host", OK, seen, host=host, details={"versions": versions})


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """The host check ``component_versions`` (options: ARGUMENT_SPEC)."""
    versions, errors = host_versions(module, params)
    return {"findings": [host_finding(versions, errors, host)], "versions": versions}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del args
    return [(HOST_FINDING, label or "host")]
