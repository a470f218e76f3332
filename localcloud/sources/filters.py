"""Lambda event filtering for event source mappings (`FilterCriteria` patterns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["matches_filters"]


def _match_value(pattern: Any, value: Any, present: bool) -> bool:
    """One leaf of an event filter: a list of allowed values or operators."""
    if not isinstance(pattern, list):
        return False
    for allowed in pattern:
        if isinstance(allowed, dict):
            if "exists" in allowed and bool(allowed["exists"]) == present:
                return True
            if (
                "prefix" in allowed
                and isinstance(value, str)
                and value.startswith(str(allowed["prefix"]))
            ):
                return True
            if "anything-but" in allowed and present:
                excluded = allowed["anything-but"]
                excluded = excluded if isinstance(excluded, list) else [excluded]
                if value not in excluded:
                    return True
        elif present and allowed == value:
            return True
    return False


def _match(pattern: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    for key, sub in pattern.items():
        present = key in document
        value = document.get(key)
        if isinstance(sub, dict):
            if not isinstance(value, dict) or not _match(sub, value):
                return False
        elif not _match_value(sub, value, present):
            return False
    return True


def matches_filters(patterns: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    """Lambda event filtering: a record passes if any pattern matches (no patterns: all pass).

    Supported: exact values, nested objects, `exists`, `prefix`, `anything-but` (what stream
    filters on `eventName` and `dynamodb.NewImage` need); numeric ranges are not emulated.
    """
    return not patterns or any(_match(p, record) for p in patterns)
