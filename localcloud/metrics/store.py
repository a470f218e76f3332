"""The local cloud's metric store: samples aggregated per metric, dimension set and second.

Observers call `add` on the hot path (a lock, two dict lookups, a bucket); the flusher takes
each second once it is over (`drain`) and puts it into moto's CloudWatch; the alarms read the
last seconds back (`cell`) without a round trip. Seconds stay here for `keep_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from localcloud.metrics.stats import Cell

__all__ = ["KEEP_S", "Drained", "MetricKey", "MetricStore", "Sample", "metric_key"]

KEEP_S: Final = 120
"""Seconds of history kept in process: the alarms look back at most their evaluation periods
(a second each locally); CloudWatch (moto) keeps the rest."""
GRACE_S: Final = 1
"""A second is drained this long after it ends: samples recorded a little late still make it."""

MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]
"""(namespace, metric name, dimensions sorted by name)."""
Sample = tuple[MetricKey, float, str]
"""(key, value, unit)."""


def metric_key(namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
    """The key of one metric and dimension set."""
    return namespace, name, tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))


@dataclass(frozen=True)
class Drained:
    """One metric's samples of one second, ready for PutMetricData."""

    second: int
    key: MetricKey
    unit: str
    cell: Cell


class MetricStore:
    """Per-second cells of every metric the local cloud records."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, keep_s: int = KEEP_S, enabled: bool = True
    ) -> None:
        self.enabled = enabled
        """False: `add` drops everything (to measure what recording costs)."""
        self._clock = clock
        self._keep_s = keep_s
        self._lock = threading.Lock()
        self._seconds: dict[int, dict[MetricKey, Cell]] = {}
        self._units: dict[MetricKey, str] = {}
        self._drained = int(clock()) - 1
        """Every second up to this one has been drained."""
        self.samples = 0

    def add(
        self, key: MetricKey, value: float, unit: str = "None", at: float | None = None
    ) -> None:
        """Record one sample of `key` (at `at`, epoch seconds; default now)."""
        self.add_all(((key, value, unit),), at)

    def add_all(self, samples: Iterable[Sample], at: float | None = None) -> None:
        """Record samples (key, value, unit) taken at one time (`at`, epoch seconds; now)."""
        if not self.enabled:
            return
        second = int(self._clock() if at is None else at)
        with self._lock:
            # A second already put into CloudWatch would miss the sample: it counts in the next.
            second = max(second, self._drained + 1)
            cells = self._seconds.get(second)
            if cells is None:
                cells = self._seconds[second] = {}
            for key, value, unit in samples:
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = Cell()
                    if key not in self._units:
                        self._units[key] = unit
                cell.add(value)
                self.samples += 1

    def drain(self, *, everything: bool = False) -> list[Drained]:
        """Every second over (with grace) not drained before; forgets those past `keep_s`.

        `everything` drains every second recorded, the current one too (later samples count in
        the next one, which an `everything` drain within the same second takes as well).
        """
        now = int(self._clock())
        with self._lock:
            upto = max([now, *self._seconds]) if everything else now - 1 - GRACE_S
            out = [
                Drained(second, key, self._units.get(key, "None"), cell)
                for second in sorted(s for s in self._seconds if self._drained < s <= upto)
                for key, cell in self._seconds[second].items()
            ]
            self._drained = max(self._drained, upto)
            for second in [s for s in self._seconds if s < now - self._keep_s]:
                del self._seconds[second]
        return out

    def cell(self, key: MetricKey, first: int, last: int) -> Cell | None:
        """`key`'s samples of the seconds `first`..`last` merged; None if there are none."""
        merged: Cell | None = None
        with self._lock:
            for second in range(first, last + 1):
                cell = self._seconds.get(second, {}).get(key)
                if cell is None:
                    continue
                if merged is None:
                    merged = Cell()
                merged.merge(cell)
        return merged

    def keys(self) -> set[MetricKey]:
        """Every metric and dimension set recorded in the kept seconds."""
        with self._lock:
            return {key for cells in self._seconds.values() for key in cells}

    def now(self) -> float:
        """The store's clock."""
        return self._clock()
