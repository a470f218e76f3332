"""The first demo: the real handlers over an in-process moto, with real API Gateway event shapes.

It stands in for `make demo` until the local cloud serves the same handlers over HTTP.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["main"]

SYMBOLS = ("AAPL", "MSFT", "BTC-USD", "ETH-USD", "EUR/USD")


def _http_event(ticks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /ingest",
        "rawPath": "/ingest",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/ingest"}},
        "body": json.dumps({"ticks": ticks}),
        "isBase64Encoded": False,
    }


def _rest_event(resource: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": "GET",
        "queryStringParameters": params,
    }


def main(argv: list[str]) -> int:
    """Ingest a few thousand ticks, read them back page by page, and print what happened."""
    if argv not in ([], ["demo"]):
        print(f"error: unknown arguments {' '.join(argv)!r}; usage: python -m localcloud demo")
        return 64
    import boto3
    from moto import mock_aws

    console = Console()
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 (moto takes any)
        AWS_DEFAULT_REGION="us-east-1",
    )
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="ticks",
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
        queue = boto3.client("sqs").create_queue(QueueName="spill")["QueueUrl"]
        os.environ.update(MARKETSTREAM_TABLE_NAME="ticks", MARKETSTREAM_SPILL_QUEUE_URL=queue)
        from handlers import ingest, query

        rng = random.Random(7)
        now = time.time_ns() // 1_000_000
        sent = 0
        started = time.perf_counter()
        for request in range(50):
            ticks = [
                {
                    "symbol": rng.choice(SYMBOLS),
                    "price": f"{rng.uniform(1, 500):.4f}",
                    "timestamp": now - 60_000 + request * 1000 + i,
                    "id": f"r{request}-{i}",
                }
                for i in range(100)
            ]
            answer = ingest.handler(_http_event(ticks), None)
            assert answer["statusCode"] == 200, answer
            sent += len(ticks)
        ingest_s = time.perf_counter() - started
        items = ddb.scan(TableName="ticks", Select="COUNT")["Count"]
        table = Table(title="MarketStream demo (handlers over in-process moto)")
        for column in ("symbol", "ticks read back", "pages", "latest price"):
            table.add_column(column)
        read = 0
        for symbol in SYMBOLS:
            cursor, pages, count = None, 0, 0
            while True:
                params = {
                    "symbol": symbol,
                    "limit": "500",
                    **({"cursor": cursor} if cursor else {}),
                }
                page = json.loads(query.handler(_rest_event("/query", params), None)["body"])
                pages, count, cursor = pages + 1, count + len(page["ticks"]), page["next_cursor"]
                if cursor is None:
                    break
            latest = json.loads(
                query.handler(_rest_event("/latest", {"symbol": symbol}), None)["body"]
            )
            table.add_row(symbol, str(count), str(pages), latest["tick"]["price"])
            read += count
        console.print(table)
        console.print(
            f"ingested {sent} ticks in 50 requests ({ingest_s:.2f} s) as {items} DynamoDB items; "
            f"read back {read}: {'all present' if read == sent else 'MISSING TICKS'}"
        )
        return 0 if read == sent else 1
