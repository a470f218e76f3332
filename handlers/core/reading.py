"""Reading ticks back in order: a k-way merge over blocks, pages with positions, the latest tick.

Ticks are ordered by (timestamp, block sort key, index in block): a total order, so pages
resume exactly after the last tick returned. Blocks come from a `BlockSource` in sort-key order;
since every block spans less than BLOCK_SPAN_MS, a buffered tick is final once the next block
starts after it (ascending) or ends before it (descending).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from handlers.core.blocks import BLOCK_SPAN_MS, MAX_TIMESTAMP, Block, sort_key
from handlers.core.encoding import DecodeError

__all__ = [
    "BlockSource",
    "Position",
    "StoredTick",
    "Undecodable",
    "blocks_holding",
    "iter_ticks",
    "latest",
    "read_page",
]


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """Where a tick stands in the total order of a symbol's ticks."""

    ts: int
    sk: str
    idx: int


@dataclass(frozen=True, slots=True)
class StoredTick:
    """A tick read back from storage, with its position for cursors."""

    symbol: str
    timestamp: int
    price: str
    size: str | None
    id: str | None
    position: Position

    def as_json(self) -> dict[str, object]:
        """The tick as the query API returns it (size and id only when set)."""
        out: dict[str, object] = {
            "symbol": self.symbol,
            "price": self.price,
            "timestamp": self.timestamp,
        }
        if self.size is not None:
            out["size"] = self.size
        if self.id is not None:
            out["id"] = self.id
        return out


Undecodable = Callable[[Block, DecodeError], None]
"""Told of a stored block that does not decode, which the read then skips."""


class BlockSource(Protocol):
    """Yields a symbol's blocks with sort keys in [sk_low, sk_high], in sort-key order."""

    def blocks(
        self, symbol: str, sk_low: str, sk_high: str, *, ascending: bool, min_last_ts: int
    ) -> Iterator[Block]:
        """Blocks whose last tick is at or after `min_last_ts` (others may be skipped)."""
        ...


class _Desc:
    """Heap entry that inverts the order, for the descending merge."""

    __slots__ = ("tick",)

    def __init__(self, tick: StoredTick) -> None:
        self.tick = tick

    def __lt__(self, other: _Desc) -> bool:
        return other.tick.position < self.tick.position


def _block_ticks(
    block: Block, start: int, end: int, on_undecodable: Undecodable | None
) -> Iterator[StoredTick]:
    try:
        ticks = block.ticks()
    except DecodeError as exc:
        if on_undecodable is None:
            raise
        on_undecodable(block, exc)
        return
    for idx, tick in enumerate(ticks):
        if start <= tick.timestamp <= end:
            yield StoredTick(
                block.symbol,
                tick.timestamp,
                tick.price,
                tick.size,
                tick.id,
                Position(tick.timestamp, block.sk, idx),
            )


def blocks_holding(source: BlockSource, symbol: str, start: int, end: int) -> Iterator[Block]:
    """The blocks that may hold ticks of `symbol` in [start, end], in ascending sort-key order."""
    return source.blocks(
        symbol,
        sort_key(max(0, start - BLOCK_SPAN_MS + 1)),
        sort_key(end) + "~",
        ascending=True,
        min_last_ts=start,
    )


def iter_ticks(
    source: BlockSource,
    symbol: str,
    start: int,
    end: int,
    *,
    ascending: bool = True,
    after: Position | None = None,
    on_undecodable: Undecodable | None = None,
) -> Iterator[StoredTick]:
    """Every tick of `symbol` in [start, end], in order, strictly after `after` if given.

    A block that does not decode raises DecodeError, or, with `on_undecodable`, is handed to it
    and skipped.
    """
    if ascending:
        lower = max(start, after.ts) if after else start
        blocks = blocks_holding(source, symbol, lower, end)
        heap: list[tuple[Position, StoredTick]] = []
        for block in blocks:
            first = block.first_ts
            while heap and heap[0][0].ts < first:
                yield heapq.heappop(heap)[1]
            for tick in _block_ticks(block, lower, end, on_undecodable):
                if after is None or tick.position > after:
                    heapq.heappush(heap, (tick.position, tick))
        while heap:
            yield heapq.heappop(heap)[1]
        return
    upper = min(end, after.ts) if after else end
    blocks = source.blocks(
        symbol,
        sort_key(max(0, start - BLOCK_SPAN_MS + 1)),
        sort_key(upper) + "~",
        ascending=False,
        min_last_ts=start,
    )
    rheap: list[_Desc] = []
    for block in blocks:
        bound = block.first_ts + BLOCK_SPAN_MS - 1
        while rheap and rheap[0].tick.timestamp > bound:
            yield heapq.heappop(rheap).tick
        for tick in _block_ticks(block, start, upper, on_undecodable):
            if after is None or tick.position < after:
                heapq.heappush(rheap, _Desc(tick))
    while rheap:
        yield heapq.heappop(rheap).tick


def read_page(
    source: BlockSource,
    symbol: str,
    start: int,
    end: int,
    *,
    limit: int,
    ascending: bool = True,
    after: Position | None = None,
) -> tuple[list[StoredTick], Position | None]:
    """Up to `limit` ticks and the position to resume from (None when the range is done)."""
    ticks = list(
        islice(iter_ticks(source, symbol, start, end, ascending=ascending, after=after), limit + 1)
    )
    if len(ticks) > limit:
        return ticks[:limit], ticks[limit - 1].position
    return ticks, None


def latest(source: BlockSource, symbol: str) -> StoredTick | None:
    """The symbol's newest tick, or None if it has none."""
    return next(iter_ticks(source, symbol, 0, MAX_TIMESTAMP, ascending=False), None)
