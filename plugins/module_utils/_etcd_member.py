# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adding and removing etcd members the safe way. PRIVATE to the collection: not a public API.

Plans are pure functions of the member list (``etcdctl member list -w simple``: hex IDs, which the JSON
output of etcdctl 3.4 loses to float64) and the health of each member's client URL:

- add: refuse when a started voting member is unhealthy, when an earlier add left an unstarted member, when the
  peer URL belongs to another member or the name is taken with other peer URLs; a member already there with the
  same name and peer URL is no change. New members join as learners and are promoted once in sync.
- remove: refuse to remove the last member, or one whose removal leaves fewer healthy voting members than the
  quorum of the remaining cluster.

Which member a host is (``identify``): first what the host's own etcd says through its client URL (``endpoint
status``: its cluster ID and member ID - a member named ``etcd-master1`` with a DNS peer URL is still found for the
inventory host ``master1``); an etcd of another cluster, or of this cluster under an ID the member list lacks, is
refused. When that etcd does not answer: the member called ``name``, the one with ``peer_url``, or the one with a
peer URL (any of its peer URLs, DNS names resolved) on one of the host's addresses.
"""
from __future__ import annotations

import json
import re
import socket
import time
import typing as t
from urllib.parse import urlsplit

from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import last_error_line
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

Runner = t.Callable[[list, dict], "tuple[int, str, str]"]

_HEX_ID = re.compile(r"^[0-9a-f]{1,16}$")


class MemberError(Exception):
    """etcdctl output not understood or a call failed; the message is for an operator."""


class MemberRefused(MemberError):
    """A guard refused the change (cluster unhealthy, peer URL taken, quorum would be lost)."""


def parse_member_list_simple(text: str) -> list[dict]:
    """``member list -w simple`` -> [{id, status, name, peer_urls, client_urls, is_learner}]."""
    members = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(", ")]
        if len(parts) != 6 or not _HEX_ID.match(parts[0]) or parts[5] not in ("true", "false"):
            raise MemberError(f"etcdctl member list: unexpected line {line[:200]!r}")
        members.append({"id": parts[0], "status": parts[1], "name": parts[2],
                        "peer_urls": [u for u in parts[3].split(",") if u],
                        "client_urls": [u for u in parts[4].split(",") if u],
                        "is_learner": parts[5] == "true"})
    if not members:
        raise MemberError("etcdctl member list printed no member")
    return members


def parse_added(text: str) -> dict:
    """Output of ``member add`` -> {id, ETCD_* variables}."""
    out: dict[str, str] = {}
    # etcdctl prints both IDs with %16x: an ID below 2**60 is padded with spaces, not zeros
    match = re.search(r"Member +([0-9a-f]+) added to cluster +([0-9a-f]+)", text or "")
    if not match:
        raise MemberError(f"etcdctl member add: unexpected output {(text or '')[:200]!r}")
    out["id"], out["cluster_id"] = match.group(1), match.group(2)
    for key, value in re.findall(r'^(ETCD_[A-Z_]+)="(.*)"$', text, re.MULTILINE):
        out[key] = value
    return out


def _by_peer_url(members: list[dict], peer_url: str | None) -> dict | None:
    """The member that has ``peer_url`` among its peer URLs (None when none has it, or no URL is given)."""
    return next((m for m in members if peer_url and peer_url in m["peer_urls"]), None)


def member_with_peer_url(members: list[dict], peer_url: str, after: str) -> dict:
    """The member that has ``peer_url``, read back after a change; MemberError when the list lacks it."""
    found = _by_peer_url(members, peer_url)
    if found is None:
        raise MemberError(f"etcdctl member list shows no member with peer URL {peer_url} after {after}")
    return found


def _voters(members: list[dict]) -> list[dict]:
    return [m for m in members if not m["is_learner"]]


def is_healthy(member: dict, healthy_urls: t.Collection[str]) -> bool:
    return member["status"] == "started" and any(u in healthy_urls for u in member["client_urls"])


def initial_cluster(members: list[dict], name: str, peer_url: str) -> str:
    """``--initial-cluster`` for a new member: every member's name=peer URL (unstarted ones get ``name``)."""
    pairs = []
    for member in members:
        member_name = member["name"] or (name if peer_url in member["peer_urls"] else "")
        if not member_name:
            continue
        pairs += [f"{member_name}={u}" for u in member["peer_urls"]]
    if not any(p == f"{name}={peer_url}" for p in pairs):
        pairs.append(f"{name}={peer_url}")
    return ",".join(pairs)


def plan_add(members: list[dict], healthy_urls: t.Collection[str], name: str, peer_url: str) -> dict:
    """{action: none|add|promote, member}; raises MemberRefused when adding is unsafe."""
    if not name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
        raise MemberError(f"name {name!r} must be a member name such as etcd4 or spare1")
    if not re.match(r"^https?://[^/\s]+:\d+$", peer_url or ""):
        raise MemberError(f"peer_url {peer_url!r} must look like https://198.18.0.41:2380")
    by_peer = _by_peer_url(members, peer_url)
    by_name = next((m for m in members if m["name"] == name), None)
    if by_peer is not None:
        if by_peer["name"] not in ("", name):
            raise MemberRefused(f"peer_url {peer_url} is taken by member {by_peer['name']} ({by_peer['id']})")
        return {"action": "promote" if by_peer["is_learner"] else "none", "member": by_peer}
    if by_name is not None:
        raise MemberRefused(f"a member named {name} exists with peer URLs {', '.join(by_name['peer_urls'])}, not {peer_url}")
    unstarted = [m for m in members if m["status"] != "started"]
    if unstarted:
        raise MemberRefused(f"member {unstarted[0]['id']} ({', '.join(unstarted[0]['peer_urls'])}) was added but never "
                            f"started; start or remove it before adding another")
    sick = [m["name"] or m["id"] for m in _voters(members) if not is_healthy(m, healthy_urls)]
    if sick:
        raise MemberRefused(f"the cluster is not healthy (unhealthy: {', '.join(sick)}); refusing to add {name}")
    return {"action": "add", "member": {"id": None, "status": "unstarted", "name": name, "peer_urls": [peer_url],
                                        "client_urls": [], "is_learner": True}}


def find_target(members: list[dict], name: str | None, peer_url: str | None) -> dict | None:
    """The member ``name`` and ``peer_url`` both name; MemberRefused when they name different members.

    With only one of them given, the member it names. A member that was added but never started has no name yet: its
    peer URL alone identifies it, whatever name is given.
    """
    by_name = next((m for m in members if name and m["name"] == name), None)
    by_peer = _by_peer_url(members, peer_url)
    if name and peer_url:
        if by_name is not None and by_peer is not None and by_name["id"] != by_peer["id"]:
            raise MemberRefused(f"name {name} is member {by_name['id']} but peer_url {peer_url} is member "
                                f"{by_peer['name'] or by_peer['id']} ({by_peer['id']}); refusing to guess which to remove")
        if by_name is not None and by_peer is None:
            raise MemberRefused(f"member {name} ({by_name['id']}) has peer URLs {', '.join(by_name['peer_urls'])}, "
                                f"not {peer_url}; refusing to guess which to remove")
        if by_peer is not None and by_name is None and by_peer["name"]:
            raise MemberRefused(f"peer_url {peer_url} is member {by_peer['name']} ({by_peer['id']}), not {name}; "
                                f"refusing to guess which to remove")
    return by_name or by_peer


def member_id_hex(value: t.Any) -> str:
    """A member or cluster ID as etcdctl's simple output prints it (hex, no padding), from the exact decimal of JSON."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MemberError(f"etcdctl printed {value!r} where a member ID was expected")
    return format(value, "x")


def _resolved(host: str, resolve: t.Callable[[str], t.Collection[str]], cache: dict) -> set[str]:
    """``host`` and the addresses it resolves to (nothing more when it does not resolve)."""
    if host not in cache:
        try:
            cache[host] = {host, *resolve(host)}
        except (OSError, UnicodeError, ValueError):
            cache[host] = {host}
    return cache[host]


def resolve_host(host: str) -> set[str]:
    return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}


def by_address(members: list[dict], addresses: t.Iterable[str],
               resolve: t.Callable[[str], t.Collection[str]] = resolve_host) -> list[dict]:
    """Members with a peer URL (any of them) whose host is, or resolves to, one of ``addresses``."""
    cache: dict[str, set[str]] = {}
    wanted: set[str] = set()
    for address in addresses or ():
        if address:
            wanted |= _resolved(str(address).strip("[]"), resolve, cache)
    if not wanted:
        return []
    found = []
    for member in members:
        for url in member["peer_urls"]:
            try:
                host = urlsplit(url).hostname
            except ValueError:
                host = None
            if host and _resolved(host, resolve, cache) & wanted:
                found.append(member)
                break
    return found


def identify(members: list[dict], name: str | None, peer_url: str | None, own: dict | None = None,
             cluster_id: t.Any = None, addresses: t.Iterable[str] = (),
             resolve: t.Callable[[str], t.Collection[str]] = resolve_host) -> tuple[dict | None, str | None]:
    """(member, how it was found) for the host to remove, or (None, None) when no member is that host.

    ``own`` is what the host's etcd answered through its client URL (``identity_from_status``), None when it did not
    answer or was not asked. Raises MemberRefused when that etcd belongs to another cluster, is a member the list
    lacks, or when ``name``/``peer_url``/the addresses name another member than it, or more than one.
    """
    named = find_target(members, name, peer_url)
    if own is not None:
        where = own.get("endpoint") or "the host's client URL"
        if cluster_id is None or own.get("cluster_id") != cluster_id:
            raise MemberRefused(f"the etcd answering on {where} belongs to another cluster (ID {member_id_hex(own.get('cluster_id'))}, "
                                f"this one is {member_id_hex(cluster_id) if cluster_id is not None else 'unknown'}); "
                                f"refusing to treat it as a member of this one")
        own_id = member_id_hex(own.get("member_id"))
        member = next((m for m in members if m["id"] == own_id), None)
        if member is None:
            raise MemberRefused(f"the etcd answering on {where} is member {own_id} of this cluster, which the member list "
                                f"does not show; refusing to stop or wipe an etcd the cluster may still count")
        if named is not None and named["id"] != own_id:
            raise MemberRefused(f"{'name ' + name if name and named['name'] == name else 'peer_url ' + str(peer_url)} is member "
                                f"{named['name'] or named['id']} ({named['id']}) but the etcd answering on {where} is member "
                                f"{member['name'] or own_id} ({own_id}); refusing to guess which to remove")
        return member, "member_id"
    if named is not None:
        return named, "name" if name and named["name"] == name else "peer_url"
    matches = by_address(members, addresses, resolve)
    if len(matches) > 1:
        raise MemberRefused(f"members {', '.join(m['name'] or m['id'] for m in matches)} all have peer URLs on "
                            f"{', '.join(a for a in addresses if a)}; refusing to guess which to remove")
    if matches:
        return matches[0], "peer_url_address"
    return None, None


def identity_from_status(rc: int, out: str, err: str, endpoint: str,
                         parse_status: t.Callable[[str], dict]) -> dict | None:
    """What ``endpoint status -w json`` of one client URL says the etcd there is: {endpoint, cluster_id, member_id};
    None when it did not answer (connection refused, timeout: no etcd serves there now)."""
    try:
        status = parse_status(out) if rc == 0 else {}
    except Exception:  # pylint: disable=broad-exception-caught  # garbage is no answer; the caller says so
        status = {}
    answer = status.get(endpoint) or (next(iter(status.values())) if len(status) == 1 else None)
    if not answer or answer.get("member_id") is None:
        return None
    return {"endpoint": endpoint, "cluster_id": answer.get("cluster_id"), "member_id": answer.get("member_id")}


def plan_remove(members: list[dict], healthy_urls: t.Collection[str], name: str | None = None,
                peer_url: str | None = None, own: dict | None = None, cluster_id: t.Any = None,
                addresses: t.Iterable[str] = (), resolve: t.Callable[[str], t.Collection[str]] = resolve_host) -> dict:
    """{action: none|remove, member, identified_by}; raises MemberRefused when it would break quorum, empty the
    cluster, or when the host cannot be told from another member (see ``identify``)."""
    if not name and not peer_url and own is None and not any(addresses or ()):
        raise MemberError("name or peer_url is required to remove a member")
    target, how = identify(members, name, peer_url, own, cluster_id, addresses, resolve)
    if target is None:
        return {"action": "none", "member": None, "identified_by": None}
    if len(members) == 1:
        raise MemberRefused(f"{target['name'] or target['id']} is the last member of the cluster; refusing to remove it")
    if target["is_learner"]:
        return {"action": "remove", "member": target, "identified_by": how}
    remaining = [m for m in _voters(members) if m["id"] != target["id"]]
    quorum = len(remaining) // 2 + 1
    healthy = [m["name"] or m["id"] for m in remaining if is_healthy(m, healthy_urls)]
    if len(healthy) < quorum:
        raise MemberRefused(f"removing {target['name'] or target['id']} would leave {len(remaining)} voting members of which "
                            f"only {len(healthy)} are healthy ({', '.join(healthy) or 'none'}), below the quorum of {quorum}; "
                            f"refusing")
    return {"action": "remove", "member": target, "identified_by": how}


def error_text(stdout: str, stderr: str) -> str:
    """The line of etcdctl's output that says what went wrong (membership calls print it on stdout or stderr)."""
    return last_error_line(f"{stdout}\n{stderr}")


class Cluster:
    """etcdctl calls against the existing members. ``base`` builds argv/env for (args, endpoints, json)."""

    def __init__(self, run: Runner, base: t.Callable[..., tuple[list, dict]], endpoints: list[str],
                 sleep: t.Callable[[float], None] = time.sleep):
        self.run = run
        self.base = base
        self.endpoints = endpoints
        self.sleep = sleep

    def call(self, *args: str, endpoints: list[str] | None = None, output_json: bool = False) -> tuple[int, str, str]:
        argv, env = self.base(*args, endpoints=endpoints or self.endpoints, output_json=output_json)
        return self.run(argv, env)

    def members(self) -> list[dict]:
        rc, out, err = self.call("member", "list", "-w", "simple")
        if rc != 0:
            raise MemberError(f"etcdctl member list failed on {', '.join(self.endpoints)}: {error_text(out, err)}")
        return parse_member_list_simple(out)

    def cluster_id(self) -> t.Any:
        """The cluster's ID (``member list -w json`` header; Python reads etcdctl's decimal exactly)."""
        rc, out, err = self.call("member", "list", output_json=True)
        if rc != 0:
            raise MemberError(f"etcdctl member list failed on {', '.join(self.endpoints)}: {error_text(out, err)}")
        try:
            return json.loads(out)["header"]["cluster_id"]
        except (ValueError, KeyError, TypeError):
            raise MemberError(f"etcdctl member list -w json: unexpected output {(out or '')[:200]!r}") from None

    def identity(self, endpoint: str, parse_status: t.Callable[[str], dict]) -> tuple[dict | None, str]:
        """What the etcd on ``endpoint`` says it is (None when it does not answer) and etcdctl's error line."""
        rc, out, err = self.call("endpoint", "status", endpoints=[endpoint], output_json=True)
        own = identity_from_status(rc, out, err, endpoint, parse_status)
        return own, ("" if own is not None else error_text(out, err))

    def healthy_urls(self, members: list[dict], parse_health: t.Callable[[str], dict]) -> set[str]:
        urls = [u for m in members for u in m["client_urls"]]
        if not urls:
            return set()
        _rc, out, _err = self.call("endpoint", "health", endpoints=urls, output_json=True)
        try:
            health = parse_health(out)
        except Exception:  # pylint: disable=broad-exception-caught  # garbage means: nobody proved healthy
            return set()
        return {url for url, h in health.items() if h.get("health")}

    def retrying(self, what: str, *args: str, timeout: float = 60, retry_on: tuple[str, ...] = ("unhealthy cluster",),
                 interval: float = 2) -> str:
        """Run a membership call, retrying while etcd answers one of ``retry_on`` (e.g. right after a restart)."""
        last: dict[str, str] = {}

        def attempt() -> tuple[str] | None:
            rc, out, err = self.call(*args)
            if rc == 0:
                return (out,)
            last["text"] = error_text(out, err)
            if not any(r in last["text"] for r in retry_on):
                raise MemberError(f"etcdctl {what} failed: {last['text']}")
            return None

        try:
            return wait_until(attempt, timeout, interval, sleep=self.sleep)[0]
        except WaitTimeout as exc:
            raise MemberError(f"etcdctl {what} failed: {last.get('text')} (still after {exc.waited:.0f}s)") from None

    def add_learner(self, name: str, peer_url: str) -> str:
        """``member add --learner``; its output (parse it with parse_added). Exit code 0 means etcd added it."""
        return self.retrying("member add", "member", "add", name, f"--peer-urls={peer_url}", "--learner")

    def promote(self, member_id: str, timeout: float) -> None:
        self.retrying("member promote", "member", "promote", member_id, timeout=timeout,
                      retry_on=("in sync with leader", "unhealthy cluster", "not started"))

    def remove(self, member_id: str) -> None:
        self.retrying("member remove", "member", "remove", member_id)
