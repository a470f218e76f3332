"""Per-function log files: what a handler prints goes where CloudWatch Logs would put it.

Handlers print one EMF metrics line per invocation (and Lambda sends stdout to the function's
log group). Here they share the local cloud's stdout, so `install()` puts a router in front of
`sys.stdout`: on a thread running a function (see `capture`), writes go to
`<directory>/<function>.log`; every other thread writes to the real stdout as before. After each
invocation the runtime appends Lambda's `REPORT` line (`report_line`), with `Init Duration` on a
container's first invocation, as CloudWatch shows it. A `lines` callback sees each write of a
function thread as it goes to the file (the local cloud reads EMF lines there, as CloudWatch Logs
does).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["FunctionLogs", "report_line"]


def report_line(
    request_id: str, duration_ms: float, memory_mb: int, init_ms: float | None = None
) -> str:
    """Lambda's `REPORT` line of one invocation; `init_ms` on a container's first invocation.

    Lambda also reports `Max Memory Used`; functions here share one process, so it is left out.
    """
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tBilled Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB"
    )
    return line if init_ms is None else f"{line}\tInit Duration: {init_ms:.2f} ms"


class _Router:
    """A stdout stand-in that writes to the current thread's function log, if any."""

    def __init__(
        self, real: IO[str], local: threading.local, lines: Callable[[str], None] | None
    ) -> None:
        self._real = real
        self._local = local
        self._lines = lines

    def write(self, text: str) -> int:
        target: IO[str] | None = getattr(self._local, "file", None)
        if target is None:
            return self._real.write(text)
        if self._lines is not None:
            self._lines(text)
        return target.write(text)

    def flush(self) -> None:
        target: IO[str] | None = getattr(self._local, "file", None)
        (target or self._real).flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class FunctionLogs:
    """One append-only log file per function under `directory`."""

    def __init__(self, directory: Path, *, lines: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.lines = lines
        """Called with each write of a function thread (set before `install`)."""
        self._local = threading.local()
        self._files: dict[str, IO[str]] = {}
        self._lock = threading.Lock()
        self._real: Any = None

    def install(self) -> None:
        """Route function threads' stdout to their log files (idempotent)."""
        if self._real is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._real = sys.stdout
            sys.stdout = _Router(sys.stdout, self._local, self.lines)

    def uninstall(self) -> None:
        """Put the real stdout back and close the files."""
        if self._real is not None:
            sys.stdout = self._real
            self._real = None
        with self._lock:
            for file in self._files.values():
                file.close()
            self._files.clear()

    def path(self, function: str) -> Path:
        """The log file of `function`."""
        return self.directory / f"{function}.log"

    def _file(self, function: str) -> IO[str]:
        with self._lock:
            file = self._files.get(function)
            if file is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                file = self._files[function] = self.path(function).open(
                    "a", encoding="utf-8", buffering=1
                )
            return file

    def write(self, function: str, line: str) -> None:
        """Append one line of the runtime's own (a `REPORT` line) to `function`'s log."""
        file = self._file(function)
        with self._lock:  # one write per line: lines of two threads never interleave
            file.write(line + "\n")

    @contextmanager
    def capture(self, function: str) -> Iterator[None]:
        """Send this thread's prints to `function`'s log for the duration."""
        file = self._file(function)
        self._local.file = file
        try:
            yield
        finally:
            self._local.file = None
