# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials out of text before it is shown or stored. PRIVATE to the collection: not a public API.

A URL may carry a secret in two places: its user information (``https://user:password@host/``) and its query
(``?access_token=...``). ``redact_text()`` replaces both with ``<redacted>``; ``redact_data()`` does it for every
string of a nested structure. The findings model, the report, the notification and the audit log all pass their
text through here, so a probe URL with a password never reaches any of them. Standard library only.
"""
from __future__ import annotations

import re
import typing as t

REDACTED = "<redacted>"

# scheme://userinfo@ - the user information ends at the last "@" before the path, query or fragment.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s?#@]*(?:@[^/\s?#@]*)*@")
_SECRET_QUERY = re.compile(
    r"([?&;](?:access_?token|token|auth|password|passwd|pwd|secret|sign|signature|api_?key|apikey|key)=)[^&#;\s]+",
    re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``<redacted>``."""
    if "://" in text:
        text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if "=" in text and ("?" in text or "&" in text or ";" in text):
        text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def redact_data(value: t.Any, depth: int = 0) -> t.Any:
    """A copy of ``value`` with ``redact_text`` applied to every string (keys too); other values are kept."""
    if isinstance(value, str):
        return redact_text(value)
    if depth > 64:
        return value
    if isinstance(value, dict):
        return {(redact_text(k) if isinstance(k, str) else k): redact_data(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, depth + 1) for v in value]
    return value
