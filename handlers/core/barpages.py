"""Rollup pages: the stored OHLCV bars of one symbol, interval and time span (docs/storage.md).

A page is one item of the bars table: key (`symbol`, `<interval>#<page start, 13 digits>`), a
version `v` that every write raises by one (writes are conditional on it), and the page's bars
in a compact binary encoding (`b`). A page of a coarser interval also records, per source page
(the finer page its bars were folded from), the source's version it has seen: a recompute from an
older copy of a source never overwrites one from a newer copy.

Page spans are chosen so that every 5m and 1h bar comes from one 1m page (an hour) and every 1d
bar from one 1h page (a day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from handlers.core.bars import Bar
from handlers.core.encoding import ByteReader, DecodeError, join_decimal, put_varint, split_decimal

__all__ = [
    "MARK_KEY",
    "MINUTE",
    "ROLLUPS",
    "Page",
    "Rollup",
    "decode_page",
    "encode_page",
    "page_from_item",
    "page_key",
]

PAGE_VERSION: Final = 1
MINUTE: Final = 60_000
MARK_KEY: Final = "mark"
"""Sort key of a symbol's mark item: `t`, the newest tick timestamp rolled up."""


@dataclass(frozen=True, slots=True)
class Rollup:
    """One rolled-up interval: bar length, page span, and the interval its bars are folded from."""

    name: str
    length_ms: int
    page_ms: int
    source: str | None
    """None: computed from the tick blocks (1m)."""

    def page_start(self, ts: int) -> int:
        """Start of the page holding the bar of `ts`."""
        return ts - ts % self.page_ms


ROLLUPS: Final = {
    "1m": Rollup("1m", MINUTE, 3_600_000, None),
    "5m": Rollup("5m", 300_000, 14_400_000, "1m"),
    "1h": Rollup("1h", 3_600_000, 86_400_000, "1m"),
    "1d": Rollup("1d", 86_400_000, 32 * 86_400_000, "1h"),
}
"""Rolled-up intervals, finest first; a page holds 60, 48, 24 and 32 bars at most."""


def page_key(interval: str, start: int) -> str:
    """The sort key of a page."""
    return f"{interval}#{start:013d}"


@dataclass(frozen=True, slots=True)
class Page:
    """A page as read or about to be written; version 0 means the item does not exist."""

    interval: str
    start: int
    version: int = 0
    bars: dict[int, Bar] = field(default_factory=dict)
    """Bar start -> bar."""
    sources: dict[int, int] = field(default_factory=dict)
    """Source page start -> the version of it these bars come from (coarser intervals only)."""

    def to_item(self, symbol: str, expires_at: int | None) -> dict[str, Any]:
        """The page in DynamoDB's wire format."""
        item: dict[str, Any] = {
            "symbol": {"S": symbol},
            "sk": {"S": page_key(self.interval, self.start)},
            "v": {"N": str(self.version)},
            "b": {"B": encode_page(self)},
        }
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        return item


def _put_price(out: bytearray, text: str, previous: int) -> int:
    coefficient, scale = split_decimal(text)
    delta = coefficient - previous
    put_varint(out, (delta << 1) if delta >= 0 else ((-delta << 1) - 1))
    out.append(scale)
    return coefficient


def _read_price(reader: ByteReader, previous: int) -> tuple[str, int]:
    zigzag = reader.varint()
    coefficient = previous + ((zigzag >> 1) if not zigzag & 1 else -((zigzag + 1) >> 1))
    return join_decimal(coefficient, reader.byte()), coefficient


def encode_page(page: Page) -> bytes:
    """Version 1: sources as (index, version), then bars by start (layout in docs/storage.md)."""
    rollup = ROLLUPS[page.interval]
    out = bytearray((PAGE_VERSION,))
    put_varint(out, len(page.sources))
    if page.sources:
        source_page_ms = ROLLUPS[rollup.source or "1m"].page_ms
        for start, version in sorted(page.sources.items()):
            put_varint(out, (start - page.start) // source_page_ms)
            put_varint(out, version)
    put_varint(out, len(page.bars))
    previous = 0
    for start, bar in sorted(page.bars.items()):
        put_varint(out, (start - page.start) // rollup.length_ms)
        put_varint(out, bar.count)
        previous = _put_price(out, bar.open, previous)
        for text in (bar.high, bar.low, bar.close):
            _put_price(out, text, previous)
        volume = format(bar.volume, "f").encode("ascii")
        put_varint(out, len(volume))
        out += volume
    return bytes(out)


def decode_page(interval: str, start: int, version: int, data: bytes) -> Page:
    """A page from its encoding; DecodeError if it is not a page of a version this code reads."""
    rollup = ROLLUPS[interval]
    reader = ByteReader(data)
    if reader.byte() != PAGE_VERSION:
        raise DecodeError("unknown page version")
    sources: dict[int, int] = {}
    source_page_ms = ROLLUPS[rollup.source or "1m"].page_ms
    for _ in range(reader.varint()):
        index = reader.varint()
        sources[start + index * source_page_ms] = reader.varint()
    bars: dict[int, Bar] = {}
    previous = 0
    for _ in range(reader.varint()):
        bar_start = start + reader.varint() * rollup.length_ms
        count = reader.varint()
        open_, previous = _read_price(reader, previous)
        high, _ = _read_price(reader, previous)
        low, _ = _read_price(reader, previous)
        close, _ = _read_price(reader, previous)
        volume = Decimal(reader.raw(reader.varint()).decode("ascii"))
        bars[bar_start] = Bar(bar_start, open_, high, low, close, volume, count)
    if not reader.done:
        raise DecodeError("trailing bytes after the last bar")
    return Page(interval, start, version, bars, sources)


def page_from_item(item: dict[str, Any]) -> Page:
    """A page from a DynamoDB item in wire format."""
    interval, _, start = item["sk"]["S"].partition("#")
    return decode_page(interval, int(start), int(item["v"]["N"]), bytes(item["b"]["B"]))
