# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd's routine care: compaction, rolling defragmentation, the NOSPACE alarm. PRIVATE to the collection.

- ``member_states()`` joins ``member list``, ``endpoint status`` and ``endpoint health`` (``-w json``) per member;
  ``preflight()`` refuses when any member is unhealthy or has no status, when the members do not agree on one
  leader, when the cluster has no spare quorum (a member being defragmented does not answer, so the others must
  still be a quorum) or when a CORRUPT alarm is raised.
- ``next_member()`` picks the next member to defragment: a follower while one is left, the leader last. The leader
  is read again before every member (leadership can move during a run).
- ``parse_defrag()``, ``parse_compaction()`` read etcdctl's answers; ``nospace_decision()`` says whether the
  NOSPACE alarm may be disarmed: only when every member's database is back under the quota.
- ``maintain()`` runs it all through an ``Etcd`` (the etcdctl boundary), waiting after each member until every
  member is healthy again, and returns the module result with the space freed per member and one audit record per
  change.
"""
from __future__ import annotations

import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd as E
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

Runner = t.Callable[[list, dict], "tuple[int, str, str]"]
DEFAULT_QUOTA = 2 * 2 ** 30


class DefragError(Exception):
    """etcdctl could not be run, failed, or said something not understood; the message is for an operator."""


class DefragRefused(DefragError):
    """A guard said no; nothing was changed."""


class DefragFailed(DefragError):
    """Something was changed and then the run failed; carries the partial result."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


class Options(t.NamedTuple):
    compact: bool = False
    defrag_timeout: int = 300
    member_timeout: int = 120
    quota_bytes: int = DEFAULT_QUOTA
    disarm_nospace: bool = True
    interval: float = 2.0


def validate(opts: Options) -> None:
    for option in ("defrag_timeout", "member_timeout", "quota_bytes"):
        value = getattr(opts, option)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DefragError(f"{option} must be a positive number, got {value!r}")


def mib(size: int | None) -> str:
    """A size for people: MiB with one decimal, KiB below one MiB."""
    if size is None:
        return "?"
    return f"{size / 2 ** 20:.1f} MiB" if size >= 2 ** 20 else f"{size / 2 ** 10:.0f} KiB"


def alarm_names(alarms: list[dict], states: list[dict]) -> list[str]:
    """``NOSPACE@node1``: each alarm with the name of its member."""
    names = {s["id"]: s["name"] for s in states}
    return sorted(f"{a['alarm']}@{names.get(a['member_id'], a['member_id'])}" for a in alarms)


# -- reading the cluster --------------------------------------------------------------------------------------
def member_states(members: list[dict], statuses: dict[str, dict], healths: dict[str, dict]) -> list[dict]:
    """One entry per member: name, id, endpoint, learner, healthy, status fields (None when it gave no status)."""
    states = []
    for member in members:
        endpoint = member["client_urls"][0] if member["client_urls"] else None
        status = next((statuses[u] for u in member["client_urls"] if u in statuses), None)
        health = next((healths[u] for u in member["client_urls"] if u in healths), None)
        states.append({
            "name": member["name"] or str(member["id"]), "id": member["id"], "endpoint": endpoint,
            "learner": member["is_learner"], "started": member["started"],
            "healthy": bool(member["started"] and health and health.get("health") and status
                            and (not status["errors"] or _only_nospace(status["errors"]))),
            "health_error": (health or {}).get("error"),
            "status": status,
            "db_size": status["db_size"] if status else None,
            "db_size_in_use": status["db_size_in_use"] if status else None,
            "revision": status["revision"] if status else None,
            "leader_id": status["leader"] if status else None,
        })
    return states


def _only_nospace(errors: list[str]) -> bool:
    """Status errors that are only NOSPACE alarms (the state this runbook repairs) do not make a member unhealthy."""
    return bool(errors) and all("alarm:NOSPACE" in e for e in errors)


def by_endpoints(states: list[dict], endpoints: t.Sequence[str]) -> list[dict]:
    """The members in the order of the endpoints given (the inventory's order), the others after them."""
    rank = {url: i for i, url in enumerate(endpoints)}
    return sorted(states, key=lambda s: rank.get(s["endpoint"], len(rank)))


def leader_of(states: list[dict]) -> dict | None:
    """The member every answering member names as leader; None when they disagree or none names one."""
    named = {s["leader_id"] for s in states if s["status"] is not None and s["leader_id"]}
    if len(named) != 1:
        return None
    leader = named.pop()
    return next((s for s in states if s["id"] == leader), None)


def preflight(states: list[dict], alarms: list[dict]) -> dict:
    """The leader; raises DefragRefused when defragmenting is not safe now."""
    if not states:
        raise DefragRefused("etcd member list is empty; refusing")
    sick = [f"{s['name']} ({s['health_error'] or ('no status' if s['status'] is None else 'unhealthy: ' + '; '.join(s['status']['errors']))})"
            for s in states if not s["healthy"]]
    if sick:
        raise DefragRefused(f"etcd member(s) not healthy: {', '.join(sick)}; refusing to defragment (defragment a "
                            f"healthy cluster only; repair the member first)")
    corrupt = [a for a in alarms if a["alarm"] == "CORRUPT"]
    if corrupt:
        raise DefragRefused(f"a CORRUPT alarm is raised (member {corrupt[0]['member_id']}); refusing to defragment")
    leader = leader_of(states)
    if leader is None:
        raise DefragRefused("the etcd members do not agree on one leader; refusing to defragment")
    voters = [s for s in states if not s["learner"]]
    quorum = len(voters) // 2 + 1
    if len(voters) - 1 < quorum:
        raise DefragRefused(f"{len(voters)} voting member(s): with one of them busy defragmenting, {len(voters) - 1} "
                            f"would be left, below the quorum of {quorum}; refusing (no spare quorum)")
    return leader


def next_member(states: list[dict], done: t.Collection[str], leader_id: t.Any) -> dict | None:
    """The next member to defragment: a follower (or learner) not done yet, in the order of ``states`` (the order of
    the endpoints given); the leader only when it is the last one left."""
    left = [s for s in states if s["name"] not in done]
    followers = [s for s in left if s["id"] != leader_id]
    return (followers or left or [None])[0]


def order(states: list[dict], leader_id: t.Any) -> list[dict]:
    """The order a run would take now: followers first, the leader last."""
    done: list[str] = []
    out = []
    while True:
        member = next_member(states, done, leader_id)
        if member is None:
            return out
        out.append(member)
        done.append(member["name"])


# -- etcdctl's answers ----------------------------------------------------------------------------------------
def parse_defrag(rc: int, stdout: str, stderr: str, endpoint: str) -> None:
    """Raise DefragError unless etcdctl says it finished defragmenting ``endpoint``."""
    text = f"{stdout}\n{stderr}"
    if rc == 0 and "Finished defragmenting etcd member" in text:
        return
    raise DefragError(f"etcdctl defrag of {endpoint} failed (exit {rc}): {E.last_error_line(text) or 'no output'}")


def parse_compaction(rc: int, stdout: str, stderr: str, revision: int) -> bool:
    """True when etcd compacted to ``revision``, False when that revision was already compacted."""
    text = f"{stdout}\n{stderr}"
    if rc == 0 and f"compacted revision {revision}" in text:
        return True
    if "required revision has been compacted" in text:
        return False
    raise DefragError(f"etcdctl compaction {revision} failed (exit {rc}): {E.last_error_line(text) or 'no output'}")


def nospace_decision(alarms: list[dict], states: list[dict], quota_bytes: int) -> dict:
    """{raised, disarm, why}: disarm NOSPACE only when every member's database is back under the quota."""
    raised = [a for a in alarms if a["alarm"] == "NOSPACE"]
    if not raised:
        return {"raised": False, "disarm": False, "why": "no NOSPACE alarm"}
    over = [f"{s['name']} {mib(s['db_size'])}" for s in states if s["db_size"] is None or s["db_size"] >= quota_bytes]
    if over:
        return {"raised": True, "disarm": False,
                "why": f"NOSPACE stays raised: still at or over the quota of {mib(quota_bytes)}: {', '.join(over)}"}
    return {"raised": True, "disarm": True,
            "why": f"every member is under the quota of {mib(quota_bytes)} "
                   f"(largest {mib(max(s['db_size'] for s in states))})"}


# -- the etcdctl boundary -------------------------------------------------------------------------------------
def command_builder(params: dict, etcdctl: str) -> t.Callable[..., tuple[list, dict]]:
    """``base(*args, endpoints, output_json, command_timeout)`` for ``Etcd``: etcdctl argv and environment from the
    module's ETCD_AUTH_SPEC options, with a longer ``--command-timeout`` for the calls that need one (defrag)."""
    def base(*args: str, endpoints: list[str] | None = None, output_json: bool = True,
             command_timeout: int | None = None) -> tuple[list, dict]:
        options = dict(params, command_timeout=command_timeout) if command_timeout else params
        return E.etcdctl_command(options, *args, endpoints=endpoints, output_json=output_json, etcdctl=etcdctl)
    return base


class Etcd:
    """etcdctl calls. ``base(*args, endpoints=..., output_json=..., command_timeout=...)`` builds argv and env."""

    def __init__(self, run: Runner, base: t.Callable[..., tuple[list, dict]], endpoints: list[str]):
        self.run = run
        self.base = base
        self.endpoints = endpoints

    def call(self, *args: str, endpoints: list[str] | None = None, output_json: bool = True,
             command_timeout: int | None = None) -> tuple[int, str, str]:
        argv, env = self.base(*args, endpoints=endpoints or self.endpoints, output_json=output_json,
                              command_timeout=command_timeout)
        return self.run(argv, env)

    def read(self) -> tuple[list[dict], list[dict]]:
        """(member states, alarms) now."""
        members = None
        err = ""
        for endpoint in self.endpoints:  # one endpoint at a time (see _etcd.run_cluster_check)
            rc, out, err = self.call("member", "list", endpoints=[endpoint])
            if rc == 0 and out.strip():
                try:
                    members = E.parse_member_list(out)
                    break
                except E.EtcdError:
                    members = None
        if members is None:
            raise DefragError(f"no etcd member answered member list: {E.last_error_line(err) or 'no answer'}")
        urls = [u for m in members for u in m["client_urls"]] or list(self.endpoints)
        _rc, out, _err = self.call("endpoint", "status", endpoints=urls)
        statuses = E.parse_endpoint_status(out)
        _rc, out, err = self.call("endpoint", "health", endpoints=urls)
        healths = E.parse_endpoint_health(out)
        for url in urls:
            healths.setdefault(url, {"health": False, "took": None, "error": E.last_error_line(err) or "no answer"})
        healthy = [u for u in urls if healths[u]["health"]]
        rc, out, _err = self.call("alarm", "list", endpoints=healthy[:1] or urls[:1])
        alarms = E.parse_alarm_list(out) if rc == 0 else []
        return by_endpoints(member_states(members, statuses, healths), self.endpoints), alarms

    def compact(self, revision: int, timeout: int) -> bool:
        rc, out, err = self.call("compaction", "--physical", str(revision), output_json=False, command_timeout=timeout)
        return parse_compaction(rc, out, err, revision)

    def defrag(self, endpoint: str, timeout: int) -> None:
        rc, out, err = self.call("defrag", endpoints=[endpoint], output_json=False, command_timeout=timeout)
        parse_defrag(rc, out, err, endpoint)

    def disarm(self, endpoint: str) -> None:
        rc, out, err = self.call("alarm", "disarm", endpoints=[endpoint])
        if rc != 0:
            raise DefragError(f"etcdctl alarm disarm failed (exit {rc}): {E.last_error_line(out + chr(10) + err)}")


# -- the run --------------------------------------------------------------------------------------------------
def _plan_line(state: dict, leader_id: t.Any) -> dict:
    line = {"name": state["name"], "endpoint": state["endpoint"],
            "role": "leader" if state["id"] == leader_id else ("learner" if state["learner"] else "follower"),
            "db_size": state["db_size"], "db_size_in_use": state["db_size_in_use"],
            "estimated_free": max(0, (state["db_size"] or 0) - (state["db_size_in_use"] or 0))}
    line["line"] = (f"{line['name']} ({line['role']}): {mib(line['db_size'])}, about {mib(line['estimated_free'])} "
                    f"to free")
    return line


def member_line(entry: dict) -> str:
    """What an operator reads of one defragmented member."""
    before, after = entry["before"]["db_size"], (entry["after"] or {}).get("db_size")
    if after is None:
        return f"{entry['name']} ({entry['role']}): {mib(before)} -> ?, not healthy again"
    return (f"{entry['name']} ({entry['role']}): {mib(before)} -> {mib(after)}, freed {mib(entry['freed'])}, "
            f"healthy again after {entry['seconds']}s")


def maintain(etcd: Etcd, opts: Options, check_mode: bool, clock: t.Callable[[], float] = time.monotonic,
             sleep: t.Callable[[float], None] = time.sleep) -> dict:
    """Preflight, then (unless in check mode) compact, defragment every member and disarm NOSPACE when allowed."""
    validate(opts)
    states, alarms = etcd.read()
    leader = preflight(states, alarms)
    revision = max((s["revision"] or 0) for s in states)
    result: dict[str, t.Any] = {
        "changed": False, "check_mode": check_mode, "leader": leader["name"],
        "plan": [_plan_line(s, leader["id"]) for s in order(states, leader["id"])],
        "compaction": None, "members": [], "alarms_before": alarm_names(alarms, states), "alarms": alarm_names(alarms, states),
        "nospace": None, "freed": 0, "audit": [],
    }
    if opts.compact:
        result["compaction"] = {"revision": revision, "compacted": None}
    if check_mode:
        result["changed"] = True
        if opts.compact:
            result["compaction"]["compacted"] = "would compact"
            result["audit"].append(record("etcd compact", "etcd", None, {"revision": revision}))
        for line in result["plan"]:
            result["audit"].append(record("etcd defrag", line["name"], {"db_size": line["db_size"]},
                                          {"db_size": line["db_size_in_use"]}, endpoint=line["endpoint"], role=line["role"],
                                          estimated=True))
        estimate = [{**s, "db_size": s["db_size_in_use"]} for s in states]
        result["nospace"] = nospace_decision(alarms, estimate, opts.quota_bytes)
        if result["nospace"]["disarm"] and opts.disarm_nospace:
            result["audit"].append(record("etcd alarm disarm", "etcd", {"alarms": result["alarms"]}, {"alarms": []}))
        return result
    try:
        if opts.compact:
            compacted = etcd.compact(revision, opts.defrag_timeout)
            result["compaction"]["compacted"] = compacted
            if compacted:
                result["changed"] = True
                result["audit"].append(record("etcd compact", "etcd", None, {"revision": revision}))
        done: list[str] = []
        while True:
            member = next_member(states, done, leader["id"])
            if member is None:
                break
            role = "leader" if member["id"] == leader["id"] else ("learner" if member["learner"] else "follower")
            started = clock()
            etcd.defrag(member["endpoint"], opts.defrag_timeout)
            result["changed"] = True
            done.append(member["name"])
            entry = {"name": member["name"], "endpoint": member["endpoint"], "role": role,
                     "before": {"db_size": member["db_size"], "db_size_in_use": member["db_size_in_use"]},
                     "after": None, "freed": None, "seconds": None}
            result["members"].append(entry)
            # the record is kept up to date below: if waiting for the cluster fails, it still says what was done
            audit = record("etcd defrag", member["name"], entry["before"], None, endpoint=member["endpoint"], role=role,
                           freed=None)
            result["audit"].append(audit)
            try:
                states, alarms, leader = _healthy_again(etcd, opts, member, clock, sleep)
            except DefragError as exc:
                audit["failed"] = f"not healthy again: {exc}"
                raise
            after = next(s for s in states if s["name"] == member["name"])
            entry["after"] = audit["after"] = {"db_size": after["db_size"], "db_size_in_use": after["db_size_in_use"]}
            entry["freed"] = audit["freed"] = max(0, (member["db_size"] or 0) - (after["db_size"] or 0))
            entry["seconds"] = round(clock() - started, 1)
            entry["line"] = member_line(entry)
            result["freed"] += entry["freed"]
        decision = result["nospace"] = nospace_decision(alarms, states, opts.quota_bytes)
        if decision["disarm"] and opts.disarm_nospace:
            etcd.disarm(leader["endpoint"])
            _states, after_alarms = etcd.read()
            result["audit"].append(record("etcd alarm disarm", "etcd", {"alarms": alarm_names(alarms, states)},
                                          {"alarms": alarm_names(after_alarms, states)}, why=decision["why"]))
            alarms = after_alarms
        result["alarms"] = alarm_names(alarms, states)
    except DefragError as exc:
        if isinstance(exc, DefragFailed):
            raise
        if not result["changed"]:
            raise
        done_text = ", ".join(m["name"] for m in result["members"]) or "nothing but the compaction"
        raise DefragFailed(f"{exc}; stopped after defragmenting {done_text}: the members not defragmented yet are "
                           f"untouched", result) from exc
    if decision["raised"] and not (decision["disarm"] and opts.disarm_nospace):
        raise DefragFailed(f"defragmented {', '.join(m['name'] for m in result['members'])} (freed {mib(result['freed'])}) but "
                           + (decision["why"] if not decision["disarm"] else "disarm_nospace=false leaves NOSPACE raised"),
                           result)
    return result


def _healthy_again(etcd: Etcd, opts: Options, member: dict, clock: t.Callable[[], float],
                   sleep: t.Callable[[float], None]) -> tuple[list[dict], list[dict], dict]:
    """Wait until every member is healthy and they agree on a leader again; (states, alarms, leader)."""
    seen: dict[str, t.Any] = {}

    def healthy() -> tuple | None:
        states, alarms = etcd.read()
        seen["states"] = states
        leader = leader_of(states)
        if leader is None or not all(s["healthy"] for s in states):
            return None
        return states, alarms, leader

    try:
        return wait_until(healthy, opts.member_timeout, opts.interval, clock=clock, sleep=sleep)
    except WaitTimeout as exc:
        sick = [s["name"] for s in seen.get("states") or [] if not s["healthy"]]
        raise DefragError(f"after defragmenting {member['name']} the cluster was not healthy again within "
                          f"{opts.member_timeout}s ({', '.join(sick) or 'no agreed leader'})") from exc
