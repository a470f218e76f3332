"""The program's APIs on the local cloud, through real HTTP: ingest and query (auth, keys and
usage-plan limits: test_auth_matrix.py)."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.ticks import api_key, auth, ingest, make_ticks, new_symbol, read_all


def test_outputs_file_has_every_export_key(local_cloud: CloudProcess) -> None:
    # GIVEN the outputs file the local cloud wrote
    written = json.loads((local_cloud.directory / "outputs.json").read_text(encoding="utf-8"))
    # THEN every key the program must export is there, with local values
    assert set(outputs.ALL_KEYS) <= set(written)
    assert written[outputs.INGEST_URL].startswith("http://127.0.0.1:")
    assert written[outputs.QUERY_BASE_URL].startswith("http://127.0.0.1:")
    assert written[outputs.SPILL_QUEUE_URL].startswith("http://127.0.0.1:")
    assert all(written[key] for key in outputs.SECRET_KEYS)


async def test_ingest_then_query_returns_the_same_ticks(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN 250 ticks of a new symbol, two of them in the same millisecond
    symbol = new_symbol()
    ticks = make_ticks(symbol, 250)
    ticks.append({**ticks[10], "price": "555.5"})
    # WHEN they are ingested in three requests
    for chunk in (ticks[:100], ticks[100:200], ticks[200:]):
        status, body = await ingest(http, local_cloud, chunk)
        assert (status, body["accepted"]) == (200, len(chunk))
    # THEN reading the symbol back page by page gives every tick, prices exact, in time order
    stored = await read_all(http, local_cloud, symbol, limit=37)
    key = lambda t: (t["timestamp"], t["price"], t["size"])  # noqa: E731
    assert sorted(map(key, stored)) == sorted(map(key, ticks))
    assert [t["timestamp"] for t in stored] == sorted(t["timestamp"] for t in ticks)


async def test_latest_and_bars_agree_with_what_was_sent(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN 180 ticks over three minutes
    symbol = new_symbol()
    start = (local_cloud_now() - 3_600_000) // 60_000 * 60_000
    ticks = make_ticks(symbol, 180, start_ms=start)
    status, _ = await ingest(http, local_cloud, ticks)
    assert status == 200
    base = local_cloud.outputs[outputs.QUERY_BASE_URL]
    # WHEN /latest and /bars are asked
    async with http.get(
        f"{base}/latest", params={"symbol": symbol}, headers=api_key(local_cloud)
    ) as r:
        latest = (await r.json())["tick"]
    params = {"symbol": symbol, "interval": "1m", "from": str(start), "to": str(start + 180_000)}
    async with http.get(f"{base}/bars", params=params, headers=api_key(local_cloud)) as r:
        assert r.status == 200
        bars = [b for b in (await r.json())["bars"] if b["count"]]
    # THEN the latest tick is the newest sent and each bar is the OHLCV of its minute
    newest = max(ticks, key=lambda t: t["timestamp"])
    assert (latest["price"], latest["timestamp"]) == (newest["price"], newest["timestamp"])
    assert [_bar_values(b) for b in bars] == _expected_bars(ticks, 60_000)


def local_cloud_now() -> int:
    return int(time.time() * 1000)


def _bar_values(bar: dict[str, Any]) -> tuple[Any, ...]:
    return (
        bar["start"],
        Decimal(bar["open"]),
        Decimal(bar["high"]),
        Decimal(bar["low"]),
        Decimal(bar["close"]),
        Decimal(bar["volume"]),
        bar["count"],
    )


def _expected_bars(ticks: list[dict[str, Any]], length: int) -> list[tuple[Any, ...]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for tick in sorted(ticks, key=lambda t: t["timestamp"]):
        groups.setdefault(tick["timestamp"] // length * length, []).append(tick)
    return [
        (
            start,
            Decimal(group[0]["price"]),
            max(Decimal(t["price"]) for t in group),
            min(Decimal(t["price"]) for t in group),
            Decimal(group[-1]["price"]),
            sum((Decimal(t["size"]) for t in group), Decimal(0)),
            len(group),
        )
        for start, group in sorted(groups.items())
    ]


BAD_BODIES: list[tuple[str, bytes, str, int]] = [
    ("not json", b"{nope", "application/json", 400),
    ("empty", b"", "application/json", 400),
    ("wrong media type", b'{"ticks": []}', "text/plain", 415),
    ("missing price", b'{"ticks": [{"symbol": "%s", "timestamp": %d}]}', "application/json", 400),
    (
        "negative price",
        b'{"ticks": [{"symbol": "%s", "price": "-1", "timestamp": %d}]}',
        "application/json",
        400,
    ),
    (
        "float timestamp",
        b'{"ticks": [{"symbol": "%s", "price": "1", "timestamp": %d.5}]}',
        "application/json",
        400,
    ),
    (
        "timestamp far future",
        b'{"ticks": [{"symbol": "%s", "price": "1", "timestamp": 9%d}]}',
        "application/json",
        400,
    ),
    ("too large", b"x" * 300_000, "application/json", 413),
]


@pytest.mark.parametrize(
    ("name", "body", "content_type", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_bad_ingest_bodies_are_refused_and_nothing_is_stored(
    local_cloud: CloudProcess,
    http: aiohttp.ClientSession,
    name: str,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    # GIVEN a bad body, alongside a good tick of the same symbol in the same request if it parses
    symbol = new_symbol()
    if b"%s" in body:
        body = body % (symbol.encode(), local_cloud_now())
    # WHEN it is posted with a valid token
    async with http.post(
        local_cloud.outputs[outputs.INGEST_URL],
        data=body,
        headers={**auth(local_cloud), "Content-Type": content_type},
    ) as reply:
        # THEN the handler's 4xx comes back as JSON and nothing was written
        assert reply.status == status, await reply.text()
        assert "error" in await reply.json()
    assert await read_all(http, local_cloud, symbol) == []


async def test_a_mixed_batch_with_one_bad_tick_stores_nothing(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    symbol = new_symbol()
    ticks = make_ticks(symbol, 20)
    ticks[13]["price"] = "abc"
    status, body = await ingest(http, local_cloud, ticks)
    assert status == 400
    assert body["details"][0]["index"] == 13
    assert await read_all(http, local_cloud, symbol) == []


async def test_function_logs_carry_lambdas_report_line_with_init_duration(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN the running local cloud WHEN two ingest requests are answered one after the other
    for _ in range(2):
        status, _ = await ingest(http, local_cloud, make_ticks(new_symbol(), 3))
        assert status == 200
    # THEN the ingest function's log has a REPORT line per invocation, as CloudWatch shows them:
    # `Init Duration` (its container's import of the handler) on a container's first only
    [log] = (local_cloud.directory / "logs").glob("ingest-ingest-*.log")
    reports = [line for line in log.read_text(encoding="utf-8").splitlines() if "REPORT" in line]
    pattern = re.compile(
        r"REPORT RequestId: [0-9a-f-]{36}\tDuration: [0-9.]+ ms\tBilled Duration: [0-9]+ ms"
        r"\tMemory Size: [0-9]+ MB(\tInit Duration: [0-9.]+ ms)?"
    )
    assert len(reports) >= 2
    assert all(pattern.fullmatch(line) for line in reports), reports
    assert "Init Duration" in reports[0]
    assert any("Init Duration" not in line for line in reports)
