"""Per-function environment variables inside one process.

Lambda functions each have their own environment, but here they share one process and one
`os.environ`. `install()` replaces `os.environ` with a view that, on a thread running a function
(see `applied`), shows that function's variables over the process's own. Handlers read settings
at import *and* at call time (the authorizer reads its secret id on first call), so both run
under `applied`. A value of None in an overlay hides a process variable (e.g. `AWS_PROFILE`).
Child processes started with the default environment see the process's real variables only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

__all__ = ["Overlay", "applied", "install", "uninstall"]

Overlay = dict[str, str | None]
"""Variables to show (str) or hide (None) on the current thread; writes by the code land here."""

_local = threading.local()


class _LayeredEnviron(MutableMapping[str, str]):
    """`os.environ` with the current thread's overlay on top; writes go where reads come from."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    @staticmethod
    def _overlay() -> dict[str, str | None] | None:
        overlay: dict[str, str | None] | None = getattr(_local, "overlay", None)
        return overlay

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            value = overlay[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if overlay is not None:
            overlay[key] = value
        else:
            self.base[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if overlay is not None:
            if key not in self:
                raise KeyError(key)
            overlay[key] = None
        else:
            del self.base[key]

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay()
        if overlay is None:
            yield from self.base
            return
        for key in self.base:
            if key not in overlay:
                yield key
        yield from (key for key, value in overlay.items() if value is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        """A plain dict of what the current thread sees (like `os.environ.copy()`)."""
        return dict(self.items())

    def __repr__(self) -> str:
        return f"environ({self.copy()!r})"


def install() -> None:
    """Put the layered view in place of `os.environ` (idempotent)."""
    if not isinstance(os.environ, _LayeredEnviron):
        layered: Any = _LayeredEnviron(os.environ)
        os.environ = layered  # noqa: B003 - the point: same variables, a per-thread view


def uninstall() -> None:
    """Restore the process's own `os.environ`."""
    if isinstance(os.environ, _LayeredEnviron):
        base: Any = os.environ.base
        os.environ = base  # noqa: B003 - restores the original object


@contextmanager
def applied(overlay: Overlay) -> Iterator[None]:
    """Show `overlay` in `os.environ` on this thread for the duration (needs `install()`)."""
    previous = getattr(_local, "overlay", None)
    _local.overlay = overlay  # not copied: like a container's, the function's writes persist
    try:
        yield
    finally:
        _local.overlay = previous
