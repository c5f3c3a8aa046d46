# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit records of remediations. PRIVATE to the collection: not a public API.

A module that changes state (or would, in check mode) returns ``audit``: a list of records built with
``record()``. The controller-side action plugin of that module (``plugins/plugin_utils/_audit_action.py``)
turns each into one JSON line of the audit log with ``audit_line()``. Secrets never reach the line: values
under secret-looking keys (``password``, ``token``, ``api_key``, ``auth``, ``Authorization``, ...) are replaced by
``<redacted>``, and so are credentials in text (``user:password@``, ``Bearer ...``, ``password=...``).
"""
from __future__ import annotations

import datetime
import json
import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._redact import redact_text

SCHEMA = "kubeops.runbook/audit/v1"
REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|private|key_?data|webhook|credential|api_?key|access_?key|"
                         r"authori[sz]ation|cookie|(^|[_.\-])auth($|[_.\-]))", re.IGNORECASE)


class AuditError(ValueError):
    """An audit record or log path is unusable."""


def record(action: str, target: str, before: t.Any, after: t.Any, **extra: t.Any) -> dict:
    """One auditable action: what was (or would be) done to which target, state before and after."""
    if not action or not target:
        raise AuditError(f"audit record needs an action and a target (got action={action!r}, target={target!r})")
    return {"action": action, "target": str(target), "before": before, "after": after, **extra}


def redact(value: t.Any) -> t.Any:
    """Copy of ``value`` with every value under a secret-looking key replaced, and URL credentials in text."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "")
                    else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def audit_line(entry: dict, *, module: str, host: str, user: str, playbook: str | None, check_mode: bool,
               now: datetime.datetime | None = None, task: str | None = None) -> str:
    """The JSON line (no newline) written to the audit log for one record."""
    if not isinstance(entry, dict) or "action" not in entry or "target" not in entry:
        raise AuditError(f"not an audit record: {entry!r:.200}")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    line = {
        "schema": SCHEMA,
        "time": now.astimezone(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "user": user,
        "playbook": playbook,
        "task": redact_text(task) if isinstance(task, str) else task,
        "module": module,
        "host": host,
        "check_mode": bool(check_mode),
        **redact(entry),
    }
    return json.dumps(line, sort_keys=False, ensure_ascii=False, default=str)


def parse_lines(text: str) -> list[dict]:
    """Read an audit log back (tests, reports); lines that are not JSON objects are ignored."""
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out
