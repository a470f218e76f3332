"""The guard in front of `patches`: does the installed moto still have what each patch touches?

A patch declares what it relies on as data (`Needs`: a module, a dotted name in it, the kind of
object, its leading parameters, the names its code must still refer to). `verify` checks them
all before any patch is applied and turns the first mismatch into one line naming the moto
found, the moto expected and the patch, instead of an ImportError at start-up or, worse, a patch
that silently stops doing anything after a moto upgrade.

It checks shapes, not behaviour: what each patch relies on in moto's *behaviour* is pinned by the
contract tests in tests/unit/localcloud/moto/.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import CodeType
from typing import Literal

__all__ = ["MotoMismatch", "Needs", "Patch", "installed_version", "verify"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class MotoMismatch(Exception):
    """A patch no longer applies to the installed moto; `str()` is the one-line reason."""


@dataclass(frozen=True)
class Needs:
    """One object in moto (or werkzeug) that a patch touches, and the shape the patch relies on."""

    module: str
    name: str
    """Dotted path inside `module`: `"Table.query"`."""
    kind: Literal["function", "property", "class"] = "function"
    params: tuple[str, ...] | None = None
    """Its leading parameters, in order (`self` included), that the patch passes positionally or
    reads by position. Any further parameter must be optional. None: not checked."""
    uses: tuple[str, ...] = ()
    """Names its code must still refer to (attributes, globals): the hook the patch works through,
    e.g. `Table.query` calling `self.all_items()`."""

    def problem(self) -> str | None:
        """None if it is there as declared; else what is wrong, as a phrase."""
        try:
            value: object = importlib.import_module(self.module)
        except Exception as exc:  # a broken moto can raise anything on import
            return f"cannot import {self.module}: {type(exc).__name__}: {exc}"
        where = self.module
        for part in self.name.split("."):
            try:
                value = inspect.getattr_static(value, part)
            except AttributeError:
                return f"{where} has no {part}"
            where = f"{where}.{part}"
        if self.kind == "class":
            return None if inspect.isclass(value) else f"{where} is not a class"
        if self.kind == "property":
            if not isinstance(value, property) or value.fget is None:
                return f"{where} is not a property"
            value = value.fget
        elif not inspect.isfunction(value):
            # A staticmethod, classmethod or other descriptor would not take `self` the way the
            # patch's wrapper passes it.
            return f"{where} is not a plain function"
        assert callable(value)
        return self._signature_problem(where, value) or self._uses_problem(where, value)

    def _signature_problem(self, where: str, function: Callable[..., object]) -> str | None:
        if self.params is None:
            return None
        try:
            parameters = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError) as exc:
            return f"{where} has no signature ({exc})"
        leading, rest = parameters[: len(self.params)], parameters[len(self.params) :]
        if (
            [p.name for p in leading] == list(self.params)
            and all(p.kind in _POSITIONAL for p in leading)
            and all(p.default is not p.empty for p in rest if p.kind not in _VARIADIC)
        ):
            return None
        found = ", ".join(_shown(p) for p in parameters)
        return f"{where} takes ({found}), the patch expects ({', '.join(self.params)}, ...)"

    def _uses_problem(self, where: str, function: Callable[..., object]) -> str | None:
        code = getattr(inspect.unwrap(function), "__code__", None)
        names = set(_names(code)) if isinstance(code, CodeType) else set()
        missing = [name for name in self.uses if name not in names]
        return f"{where} no longer refers to {', '.join(missing)}" if missing else None


def _shown(parameter: inspect.Parameter) -> str:
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        return f"*{parameter.name}"
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return f"**{parameter.name}"
    return parameter.name


def _names(code: CodeType) -> Iterator[str]:
    """Every global and attribute name `code` refers to, nested functions and comprehensions
    included (before Python 3.12 a comprehension is a code object of its own)."""
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _names(constant)


@dataclass(frozen=True)
class Patch:
    """A change to moto's behaviour: its name, the function that makes it, what it touches."""

    name: str
    apply: Callable[[], None]
    needs: tuple[Needs, ...]

    def problem(self) -> str | None:
        """None if every object the patch touches is as it expects; else the first mismatch."""
        return next((p for p in (need.problem() for need in self.needs) if p is not None), None)


def installed_version() -> str | None:
    """The installed moto's version (from its metadata: moto is not imported), None if absent."""
    try:
        return version("moto")
    except PackageNotFoundError:
        return None


def verify(patches: Sequence[Patch], expected: str) -> str | None:
    """Check every patch against the installed moto, applying none.

    Raises MotoMismatch, with one line naming the moto found, `expected` and the first patch
    that no longer applies (and any others), if one does not. Otherwise returns None when moto is
    `expected`, or a one-line warning when it is another version whose every symbol checks out:
    the patches are then applied (refusing would block a moto upgrade for no reason the guard
    can see; the contract tests are what tells whether the behaviour still holds).
    """
    found = installed_version()
    failed: list[tuple[str, str]] = []
    for patch in patches:
        reason = patch.problem()
        if reason is not None:
            failed.append((patch.name, reason))
    installed = f"moto {found} is installed" if found else "moto is not installed"
    if failed:
        (name, reason), others = failed[0], [other for other, _ in failed[1:]]
        joint = "and" if found == expected else "but"
        if not others:
            also = ""
        elif len(others) == 1:
            also = f"; nor does patch {others[0]}"
        else:
            also = f"; nor do patches {', '.join(others)}"
        raise MotoMismatch(
            _one_line(
                f"{installed} {joint} the local cloud's moto patches are written for {expected}: "
                f"patch {name} no longer applies ({reason}){also}"
            )
        )
    if found != expected:
        return (
            f"localcloud: warning: {installed} but the local cloud's moto patches are written for "
            f"{expected}; everything they touch still checks out, so they are applied "
            "(tests/unit/localcloud/moto/ tells whether moto still behaves as they assume)"
        )
    return None


def _one_line(text: str) -> str:
    """Exception texts (a SyntaxError's, say) may span lines; the protocol is one line."""
    return " ".join(text.split())
