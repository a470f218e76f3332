"""`/bars` from the rollups: latency, DynamoDB items read and modelled AWS cost per request.

`python -m bench.bars [--ticks 300000] [--days 2] [--batch 100] [--concurrency 2]
[--requests 20]` starts a local cloud (the dev stack, ingest throttle lifted), seeds one symbol
with `--ticks` ticks spread evenly over the last `--days` days in ingest requests of `--batch`,
sends one closing tick (the newest) and waits until the rollup watermark reaches it (the stream
has drained), then times `--requests` sequential `/bars` requests per case: 1m over the days,
1h over the days, 1d over seven days, 1m over the last hour, and 1s over the last hour (raw
ticks: the path every interval took before the rollups, reading what 1m over the last hour read
then). Items read per request are counted by running the same reader in this process against
the cloud's DynamoDB; the cost per request is `loadgen.cost.query_request_usd` with the local p50
as the function's duration. Figures are printed, never judged. Exit 0, or 1 if the run failed;
bad arguments: one line, exit 64.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
from rich.console import Console
from rich.table import Table

from bench.cloud import NO_STAGE_THROTTLE
from bench.handler_cpu import item_bytes
from cliargs import UsageParser, usage_error
from handlers.core.barpages import MINUTE
from handlers.core.barreads import BarReader
from handlers.core.bars import INTERVALS, compute_bars
from handlers.core.bartable import BarTable
from handlers.core.query import MAX_BAR_TICKS
from handlers.core.reading import iter_ticks
from handlers.core.store import DynamoBlockSource
from infra import outputs
from loadgen.cost import query_request_usd, read_units
from localcloud.launcher import CloudProcess, LaunchError, launch

__all__ = ["main"]

SYMBOL: Final = "BENCH.BARS"
HOUR: Final = 3_600_000
DAY: Final = 86_400_000
QUERY_MEMORY_MB: Final = 512
"""The dev stack's query function memory (`queryMemoryMb` default)."""
_DRAIN_DEADLINE_S: Final = 3_600.0


@dataclass(frozen=True, slots=True)
class Case:
    """One timed `/bars` request shape."""

    label: str
    interval: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Reads:
    """DynamoDB reads one request makes: calls, items, and bytes per call."""

    calls: int
    items: int
    call_bytes: tuple[int, ...]


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="python -m bench.bars", description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300_000, help="ticks to seed (300000)")
    parser.add_argument("--days", type=int, default=2, help="days they span (2)")
    parser.add_argument("--batch", type=int, default=100, help="ticks per ingest request (100)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (2)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per case (20)")
    return parser


def _ticks(start: int, step_ms: float, first: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "symbol": SYMBOL,
            "price": f"{150 + (i * 37) % 500 / 100:.2f}",
            "timestamp": start + int(i * step_ms),
            "size": str(1 + i % 9),
        }
        for i in range(first, first + count)
    ]


async def _seed(
    http: aiohttp.ClientSession, cloud: CloudProcess, args: argparse.Namespace, start: int
) -> int:
    """Ingest the ticks, then the closing tick; the closing tick's timestamp."""
    url = cloud.outputs[outputs.INGEST_URL]
    headers = {"Authorization": f"Bearer {cloud.outputs[outputs.INGEST_TOKEN]}"}
    step = args.days * DAY / args.ticks
    firsts = list(range(0, args.ticks, args.batch))
    queue: asyncio.Queue[int] = asyncio.Queue()
    for first in firsts:
        queue.put_nowait(first)
    done = 0
    began = time.monotonic()

    async def post(ticks: list[dict[str, Any]]) -> None:
        async with http.post(url, json={"ticks": ticks}, headers=headers) as reply:
            if reply.status != 200:
                raise RuntimeError(f"ingest answered {reply.status}: {await reply.text()}")

    async def worker() -> None:
        nonlocal done
        while not queue.empty():
            first = queue.get_nowait()
            await post(_ticks(start, step, first, min(args.batch, args.ticks - first)))
            done += 1
            if done % 500 == 0:
                rate = done * args.batch / (time.monotonic() - began)
                print(f"  seeded {done}/{len(firsts)} requests ({rate:,.0f} ticks/s)", flush=True)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    closing = int(time.time() * 1000)
    await post([{"symbol": SYMBOL, "price": "150.00", "timestamp": closing, "size": "1"}])
    print(f"seeded {args.ticks:,} ticks in {time.monotonic() - began:.0f} s", flush=True)
    return closing


async def _get(
    http: aiohttp.ClientSession, cloud: CloudProcess, params: dict[str, str]
) -> dict[str, Any]:
    base = cloud.outputs[outputs.QUERY_BASE_URL]
    headers = {"x-api-key": cloud.outputs[outputs.QUERY_API_KEY]}
    async with http.get(f"{base}/bars", params=params, headers=headers) as reply:
        body: dict[str, Any] = await reply.json()
        if reply.status != 200:
            raise RuntimeError(f"/bars answered {reply.status}: {body}")
        return body


async def _drain(http: aiohttp.ClientSession, cloud: CloudProcess, closing: int) -> None:
    """Wait until the rollups hold the closing tick: every earlier record was rolled up."""
    began = time.monotonic()
    params = {"symbol": SYMBOL, "interval": "1m", "from": str(closing), "to": str(closing)}
    last = -1.0
    while True:
        watermark = (await _get(http, cloud, params))["watermark"]
        if watermark is not None and watermark >= closing:
            print(f"stream drained {time.monotonic() - began:.0f} s after the last ingest")
            return
        if time.monotonic() - began > _DRAIN_DEADLINE_S:
            raise RuntimeError(f"the rollups did not reach the closing tick ({watermark})")
        if time.monotonic() - last > 30:
            last = time.monotonic()
            behind = (closing - watermark) / 1000 if watermark else float("nan")
            print(f"  waiting for the stream: watermark {behind:,.0f} s behind", flush=True)
        await asyncio.sleep(0.5)  # a poll period, not a synchronisation: the loop ends on data


async def _time(
    http: aiohttp.ClientSession, cloud: CloudProcess, case: Case, requests: int
) -> tuple[list[float], int]:
    """Latencies (ms) of `requests` sequential requests, and the bars the last one returned."""
    params = {
        "symbol": SYMBOL,
        "interval": case.interval,
        "from": str(case.start),
        "to": str(case.end),
    }
    await _get(http, cloud, params)  # warm: the first call imports and connects
    latencies = []
    bars = 0
    for _ in range(requests):
        began = time.perf_counter()
        body = await _get(http, cloud, params)
        latencies.append((time.perf_counter() - began) * 1000)
        bars = len(body["bars"])
    return latencies, bars


def _counting(client: Any) -> Callable[[], Reads]:
    """Count the Items of every Query and GetItem `client` makes; a snapshot-and-reset."""
    calls: list[int] = []
    items = 0

    def after(parsed: dict[str, Any], **_: Any) -> None:
        nonlocal items
        found = parsed.get("Items") or ([parsed["Item"]] if parsed.get("Item") else [])
        items += len(found)
        calls.append(sum(item_bytes(item) for item in found))

    client.meta.events.register("after-call.dynamodb.Query", after)
    client.meta.events.register("after-call.dynamodb.GetItem", after)

    def snapshot() -> Reads:
        nonlocal items
        reads = Reads(len(calls), items, tuple(calls))
        calls.clear()
        items = 0
        return reads

    return snapshot


def _reads(cloud: CloudProcess, case: Case) -> Reads:
    """What the query function reads for `case`: the same code, against the cloud's DynamoDB."""
    client = cloud.aws("dynamodb")
    snapshot = _counting(client)
    blocks = DynamoBlockSource(client, cloud.outputs[outputs.TABLE_NAME])
    if case.interval == "1s":
        compute_bars(iter_ticks(blocks, SYMBOL, case.start, case.end), INTERVALS["1s"])
    else:
        table = BarTable(client, cloud.outputs[outputs.BARS_TABLE_NAME])
        BarReader(table, blocks, max_raw_ticks=MAX_BAR_TICKS).read(
            SYMBOL, case.interval, case.start, case.end
        )
    return snapshot()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _run(args: argparse.Namespace) -> Table:
    now = int(time.time() * 1000)
    start = now - now % MINUTE - args.days * DAY
    with tempfile.TemporaryDirectory(prefix="bench-bars-") as tmp:
        cloud = launch(Path(tmp), NO_STAGE_THROTTLE)
        try:
            connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
            timeout = aiohttp.ClientTimeout(total=60, connect=5)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                closing = await _seed(http, cloud, args, start)
                await _drain(http, cloud, closing)
                hour = closing - closing % MINUTE - HOUR
                days = args.days
                cases = [
                    Case(f"1m over {days} days", "1m", start, start + days * DAY - 1),
                    Case(f"1h over {days} days", "1h", start, start + days * DAY - 1),
                    Case("1d over 7 days", "1d", closing - closing % DAY - 6 * DAY, closing),
                    Case("1m over the last hour", "1m", hour, hour + HOUR - 1),
                    Case("1s over the last hour (raw ticks)", "1s", hour, hour + HOUR - 1),
                ]
                table = Table(
                    title=f"/bars on the local cloud: {args.ticks:,} ticks of one symbol over "
                    f"{days} days, {args.requests} sequential requests per case"
                )
                for column in (
                    "request",
                    "bars",
                    "p50 ms",
                    "p95 ms",
                    "DynamoDB calls",
                    "items read",
                    "RRU",
                    "AWS $ per 1M requests",
                ):
                    table.add_column(column, justify="left" if column == "request" else "right")
                for case in cases:
                    latencies, bars = await _time(http, cloud, case, args.requests)
                    reads = _reads(cloud, case)
                    p50 = statistics.median(latencies)
                    cost = query_request_usd(reads.call_bytes, p50, memory_mb=QUERY_MEMORY_MB)
                    rru = sum(read_units(size) for size in reads.call_bytes)
                    table.add_row(
                        case.label,
                        f"{bars:,}",
                        f"{p50:.1f}",
                        f"{_percentile(latencies, 0.95):.1f}",
                        str(reads.calls),
                        f"{reads.items:,}",
                        f"{rru:g}",
                        f"{cost['total'] * 1e6:.2f}",
                    )
                return table
        finally:
            cloud.stop()


def main(argv: list[str] | None = None) -> int:
    """Seed, drain, time, print; the exit status."""
    args = _parser().parse_args(argv)
    for name in ("ticks", "days", "batch", "concurrency", "requests"):
        if getattr(args, name) < 1:
            return usage_error("bench.bars", f"--{name} must be at least 1")
    if args.batch > 500:
        return usage_error("bench.bars", "--batch must be at most 500 (the stack's maxTicks)")
    if args.days > 6:
        return usage_error("bench.bars", "--days must be at most 6 (the ingest window is 7)")
    try:
        table = asyncio.run(_run(args))
    except (LaunchError, RuntimeError, aiohttp.ClientError) as exc:
        print(f"bench.bars: {exc}")
        return 1
    Console(highlight=False).print(table)
    print(
        "cost: loadgen.cost.query_request_usd (REST API call, one warm 512 MB arm64 invocation "
        "billed at the local p50, eventually consistent reads), list prices us-east-1"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
