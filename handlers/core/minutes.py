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
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Final

from handlers.core.barpages import MINUTE, ROLLUPS
from handlers.core.bars import VOLUME_PRECISION, Bar
from handlers.core.encoding import EncodedTick
from handlers.core.reading import Position

__all__ = [
    "MAX_PIECES",
    "REREAD_S",
    "Minute",
    "MinuteMemory",
    "Piece",
    "fold",
    "minute_bar",
    "pieces",
]

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


def fold(a: Piece, b: Piece) -> Piece:
    """The piece of `a`'s and `b`'s ticks together (same minute, no tick in both)."""
    opening = a if a.first < b.first else b
    closing = a if a.last > b.last else b
    top = a if a.high > b.high or (a.high == b.high and a.high_at < b.high_at) else b
    bottom = a if a.low < b.low or (a.low == b.low and a.low_at < b.low_at) else b
    with localcontext() as ctx:
        ctx.prec = VOLUME_PRECISION
        volume = a.bar.volume + b.bar.volume
    bar = Bar(
        a.bar.start,
        opening.bar.open,
        top.bar.high,
        bottom.bar.low,
        closing.bar.close,
        volume,
        a.bar.count + b.bar.count,
    )
    return Piece(opening.first, closing.last, top.high, top.high_at, bottom.low, bottom.low_at, bar)


def _fold_all(parts: Iterable[Piece]) -> Piece | None:
    whole: Piece | None = None
    for part in parts:
        whole = part if whole is None else fold(whole, part)
    return whole


def minute_bar(parts: Iterable[Piece]) -> Bar | None:
    """The bar of one minute from its pieces, in any order; None without any."""
    whole = _fold_all(parts)
    return None if whole is None else whole.bar


@dataclass(slots=True)
class Minute:
    """Every block's piece of one minute, as read at `read_at`, and their fold."""

    read_at: float
    pieces: dict[str, Piece] = field(default_factory=dict)
    """By block sort key."""
    _whole: Piece | None = field(default=None, init=False)
    _stale: bool = field(default=True, init=False)

    def add(self, sk: str, piece: Piece) -> None:
        """Take in the piece of block `sk`: a new block folds in, a rewritten one refolds all."""
        old = self.pieces.get(sk)
        if old == piece:
            return
        self.pieces[sk] = piece
        if old is None and not self._stale:
            self._whole = piece if self._whole is None else fold(self._whole, piece)
        else:
            self._stale = True

    def bar(self) -> Bar | None:
        """The minute's bar; None without ticks."""
        if self._stale:
            self._whole = _fold_all(self.pieces.values())
            self._stale = False
        return None if self._whole is None else self._whole.bar


_MAX_PAGES: Final = 4096
"""Page versions kept before those of pages with no remembered minute are dropped."""


def _hour(minute: int) -> int:
    return ROLLUPS["1m"].page_start(minute)


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
        self._minutes: OrderedDict[tuple[str, int], tuple[Minute, int]] = OrderedDict()
        """Each with the pieces it held when kept (what `_held` counts)."""
        self._held = 0

    def now(self) -> float:
        """The memory's clock: a minute read at this time is fresh for `reread_s`."""
        return self._clock()

    def recall(
        self, symbol: str, hour: int, version: int, minutes: Iterable[int]
    ) -> dict[int, Minute]:
        """Those `minutes` of `symbol`'s 1m page `hour` that are remembered and fresh, if the
        page is still at `version`. They are the memory's own: adding a stored block's piece to
        one keeps it true whether or not the page is then written."""
        if self._versions.get((symbol, hour)) != version:
            return {}
        now = self._clock()
        found: dict[int, Minute] = {}
        for minute in minutes:
            held, _ = self._minutes.get((symbol, minute), (None, 0))
            if held is not None and now - held.read_at <= self._reread_s:
                found[minute] = held
        return found

    def keep(
        self,
        symbol: str,
        hour: int,
        *,
        based_on: int,
        version: int,
        minutes: Mapping[int, Minute],
    ) -> None:
        """Remember `minutes` after the page went from `based_on` to `version`; what was
        remembered of the page survives only if it was at `based_on`."""
        key = (symbol, hour)
        if self._versions.get(key) != based_on:
            for stale in [k for k in self._minutes if k[0] == symbol and _hour(k[1]) == hour]:
                self._forget(stale)
        self._versions[key] = version
        for minute, held in minutes.items():
            self._forget((symbol, minute))
            self._minutes[(symbol, minute)] = (held, len(held.pieces))
            self._held += len(held.pieces)
        while self._held > self._max_pieces and self._minutes:
            self._forget(next(iter(self._minutes)))
        if len(self._versions) > _MAX_PAGES:
            live = {(symbol, _hour(minute)) for symbol, minute in self._minutes}
            self._versions = {k: v for k, v in self._versions.items() if k in live}

    def _forget(self, key: tuple[str, int]) -> None:
        _, counted = self._minutes.pop(key, (None, 0))
        self._held -= counted
