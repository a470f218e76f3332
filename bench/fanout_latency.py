"""Ingest -> WebSocket delivery latency on the local cloud: p50/p95/p99 (goal: p95 <= 500 ms).

`python -m bench.fanout_latency [--ticks-per-s 100] [--batch 10] [--clients 10] [--duration 30]
[--warmup 3]` starts `python -m localcloud up` (dev stack; ingest stage limits raised so the
stage throttle is not what is measured), connects `--clients` WebSocket clients with the
read token, subscribes each to the bench symbols, then ingests ticks on an open-loop schedule
(`--ticks-per-s` ticks a second in requests of `--batch` ticks). Each tick carries a unique `id`;
a sample is (client receive time - the tick's *planned* send time), one per tick and client, so
a slow ingest counts against the latency (no coordinated omission). Figures are printed, never
asserted; the exit status is 0 unless the run could not be made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.cloud import NO_STAGE_THROTTLE
from cliargs import UsageParser
from localcloud.launcher import launch

__all__ = ["main"]

SYMBOLS = ("BENCH.A", "BENCH.B", "BENCH.C", "BENCH.D", "BENCH.E")
GOAL_P95_MS = 500.0
_DRAIN_S = 10.0
"""How long to wait for the last ticks after the schedule ends."""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class _Run:
    """Planned send times by tick id, and the latency samples the clients record."""

    def __init__(self) -> None:
        self.planned: dict[str, float] = {}
        self.measured: set[str] = set()
        """Ids past the warm-up: the ones whose samples count."""
        self.samples: list[float] = []
        self.received = 0
        self.errors: list[str] = []


async def _client(
    session: aiohttp.ClientSession, url: str, token: str
) -> aiohttp.ClientWebSocketResponse:
    """A connected client subscribed to every bench symbol."""
    ws = await session.ws_connect(url, params={"token": token}, heartbeat=None)
    await ws.send_json({"action": "subscribe", "symbols": list(SYMBOLS)})
    reply = await ws.receive_json(timeout=10)
    if reply.get("symbols") != sorted(SYMBOLS):
        raise SystemExit(f"subscribe failed: {reply}")
    return ws


async def _listen(ws: aiohttp.ClientWebSocketResponse, run: _Run) -> None:
    async for message in ws:
        now = time.perf_counter()
        if message.type != aiohttp.WSMsgType.TEXT:
            continue
        document = json.loads(message.data)
        for tick in document.get("ticks", []):
            tick_id = tick.get("id")
            run.received += 1
            if tick_id in run.measured:
                run.samples.append((now - run.planned[tick_id]) * 1000)


async def _ingest(
    session: aiohttp.ClientSession, url: str, token: str, ticks: list[dict[str, Any]], run: _Run
) -> None:
    try:
        async with session.post(
            url, json={"ticks": ticks}, headers={"Authorization": f"Bearer {token}"}
        ) as reply:
            if reply.status != 200:
                run.errors.append(f"ingest {reply.status}: {(await reply.text())[:200]}")
    except aiohttp.ClientError as exc:
        run.errors.append(f"ingest: {type(exc).__name__}: {exc}")


async def _bench(outputs: dict[str, Any], args: argparse.Namespace) -> _Run:
    run = _Run()
    token, read_token = outputs["ingest_token"], outputs["read_token"]
    timeout = aiohttp.ClientTimeout(total=30, connect=5)
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        sockets = [
            await _client(session, outputs["ws_url"], read_token) for _ in range(args.clients)
        ]
        listeners = [asyncio.create_task(_listen(ws, run)) for ws in sockets]
        requests_per_s = args.ticks_per_s / args.batch
        total = int(requests_per_s * (args.duration + args.warmup))
        start = time.perf_counter() + 0.2
        now_ms = int(time.time() * 1000)
        sends: list[asyncio.Task[None]] = []
        for n in range(total):
            planned = start + n / requests_per_s
            delay = planned - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            ticks = []
            for k in range(args.batch):
                tick_id = f"b{n}-{k}"
                run.planned[tick_id] = planned
                if planned - start >= args.warmup:
                    run.measured.add(tick_id)
                ticks.append(
                    {
                        "symbol": SYMBOLS[(n * args.batch + k) % len(SYMBOLS)],
                        "price": f"{100 + n % 50}.{k:02d}",
                        "timestamp": now_ms + n,
                        "id": tick_id,
                    }
                )
            sends.append(
                asyncio.create_task(_ingest(session, outputs["ingest_url"], token, ticks, run))
            )
        await asyncio.gather(*sends)
        expected = len(run.measured) * args.clients
        deadline = time.perf_counter() + _DRAIN_S
        while len(run.samples) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*listeners, return_exceptions=True)
    return run


def _report(run: _Run, args: argparse.Namespace) -> None:
    expected = len(run.measured) * args.clients
    print(
        f"load: {args.ticks_per_s} ticks/s in requests of {args.batch}, {args.clients} clients "
        f"subscribed to {len(SYMBOLS)} symbols, {args.duration} s measured after {args.warmup} s"
    )
    print(f"samples: {len(run.samples)} of {expected} expected (tick x client)")
    print(f"ingest errors: {len(run.errors)}")
    for error in run.errors[:5]:
        print(f"  {error}")
    if not run.samples:
        return
    p = {q: _percentile(run.samples, q) for q in (50, 95, 99)}
    print(
        "ingest -> WebSocket latency (ms): "
        f"p50 {p[50]:.0f}  p95 {p[95]:.0f}  p99 {p[99]:.0f}  "
        f"max {max(run.samples):.0f}  mean {statistics.fmean(run.samples):.0f}"
    )
    verdict = "meets" if p[95] <= GOAL_P95_MS else "MISSES"
    print(f"goal p95 <= {GOAL_P95_MS:.0f} ms: {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 unless it could not run."""
    parser = UsageParser(prog="python -m bench.fanout_latency", description=__doc__)
    parser.add_argument("--ticks-per-s", type=float, default=100.0)
    # 10 ticks per request (10 req/s): at 1 tick per request (100 req/s) the ingest path itself
    # saturates the local cloud on a 2-CPU machine and the queueing, not fan-out, is measured.
    parser.add_argument("--batch", type=int, default=10, help="ticks per ingest request")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fanout-bench-") as tmp:
        cloud = launch(Path(tmp), NO_STAGE_THROTTLE)
        try:
            run = asyncio.run(_bench(cloud.outputs, args))
        finally:
            cloud.stop()
    _report(run, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
