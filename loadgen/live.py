"""The live progress line: rate, errors, in-flight requests and p95 of the last second."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from loadgen.runner import Progress
from loadgen.schedule import Schedule
from loadgen.stats import new_series_histogram

__all__ = ["LiveProgress"]

_PLAIN_EVERY_S = 5.0
"""Without a terminal (CI logs), print a plain line this often instead of redrawing."""


class LiveProgress:
    """Collects per-worker snapshots and redraws one line; a context manager around the run."""

    def __init__(
        self, *, schedule: Schedule, workers: int, console: Console, enabled: bool
    ) -> None:
        self._schedule = schedule
        self._console = console
        self._enabled = enabled
        self._latest: dict[int, Progress] = {}
        self._workers = workers
        self._live: Live | None = None
        self._last_plain = 0.0

    def __enter__(self) -> LiveProgress:
        if self._enabled and self._console.is_terminal:
            # auto_refresh off: no refresh thread competing with the event loop for the GIL.
            self._live = Live(console=self._console, auto_refresh=False, transient=True)
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def __call__(self, progress: Progress) -> None:
        """Take one worker's snapshot (the runner's progress callback)."""
        self._latest[progress.worker] = progress
        if not self._enabled:
            return
        line = self.render()
        if self._live is not None:
            self._live.update(line, refresh=True)
        elif (now := time.monotonic()) - self._last_plain >= _PLAIN_EVERY_S:
            self._last_plain = now
            self._console.print(line, highlight=False)

    def render(self) -> Text:
        """The current line."""
        snaps = list(self._latest.values())
        elapsed = max(s.elapsed_s for s in snaps)
        duration = self._schedule.duration_s
        at = min(elapsed, duration)
        target = self._schedule.planned_in(max(at - 1.0, 0.0), max(at, 1.0))
        rate = sum(s.sent_window / s.window_s for s in snaps)
        sent = sum(s.sent for s in snaps)
        errors = sum(s.errors for s in snaps)
        in_flight = sum(s.in_flight for s in snaps)
        window = new_series_histogram()
        for snap in snaps:
            if snap.window:
                window.decode_and_add(snap.window)
        p95 = window.get_value_at_percentile(95.0) / 1000.0 if window.get_total_count() else 0.0
        share = errors / sent if sent else 0.0
        return Text(
            f"{elapsed:6.1f}s/{duration:g}s  rate {rate:8,.1f}/s (target {target:,}/s)"
            f"  sent {sent:,}  errors {errors:,} ({share:.2%})  in flight {in_flight:,}"
            f"  p95 {p95:,.1f} ms"
        )
