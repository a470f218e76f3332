"""A minute's bar from what each block holds of it, and a container's memory of those pieces.

`compute_bars` over a minute's ticks folds them in their total order (timestamp, block sort key,
index in block). A block's ticks within one minute are contiguous and in that order, so the fold
splits into one `Piece` per block and minute, and `minute_bar` folds the pieces with the same
result, bar for bar and text for text: the open of the piece whose first tick comes first, the
close of the one whose last tick comes last, the high (low) text of the first tick reaching the
highest (lowest) price, volumes summed exactly.

`MinuteMemory` keeps the pieces of recently rolled-up minutes, so that a batch recomputes a minute
from the pieces it remembers plus the batch's own blocks instead of reading every block of the
minute back: why that is still a recompute from the source, and when it reads anyway, is in
docs/storage.md ("Bars").
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from handlers.core.barpages import MINUTE, ROLLUPS
from handlers.core.bars import VOLUME_PRECISION, Bar
from handlers.core.encoding import EncodedTick
from handlers.core.reading import Position

__all__ = ["MAX_PIECES", "REREAD_S", "MinuteMemory", "Piece", "minute_bar", "pieces"]

MAX_PIECES: Final = 50_000
"""Pieces a container remembers (a few hundred bytes each): minutes beyond it are forgotten,
least recently used first, and read back in full when touched again."""
REREAD_S: Final = 30.0
"""A remembered minute older than this is read back in full when next touched: the bound on how
long a block whose own batch was given up on (it went to the failure queue) stays out of its bar,
as any touch of the minute repaired that when every batch read the minute back."""


@dataclass(slots=True)
class Piece:
    """What one block holds of one minute: that part's bar, and where its ticks stand."""

    first: Position
    last: Position
    high: Decimal
    high_at: Position
    low: Decimal
    low_at: Position
    bar: Bar


def pieces(sk: str, ticks: Sequence[EncodedTick], start: int, end: int) -> dict[int, Piece]:
    """The pieces of one block (sort key `sk`, ticks in block order) in [start, end], by minute."""
    out: dict[int, Piece] = {}
    current: Piece | None = None
    with localcontext() as ctx:
        ctx.prec = VOLUME_PRECISION
        for index, tick in enumerate(ticks):
            if not start <= tick.timestamp <= end:
                continue
            at = Position(tick.timestamp, sk, index)
            price = Decimal(tick.price)
            size = Decimal(tick.size) if tick.size is not None else Decimal(0)
            minute = tick.timestamp - tick.timestamp % MINUTE
            if current is None or current.bar.start != minute:
                bar = Bar(minute, tick.price, tick.price, tick.price, tick.price, size, 1)
                current = out[minute] = Piece(at, at, price, at, price, at, bar)
                continue
            if price > current.high:
                current.high, current.high_at, current.bar.high = price, at, tick.price
            if price < current.low:
                current.low, current.low_at, current.bar.low = price, at, tick.price
            current.last = at
            current.bar.close = tick.price
            current.bar.volume += size
            current.bar.count += 1
    return out


def minute_bar(start: int, parts: Iterable[Piece]) -> Bar | None:
    """The bar of the minute at `start` from its pieces (any order); None without any."""
    opening = closing = top = bottom = None
    volume = Decimal(0)
    count = 0
    with localcontext() as ctx:
        ctx.prec = VOLUME_PRECISION
        for part in parts:
            if opening is None or closing is None or top is None or bottom is None:
                opening = closing = top = bottom = part
                volume, count = part.bar.volume, part.bar.count
                continue
            if part.first < opening.first:
                opening = part
            if part.last > closing.last:
                closing = part
            if part.high > top.high or (part.high == top.high and part.high_at < top.high_at):
                top = part
            if part.low < bottom.low or (part.low == bottom.low and part.low_at < bottom.low_at):
                bottom = part
            volume += part.bar.volume
            count += part.bar.count
    if opening is None or closing is None or top is None or bottom is None:
        return None
    b = opening.bar
    return Bar(start, b.open, top.bar.high, bottom.bar.low, closing.bar.close, volume, count)


_MAX_PAGES: Final = 4096
"""Page versions kept before those of pages with no remembered minute are dropped."""


def _hour(minute: int) -> int:
    return ROLLUPS["1m"].page_start(minute)


@dataclass(slots=True)
class _Minute:
    read_at: float
    pieces: dict[str, Piece]
    """By block sort key."""


class MinuteMemory:
    """The pieces of recently rolled-up minutes, valid while their 1m page keeps its version.

    A page's version changes with every write by anyone, so a remembered minute is only used
    while no other consumer (another shard, another container) wrote its page since.
    """

    def __init__(
        self,
        *,
        max_pieces: int = MAX_PIECES,
        reread_s: float = REREAD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_pieces = max_pieces
        self._reread_s = reread_s
        self._clock = clock
        self._versions: dict[tuple[str, int], int] = {}
        self._minutes: OrderedDict[tuple[str, int], _Minute] = OrderedDict()
        self._held = 0

    def now(self) -> float:
        """The memory's clock: a minute read at this time is fresh for `reread_s`."""
        return self._clock()

    def recall(
        self, symbol: str, hour: int, version: int, minutes: Iterable[int]
    ) -> dict[int, tuple[float, dict[str, Piece]]]:
        """The read time and pieces of those `minutes` of `symbol`'s 1m page `hour` that are
        remembered and fresh, if the page is still at `version` (copies: the caller changes
        them)."""
        if self._versions.get((symbol, hour)) != version:
            return {}
        now = self._clock()
        found: dict[int, tuple[float, dict[str, Piece]]] = {}
        for minute in minutes:
            held = self._minutes.get((symbol, minute))
            if held is not None and now - held.read_at <= self._reread_s:
                found[minute] = (held.read_at, dict(held.pieces))
        return found

    def keep(
        self,
        symbol: str,
        hour: int,
        *,
        based_on: int,
        version: int,
        minutes: Mapping[int, tuple[float, dict[str, Piece]]],
    ) -> None:
        """Remember `minutes` (read time, pieces) after the page went from `based_on` to
        `version`; what was remembered of the page survives only if it was at `based_on`."""
        key = (symbol, hour)
        if self._versions.get(key) != based_on:
            for stale in [k for k in self._minutes if k[0] == symbol and _hour(k[1]) == hour]:
                self._forget(stale)
        self._versions[key] = version
        for minute, (read_at, held) in minutes.items():
            self._forget((symbol, minute))
            self._minutes[(symbol, minute)] = _Minute(read_at, held)
            self._held += len(held)
        while self._held > self._max_pieces and self._minutes:
            self._forget(next(iter(self._minutes)))
        if len(self._versions) > _MAX_PAGES:
            live = {(symbol, _hour(minute)) for symbol, minute in self._minutes}
            self._versions = {k: v for k, v in self._versions.items() if k in live}

    def _forget(self, key: tuple[str, int]) -> None:
        held = self._minutes.pop(key, None)
        if held is not None:
            self._held -= len(held.pieces)
