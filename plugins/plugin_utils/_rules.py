# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Silences and notification routes: JMESPath expressions over the findings of a run. PRIVATE to the collection.

A rule file (the report role's ``inspection_rules``, or the YAML file ``inspection_rules_file``)::

    silences:
      - name: mw1-log-noise                     # optional; default silence-<n>
        match: "[?category=='logs' && host=='mw1']"
        until: 2026-12-31                       # a date: through the end of that day (UTC); or an ISO timestamp
        reason: "tomcat migration writes ERROR lines until the cut-over, OPS-1234"
    routes:
      - name: etcd-oncall                       # the key of its webhook in inspection_notify_routes
        match: "[?category=='etcd' && status=='critical']"

Each ``match`` is evaluated (with the jmespath library, the JMESPath of Ansible's ``json_query``) over the list
of all findings of the run, and must select findings from it (a filter such as ``[?...]``, not a projection).

- A silenced finding stays in the report, with its status, marked ``silenced: {rule, reason, until}``. It does not
  count towards the run's status and is not notified. Every silence needs a reason and an end: nothing is silenced
  for good, and an expired silence silences nothing (the report lists it as expired, with what it would match).
- A route sends the problems it selects (findings not ``ok`` and not silenced) to its own webhook, in addition to
  the main notification; a route that selects no problem sends nothing.
"""
from __future__ import annotations

import datetime as _dt
import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import OK, finding_key, worst

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - exercised only where jmespath is missing
    jmespath = None
    JMESPathError = Exception
    HAS_JMESPATH = False

# Findings no silence can hide: a run that inspected nothing must never look green.
UNSILENCEABLE = frozenset({"host.inspected"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RULE_KEYS = {"silences": {"name", "match", "until", "reason"}, "routes": {"name", "match"}}


class RulesError(ValueError):
    """A rule is malformed or its expression cannot be used; the message names the rule and the value."""


class Rule:
    """One silence or route: a compiled JMESPath expression and what to do with the findings it selects."""

    def __init__(self, kind: str, name: str, match: str, compiled: t.Any, until: _dt.datetime | None = None,
                 reason: str | None = None):
        self.kind = kind
        self.name = name
        self.match = match
        self.compiled = compiled
        self.until = until
        self.reason = reason

    def select(self, findings: t.Sequence[dict]) -> list[dict]:
        """The findings this rule's expression selects from ``findings`` (each one a finding of that list)."""
        findings = list(findings)
        try:
            selected = self.compiled.search(findings)
        except JMESPathError as exc:
            raise RulesError(f"{self.kind[:-1]} {self.name}: cannot evaluate match {self.match!r}: {exc}") from exc
        if selected is None:
            return []
        if not isinstance(selected, list):
            raise RulesError(f"{self.kind[:-1]} {self.name}: match {self.match!r} gives a {type(selected).__name__},"
                             f" not a list of findings; use a filter such as [?category=='logs']")
        # A filter returns the findings themselves; a projection or a multiselect builds new values.
        known = {id(item) for item in findings}
        chosen = []
        for item in selected:
            if id(item) not in known:
                raise RulesError(f"{self.kind[:-1]} {self.name}: match {self.match!r} selects values that are not"
                                 f" findings of the run (such as {item!r:.80}); use a filter such as [?host=='mw1']")
            chosen.append(item)
        return chosen


def parse_until(value: t.Any, where: str) -> _dt.datetime:
    """The end of a silence as an aware UTC datetime: a date means through the end of that day (UTC)."""
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, _dt.date):
        moment = _dt.datetime.combine(value + _dt.timedelta(days=1), _dt.time())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return parse_until(_dt.date.fromisoformat(text), where)
            moment = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise RulesError(f"{where}: until {value!r} is not a date (2026-12-31) or an ISO timestamp") from None
    else:
        raise RulesError(f"{where}: until {value!r} is required: a date (2026-12-31) or an ISO timestamp")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc)


def _compile(expression: t.Any, where: str) -> t.Any:
    if not HAS_JMESPATH:
        raise RulesError("the Python library jmespath is required on the controller for silences and routes"
                         " (pip install jmespath)")
    if not isinstance(expression, str) or not expression.strip():
        raise RulesError(f"{where}: match {expression!r} must be a JMESPath expression such as [?category=='logs']")
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RulesError(f"{where}: match {expression!r} is not a valid JMESPath expression: {first}") from exc


def load(data: t.Any) -> dict[str, list[Rule]]:
    """Validate and compile a rules document (``{"silences": [...], "routes": [...]}``; None or {} has no rules)."""
    if data is None or data == {} or data == "":
        return {"silences": [], "routes": []}
    if not isinstance(data, t.Mapping):
        raise RulesError(f"the rules must be a mapping with silences and routes, got {type(data).__name__}")
    unknown = set(data) - set(_RULE_KEYS)
    if unknown:
        raise RulesError(f"unknown rules section(s) {', '.join(sorted(map(str, unknown)))}; expected silences, routes")
    rules: dict[str, list[Rule]] = {}
    for kind, keys in _RULE_KEYS.items():
        entries = data.get(kind) or []
        if not isinstance(entries, list):
            raise RulesError(f"{kind} must be a list, got {type(entries).__name__}")
        rules[kind] = []
        names: set[str] = set()
        for index, entry in enumerate(entries, 1):
            where = f"{kind[:-1]} #{index}"
            if not isinstance(entry, t.Mapping):
                raise RulesError(f"{where} must be a mapping, got {type(entry).__name__}")
            extra = set(entry) - keys
            if extra:
                raise RulesError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))};"
                                 f" expected {', '.join(sorted(keys))}")
            name = entry.get("name")
            if name is None and kind == "silences":
                name = f"silence-{index}"
            if not isinstance(name, str) or not _NAME.match(name):
                raise RulesError(f"{where}: name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
            if name in names:
                raise RulesError(f"{where}: name {name!r} is used twice in {kind}")
            names.add(name)
            where = f"{kind[:-1]} {name}"
            compiled = _compile(entry.get("match"), where)
            if kind == "silences":
                reason = entry.get("reason")
                if not isinstance(reason, str) or not reason.strip():
                    raise RulesError(f"{where}: reason is required (why, and who to ask), got {reason!r}")
                rules[kind].append(Rule(kind, name, entry["match"], compiled,
                                        parse_until(entry.get("until"), where), " ".join(reason.split())))
            else:
                rules[kind].append(Rule(kind, name, entry["match"], compiled))
    return rules


def apply_silences(findings: t.Sequence[dict], silences: t.Sequence[Rule],
                   now: _dt.datetime) -> tuple[list[dict], list[dict]]:
    """Mark the findings that active silences select; nothing is removed.

    Returns the findings (copies of the marked ones carry ``silenced: {rule, reason, until}``; the first active
    silence that selects a finding names it) and one entry per silence: its state (``active`` or ``expired``) and
    how many findings it selects (an expired one: how many it would have).
    """
    marks: dict[str, dict] = {}
    states = []
    for rule in silences:
        selected = rule.select(findings)
        active = rule.until is not None and rule.until > now
        until = rule.until.strftime("%Y-%m-%dT%H:%M:%SZ") if rule.until else None
        states.append({"name": rule.name, "match": rule.match, "reason": rule.reason, "until": until,
                       "state": "active" if active else "expired", "matched": len(selected)})
        if active:
            for item in selected:
                if item["id"] in UNSILENCEABLE:
                    continue
                marks.setdefault(finding_key(item), {"rule": rule.name, "reason": rule.reason, "until": until})
    marked = [dict(item, silenced=marks[finding_key(item)]) if finding_key(item) in marks else item
              for item in findings]
    return marked, states


def is_silenced(item: t.Mapping) -> bool:
    return bool(item.get("silenced"))


def route(findings: t.Sequence[dict], routes: t.Sequence[Rule]) -> dict[str, list[dict]]:
    """For each route, the problems its expression selects: findings not ``ok`` and not silenced (routes that select
    none are left out)."""
    result: dict[str, list[dict]] = {}
    for rule in routes:
        selected = [item for item in rule.select(findings) if item.get("status") != "ok" and not is_silenced(item)]
        if selected:
            result[rule.name] = selected
    return result


def apply_to_report(report: dict, rules: t.Mapping[str, t.Sequence[Rule]], now: _dt.datetime) -> dict:
    """The report with its silences applied: findings marked (none removed), ``summary.status`` the worst status of
    the unsilenced findings, ``summary.silenced`` how many are silenced (the status counts still count every
    finding), and ``silences`` the state of each silence rule. ``report`` itself is not modified."""
    marked, states = apply_silences(report["findings"], rules.get("silences") or (), now)
    summary = dict(report["summary"])
    summary["status"] = worst((item["status"] for item in marked if not is_silenced(item)), default=OK)
    summary["silenced"] = sum(1 for item in marked if is_silenced(item))
    return dict(report, findings=marked, summary=summary, silences=states)
