"""moto's CPU per DynamoDB Query item, with and without the local cloud's direct item writer.

`python -m bench.moto_query [--items 1000] [--repeat 10]` starts the patched moto process
twice: with every patch, and without `fast_item_answers` (moto's own serializer writes the
answers, as before that patch). Each run stores `--items` one-tick blocks in one partition (the
handlers' item layout) and queries pages of 1, 100 and `--items` items, `--repeat` times each,
printing moto's CPU per request and per item (from /proc) and the client's wall time, and the
largest page's time as a multiple of the 1-item page's. Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import boto3
import psutil
from rich.console import Console
from rich.table import Table

from cliargs import UsageParser
from handlers.core.blocks import Block, sort_key
from handlers.core.encoding import encode_block
from handlers.core.models import Tick
from localcloud.moto.server import MotoServer

__all__ = ["create_tick_table", "main"]

_VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("moto's serializer", ("fast_item_answers",)),
    ("direct writer", ()),
)


def _client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
    )


def create_tick_table(dynamodb: Any, name: str) -> None:
    """A table with the tick table's keys (`symbol`, `sk`), on demand."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "symbol", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "symbol", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _seed(dynamodb: Any, items: int) -> None:
    """`items` one-tick blocks of one symbol, a millisecond apart, in the handlers' layout."""
    create_tick_table(dynamodb, "ticks")
    start = 1_780_000_000_000
    blocks = []
    for n in range(items):
        tick = Tick.model_validate(
            {
                "symbol": "AAPL",
                "price": f"{190 + n % 100 / 100}",
                "size": "5",
                "timestamp": start + n,
            }
        )
        payload = encode_block([tick])
        blocks.append(Block("AAPL", sort_key(start + n, f"b{n:06d}"), start + n, 1, payload))
    for first in range(0, items, 25):
        batch = [{"PutRequest": {"Item": b.to_item()}} for b in blocks[first : first + 25]]
        dynamodb.batch_write_item(RequestItems={"ticks": batch})


def _query(dynamodb: Any, limit: int) -> int:
    answer = dynamodb.query(
        TableName="ticks",
        KeyConditionExpression="symbol = :s",
        ExpressionAttributeValues={":s": {"S": "AAPL"}},
        Limit=limit,
        ConsistentRead=True,
    )
    return len(answer["Items"])


def _measure(without: tuple[str, ...], pages: Sequence[int], repeat: int) -> dict[int, Any]:
    """Per page size: (moto CPU ms per request, per item, client wall ms p50)."""
    server = MotoServer(without=without)
    server.start()
    try:
        dynamodb = _client(server.wait_ready())
        _seed(dynamodb, max(pages))
        moto = psutil.Process(server.pid)
        figures = {}
        for limit in pages:
            _query(dynamodb, limit)  # warm: imports, caches, connection
            walls = []
            cpu_before = sum(moto.cpu_times()[:2])
            for _ in range(repeat):
                began = time.perf_counter()
                returned = _query(dynamodb, limit)
                walls.append(time.perf_counter() - began)
            cpu_ms = (sum(moto.cpu_times()[:2]) - cpu_before) * 1000 / repeat
            figures[limit] = (cpu_ms, cpu_ms / returned, statistics.median(walls) * 1000)
        return figures
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run both variants and print their figures."""
    parser = UsageParser(prog="python -m bench.moto_query", description=__doc__)
    parser.add_argument("--items", type=int, default=1000, help="items in the partition")
    parser.add_argument("--repeat", type=int, default=10, help="queries per page size")
    args = parser.parse_args(argv)
    if not 100 <= args.items <= 5000:
        parser.error("--items must be 100..5000")
    if not 1 <= args.repeat <= 1000:
        parser.error("--repeat must be 1..1000")
    pages = (1, 100, args.items)
    table = Table(
        title=f"moto Query, one partition of {args.items} one-tick blocks ({os.cpu_count()} cores)"
    )
    for column in (
        "answers written by",
        "page",
        "moto CPU ms/request",
        "moto CPU ms/item",
        "wall ms p50",
        "x 1-item page",
    ):
        table.add_column(column, justify="left" if column == "answers written by" else "right")
    for label, without in _VARIANTS:
        figures = _measure(without, pages, args.repeat)
        one_item_wall = figures[1][2]
        for limit, (cpu_ms, per_item, wall) in figures.items():
            table.add_row(
                label, f"{limit:,}", f"{cpu_ms:.2f}", f"{per_item:.3f}", f"{wall:.1f}",
                f"{wall / one_item_wall:.1f}",
            )  # fmt: skip
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
