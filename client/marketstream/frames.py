"""Ticks and bars as pandas DataFrames (the `pandas` extra of `marketstream-client`).

Prices and sizes stay `Decimal` (object columns) unless `exact=False` asks for floats, which is
what numeric work (rolling means, returns) wants once the exact values are no longer the point.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from marketstream.models import Bar, Tick

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bars_frame", "ticks_frame"]

_BAR_DECIMALS = ("open", "high", "low", "close", "volume")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "DataFrames need pandas: pip install 'marketstream-client[pandas]'"
        ) from None
    return pandas


def bars_frame(bars: Iterable[Bar], *, exact: bool = True) -> pd.DataFrame:
    """Bars indexed by their start time (UTC): open, high, low, close, volume, count."""
    pandas = _pandas()
    rows = [
        {"start": bar.start, **{n: getattr(bar, n) for n in _BAR_DECIMALS}, "count": bar.count}
        for bar in bars
    ]
    frame = pandas.DataFrame(rows, columns=["start", *_BAR_DECIMALS, "count"])
    frame.index = pandas.to_datetime(frame.pop("start"), unit="ms", utc=True)
    frame.index.name = "time"
    if not exact:
        frame[list(_BAR_DECIMALS)] = frame[list(_BAR_DECIMALS)].astype(float)
    return frame


def ticks_frame(ticks: Iterable[Tick], *, exact: bool = True) -> pd.DataFrame:
    """Ticks indexed by their time (UTC): symbol, price, size, id."""
    pandas = _pandas()
    rows = [
        {"timestamp": t.timestamp, "symbol": t.symbol, "price": t.price, "size": t.size, "id": t.id}
        for t in ticks
    ]
    frame = pandas.DataFrame(rows, columns=["timestamp", "symbol", "price", "size", "id"])
    frame.index = pandas.to_datetime(frame.pop("timestamp"), unit="ms", utc=True)
    frame.index.name = "time"
    if not exact:
        frame[["price", "size"]] = frame[["price", "size"]].astype(float)
    return frame
