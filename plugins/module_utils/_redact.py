# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials out of text before it is shown or stored. PRIVATE to the collection: not a public API.

A URL may carry a secret in two places: its user information (``https://user:password@host/``) and its query
(``?access_token=...``); a log line carries it as an HTTP header (``Authorization: Bearer ...``), a setting
(``password=...``, ``-Dspring.datasource.password=...``, ``DB_PASSWORD=...``) or a JSON member
(``"password": "..."``). ``redact_text()`` replaces each with ``<redacted>``; ``redact_data()`` does it for every
string of a nested structure. The findings model, the report, the notification and the audit log all pass their
text through here, so a probe URL with a password never reaches any of them. ``sample_text()`` is what a log line
becomes before it is kept as a sample: control characters (NUL, ESC and the rest, which a terminal would obey) out.
Standard library only.
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
# A setting anywhere in a line: the key ends in one of these words (db_password=, spring.datasource.password=,
# X_AUTH_TOKEN=, client-secret=); its value runs to the next blank, quote, comma, & or ;.
_SECRET_WORDS = r"(?:password|passwd|secret|token|api_?key|apikey|access_?key|private_?key|credentials?)"
_SECRET_KEY_END = re.compile(rf"{_SECRET_WORDS}$", re.IGNORECASE)
# Starts only where a key starts (the lookbehind), so a line is scanned in linear time.
_SETTING = re.compile(r"(?<![\w.\-])([\w.\-]{1,128}\s*=\s*)([^\s&;,\"'<]+)")
_SECRET_JSON = re.compile(rf"""((["'])[\w.\-]{{0,64}}{_SECRET_WORDS}\2\s*:\s*(["']))(?:\\.|(?!\3).)+""", re.IGNORECASE)
# Authorization: Bearer <token> / Basic <base64> (also Proxy-Authorization, also as authorization=...), and a
# bearer token on its own (8 characters or more: "the bearer of" is prose).
_AUTH_SCHEME = r"(?:bearer|basic|token|digest|negotiate)\s+"
_AUTH_HEADER = re.compile(rf"(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:{_AUTH_SCHEME})?)(?!{_AUTH_SCHEME})"
                          r"[^\s\"',;<]+", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)   # a token: 8 characters or more
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _redact_setting(match: re.Match) -> str:
    key = match.group(1).rstrip(" \t=")
    return f"{match.group(1)}{REDACTED}" if _SECRET_KEY_END.search(key) else match.group(0)


def redact_text(text: str) -> str:
    """``text`` with every credential it shows (URL user information and query, authorization header, bearer token,
    secret-named setting or JSON member) replaced by ``<redacted>``."""
    if "://" in text:
        text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if "=" in text:
        if "?" in text or "&" in text or ";" in text:
            text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        text = _SETTING.sub(_redact_setting, text)
    lowered = text.lower()
    if ":" in text and ('"' in text or "'" in text):
        text = _SECRET_JSON.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def sample_text(text: str) -> str:
    """A log line as it may be shown: credentials redacted, control characters (NUL, ESC, ... but tab) removed."""
    return redact_text(_CONTROL.sub("", text))


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
