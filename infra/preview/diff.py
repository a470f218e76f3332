"""What changed between two snapshots of one stack: creates, deletes and updates, by component.

Resources are matched by URN, as Pulumi matches them. An update lists each changed input as a
path (`throttleSettings.rateLimit`, `policy.Statement[0].Resource`: JSON held in a string is
compared as the data it holds) with its old and new value. A secret is compared by its digest
and shown as changed, never as a value; an archive or an asset by its content hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from infra.preview.replacements import forces_replacement
from infra.preview.snapshot import ARCHIVE, ASSET, SECRET

__all__ = [
    "ABSENT",
    "STACK_GROUP",
    "Component",
    "Op",
    "PropertyChange",
    "ResourceChange",
    "StackDiff",
    "diff_stack",
]

Op = Literal["create", "delete", "update"]
Kind = Literal["value", "secret", "code", "asset"]

ABSENT: Final = object()
"""The value of a property that is not set on one side."""

STACK_GROUP: Final = "(stack)"
"""The group of resources declared outside any component."""


@dataclass(frozen=True)
class PropertyChange:
    """One changed input: its path, old and new value (or hash), and what kind of value it is."""

    path: str
    old: Any
    new: Any
    kind: Kind
    replaces: bool
    """The top-level property is known to force a replacement (`infra.preview.replacements`)."""


@dataclass(frozen=True)
class ResourceChange:
    """A resource to create, delete or update."""

    op: Op
    typ: str
    name: str
    properties: tuple[PropertyChange, ...] = ()


@dataclass(frozen=True)
class Component:
    """A top-level component (or the stack itself) and the changes of the resources under it."""

    name: str
    typ: str
    changes: tuple[ResourceChange, ...]


@dataclass(frozen=True)
class StackDiff:
    """Every change of one stack, grouped by top-level component."""

    stack: str
    components: tuple[Component, ...]

    def changes(self) -> list[ResourceChange]:
        """Every change, component by component."""
        return [change for component in self.components for change in component.changes]

    def count(self, op: Op) -> int:
        """How many resources `op` applies to."""
        return sum(1 for change in self.changes() if change.op == op)


def _decoded(value: Any) -> Any:
    """JSON held in a string, as the data it holds (policies, filter and redrive policies)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _marker(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        return key if key in (SECRET, ARCHIVE, ASSET) else None
    return None


_KIND: Final[dict[str | None, Kind]] = {SECRET: "secret", ARCHIVE: "code", ASSET: "asset"}


def _leaf_kind(old: Any, new: Any) -> Kind:
    markers = {_marker(v) for v in (old, new) if v is not ABSENT} - {None}
    # A secret on either side is shown as a secret: a value that became secret stays hidden.
    for marker in (SECRET, ARCHIVE, ASSET):
        if marker in markers:
            return _KIND[marker]
    return "value"


def _compare(path: str, old: Any, new: Any) -> Iterable[tuple[str, Any, Any]]:
    """`(path, old, new)` for every leaf that differs; ABSENT where a side has no value."""
    old, new = _decoded(old), _decoded(new)
    if old == new:
        return
    if _marker(old) or _marker(new):
        yield path, old, new
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            yield from _compare(sub, old.get(key, ABSENT), new.get(key, ABSENT))
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            yield from _compare(
                f"{path}[{index}]",
                old[index] if index < len(old) else ABSENT,
                new[index] if index < len(new) else ABSENT,
            )
    else:
        yield path, old, new


def _properties(typ: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[PropertyChange]:
    changes = []
    for path, before, after in _compare("", dict(old), dict(new)):
        top = path.split(".", 1)[0].split("[", 1)[0]
        kind = _leaf_kind(before, after)
        changes.append(PropertyChange(path, before, after, kind, forces_replacement(typ, top)))
    return changes


def _groups(resources: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """URN -> (name, type) of its top-level component, or of the stack group."""
    by_urn = {str(r["urn"]): r for r in resources}
    groups: dict[str, tuple[str, str]] = {}
    for urn, resource in by_urn.items():
        top = resource
        while str(top["parent"]) in by_urn:
            top = by_urn[str(top["parent"])]
        if top is resource and resource["custom"]:
            groups[urn] = (STACK_GROUP, "")
        else:
            groups[urn] = (str(top["name"]), str(top["type"]))
    return groups


def diff_stack(
    stack: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> StackDiff:
    """The changes from `old` to `new` (snapshots of one stack), grouped and sorted."""
    before = {str(r["urn"]): r for r in old}
    after = {str(r["urn"]): r for r in new}
    # A deleted resource is grouped as it was, a created or updated one as it will be.
    groups = {**_groups(old), **_groups(new)}
    changes: dict[tuple[str, str], list[ResourceChange]] = {}
    for urn in sorted(set(before) | set(after)):
        if urn not in after:
            change = ResourceChange("delete", str(before[urn]["type"]), str(before[urn]["name"]))
        elif urn not in before:
            change = ResourceChange("create", str(after[urn]["type"]), str(after[urn]["name"]))
        else:
            typ = str(after[urn]["type"])
            properties = _properties(typ, before[urn]["inputs"], after[urn]["inputs"])
            if not properties:
                continue
            change = ResourceChange("update", typ, str(after[urn]["name"]), tuple(properties))
        changes.setdefault(groups[urn], []).append(change)
    order = {"create": 0, "update": 1, "delete": 2}
    components = tuple(
        Component(
            name,
            typ,
            tuple(sorted(items, key=lambda c: (order[c.op], c.typ, c.name))),
        )
        for (name, typ), items in sorted(changes.items(), key=lambda item: item[0])
    )
    return StackDiff(stack, components)
