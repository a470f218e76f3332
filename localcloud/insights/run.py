"""Run a parsed query over log files: one record per line, as Logs Insights discovers fields.

A JSON line's top-level keys are its fields (an EMF line's too: its metrics and properties);
`@message` is the line, `@log` the log group, `@timestamp` the EMF `_aws.Timestamp` (or a
`timestamp` field), shown as `YYYY-MM-DD HH:MM:SS.mmm` like the console. Comparisons follow the
console's loose typing: numbers compare as numbers, everything else as text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.insights.language import (
    Aggregate,
    Call,
    Command,
    Compare,
    Expr,
    Field,
    Literal,
    Logical,
    Not,
    QueryError,
)

__all__ = ["Result", "read_records", "run"]

Record = dict[str, Any]
Result = tuple[list[str], list[list[Any]]]
"""Column names and rows."""


def read_records(logs: Mapping[str, Path]) -> Iterator[Record]:
    """Every line of every log file (log group -> file) as a record."""
    for group, path in logs.items():
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                text = line.rstrip("\n")
                if text:
                    yield _record(group, text)


def _record(group: str, text: str) -> Record:
    record: Record = {"@log": group, "@message": text}
    try:
        document = json.loads(text)
    except ValueError:
        return record
    if not isinstance(document, dict):
        return record
    for key, value in document.items():
        if key != "_aws":
            record[key] = value
    meta = document.get("_aws")
    stamp = meta.get("Timestamp") if isinstance(meta, dict) else document.get("timestamp")
    if isinstance(stamp, int | float):
        at = datetime.fromtimestamp(stamp / 1000.0, UTC)
        record["@timestamp"] = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"
    elif isinstance(stamp, str):
        record["@timestamp"] = stamp
    return record


def _value(expr: Expr, record: Record) -> Any:
    if isinstance(expr, Field):
        return record.get(expr.name)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Call):
        if expr.function == "ispresent":
            assert isinstance(expr.args[0], Field)
            return record.get(expr.args[0].name) is not None
        for arg in expr.args:  # coalesce
            value = _value(arg, record)
            if value is not None:
                return value
        return None
    if isinstance(expr, Not):
        return not _truth(_value(expr.operand, record))
    if isinstance(expr, Logical):
        left = _truth(_value(expr.left, record))
        if expr.op == "and":
            return left and _truth(_value(expr.right, record))
        return left or _truth(_value(expr.right, record))
    return _compare(expr, record)


def _truth(value: Any) -> bool:
    return value is not None and value is not False and value != ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(expr: Compare, record: Record) -> bool:
    left, right = _value(expr.left, record), _value(expr.right, record)
    if left is None or right is None:
        return expr.op == "!=" and (left is None) != (right is None)
    a, b = _number(left), _number(right)
    pair: tuple[Any, Any] = (a, b) if a is not None and b is not None else (str(left), str(right))
    x, y = pair
    return bool(
        {
            "=": x == y,
            "!=": x != y,
            "<": x < y,
            "<=": x <= y,
            ">": x > y,
            ">=": x >= y,
        }[expr.op]
    )


def _aggregate(aggregate: Aggregate, records: Sequence[Record]) -> Any:
    if aggregate.field is None:
        return len(records)
    values = [record.get(aggregate.field) for record in records]
    present = [v for v in values if v is not None]
    if aggregate.function == "count":
        return len(present)
    numbers = sorted(n for n in map(_number, present) if n is not None)
    if not numbers:
        return None
    if aggregate.function == "sum":
        return sum(numbers)
    if aggregate.function == "avg":
        return sum(numbers) / len(numbers)
    if aggregate.function == "min":
        return numbers[0]
    if aggregate.function == "max":
        return numbers[-1]
    rank = aggregate.rank or 0.0  # pct: nearest rank
    return numbers[max(0, math.ceil(rank / 100.0 * len(numbers)) - 1)]


def _sort_key(value: Any) -> tuple[int, Any]:
    number = _number(value)
    if value is None:
        return (0, 0)
    return (1, number) if number is not None else (2, str(value))


def _by(name: str) -> Callable[[Record], tuple[int, Any]]:
    return lambda record: _sort_key(record.get(name))


def run(commands: Sequence[Command], records: Iterable[Record]) -> Result:
    """Apply the pipeline; the columns (the last `fields` or `stats`, else every field seen)."""
    rows: list[Record] = list(records)
    columns: list[str] | None = None
    for command in commands:
        if command.kind == "filter":
            assert command.expr is not None
            rows = [r for r in rows if _truth(_value(command.expr, r))]
        elif command.kind == "fields":
            columns = [name for name, _ in command.columns]
            rows = [
                {
                    **r,
                    **{
                        name: _value(expr, r)
                        for name, expr in command.columns
                        if not isinstance(expr, Aggregate)
                    },
                }
                for r in rows
            ]
        elif command.kind == "stats":
            groups: dict[tuple[Any, ...], list[Record]] = {}
            for record in rows:
                key = tuple(json.dumps(record.get(b), default=str) for b in command.by)
                groups.setdefault(key, []).append(record)
            if not command.by and not groups:
                groups[()] = []
            rows = []
            for members in groups.values():
                row = {b: members[0].get(b) if members else None for b in command.by}
                for name, aggregate in command.columns:
                    if not isinstance(aggregate, Aggregate):
                        raise QueryError("stats takes aggregate functions only")
                    row[name] = _aggregate(aggregate, members)
                rows.append(row)
            columns = [*command.by, *(name for name, _ in command.columns)]
        elif command.kind == "sort":
            for name, descending in reversed(command.order):
                rows.sort(key=_by(name), reverse=descending)
        elif command.kind == "limit":
            rows = rows[: command.limit]
    if columns is None:
        seen: dict[str, None] = {}
        for record in rows:
            seen.update(dict.fromkeys(record))
        columns = list(seen)
    return columns, [[row.get(c) for c in columns] for row in rows]
