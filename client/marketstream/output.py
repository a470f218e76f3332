"""How the CLI prints ticks and bars: a rich table, CSV or JSON lines (decimals as exact text)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from typing import Any, Final, TextIO

from rich.console import Console
from rich.table import Table

from marketstream.models import Bar, Tick, decimal_text

__all__ = ["FORMATS", "print_bars", "print_ticks", "tick_row"]

FORMATS: Final = ("table", "csv", "json")
TICK_FIELDS: Final = ("symbol", "price", "timestamp", "size", "id")
BAR_FIELDS: Final = ("start", "open", "high", "low", "close", "volume", "count")


def tick_row(tick: Tick) -> dict[str, Any]:
    """A tick as text fields (`size`/`id` empty when absent)."""
    return {
        "symbol": tick.symbol,
        "price": decimal_text(tick.price),
        "timestamp": tick.timestamp,
        "size": "" if tick.size is None else decimal_text(tick.size),
        "id": tick.id or "",
    }


def _bar_row(bar: Bar) -> dict[str, Any]:
    row: dict[str, Any] = {"start": bar.start, "count": bar.count}
    for name in ("open", "high", "low", "close", "volume"):
        row[name] = decimal_text(getattr(bar, name))
    return row


def _emit(
    rows: Iterable[dict[str, Any]], fields: tuple[str, ...], fmt: str, title: str, out: TextIO
) -> int:
    count = 0
    if fmt == "table":
        table = Table(title=title)
        for name in fields:
            right = name not in ("symbol", "id")
            table.add_column(name, justify="right" if right else "left")
        for row in rows:
            table.add_row(*(str(row[name]) for name in fields))
            count += 1
        Console(file=out).print(table)
        return count
    writer = csv.DictWriter(out, fieldnames=fields) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in rows:
        if writer is not None:
            writer.writerow(row)
        else:
            out.write(json.dumps(row) + "\n")
        count += 1
    return count


def print_ticks(ticks: Iterable[Tick], fmt: str, title: str = "", out: TextIO | None = None) -> int:
    """Print ticks; how many."""
    return _emit(map(tick_row, ticks), TICK_FIELDS, fmt, title, out or sys.stdout)


def print_bars(bars: Iterable[Bar], fmt: str, title: str = "", out: TextIO | None = None) -> int:
    """Print bars; how many."""
    return _emit(map(_bar_row, bars), BAR_FIELDS, fmt, title, out or sys.stdout)
