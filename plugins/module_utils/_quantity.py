# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities and JVM heap sizes as numbers. PRIVATE to the collection: not a public API."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$")
# -Xmx512m, -Xmx2g, -Xmx1024k, -Xmx1073741824, -XX:MaxHeapSize=2g
_XMX = re.compile(r"(?:^|\s)-(?:Xmx|XX:MaxHeapSize=)(\d+)([kKmMgGtT]?)(?=\s|$|['\"])")
_JVM_UNITS = {"": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40}


class QuantityError(ValueError):
    """A value is not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """Exact value of a Kubernetes quantity: '500Mi' -> 524288000, '250m' -> 0.25, '1e3' -> 1000."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    text = value.strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity (e.g. 500Mi, 250m, 2)")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from None
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if len(suffix) > 1 and suffix[0] in ("e", "E"):   # an exponent; a lone "E" is the exa suffix
        return base * (Decimal(10) ** int(suffix[1:]))
    return base * _DECIMAL[suffix]


def quantity_number(value: object) -> int | float:
    """parse_quantity as a plain number: int when integral, else float."""
    result = parse_quantity(value)
    if result == result.to_integral_value():
        return int(result)
    return float(result)


def jvm_max_heap(text: str | None) -> int | None:
    """Bytes of the last -Xmx / -XX:MaxHeapSize= in a JVM option string (the JVM honours the last), or None."""
    if not text:
        return None
    found = None
    for match in _XMX.finditer(text):
        found = int(match.group(1)) * _JVM_UNITS[match.group(2).lower()]
    return found
