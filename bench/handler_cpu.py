"""Handler CPU per request and per tick, handler import time, and DynamoDB write units per tick.

Run: `.venv/bin/python -m bench.handler_cpu`. DynamoDB is stubbed (the client accepts every
write at once), so the figures are the handler's own CPU: parsing, validation, encoding, keys,
and building the BatchWriteItem request.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import time
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from handlers.core.blocks import build_blocks
from handlers.core.ingest import IngestService
from handlers.core.models import Tick
from handlers.core.settings import Settings
from handlers.core.store import BlockWriter

SIZES = (1, 10, 100, 500)
NOW = time.time_ns() // 1_000_000
_CONSOLE: Final = Console(highlight=False)


def _table(*columns: str, label: bool = False) -> Table:
    """A table of figures, right-aligned; with `label`, the first column is a left-aligned name."""
    table = Table()
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if label and index == 0 else "right")
    return table


class _AcceptAll:
    """A DynamoDB client stub that accepts every write."""

    def batch_write_item(self, **_: Any) -> dict[str, Any]:
        return {"UnprocessedItems": {}}


class _NoSpill:
    def send(self, blocks: list[Any]) -> int:
        raise AssertionError("the stub never refuses a write")


def _body(n: int, rng: random.Random, symbols: int = 1) -> str:
    ticks = [
        {
            "symbol": f"SYM{rng.randrange(symbols)}",
            "price": f"{189 + rng.random():.2f}",
            "timestamp": NOW - 1000 + i,
            "size": str(rng.randrange(1, 500)),
            "id": f"t-{i:08d}",
        }
        for i in range(n)
    ]
    return json.dumps({"ticks": ticks} if n > 1 else ticks[0])


def _event(body: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /ingest",
        "headers": {"content-type": "application/json", "authorization": "Bearer x"},
        "body": body,
        "isBase64Encoded": False,
    }


def handler_cpu() -> None:
    """Print CPU per request and per tick for each request size."""
    writer = BlockWriter(_AcceptAll(), "ticks")  # type: ignore[arg-type]
    service = IngestService(Settings(), lambda: writer, lambda: _NoSpill())
    rng = random.Random(1)
    print("handler CPU (ingest, DynamoDB stubbed), 1 symbol per request")
    table = _table("ticks/request", "requests", "us/request", "us/tick")
    for n in SIZES:
        events = [_event(_body(n, rng)) for _ in range(20)]
        for event in events:  # warm caches (pydantic validators, regexes)
            assert service.handle(event)["statusCode"] == 200
        rounds = max(50, 20_000 // n)
        start = time.process_time()
        for i in range(rounds):
            service.handle(events[i % len(events)])
        cpu = time.process_time() - start
        per_request = cpu / rounds * 1e6
        table.add_row(str(n), str(rounds), f"{per_request:.1f}", f"{per_request / n:.2f}")
    _CONSOLE.print(table)


def _import_seconds(statement: str, repeat: int = 7) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True))
        for _ in range(repeat)
    ]
    return statistics.median(runs)


def import_times() -> None:
    """Print each handler module's import time in a fresh process beside boto3 + pydantic."""
    baseline = _import_seconds("import boto3, pydantic")
    print("\nimport time in a fresh process (median of 7)")
    table = _table("module", "ms", "x baseline", label=True)
    table.add_row("boto3 + pydantic", f"{baseline * 1e3:.1f}", f"{1.0:.2f}")
    for module in ("handlers.ingest", "handlers.query", "handlers.replay", "handlers.authorizer"):
        try:
            seconds = _import_seconds(f"import {module}")
        except subprocess.CalledProcessError:
            table.add_row(module, "(missing)", "")
            continue
        table.add_row(module, f"{seconds * 1e3:.1f}", f"{seconds / baseline:.2f}")
    _CONSOLE.print(table)


def _number_bytes(text: str) -> int:
    # DynamoDB sizes a number as about one byte per two significant digits, plus one.
    return math.ceil(len(text.strip("-").replace(".", "").lstrip("0") or "0") / 2) + 1


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += _number_bytes(raw)
        elif kind == "B":
            size += len(raw)
    return size


def write_units() -> None:
    """Print write units per million ticks at 1, 10 and 100 ticks per request."""
    rng = random.Random(2)
    print(
        "\nDynamoDB write units (1 WRU per started KB per item), ticks with size and a 10-char id"
    )
    table = _table(
        "ticks/request",
        "items",
        "bytes/item",
        "B/tick",
        "WRU/M ticks",
        "vs 1 item/tick",
    )
    for n in (1, 10, 100):
        ticks = [
            Tick(
                symbol="AAPL",
                price=f"{189 + rng.random():.2f}",
                timestamp=NOW - 1000 + i * 5,
                size=str(rng.randrange(1, 500)),
                id=f"t-{i:08d}",
            )
            for i in range(n)
        ]
        blocks = build_blocks(ticks, expires_at=NOW // 1000 + 30 * 86400)
        sizes = [item_bytes(b.to_item()) for b in blocks]
        units = sum(math.ceil(s / 1024) for s in sizes)
        per_million = units * 1_000_000 / n
        table.add_row(
            str(n),
            str(len(blocks)),
            f"{statistics.mean(sizes):.0f}",
            f"{sum(sizes) / n:.1f}",
            f"{per_million:,.0f}",
            f"{1_000_000 / per_million:.1f}x",
        )
    _CONSOLE.print(table)


def main() -> None:
    """Run every figure in turn."""
    handler_cpu()
    import_times()
    write_units()


if __name__ == "__main__":
    main()
