"""The Python client on the local cloud: backfill throughput, retries under injected faults, and
what a million backfilled rows cost on AWS.

`python -m bench.client [--rows 20000] [--symbols 4] [--concurrency 8] [--send 5000]
[--lost 0.3] [--throttled 0.1]` starts `python -m localcloud up` (dev stack, stage throttle
lifted), then:

1. writes a CSV of `--rows` rows of history (a month old, `--symbols` symbols interleaved, 10
   ticks a second each) and runs `marketstream backfill` on it in this process (`--concurrency`
   requests in flight, 500 rows each), printing its summary line and rows/s;
2. sets `http_unavailable` (`--lost`: answers lost after the write, 503) and `http_throttle`
   (`--throttled`: 429) and sends `--send` ticks with `Client.send`, printing the attempts per
   request, the answers seen, and whether every tick is stored exactly once (read back);
3. prints `loadgen.cost`'s AWS cost per million backfilled rows, for a sparse history (one tick a
   second per symbol: every tick its own block) and a dense one (500 ticks of a symbol within a
   second: one block per request).

Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from marketstream import AsyncClient, Client, RetryPolicy, Tick
from marketstream.backfill import backfill

from bench.cloud import NO_STAGE_THROTTLE
from cliargs import UsageParser
from loadgen.cost import Workload, estimate
from localcloud.launcher import CloudProcess, launch

__all__ = ["main"]

MONTH_MS = 30 * 86_400_000


def _write_history(path: Path, rows: int, symbols: list[str]) -> None:
    start = int(time.time() * 1000) - MONTH_MS - rows * 100
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "price", "timestamp", "size", "id"])
        for i in range(rows):
            symbol = symbols[i % len(symbols)]
            stamp = start + (i // len(symbols)) * 100
            writer.writerow([symbol, f"{100 + i % 50}.{i % 100:02d}", stamp, 1 + i % 5, f"r{i}"])


async def _backfill(cloud: CloudProcess, path: Path, concurrency: int) -> str:
    async with AsyncClient.from_outputs(cloud.outputs_path, connections=concurrency) as client:
        summary = await backfill(
            client,
            path,
            state_path=path.with_suffix(".progress"),
            report_path=path.with_suffix(".refused.csv"),
            concurrency=concurrency,
            progress=False,
        )
    return summary.line()


def _faults(cloud: CloudProcess, document: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 (the bench's own 127.0.0.1 cloud)
        f"{cloud.admin_url}/faults", data=json.dumps(document).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def _retries(cloud: CloudProcess, count: int, lost: float, throttled: float) -> list[str]:
    symbol = f"BENCHR{int(time.time()) % 100000}"
    now = int(time.time() * 1000) - 3_600_000
    ticks = [Tick.of(symbol, f"{10 + i % 7}.{i % 100:02d}", now + i * 10) for i in range(count)]
    lines = []
    policy = RetryPolicy(attempts=12, base_s=0.05, cap_s=1.0)
    with Client.from_outputs(cloud.outputs_path, retry=policy) as client:
        per_request = []
        _faults(cloud, {"http_unavailable": lost, "http_throttle": throttled})
        began = time.perf_counter()
        try:
            for first in range(0, count, 500):
                per_request.append(client.send(ticks[first : first + 500]))
        finally:
            _faults(cloud, {"http_unavailable": 0, "http_throttle": 0})
        took = time.perf_counter() - began
        deadline = time.monotonic() + 60
        while len(stored := list(client.ticks(symbol))) < count and time.monotonic() < deadline:
            time.sleep(0.2)  # the spill queue's replay may still be storing
    attempts = Counter(r.attempts for r in per_request)
    statuses: Counter[int] = Counter()
    for result in per_request:
        statuses.update(result.statuses)
    keys = Counter((t.timestamp, t.price) for t in stored)
    lines.append(
        f"retries: {count} ticks in {len(per_request)} requests with {lost:.0%} of answers lost "
        f"after the write (503) and {throttled:.0%} throttled (429): "
        f"{sum(r.attempts for r in per_request)} attempts "
        f"({sum(r.attempts for r in per_request) / len(per_request):.2f} per request), "
        f"attempts per request {dict(sorted(attempts.items()))}, "
        f"answers {dict(sorted(statuses.items()))}, {took:.1f} s"
    )
    lines.append(
        f"retries: acknowledged {sum(r.accepted for r in per_request)}, stored {len(stored)}, "
        f"distinct {len(keys)}, stored twice {sum(1 for n in keys.values() if n > 1)}"
    )
    return lines


def _cost_lines() -> list[str]:
    base = Workload(
        ticks_per_s=1000.0,
        ticks_per_request=500,
        query_rate=0.0,
        dashboards=0,
        subscribers=0,
        fanout=True,
    )
    out = []
    for name, blocks in (("sparse (1 tick/s per symbol)", 500), ("dense (one block a request)", 1)):
        cost = estimate(replace(base, symbols_per_request=blocks))
        by_service = {k: round(v, 4) for k, v in cost.by_service_per_million_ticks().items()}
        out.append(f"cost: {name}: ${cost.usd_per_million_ticks:.2f} per million rows {by_service}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--symbols", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--send", type=int, default=5_000)
    parser.add_argument("--lost", type=float, default=0.3)
    parser.add_argument("--throttled", type=float, default=0.1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        cloud = launch(Path(tmp), NO_STAGE_THROTTLE)
        try:
            path = Path(tmp) / "history.csv"
            stamp = int(time.time()) % 100000
            _write_history(path, args.rows, [f"BF{stamp}S{i}" for i in range(args.symbols)])
            print(f"backfill: {args.rows} rows, concurrency {args.concurrency}", flush=True)
            print("backfill: " + asyncio.run(_backfill(cloud, path, args.concurrency)), flush=True)
            for line in _retries(cloud, args.send, args.lost, args.throttled):
                print(line, flush=True)
        finally:
            cloud.stop()
    for line in _cost_lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
