# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared action plugin base of the inspection (``*_info``) modules. PRIVATE to the collection.

Every inspection task goes through ``FindingsActionBase``, so that the roles only compose modules:

- it runs the module of the same name on the target, as a plain module task would;
- it validates each returned finding with the one findings model (``_findings.from_dict``); a malformed one
  becomes an ``unknown`` finding that says what was wrong with it;
- it labels the findings with the host: ``SCOPE = "host"``, every finding is about the host it was checked on
  (units, logs, disks, middleware); ``"peers"``, findings the module did not label are (calico: a session is also
  reported for the peer's host); ``"cluster"``, only the module labels (etcd quorum, Kubernetes objects: the
  module knows which node or member a finding is about, the rest is the cluster's);
- a module that fails (a bad option, a tool it cannot do without, a crash) or a host that stops answering
  becomes ``unknown`` findings for what the check is about (``failure_findings``), and the task succeeds: the
  host's next checks still run and its earlier findings stay;
- it appends the findings to the host fact ``kubeops_findings``, which the report collects. The host is the task's
  host, or the delegated host with ``delegate_facts: true``. A ``run_once`` task records them only when it delegates
  its facts (``delegate_to`` + ``delegate_facts: true``): Ansible would otherwise copy one host's list onto every
  host, so without that its findings are only in the task's result. Findings about a host are labelled with the
  host the module ran on (the delegated one, if any).

``kubeops_findings`` is an ordinary fact (``ansible_facts.kubeops_findings``). With a persistent fact cache, start
the inspection play with ``meta: clear_facts`` (as ``playbooks/daily_inspection.yml`` does) so that a run never
sees the findings of the previous one. Inside one task, only a loop over a host's own facts sees its earlier items:
do not loop a ``delegate_facts`` task.
"""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.kubeops.runbook.plugins.module_utils import _findings

FACT = "kubeops_findings"
# Set on a host that stopped answering in the middle of its inspection; the report makes it a host.reachable finding.
LOST_FACT = "kubeops_inspection_lost"
_MAX_ERROR = _findings.MAX_ERROR


def recorded_findings(hostvars: t.Any) -> list:
    """Every finding recorded on a host (its ``hostvars``): the ``kubeops_findings`` fact these actions keep, plus a
    ``kubeops_findings`` variable set by other means (``set_fact`` in a caller's play shadows the fact as a variable;
    its findings count too). The one way the report and the incident record collect a host's findings."""
    hvars = hostvars if hasattr(hostvars, "get") else {}
    facts = hvars.get("ansible_facts")
    recorded = list((facts.get(FACT) if hasattr(facts, "get") else None) or [])
    other = hvars.get(FACT)
    if isinstance(other, (list, tuple)) and list(other) != recorded:
        recorded += list(other)
    return recorded


def one_line(text: t.Any, limit: int = _MAX_ERROR) -> str:
    """An error message as one line of at most ``limit`` characters."""
    return _findings.one_line(to_text(text or "", errors="surrogate_or_replace"), limit)


class FindingsActionBase(ActionBase):
    """Runs ``MODULE`` and records its findings; see the module docstring for the contract."""

    MODULE: str = ""
    SCOPE: str = "host"   # host | peers | cluster
    # What an unknown finding is about when the module could not run (see failure_findings).
    FAILURE_ID: str = ""
    FAILURE_TARGET: str | None = None

    # A host that does not answer: False records unknown findings and marks the host lost (it answered earlier in
    # the run); True leaves the task unreachable, for a check that is the host's first contact of the run.
    UNREACHABLE_IS_UNREACHABLE: bool = False

    TRANSFERS_FILES = False
    _checked = "localhost"   # the host the module ran on, set by run()
    _supports_check_mode = True
    _supports_async = False

    # -- hooks for the shims ----------------------------------------------------------------------------------
    def module_args(self, args: dict, task_vars: dict) -> dict:
        """The arguments passed to the module (a shim may fill defaults from the inventory)."""
        del task_vars
        return args

    def failure_targets(self, args: dict, label: str | None) -> list[tuple[str, str]]:
        """(finding id, target) pairs an unknown finding is recorded for when the module could not run."""
        del args
        return [(self.FAILURE_ID, self.FAILURE_TARGET or label or "cluster")]

    def more_findings(self, outcome: dict, task_vars: dict) -> list[dict]:
        """Findings the action adds to the module's (about the action's own work, e.g. reading the history)."""
        del outcome, task_vars
        return []

    def more_facts(self, outcome: dict, task_vars: dict, owner: str) -> dict:
        """Facts recorded next to ``kubeops_findings`` on ``owner`` (e.g. a baseline for the report to store)."""
        del outcome, task_vars, owner
        return {}

    def var(self, task_vars: dict, name: str) -> t.Any:
        """A variable of the task, templated; None when undefined."""
        if name not in task_vars:
            return None
        return self._templar.template(task_vars[name])

    # -- the work ---------------------------------------------------------------------------------------------
    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        owner = self._facts_host(task_vars)
        # the host the module ran on: the delegated one, else the task's host (self._checked for the subclasses)
        checked = self._checked = str(self._task.delegate_to or task_vars.get("inventory_hostname") or "localhost")
        label = None if self.SCOPE == "cluster" else checked
        args = self.module_args(dict(self._task.args), task_vars)
        try:
            outcome = self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            outcome = {"unreachable": True, "msg": to_text(exc)}
        if outcome.get("unreachable") and self.UNREACHABLE_IS_UNREACHABLE:
            result.update({"unreachable": True, "changed": False, "msg": one_line(outcome.get("msg"))})
            return result
        result.update(outcome)
        facts: dict[str, t.Any] = {}
        if outcome.get("failed") or outcome.get("unreachable"):
            reason = "unreachable" if outcome.get("unreachable") else "failed"
            error = one_line(outcome.get("msg") or f"{self.MODULE} {reason}")
            findings = self.failure_findings(args, label, error, reason)
            result["failed"] = False
            result.pop("unreachable", None)
            result.setdefault("warnings", []).append(
                f"{self.MODULE} could not run on {checked}; recorded as an unknown finding: {error}")
            if reason == "unreachable":
                facts[LOST_FACT] = f"{self._task.get_name()}: {error}"
        else:
            findings = self.validated(outcome.get("findings"), label)
        findings = findings + self.more_findings(outcome, task_vars)
        result["findings"] = findings
        if owner is not None:
            facts.update(self.more_facts(outcome, task_vars, owner))
            facts[FACT] = self._recorded(task_vars, owner) + findings
            result["ansible_facts"] = facts
        result["changed"] = False
        return result

    def failure_findings(self, args: dict, label: str | None, error: str, reason: str) -> list[dict]:
        """``unknown`` findings for a check that could not run, built by the one findings model."""
        return _findings.could_not_run(self.failure_targets(args, label), error, self.MODULE, label, reason)

    def validated(self, items: t.Any, label: str | None) -> list[dict]:
        """The module's findings through the findings model; a malformed one becomes an unknown finding."""
        if items is None:
            items = []
        if not isinstance(items, (list, tuple)):
            items = [items]
        out = []
        for item in items:
            if self.SCOPE == "host" and isinstance(item, dict):
                item = dict(item, host=label)
            try:
                out.append(_findings.from_dict(item, host=label))
            except _findings.FindingError as exc:
                fid = self.FAILURE_ID or "host.findings"
                target = self.FAILURE_TARGET or label or "cluster"
                out.append(_findings.finding(fid, target, _findings.UNKNOWN,
                                             f"{self.MODULE} returned a malformed finding: {exc}", host=label,
                                             details={"module": self.MODULE, "received": to_text(repr(item))[:1000]}))
        return out

    # -- where the findings go --------------------------------------------------------------------------------
    def _facts_host(self, task_vars: dict) -> str | None:
        """The host whose ``kubeops_findings`` get the findings; None for a ``run_once`` task without
        ``delegate_facts``, whose facts Ansible would copy onto every host of the play: its findings are only in the
        task's result then (``register`` it)."""
        delegated = self._task.delegate_to if self._task.delegate_to and self._task.delegate_facts else None
        if self._task.run_once and not delegated:
            return None
        return str(delegated or task_vars.get("inventory_hostname") or "localhost")

    def _recorded(self, task_vars: dict, owner: str) -> list[dict]:
        """The findings already recorded on ``owner`` during this run."""
        if owner == task_vars.get("inventory_hostname") and not (self._task.delegate_to and self._task.delegate_facts):
            facts = task_vars.get("ansible_facts") or {}
        else:
            facts = ((task_vars.get("ansible_delegated_vars") or {}).get(owner) or {}).get("ansible_facts")
            if facts is None:
                try:
                    facts = task_vars["hostvars"][owner].get("ansible_facts") or {}
                except (KeyError, TypeError, AttributeError):
                    facts = {}
        recorded = facts.get(FACT) if hasattr(facts, "get") else None
        return list(recorded) if isinstance(recorded, (list, tuple)) else []
