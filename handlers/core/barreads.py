"""`/bars` from the rollups: whole buckets from rollup pages, the rest from raw ticks.

A range is cut at the symbol's mark, rounded down to its minute (the *boundary*): every tick
before it that the stream has delivered is in the rollup pages, and what is at or after it is
read raw, so the newest bars are never missing. Before the boundary, whole buckets of the interval
come from its pages, whole minutes at the edges of the range from 1m pages, and the partial
minutes at its edges from raw ticks. The pieces are folded into the interval's bars in time
order, which gives `compute_bars` over the range's ticks, bar for bar (docs/storage.md, "Bars").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from handlers.core.barpages import MINUTE, ROLLUPS
from handlers.core.bars import Bar, compute_bars, merge_bars
from handlers.core.bartable import BarTable
from handlers.core.errors import MarketStreamError
from handlers.core.reading import BlockSource, iter_ticks

__all__ = ["BarAnswer", "BarReader", "TooManyTicks"]


class TooManyTicks(MarketStreamError):
    """The raw part of a range holds more ticks than one request may read."""


@dataclass(slots=True)
class BarAnswer:
    """The bars of a range, and where they stopped coming from the rollups."""

    bars: list[Bar]
    watermark: int | None
    """The symbol's mark: the newest tick timestamp rolled up (None: none was)."""
    raw_from: int | None = None
    """Ticks from here on were read raw, not from the rollups (None: none were)."""
    raw_ticks: int = 0
    """Ticks read raw (the rest came as bars)."""


def _floor(ts: int, length: int) -> int:
    return ts - ts % length


def _ceil(ts: int, length: int) -> int:
    return -(-ts // length) * length


class BarReader:
    """Answers a bar request for a rolled-up interval from pages, a mark and raw ticks."""

    def __init__(self, bars: BarTable, blocks: BlockSource, *, max_raw_ticks: int) -> None:
        self._bars = bars
        self._blocks = blocks
        self._max_raw = max_raw_ticks

    def read(self, symbol: str, interval: str, start: int, end: int) -> BarAnswer:
        """Bars of `interval` over the ticks of [start, end] (both inclusive, epoch ms)."""
        length = ROLLUPS[interval].length_ms
        mark = self._bars.mark(symbol)
        boundary = None if mark is None else _floor(mark, MINUTE)
        answer = BarAnswer([], mark)
        pieces: list[Bar] = []
        raw_start = start
        if boundary is not None:
            rolled_end = min(end, boundary - 1)
            # Without a whole minute before the boundary, one raw read of the range is cheaper.
            if _ceil(start, MINUTE) < _floor(rolled_end + 1, MINUTE):
                pieces += self._rolled(answer, symbol, interval, start, rolled_end)
                raw_start = max(start, boundary)
        if raw_start <= end:
            answer.raw_from = raw_start
            pieces += self._raw(answer, symbol, raw_start, end, length)
        answer.bars = merge_bars(pieces, length)
        return answer

    def _rolled(
        self, answer: BarAnswer, symbol: str, interval: str, start: int, end: int
    ) -> Iterator[Bar]:
        """Partial bars of [start, end] (before the boundary, a whole minute in it), in order."""
        length = ROLLUPS[interval].length_ms
        first_minute, after_minutes = _ceil(start, MINUTE), _floor(end + 1, MINUTE)
        if start < first_minute:
            yield from self._raw(answer, symbol, start, first_minute - 1, length)
        first_bucket, after_buckets = _ceil(first_minute, length), _floor(after_minutes, length)
        if interval == "1m" or first_bucket >= after_buckets:
            yield from self._stored(symbol, "1m", first_minute, after_minutes)
        else:
            yield from self._stored(symbol, "1m", first_minute, first_bucket)
            yield from self._stored(symbol, interval, first_bucket, after_buckets)
            yield from self._stored(symbol, "1m", after_buckets, after_minutes)
        if after_minutes <= end:
            yield from self._raw(answer, symbol, after_minutes, end, length)

    def _stored(self, symbol: str, interval: str, start: int, stop: int) -> Iterator[Bar]:
        """Stored bars of `interval` starting in [start, stop)."""
        if start >= stop:
            return
        rollup = ROLLUPS[interval]
        pages = self._bars.pages(
            symbol, interval, rollup.page_start(start), rollup.page_start(stop - 1)
        )
        for page in pages:
            for bar_start in sorted(page.bars):
                if start <= bar_start < stop:
                    yield page.bars[bar_start]

    def _raw(self, answer: BarAnswer, symbol: str, start: int, end: int, length: int) -> list[Bar]:
        """Bars of `length` over the raw ticks of [start, end]; TooManyTicks past the limit."""
        budget = self._max_raw - answer.raw_ticks
        ticks = list(islice(iter_ticks(self._blocks, symbol, start, end), budget + 1))
        if len(ticks) > budget:
            raise TooManyTicks(f"more than {self._max_raw} raw ticks")
        answer.raw_ticks += len(ticks)
        return compute_bars(ticks, length)
