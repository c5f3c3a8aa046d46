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
import re
import shutil
import time
import typing as t

from ansible.module_utils.common.parameters import env_fallback

# etcdctl's own environment variables (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ...) are the fallbacks, read on the host
# the module runs on (set them with the play's `environment`, or set the options once with module_defaults of
# group/kubeops.runbook.etcd).
ETCD_AUTH_SPEC: dict[str, dict] = {
    "endpoints": {"type": "list", "elements": "str", "required": True, "fallback": (env_fallback, ["ETCDCTL_ENDPOINTS"])},
    "cacert": {"type": "path", "fallback": (env_fallback, ["ETCDCTL_CACERT"])},
    "cert": {"type": "path", "fallback": (env_fallback, ["ETCDCTL_CERT"])},
    "key": {"type": "path", "no_log": False, "fallback": (env_fallback, ["ETCDCTL_KEY"])},
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
    return shutil.which(path, path=os.pathsep.join([os.environ.get("PATH") or os.defpath, *ETCDCTL_SEARCH_DIRS]))


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


# -- parsers (etcdctl 3.4 -w json) -------------------------------------------------------------------------
ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}


def parse_member_list(text: str) -> list[dict]:
    """``member list -w json`` -> [{name, id, peer_urls, client_urls, is_learner, started}].

    Members are joined to endpoint status/health by client URL: a down member has no status to give its ID.
    """
    data = loads_json(text, "member list")
    if not isinstance(data, dict) or not isinstance(data.get("members"), list):
        raise EtcdError(f"etcdctl member list: unexpected JSON {str(data)[:200]}")
    members = []
    for item in data["members"]:
        if not isinstance(item, dict):
            raise EtcdError(f"etcdctl member list: unexpected member {str(item)[:100]}")
        client_urls = [str(u) for u in item.get("clientURLs") or []]
        members.append({"name": item.get("name") or "", "id": item.get("ID"),
                        "peer_urls": [str(u) for u in item.get("peerURLs") or []], "client_urls": client_urls,
                        "is_learner": bool(item.get("isLearner")), "started": bool(item.get("name")) and bool(client_urls)})
    return members


def parse_endpoint_status(text: str) -> dict[str, dict]:
    """``endpoint status -w json`` (possibly partial when some members are down) -> endpoint -> status."""
    if not (text or "").strip():
        return {}
    data = loads_json(text, "endpoint status")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise EtcdError(f"etcdctl endpoint status: unexpected JSON {str(data)[:200]}")
    result = {}
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("Status"), dict):
            raise EtcdError(f"etcdctl endpoint status: unexpected entry {str(item)[:200]}")
        st = item["Status"]
        header = st.get("header") or {}
        result[str(item.get("Endpoint"))] = {
            "member_id": header.get("member_id"), "cluster_id": header.get("cluster_id"), "leader": st.get("leader") or 0, "version": st.get("version"),
            "db_size": int(st.get("dbSize") or 0), "db_size_in_use": int(st.get("dbSizeInUse") or 0),
            "raft_term": int(st.get("raftTerm") or 0), "raft_index": int(st.get("raftIndex") or 0),
            "raft_applied_index": int(st.get("raftAppliedIndex") or 0), "revision": header.get("revision"),
            "errors": [str(e) for e in st.get("errors") or []], "is_learner": bool(st.get("isLearner")),
        }
    return result


def parse_endpoint_health(text: str) -> dict[str, dict]:
    """``endpoint health -w json`` -> endpoint -> {health, took, error}."""
    if not (text or "").strip():
        return {}
    data = loads_json(text, "endpoint health")
    if isinstance(data, dict):
        data = [data]
    result = {}
    for item in data if isinstance(data, list) else [None]:
        if isinstance(item, list):  # one JSON array per line
            for sub in item:
                result.update(parse_endpoint_health(json.dumps(sub)))
            continue
        if not isinstance(item, dict) or "endpoint" not in item:
            raise EtcdError(f"etcdctl endpoint health: unexpected entry {str(item)[:200]}")
        result[str(item["endpoint"])] = {"health": item.get("health") is True, "took": item.get("took"),
                                         "error": item.get("error")}
    return result


def parse_alarm_list(text: str) -> list[dict]:
    """``alarm list -w json`` -> [{member_id, alarm}] ('{}' when there is none)."""
    if not (text or "").strip():
        return []
    data = loads_json(text, "alarm list")
    if not isinstance(data, dict):
        raise EtcdError(f"etcdctl alarm list: unexpected JSON {str(data)[:200]}")
    alarms = []
    for item in data.get("alarms") or []:
        if not isinstance(item, dict):
            raise EtcdError(f"etcdctl alarm list: unexpected alarm {str(item)[:100]}")
        code = item.get("alarm")
        alarms.append({"member_id": item.get("memberID"), "alarm": ALARM_NAMES.get(code, str(code))})
    return alarms


def last_error_line(stderr: str) -> str:
    """The operator-relevant line of etcdctl's stderr (skipping its JSON-formatted gRPC retry warnings)."""
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip() and not ln.lstrip().startswith("{")]
    return lines[-1][:300] if lines else (stderr or "").strip()[:300]


def _url_host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    hostport = rest.split("/", 1)[0]
    if hostport.startswith("["):
        return hostport[1:].split("]", 1)[0]
    return hostport.rsplit(":", 1)[0]


# -- assessment ----------------------------------------------------------------------------------------------
def cluster_findings(members: list[dict], statuses: dict[str, dict], healths: dict[str, dict], alarms: list[dict],
                     member_hosts: dict | None = None, quota_bytes: int = 2 * 2 ** 30,
                     db_warning_percent: float = 80, db_critical_percent: float = 95,
                     over_time: dict | None = None) -> list[dict]:
    """etcd.member per member, etcd.quorum, etcd.leader, etcd.alarms, etcd.db_size per member; with ``over_time``
    (``_etcd_trends``: quota_source, defrag_warning_percent, defrag_min_quota_percent) etcd.member_count and
    etcd.defrag per member too."""
    from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_trends  # pylint: disable=import-outside-toplevel
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (  # pylint: disable=import-outside-toplevel
        CRITICAL, OK, WARNING, by_threshold, finding)
    if quota_bytes <= 0:
        raise EtcdError(f"quota_backend_bytes must be positive, got {quota_bytes}")
    member_hosts = member_hosts or {}
    findings = []
    healthy = 0
    id_to_name: dict = {}
    voters = [m for m in members if not m["is_learner"]]
    for member in members:
        url = member["client_urls"][0] if member["client_urls"] else None
        name = member["name"] or (url or "unstarted member")
        host = member_hosts.get(_url_host(url)) if url else None
        host = host or member_hosts.get(member["name"]) or member["name"] or None
        status = next((statuses[u] for u in member["client_urls"] if u in statuses), None)
        health = next((healths[u] for u in member["client_urls"] if u in healths), None)
        if status:
            id_to_name[status["member_id"]] = name
        details = {"client_urls": member["client_urls"], "peer_urls": member["peer_urls"], "learner": member["is_learner"],
                   "health": health, "status": status}
        if not member["started"]:
            findings.append(finding("etcd.member", name, CRITICAL, "member was added but never started (no name/client URL)",
                                    host=host, details=details))
            continue
        if health and health["health"] and status:
            if not member["is_learner"]:
                healthy += 1
            findings.append(finding("etcd.member", name, OK, f"healthy ({url}, took {health.get('took')})",
                                    host=host, details=details))
        else:
            why = (health or {}).get("error") or ("no status" if not status else "unhealthy")
            findings.append(finding("etcd.member", name, CRITICAL, f"member down or unhealthy at {url}: {why}",
                                    host=host, details=details))
        if status:
            percent = round(100.0 * status["db_size"] / quota_bytes, 1)
            level = by_threshold(percent, db_warning_percent, db_critical_percent)
            findings.append(finding("etcd.db_size", name, level,
                                    f"DB {status['db_size'] // 2 ** 20} MiB = {percent}% of the {quota_bytes // 2 ** 20} MiB quota",
                                    host=host, details={"db_size": status["db_size"], "db_size_in_use": status["db_size_in_use"],
                                                        "quota_bytes": quota_bytes, "percent": percent,
                                                        "defrag_free_percent": _etcd_trends.defrag_share(status)[1],
                                                        "quota_source": (over_time or {}).get("quota_source")}))
            if over_time is not None:
                findings.append(_etcd_trends.defrag_finding(name, host, status, quota_bytes,
                                                            over_time["defrag_warning_percent"],
                                                            over_time["defrag_min_quota_percent"]))
    total = len(voters)
    quorum = total // 2 + 1 if total else 1
    count = _etcd_trends.member_count_finding(members) if over_time is not None else None
    if count is not None:
        findings.append(count)
    qdetails = {"members": total, "healthy": healthy, "quorum": quorum,
                "raft_index": {id_to_name.get(s["member_id"], ep): s["raft_index"] for ep, s in statuses.items()}}
    if not total:
        findings.append(finding("etcd.quorum", "cluster", CRITICAL, "member list is empty", details=qdetails))
    elif healthy < quorum:
        findings.append(finding("etcd.quorum", "cluster", CRITICAL,
                                f"quorum lost: {healthy} of {total} members healthy, {quorum} needed", details=qdetails))
    elif healthy < total:
        findings.append(finding("etcd.quorum", "cluster", WARNING,
                                f"quorum held by {healthy} of {total} members; tolerates {healthy - quorum} more failures",
                                details=qdetails))
    else:
        findings.append(finding("etcd.quorum", "cluster", OK, f"all {total} members healthy (tolerates {total - quorum} failures)",
                                details=qdetails))
    leaders = {s["leader"] for s in statuses.values() if s["leader"]}
    no_leader = [ep for ep, s in statuses.items() if not s["leader"] or any("no leader" in e for e in s["errors"])]
    if not leaders or (no_leader and len(no_leader) == len(statuses)):
        findings.append(finding("etcd.leader", "cluster", CRITICAL, "no leader", details={"endpoints_without_leader": no_leader}))
    elif len(leaders) > 1:
        names = sorted(str(id_to_name.get(lid, lid)) for lid in leaders)
        findings.append(finding("etcd.leader", "cluster", CRITICAL, f"members disagree on the leader: {', '.join(names)}",
                                details={"leaders": names}))
    else:
        leader = next(iter(leaders))
        terms = sorted({s["raft_term"] for s in statuses.values()})
        findings.append(finding("etcd.leader", "cluster", OK, f"leader {id_to_name.get(leader, leader)}, raft term {terms[-1]}",
                                details={"leader": id_to_name.get(leader, leader), "raft_terms": terms}))
    active = {f"{a['alarm']}@{id_to_name.get(a['member_id'], a['member_id'])}" for a in alarms if a["alarm"] != "NONE"}
    for ep, st in statuses.items():
        for err in st["errors"]:
            if "alarm:" in err:
                kind = err.split("alarm:", 1)[1].strip()
                member_id = err.split("memberID:", 1)[1].split()[0] if "memberID:" in err else ep
                try:
                    member_id = int(member_id)
                except ValueError:
                    pass
                active.add(f"{kind}@{id_to_name.get(member_id, member_id)}")
    if active:
        findings.append(finding("etcd.alarms", "cluster", CRITICAL, f"active alarms: {', '.join(sorted(active))}",
                                details={"alarms": sorted(active)}))
    else:
        findings.append(finding("etcd.alarms", "cluster", OK, "no alarm (NOSPACE/CORRUPT)", details={"alarms": []}))
    return findings


SNAPSHOT_RECORD_SUFFIX = ".verified.json"
SNAPSHOT_RECORD_SCHEMA = "kubeops.runbook/etcd-snapshot/v1"
# the names etcd_snapshot gives the snapshots it verified (it writes the record before it gives the name)
SNAPSHOT_NAME_RE = re.compile(r"^etcd-snapshot-\d{8}T\d{6}Z\.db$")
FUTURE_SKEW_SECONDS = 300


def snapshot_findings(entries: list[dict] | None, directory: str, host: str | None, now: float,
                      warning_hours: float = 25, critical_hours: float = 73, missing_status: str = "warning") -> list[dict]:
    """backups.etcd_snapshot: age of the newest snapshot that counts (entries of list_snapshots; None = no directory).

    An empty file, a file dated in the future (a clock that ran ahead: it would look fresh for ever) and a file changed
    after its verification record was written never count, nor a file named as etcd_snapshot names its verified
    snapshots that has no record (etcd_snapshot writes the record before it gives the name: a snapshot of 1.0.0, or not
    one of its). A snapshot with a matching record is aged by when it was verified; one without a record (taken by other
    tools, such as a plain ``etcdctl snapshot save`` timer, which writes ``<name>.part`` and renames it when complete)
    by its mtime, and the details say it is unverified. What does not count is named in the details.
    """
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (  # pylint: disable=import-outside-toplevel
        by_threshold, finding, rank)
    rank(missing_status)
    if warning_hours <= 0 or critical_hours <= 0:
        raise EtcdError(f"snapshot age thresholds must be positive, got {warning_hours}/{critical_hours}")
    if entries is None:
        return [finding("backups.etcd_snapshot", directory, missing_status, f"backup directory {directory} does not exist",
                        host=host, details={"directory": directory})]
    files, ignored = [], []
    for entry in entries:
        when = entry["taken"] if entry.get("verified") else entry["mtime"]
        if entry.get("size", 0) <= 0:
            ignored.append(f"{entry['name']} (empty)")
        elif entry.get("verified") is False:
            ignored.append(f"{entry['name']} (changed since it was verified)")
        elif when > now + FUTURE_SKEW_SECONDS:
            ignored.append(f"{entry['name']} (dated in the future)")
        elif entry.get("verified") is None and SNAPSHOT_NAME_RE.match(entry["name"]):
            ignored.append(f"{entry['name']} (not verified: no verification record)")
        else:
            files.append({**entry, "when": when})
    ignored.sort()
    if not files:
        why = f" ({len(ignored)} file(s) do not count: {', '.join(ignored[:3])})" if ignored else ""
        return [finding("backups.etcd_snapshot", directory, missing_status, f"no etcd snapshot in {directory}{why}",
                        host=host, details={"directory": directory, "files": 0, "ignored": ignored})]
    newest = max(files, key=lambda e: e["when"])
    age_hours = round(max(0.0, now - newest["when"]) / 3600, 2)
    level = by_threshold(age_hours, warning_hours, critical_hours)
    return [finding("backups.etcd_snapshot", directory, level,
                    f"newest snapshot {newest['name']} is {age_hours} h old (warning after {warning_hours} h)",
                    host=host, details={"directory": directory, "newest": newest["name"], "age_hours": age_hours,
                                        "size": newest["size"], "verified": bool(newest.get("verified")),
                                        "files": len(files), "ignored": ignored})]


def _record_of(path: str, st: os.stat_result) -> tuple[bool | None, float | None]:
    """(verified, epoch verified at) from the snapshot's verification record: (None, None) without a record, False
    when the record does not match the file any more."""
    import datetime  # pylint: disable=import-outside-toplevel
    try:
        with open(path + SNAPSHOT_RECORD_SUFFIX, "rb") as handle:
            record = json.loads(handle.read(65536).decode("utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, UnicodeDecodeError):
        return False, None
    if not isinstance(record, dict) or record.get("schema") != SNAPSHOT_RECORD_SCHEMA \
            or record.get("name") != os.path.basename(path) \
            or (record.get("size"), record.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
        return False, None
    try:
        taken = datetime.datetime.strptime(str(record.get("taken")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False, None
    return True, taken.replace(tzinfo=datetime.timezone.utc).timestamp()


def list_snapshots(directory: str, pattern: str = "*.db") -> list[dict] | None:
    """Snapshot files in a directory (None when it does not exist); no symlink is followed.

    Each entry: name, mtime, size, ``verified`` (True: its verification record matches; False: it has one that does not;
    None: it has none) and ``taken`` (when it was verified).
    """
    import fnmatch  # pylint: disable=import-outside-toplevel
    if not os.path.isdir(directory):
        return None
    result = []
    with os.scandir(directory) as it:
        for entry in it:
            # hidden: the temporary files of etcd_snapshot (.etcd-snapshot-*) and of other tools, never a backup
            if entry.is_file(follow_symlinks=False) and fnmatch.fnmatch(entry.name, pattern) \
                    and not entry.name.startswith(".") and not entry.name.endswith(SNAPSHOT_RECORD_SUFFIX):
                st = entry.stat(follow_symlinks=False)
                verified, taken = _record_of(entry.path, st)
                result.append({"name": entry.name, "mtime": st.st_mtime, "size": st.st_size, "verified": verified,
                               "taken": taken})
    return result


Runner = t.Callable[[list, dict], "tuple[int, str, str]"]


def run_cluster_check(run: Runner, params: dict, etcdctl: str, member_hosts: dict | None = None,
                      quota_bytes: int = 2 * 2 ** 30, db_warning_percent: float = 80,
                      db_critical_percent: float = 95, over_time: dict | None = None) -> dict:
    """member list, endpoint status/health of every member, alarm list -> {members, endpoints, alarms, findings}.

    ``run(argv, env) -> (rc, stdout, stderr)`` is the process boundary.
    """
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (  # pylint: disable=import-outside-toplevel
        CRITICAL, finding)
    # member list and alarm list ask one endpoint at a time: etcdctl given several dials all of them and, done after
    # the first answer, drops the others in their TLS handshake, which each of those members logs as an error
    # ("rejected connection ... EOF") that the next inspection of its logs would report
    members, answered, rc, err = None, None, 1, ""
    for endpoint in normalize_endpoints(params.get("endpoints")):
        argv, env = etcdctl_command(params, "member", "list", endpoints=[endpoint], etcdctl=etcdctl)
        rc, out, err = run(argv, env)
        try:
            members = parse_member_list(out) if out.strip() else None
        except EtcdError:
            members = None
        if members is not None:
            answered = endpoint
            break
    if members is None:
        why = last_error_line(err) or f"etcdctl exited {rc}"
        return {"members": [], "endpoints": {}, "alarms": [],
                "findings": [finding("etcd.quorum", "cluster", CRITICAL, f"no etcd member answered member list: {why}",
                                     details={"endpoints": normalize_endpoints(params.get('endpoints')), "rc": rc})]}
    urls = normalize_endpoints(params.get("endpoints"))
    for member in members:
        for url in member["client_urls"]:
            if url not in urls:
                urls.append(url)
    argv, env = etcdctl_command(params, "endpoint", "status", endpoints=urls, etcdctl=etcdctl)
    _rc, out, _err = run(argv, env)
    statuses = parse_endpoint_status(out)
    argv, env = etcdctl_command(params, "endpoint", "health", endpoints=urls, etcdctl=etcdctl)
    _rc, out, err = run(argv, env)
    healths = parse_endpoint_health(out)
    for url in urls:  # an endpoint etcdctl said nothing about is not healthy
        healths.setdefault(url, {"health": False, "took": None, "error": last_error_line(err) or "no answer"})
    healthy = [url for url in urls if (healths.get(url) or {}).get("health")]
    argv, env = etcdctl_command(params, "alarm", "list", endpoints=[healthy[0] if healthy else answered],
                                etcdctl=etcdctl)
    rc, out, _err = run(argv, env)
    try:
        alarms = parse_alarm_list(out) if rc == 0 else []
    except EtcdError:
        alarms = []
    findings = cluster_findings(members, statuses, healths, alarms, member_hosts, quota_bytes,
                                db_warning_percent, db_critical_percent, over_time)
    endpoints = {url: {"status": statuses.get(url), "health": healths.get(url)} for url in urls}
    return {"members": members, "endpoints": endpoints, "alarms": alarms, "findings": findings}


# -- the check, as etcd_cluster_info and host_inspection_info run it ----------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    **ETCD_AUTH_SPEC,
    "member_hosts": {"type": "dict", "default": {}},
    "quota_backend_bytes": {"type": "int"},
    "etcd_unit": {"type": "str", "default": "etcd"},
    "defrag_warning_percent": {"type": "float", "default": 50},
    "defrag_min_quota_percent": {"type": "float", "default": 25},
    "db_size_warning_percent": {"type": "float", "default": 80},
    "db_size_critical_percent": {"type": "float", "default": 95},
    "backup_dir": {"type": "path"},
    "backup_pattern": {"type": "str", "default": "*.db"},
    "backup_warning_hours": {"type": "float", "default": 25},
    "backup_critical_hours": {"type": "float", "default": 73},
    "backup_missing_status": {"type": "str", "choices": ["warning", "critical"], "default": "warning"},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """The etcd cluster seen from this etcd host (options: ARGUMENT_SPEC): members, quorum, leader, alarms, database
    size and the snapshots in ``backup_dir``. The findings are the cluster's (no host), except those the member or the
    backup directory names. Raises EtcdError or OSError (what the module fails with)."""
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding  # pylint: disable=import-outside-toplevel
    from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd_trends  # pylint: disable=import-outside-toplevel
    del host
    etcdctl = find_etcdctl(params["etcdctl_path"])
    if params.get("quota_backend_bytes"):
        quota, source = params["quota_backend_bytes"], "the quota_backend_bytes option"
    else:
        quota, source = _etcd_trends.read_quota(module, params["etcd_unit"])
    over_time = {"quota_source": source, "defrag_warning_percent": params["defrag_warning_percent"],
                 "defrag_min_quota_percent": params["defrag_min_quota_percent"]}

    def run(argv: list, env: dict) -> tuple[int, str, str]:
        return module.run_command(argv, environ_update={**env, "LC_ALL": "C"})

    if etcdctl is None:
        result = {"members": [], "endpoints": {}, "alarms": [],
                  "findings": [finding("etcd.quorum", "cluster", "unknown", f"etcdctl not found ({params['etcdctl_path']})")]}
    else:
        result = run_cluster_check(run, params, etcdctl, params["member_hosts"], quota,
                                   params["db_size_warning_percent"], params["db_size_critical_percent"], over_time)
    if params["backup_dir"]:
        result["findings"] += snapshot_findings(list_snapshots(params["backup_dir"], params["backup_pattern"]),
                                                params["backup_dir"], None, time.time(), params["backup_warning_hours"],
                                                params["backup_critical_hours"], params["backup_missing_status"])
    return {"etcdctl": etcdctl, "quota_backend_bytes": quota, "quota_source": source, **result}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del args, label
    return [("etcd.quorum", "cluster")]
