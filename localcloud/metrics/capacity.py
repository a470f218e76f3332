"""DynamoDB's capacity units from item sizes, by DynamoDB's size rules.

An item's size is the sum of its attribute names' UTF-8 lengths and its values' sizes: strings
their UTF-8 length, binaries their length, numbers about one byte per two significant digits
plus one, booleans and nulls one byte, lists and maps 3 bytes plus one per element plus the
elements, sets the sum of their members. A write consumes one WCU per started KB of each item; a
read one RCU per started 4 KB (half for an eventually consistent read), a Query or Scan on the
sum of the items it returns, a GetItem or BatchGetItem per item.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["item_size", "read_units", "write_units"]

_WRITE_UNIT: Final = 1024
_READ_UNIT: Final = 4096


def _value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed value (`{"S": ...}`, `{"N": ...}`, ...)."""
    for kind, inner in value.items():
        if kind == "S":
            return len(str(inner).encode())
        if kind == "B":
            return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
        if kind == "N":
            digits = str(inner).lstrip("-").replace(".", "").lstrip("0").rstrip("0")
            return (len(digits) + 1) // 2 + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "SS":
            return sum(len(str(s).encode()) for s in inner)
        if kind == "BS":
            return sum(len(b) for b in inner)
        if kind == "NS":
            return sum(_value_size({"N": n}) for n in inner)
        if kind == "L":
            return 3 + sum(1 + _value_size(v) for v in inner)
        if kind == "M":
            return 3 + sum(1 + len(str(k).encode()) + _value_size(v) for k, v in inner.items())
    return 0


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size in bytes, by DynamoDB's rules."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(item: Mapping[str, Any]) -> float:
    """WCUs a put of `item` consumes (1 per started KB, at least 1)."""
    return float(max(1, math.ceil(item_size(item) / _WRITE_UNIT)))


def read_units(total_bytes: int, *, consistent: bool) -> float:
    """RCUs a read of `total_bytes` consumes (1 per started 4 KB, half if eventually consistent)."""
    units = max(1, math.ceil(total_bytes / _READ_UNIT))
    return float(units) if consistent else units / 2.0
