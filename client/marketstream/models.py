"""Ticks and bars as the client hands them out: exact `Decimal` prices, epoch-ms timestamps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = ["SYMBOL_PATTERN", "Bar", "Tick", "TimeLike", "to_ms", "to_tick"]

SYMBOL_PATTERN: Final = re.compile(r"[A-Za-z0-9._:/-]{1,16}")
"""The server's symbol rule (docs/openapi.json): checked here so a typo fails before a request."""

TimeLike = datetime | int
"""A point in time: an aware `datetime` (a naive one is read as UTC) or epoch milliseconds."""


def to_ms(value: TimeLike) -> int:
    """Epoch milliseconds of a `datetime` (naive = UTC) or of an int already in milliseconds."""
    if isinstance(value, bool):
        raise TypeError("a time is a datetime or epoch milliseconds, not a boolean")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(value, int):
        return value
    raise TypeError(f"a time is a datetime or epoch milliseconds, not {type(value).__name__}")


def _decimal(value: object, name: str) -> Decimal:
    """An exact decimal from Decimal, int or text; floats are refused (they are not exact)."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name} {value!r} is not a decimal number") from None
    else:
        kind = type(value).__name__
        raise TypeError(f"{name} must be a Decimal, int or decimal text, not {kind}")
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number")
    return number


def decimal_text(value: Decimal) -> str:
    """Plain notation, scale kept ("1.50" stays "1.50", 1E+2 becomes "100"): what the API stores."""
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class Tick:
    """One market tick: symbol, exact price, epoch-ms timestamp, optional size and id."""

    symbol: str
    price: Decimal
    timestamp: int
    size: Decimal | None = None
    id: str | None = None

    @classmethod
    def of(
        cls,
        symbol: str,
        price: Decimal | int | str,
        timestamp: TimeLike,
        size: Decimal | int | str | None = None,
        id: str | None = None,
    ) -> Tick:
        """A tick from loose values: price/size as Decimal, int or text, time as datetime or ms."""
        return cls(
            symbol=symbol,
            price=_decimal(price, "price"),
            timestamp=to_ms(timestamp),
            size=None if size is None else _decimal(size, "size"),
            id=id,
        )

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Tick:
        """A tick as the API returns it (unknown keys are ignored)."""
        size = document.get("size")
        return cls(
            symbol=str(document["symbol"]),
            price=Decimal(str(document["price"])),
            timestamp=int(document["timestamp"]),
            size=None if size is None else Decimal(str(size)),
            id=document.get("id"),
        )

    def as_json(self) -> dict[str, Any]:
        """The tick as the ingest API takes it (decimals as exact text)."""
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "price": decimal_text(self.price),
            "timestamp": self.timestamp,
        }
        if self.size is not None:
            out["size"] = decimal_text(self.size)
        if self.id is not None:
            out["id"] = self.id
        return out

    @property
    def time(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)


def to_tick(value: Tick | Mapping[str, Any]) -> Tick:
    """A `Tick`, or a dict with the API's keys (time as datetime or ms), as a `Tick`."""
    if isinstance(value, Tick):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"a tick is a Tick or a dict, not {type(value).__name__}")
    unknown = set(value) - {"symbol", "price", "timestamp", "size", "id"}
    if unknown:
        raise ValueError(f"unknown tick key(s): {', '.join(sorted(unknown))}")
    try:
        return Tick.of(
            value["symbol"], value["price"], value["timestamp"], value.get("size"), value.get("id")
        )
    except KeyError as exc:
        raise ValueError(f"a tick needs {exc.args[0]!r}") from None


@dataclass(frozen=True, slots=True)
class Bar:
    """OHLCV of one interval starting at `start` (epoch ms); prices exact."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    count: int

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Bar:
        """A bar as `/bars` returns it (keys the client does not know are ignored)."""
        return cls(
            start=int(document["start"]),
            open=Decimal(str(document["open"])),
            high=Decimal(str(document["high"])),
            low=Decimal(str(document["low"])),
            close=Decimal(str(document["close"])),
            volume=Decimal(str(document["volume"])),
            count=int(document["count"]),
        )

    @property
    def time(self) -> datetime:
        """The interval's start as an aware UTC datetime."""
        return datetime.fromtimestamp(self.start / 1000, tz=UTC)
