"""Keeping the rollups: recompute every bar a stream batch touched, from its source.

For each symbol of a batch, the minutes its blocks touch are recomputed from those minutes' blocks
(what this container remembers of them while their 1m page is unchanged, plus the batch's own
blocks; else a strongly consistent read of the tick table), then the 5m and 1h bars of the touched
hours from the new 1m pages, then the 1d bars of the touched days from the new 1h pages. Nothing is
incremented, so a redelivered batch, a MODIFY of a retried request or a late tick changes a bar
exactly as much as it changes the stored ticks. Concurrent recomputes of one page (two shards,
or two invocations) are serialised by conditional writes on the page's version; a coarser page
also keeps the version of each source page it was folded from, so an older copy never replaces a
newer one. Why, and what it costs: docs/storage.md ("Bars").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers.core.barpages import MINUTE, ROLLUPS, Page, Rollup, encode_page
from handlers.core.bars import merge_bars
from handlers.core.bartable import BarTable
from handlers.core.blocks import MAX_TIMESTAMP, Block
from handlers.core.encoding import DecodeError, EncodedTick
from handlers.core.errors import MarketStreamError
from handlers.core.minutes import Minute, MinuteMemory, Piece, pieces
from handlers.core.reading import BlockSource, blocks_holding

__all__ = ["ATTEMPTS", "RollupConflict", "RollupService", "Touched"]

ATTEMPTS: Final = 8
"""Reads and conditional writes of one page before giving up (the batch is then retried)."""
_log = logging.getLogger(__name__)


class RollupConflict(MarketStreamError):
    """A page kept changing under every attempt to write it."""


@dataclass(frozen=True, slots=True)
class Touched:
    """What one stream record brings to the rollup: its index in the batch, block and ticks."""

    record: int
    block: Block
    ticks: Sequence[EncodedTick]


class RollupService:
    """Recomputes the pages a batch of blocks touched, symbol by symbol."""

    def __init__(
        self,
        blocks: Callable[[], BlockSource],
        bars: Callable[[], BarTable],
        *,
        retention_days: Mapping[str, int] | None = None,
        memory: MinuteMemory | None = None,
    ) -> None:
        self._blocks = blocks
        self._bars = bars
        self._retention = retention_days or {}
        self._memory = memory if memory is not None else MinuteMemory()

    def apply(self, touched: Iterable[Touched]) -> int | None:
        """Roll up every symbol; the first record of the first symbol that failed, or None.

        Symbols go in the order of their first record, so every record before the one returned
        belongs to a symbol that is done: Lambda may resume from it.
        """
        symbols: dict[str, tuple[int, dict[int, dict[str, Piece]], int]] = {}
        for item in touched:
            if not item.ticks:
                continue
            first, fresh, newest = symbols.get(item.block.symbol, (item.record, {}, 0))
            for minute, piece in pieces(item.block.sk, item.ticks, 0, MAX_TIMESTAMP).items():
                fresh.setdefault(minute, {})[item.block.sk] = piece
            newest = max(newest, item.ticks[-1].timestamp)
            symbols[item.block.symbol] = (first, fresh, newest)
        for symbol, (first, fresh, newest) in symbols.items():
            try:
                self.roll(symbol, fresh)
                self._bars().raise_mark(symbol, newest)
            except (BotoCoreError, ClientError, MarketStreamError, ValueError):
                # Reported, not raised: the records before this symbol's first one are done.
                _log.exception("rollup of %s failed", symbol)
                return first
        return None

    def roll(self, symbol: str, fresh: Mapping[int, dict[str, Piece]]) -> None:
        """Recompute the bars of the minutes in `fresh` and every coarser bar holding them.

        `fresh` holds, per minute start, the batch's pieces of it by block sort key: what a
        remembered minute is brought up to date with.
        """
        hours: dict[int, list[int]] = {}
        for minute in sorted(fresh):
            hours.setdefault(ROLLUPS["1m"].page_start(minute), []).append(minute)
        # Every page this can write, read at once (one call): a 1m page before its blocks, as
        # the version argument needs; the coarser ones any time, as they compare source versions.
        keys = {
            (rollup.name, rollup.page_start(hour)) for hour in hours for rollup in ROLLUPS.values()
        }
        read = self._bars().pages_now(symbol, sorted(keys))
        minute_pages = {
            hour: self._minutes(symbol, hour, mins, read[("1m", hour)], fresh)
            for hour, mins in hours.items()
        }
        self._fold(symbol, ROLLUPS["5m"], minute_pages, read)
        hour_pages = self._fold(symbol, ROLLUPS["1h"], minute_pages, read)
        self._fold(symbol, ROLLUPS["1d"], hour_pages, read)

    def _minutes(
        self,
        symbol: str,
        hour: int,
        minutes: list[int],
        known: Page,
        fresh: Mapping[int, dict[str, Piece]],
    ) -> Page:
        """The 1m page of `hour` with `minutes` recomputed from their blocks."""
        table = self._bars()
        for attempt in range(ATTEMPTS):
            # The version is read before the blocks: a write conditional on it can only win if
            # no other recompute wrote in between, and then these blocks are at least as new.
            page = known if attempt == 0 else table.page(symbol, "1m", hour)
            held = self._memory.recall(symbol, hour, page.version, minutes)
            for minute, remembered in held.items():
                for sk, piece in fresh.get(minute, {}).items():
                    remembered.add(sk, piece)
            unknown = [minute for minute in minutes if minute not in held]
            for first, last in _runs(unknown) if unknown else ():
                held.update(self._read(symbol, first, last))
            bars = {start: bar for start, bar in page.bars.items() if start not in minutes}
            for minute in minutes:
                bar = held[minute].bar()
                if bar is not None:
                    bars[minute] = bar
            updated = Page("1m", hour, page.version + 1, bars)
            if encode_page(updated) == encode_page(page):
                self._memory.keep(
                    symbol, hour, based_on=page.version, version=page.version, minutes=held
                )
                return page
            if table.put_page(
                symbol, updated, read_version=page.version, expires_at=self._expiry(updated)
            ):
                self._memory.keep(
                    symbol, hour, based_on=page.version, version=updated.version, minutes=held
                )
                return updated
        raise RollupConflict(f"1m page {hour} of {symbol} kept changing")

    def _read(self, symbol: str, first: int, last: int) -> dict[int, Minute]:
        """Every block's pieces of the minutes `first`..`last`, read back from the tick table."""
        read_at = self._memory.now()
        end = last + MINUTE - 1
        found = {minute: Minute(read_at) for minute in range(first, last + 1, MINUTE)}
        for block in blocks_holding(self._blocks(), symbol, first, end):
            try:
                ticks = block.ticks()
            except DecodeError as exc:
                _skip_undecodable(block, exc)
                continue
            for minute, piece in pieces(block.sk, ticks, first, end).items():
                found[minute].add(block.sk, piece)
        return found

    def _fold(
        self,
        symbol: str,
        rollup: Rollup,
        sources: dict[int, Page],
        read: dict[tuple[str, int], Page],
    ) -> dict[int, Page]:
        """Fold source pages into the pages of `rollup` that hold their buckets; those pages."""
        source_ms = ROLLUPS[rollup.source or "1m"].page_ms
        grouped: dict[int, dict[int, Page]] = {}
        for start, source in sources.items():
            grouped.setdefault(rollup.page_start(start), {})[start] = source
        return {
            page_start: self._fold_page(
                symbol, rollup, read[(rollup.name, page_start)], group, source_ms
            )
            for page_start, group in grouped.items()
        }

    def _fold_page(
        self,
        symbol: str,
        rollup: Rollup,
        known: Page,
        sources: dict[int, Page],
        source_ms: int,
    ) -> Page:
        table = self._bars()
        page_start = known.start
        for attempt in range(ATTEMPTS):
            page = known if attempt == 0 else table.page(symbol, rollup.name, page_start)
            newer = {
                start: source
                for start, source in sources.items()
                if page.sources.get(start, 0) < source.version
            }
            if not newer:
                return page
            bars = dict(page.bars)
            versions = dict(page.sources)
            for start, source in newer.items():
                for bar_start in [b for b in bars if start <= b < start + source_ms]:
                    del bars[bar_start]
                ordered = [source.bars[b] for b in sorted(source.bars)]
                bars.update((bar.start, bar) for bar in merge_bars(ordered, rollup.length_ms))
                versions[start] = source.version
            updated = Page(rollup.name, page_start, page.version + 1, bars, versions)
            if table.put_page(
                symbol, updated, read_version=page.version, expires_at=self._expiry(updated)
            ):
                return updated
        raise RollupConflict(f"{rollup.name} page {page_start} of {symbol} kept changing")

    def _expiry(self, page: Page) -> int | None:
        """TTL of a page: its retention after its last bar's end; None keeps it."""
        days = self._retention.get(page.interval, 0)
        if not days:
            return None
        return (page.start + ROLLUPS[page.interval].page_ms) // 1000 + days * 86_400


def _skip_undecodable(block: Block, exc: DecodeError) -> None:
    """Log a block no code can decode and leave it out of the recompute.

    Such a block reached the fan-out consumer as a poison record, which went to the on-failure
    queue with its metadata; left in the recompute, it would fail its symbol's rollups for good
    and, with them, every later batch holding that symbol.
    """
    _log.error("rollup of %s skips undecodable block %s: %s", block.symbol, block.sk, exc)


def _runs(minutes: list[int]) -> Iterable[tuple[int, int]]:
    """Runs of consecutive minute starts (sorted) as (first, last): one Query per run."""
    first = previous = minutes[0]
    for minute in minutes[1:]:
        if minute != previous + MINUTE:
            yield first, previous
            first = minute
        previous = minute
    yield first, previous
