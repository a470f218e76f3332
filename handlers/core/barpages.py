"""Rollup pages: the stored OHLCV bars of one symbol, interval and time span (docs/storage.md).

A page is one item of the bars table: key (`symbol`, `<interval>#<page start, 13 digits>`), a
version `v` that every write raises by one (writes are conditional on it), and the page's bars
as deflated text (`b`). A page of a coarser interval also records, per source page
(the finer page its bars were folded from), the source's version it has seen: a recompute from an
older copy of a source never overwrites one from a newer copy.

Page spans are chosen so that every 5m and 1h bar comes from one 1m page (an hour) and every 1d
bar from one 1h page (a day).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from handlers.core.bars import Bar
from handlers.core.encoding import DecodeError

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


def encode_page(page: Page) -> bytes:
    """Version 1: a version byte, then zlib-deflated ASCII (layout in docs/storage.md)."""
    rollup = ROLLUPS[page.interval]
    sources = ""
    if page.sources:
        source_page_ms = ROLLUPS[rollup.source or "1m"].page_ms
        sources = ",".join(
            f"{(start - page.start) // source_page_ms}:{version}"
            for start, version in sorted(page.sources.items())
        )
    bars = ";".join(
        f"{(start - page.start) // rollup.length_ms},{bar.count},{bar.open},{bar.high},"
        f"{bar.low},{bar.close},{format(bar.volume, 'f')}"
        for start, bar in sorted(page.bars.items())
    )
    # Text, not varints: prices keep their exact text with no conversion, and a C split decodes
    # a 2,880-bar answer in a few milliseconds; deflate brings it back to varint size (1 WRU).
    return bytes((PAGE_VERSION,)) + zlib.compress(f"{sources}|{bars}".encode("ascii"))


def decode_page(interval: str, start: int, version: int, data: bytes) -> Page:
    """A page from its encoding; DecodeError if it is not a page of a version this code reads."""
    if not data or data[0] != PAGE_VERSION:
        raise DecodeError("unknown page version")
    rollup = ROLLUPS[interval]
    try:
        sources_text, _, bars_text = zlib.decompress(data[1:]).decode("ascii").partition("|")
        sources: dict[int, int] = {}
        if sources_text:
            source_page_ms = ROLLUPS[rollup.source or "1m"].page_ms
            for pair in sources_text.split(","):
                index, _, seen = pair.partition(":")
                sources[start + int(index) * source_page_ms] = int(seen)
        bars: dict[int, Bar] = {}
        length = rollup.length_ms
        for text in bars_text.split(";") if bars_text else ():
            index, count, open_, high, low, close, volume = text.split(",")
            bar_start = start + int(index) * length
            bars[bar_start] = Bar(bar_start, open_, high, low, close, Decimal(volume), int(count))
    except (zlib.error, UnicodeDecodeError, ValueError, ArithmeticError) as exc:
        raise DecodeError(f"not a page: {exc}") from None
    return Page(interval, start, version, bars, sources)


def page_from_item(item: dict[str, Any]) -> Page:
    """A page from a DynamoDB item in wire format."""
    interval, _, start = item["sk"]["S"].partition("#")
    return decode_page(interval, int(start), int(item["v"]["N"]), bytes(item["b"]["B"]))
