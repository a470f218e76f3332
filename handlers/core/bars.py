"""OHLCV bars computed on read from a symbol's ticks in time order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from handlers.core.reading import StoredTick

__all__ = ["INTERVALS", "VOLUME_PRECISION", "Bar", "compute_bars", "merge_bars"]

INTERVALS: Final = {
    "1s": 1_000,
    "1m": 60_000,
    "5m": 300_000,
    "1h": 3_600_000,
    "1d": 86_400_000,
}
"""Bar intervals and their lengths in milliseconds; bars start at multiples of the length."""
VOLUME_PRECISION: Final = 80
"""Digits of the context volumes are summed in: sizes carry up to 38 digits, and the default
28-digit context would round their sum. Summing in it is exact, so any grouping (ticks into 1m
bars into 1h bars) gives the same volume, scale included."""


@dataclass(slots=True)
class Bar:
    """One interval's open, high, low, close, volume (sum of sizes) and tick count."""

    start: int
    open: str
    high: str
    low: str
    close: str
    volume: Decimal
    count: int

    def as_json(self) -> dict[str, object]:
        """The bar as the query API returns it; prices keep the exact text of their tick."""
        return {
            "start": self.start,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": format(self.volume, "f"),
            "count": self.count,
        }


def compute_bars(ticks: Iterable[StoredTick], interval_ms: int) -> list[Bar]:
    """Bars from ticks in ascending order; intervals without ticks are left out."""
    bars: list[Bar] = []
    current: Bar | None = None
    high = low = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = VOLUME_PRECISION
        for tick in ticks:
            start = tick.timestamp - tick.timestamp % interval_ms
            price = Decimal(tick.price)
            size = Decimal(tick.size) if tick.size is not None else Decimal(0)
            if current is None or current.start != start:
                current = Bar(start, tick.price, tick.price, tick.price, tick.price, size, 1)
                bars.append(current)
                high = low = price
                continue
            if price > high:
                high, current.high = price, tick.price
            if price < low:
                low, current.low = price, tick.price
            current.close = tick.price
            current.volume += size
            current.count += 1
    return bars


def merge_bars(bars: Iterable[Bar], interval_ms: int) -> list[Bar]:
    """Bars of `interval_ms` from finer (or partial) bars in ascending order of start.

    The same fold as `compute_bars` over the bars' ticks: open of the first, close of the last,
    the first bar reaching the highest (lowest) price keeps its text, volumes and counts add up.
    A bar alone in its interval is returned as it is (no copy, no decimal arithmetic).
    """
    merged: list[Bar] = []
    copied = False
    with localcontext() as ctx:
        ctx.prec = VOLUME_PRECISION
        for bar in bars:
            start = bar.start - bar.start % interval_ms
            last = merged[-1] if merged else None
            if last is None or last.start != start:
                copied = bar.start != start
                if copied:
                    bar = Bar(start, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.count)
                merged.append(bar)
                continue
            if not copied:  # the first bar of the interval is someone else's: fold into a copy
                last = Bar(
                    start, last.open, last.high, last.low, last.close, last.volume, last.count
                )
                merged[-1] = last
                copied = True
            if Decimal(bar.high) > Decimal(last.high):
                last.high = bar.high
            if Decimal(bar.low) < Decimal(last.low):
                last.low = bar.low
            last.close = bar.close
            last.volume += bar.volume
            last.count += bar.count
    return merged
