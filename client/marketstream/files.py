"""Tick files the CLI reads: CSV with a header, JSON lines, Parquet (the `parquet` extra).

Each row becomes a `Tick` or a refusal naming the row and the reason; rows are numbered from 1
(the first row after a CSV header), the number a user sees in a report.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from marketstream.models import SYMBOL_PATTERN, Tick, to_ms

__all__ = ["COLUMNS", "FileError", "Refused", "Row", "read_rows"]

COLUMNS: Final = ("symbol", "price", "timestamp", "size", "id")
REQUIRED: Final = frozenset({"symbol", "price", "timestamp"})
_ID: Final = re.compile(r"[\x20-\x7e]{1,64}")


class FileError(ValueError):
    """The file as a whole cannot be read (no header, unknown columns, not Parquet...)."""


@dataclass(frozen=True)
class Row:
    """Row `number` of the file, as a tick."""

    number: int
    tick: Tick


@dataclass(frozen=True)
class Refused:
    """Row `number` of the file, refused: its fields as read, and why."""

    number: int
    fields: Mapping[str, Any]
    reason: str


def read_rows(path: Path) -> Iterator[Row | Refused]:
    """The rows of a `.csv`, `.parquet` or JSON-lines file (by extension), in file order."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix in (".parquet", ".pq"):
        return _parquet_rows(path)
    return _jsonl_rows(path)


def _check_columns(names: list[str], path: Path) -> None:
    missing = REQUIRED - set(names)
    unknown = set(names) - set(COLUMNS)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(sorted(missing))}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(sorted(unknown))}")
        raise FileError(
            f"{path}: {'; '.join(parts)} (the header names {', '.join(COLUMNS)}; "
            "size and id may be left out)"
        )


def _csv_rows(path: Path) -> Iterator[Row | Refused]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise FileError(f"{path}: empty file (a header row is required)")
        _check_columns([name.strip() for name in reader.fieldnames], path)
        for number, raw in enumerate(reader, start=1):
            fields = {k.strip(): v for k, v in raw.items() if k is not None}
            if None in raw:
                yield Refused(number, fields, "more fields than the header names")
                continue
            yield _row(number, fields)


def _jsonl_rows(path: Path) -> Iterator[Row | Refused]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line, parse_float=Decimal)
            except ValueError:
                yield Refused(number, {"line": line.strip()[:200]}, "not a JSON object")
                continue
            if not isinstance(document, dict):
                yield Refused(number, {"line": line.strip()[:200]}, "not a JSON object")
                continue
            unknown = set(document) - set(COLUMNS)
            if unknown:
                reason = f"unknown key(s) {', '.join(sorted(unknown))}"
                yield Refused(number, document, reason)
                continue
            yield _row(number, document)


def _parquet_rows(path: Path) -> Iterator[Row | Refused]:
    try:
        import pyarrow.parquet as pq  # the `parquet` extra
    except ImportError:
        raise FileError(
            "reading Parquet needs pyarrow: pip install 'marketstream-client[parquet]'"
        ) from None
    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a file that is not Parquet
        raise FileError(f"{path}: not a Parquet file ({exc})") from None
    names = list(source.schema_arrow.names)
    _check_columns(names, path)
    for column in ("price", "size"):
        if column in names and str(source.schema_arrow.field(column).type) in ("float", "double"):
            raise FileError(
                f"{path}: column {column!r} is floating point; store prices as decimal or "
                "string columns (a float is not the exact price)"
            )
    number = 0
    for batch in source.iter_batches():
        for record in batch.to_pylist():
            number += 1
            yield _row(number, record)


def _row(number: int, fields: Mapping[str, Any]) -> Row | Refused:
    try:
        return Row(number, _tick(fields))
    except (ValueError, TypeError) as exc:
        return Refused(number, fields, str(exc))


def _tick(fields: Mapping[str, Any]) -> Tick:
    symbol = fields.get("symbol")
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.fullmatch(symbol.strip()):
        raise ValueError("symbol: must be 1-16 characters of A-Z 0-9 . - _ : /")
    price = _text(fields.get("price"))
    if price is None:
        raise ValueError("price: is required")
    size = _text(fields.get("size"))
    ident = fields.get("id")
    ident = None if ident in (None, "") else str(ident)
    if ident is not None and not _ID.fullmatch(ident):
        raise ValueError("id: must be 1-64 printable ASCII characters")
    tick = Tick.of(symbol.strip().upper(), price, _timestamp(fields.get("timestamp")), size, ident)
    if tick.price <= 0:
        raise ValueError("price: must be greater than 0")
    if tick.size is not None and tick.size < 0:
        raise ValueError("size: must not be negative")
    return tick


def _text(value: Any) -> str | Decimal | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise ValueError("a float is not an exact decimal")
    return value if isinstance(value, Decimal | int) else str(value)


def _timestamp(value: Any) -> int:
    """Epoch ms (an integer, as text or a number) or an ISO 8601 time (naive = UTC)."""
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, int) and not isinstance(value, bool):
        stamp = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isascii() and text.isdigit():
            stamp = int(text)
        else:
            try:
                stamp = to_ms(datetime.fromisoformat(text))
            except ValueError:
                raise ValueError("timestamp: epoch milliseconds or ISO 8601") from None
    else:
        raise ValueError("timestamp: is required (epoch milliseconds or ISO 8601)")
    if stamp < 0:
        raise ValueError("timestamp: must be >= 0")
    return stamp
