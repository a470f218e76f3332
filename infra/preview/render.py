"""The diff as text (a terminal) or markdown (a job summary, a pull request comment).

Secrets are never shown, only that they changed; code and assets as their content hashes.
Long values are cut, so one big policy document does not drown the rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, Literal

from infra.preview.diff import (
    ABSENT,
    STACK_GROUP,
    Op,
    PropertyChange,
    ResourceChange,
    StackDiff,
)
from infra.preview.snapshot import ARCHIVE, ASSET

__all__ = ["NOT_KNOWN_OFFLINE", "Format", "render"]

Format = Literal["text", "markdown"]

NOT_KNOWN_OFFLINE: Final = (
    "Computed offline under Pulumi's mock runtime, from the program and the stack files alone. "
    "Marked replacements are the properties the AWS provider's schemas say force one; any other "
    "update may replace too, and values AWS computes, drift from what is deployed and provider "
    "upgrades cannot be known offline: only `pulumi preview --diff` tells those."
)

_OPS: Final[tuple[Op, ...]] = ("create", "update", "delete")
_SYMBOL: Final = {"create": "+", "update": "~", "delete": "-"}
_MAX_VALUE: Final = 120


def _summary(diff: StackDiff) -> str:
    counts = [f"{count} to {op}" for op in _OPS if (count := diff.count(op))]
    return ", ".join(counts) if counts else "no changes"


def _hash(value: Any, marker: str) -> str:
    if value is ABSENT:
        return "(none)"
    digest = value.get(marker) if isinstance(value, dict) else None
    return f"sha256:{str(digest)[:12]}" if isinstance(digest, str) else "(not an archive)"


def _numbers(value: Any) -> Any:
    """`value` with whole floats as integers: Pulumi passes every number as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value


def _value(value: Any) -> str:
    if value is ABSENT:
        return "(none)"
    text = json.dumps(_numbers(value), sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _describe(change: PropertyChange) -> tuple[str, str, str]:
    """`(what, old, new)` of one property change, never a secret's value."""
    if change.kind == "secret":
        old = "(none)" if change.old is ABSENT else "[secret]"
        new = "(none)" if change.new is ABSENT else "[secret]"
        return "secret changed", old, new
    if change.kind == "code":
        return "code changed", _hash(change.old, ARCHIVE), _hash(change.new, ARCHIVE)
    if change.kind == "asset":
        return "content changed", _hash(change.old, ASSET), _hash(change.new, ASSET)
    return "", _value(change.old), _value(change.new)


def _code(text: str) -> str:
    """`text` as a markdown code span, whatever backticks it holds."""
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _text_property(change: PropertyChange) -> str:
    what, old, new = _describe(change)
    line = f"{change.path}: {old} -> {new}"
    line += f" ({what})" if what else ""
    return line + (" [forces replacement]" if change.replaces else "")


def _markdown_property(change: PropertyChange) -> str:
    what, old, new = _describe(change)
    line = f"{_code(change.path)}: {_code(old)} → {_code(new)}"
    line += f" ({what})" if what else ""
    return line + (" **forces replacement**" if change.replaces else "")


def _group_title(name: str, typ: str) -> str:
    return "resources outside any component" if name == STACK_GROUP else f"{name} ({typ})"


def _text(diffs: Sequence[StackDiff], title: str) -> str:
    lines = [title, ""]
    for diff in diffs:
        lines.append(f"Stack {diff.stack}: {_summary(diff)}")
        for component in diff.components:
            lines.append(f"  {_group_title(component.name, component.typ)}")
            for change in component.changes:
                lines.append(f"    {_SYMBOL[change.op]} {change.op} {change.typ} {change.name}")
                lines += [f"        {_text_property(p)}" for p in change.properties]
        lines.append("")
    lines.append(NOT_KNOWN_OFFLINE)
    return "\n".join(lines) + "\n"


def _markdown_change(change: ResourceChange) -> list[str]:
    head = f"- `{_SYMBOL[change.op]}` **{change.op}** {_code(change.typ)} {_code(change.name)}"
    return [head, *(f"  - {_markdown_property(p)}" for p in change.properties)]


def _markdown(diffs: Sequence[StackDiff], title: str) -> str:
    lines = ["### Infrastructure diff (offline)", "", title, ""]
    for diff in diffs:
        lines += [f"#### Stack `{diff.stack}`: {_summary(diff)}", ""]
        for component in diff.components:
            if component.name == STACK_GROUP:
                lines.append("**resources outside any component**")
            else:
                lines.append(f"**{component.name}** ({_code(component.typ)})")
            lines.append("")
            for change in component.changes:
                lines += _markdown_change(change)
            lines.append("")
    lines += [f"<sub>{NOT_KNOWN_OFFLINE}</sub>"]
    return "\n".join(lines) + "\n"


def render(diffs: Sequence[StackDiff], *, base: str, fmt: Format) -> str:
    """The whole report: a title naming the base, then each stack's changes, then the caveats."""
    if fmt == "markdown":
        return _markdown(diffs, f"Base {_code(base)} → this tree.")
    return _text(diffs, f"Infrastructure diff (offline): base {base} -> working tree")
