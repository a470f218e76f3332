"""`/bars` from the rollups on the local cloud: its stream poller drives the fan-out consumer,
which keeps the rollups; the answers equal bars computed from `/query` pages of the same range.

Every wait has a deadline and ends on an observed event (the rollup watermark), never a sleep.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from handlers.core.bars import INTERVALS, compute_bars
from handlers.core.reading import Position, StoredTick
from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.ticks import api_key, auth, new_symbol

DEADLINE_S = 60.0
MINUTE = 60_000
DAY = 86_400_000


def _ticks(symbol: str, start: int, count: int, step_ms: int, salt: int) -> list[dict[str, Any]]:
    return [
        {
            "symbol": symbol,
            "price": f"{100 + (i * salt) % 41}.{(i * 7 + salt) % 100:02d}0",
            "timestamp": start + i * step_ms,
            "size": f"{1 + i % 5}.{i % 3}" if i % 4 else "2",
        }
        for i in range(count)
    ]


async def _post(
    http: aiohttp.ClientSession, cloud: CloudProcess, ticks: list[dict[str, Any]], key: str
) -> None:
    headers = {**auth(cloud), "Idempotency-Key": key}
    async with http.post(
        cloud.outputs[outputs.INGEST_URL], json={"ticks": ticks}, headers=headers
    ) as reply:
        assert reply.status == 200, await reply.text()


async def _get(
    http: aiohttp.ClientSession, cloud: CloudProcess, route: str, params: dict[str, str]
) -> tuple[int, Any]:
    base = cloud.outputs[outputs.QUERY_BASE_URL]
    async with http.get(f"{base}/{route}", params=params, headers=api_key(cloud)) as reply:
        return reply.status, await reply.json()


async def _query_bars(
    http: aiohttp.ClientSession, cloud: CloudProcess, symbol: str, start: int, end: int
) -> dict[str, list[dict[str, Any]]]:
    """Bars of every rolled-up interval computed from the `/query` pages of [start, end]."""
    ticks: list[StoredTick] = []
    params = {"symbol": symbol, "from": str(start), "to": str(end), "limit": "1000"}
    while True:
        status, page = await _get(http, cloud, "query", params)
        assert status == 200, page
        ticks += [
            StoredTick(symbol, t["timestamp"], t["price"], t.get("size"), None, Position(0, "", 0))
            for t in page["ticks"]
        ]
        if not page["next_cursor"]:
            break
        params = {**params, "cursor": page["next_cursor"]}
    return {
        interval: [bar.as_json() for bar in compute_bars(ticks, INTERVALS[interval])]
        for interval in ("1m", "5m", "1h", "1d")
    }


async def test_bars_from_rollups_equal_bars_of_the_queried_ticks(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN a symbol's recent ticks sent twice each (retries: same Idempotency-Key), then late
    # ticks three days old across a day boundary (blocks straddling minutes: 250 ms apart),
    # then one closing tick, the newest
    symbol = new_symbol()
    now = int(time.time() * 1000)
    recent = now - 40 * MINUTE
    day = now - now % DAY - 2 * DAY
    for n in range(3):
        batch = _ticks(symbol, recent + n * 700_000, 100, 7_000, n + 3)
        await _post(http, local_cloud, batch, f"{symbol}-recent-{n}")
        await _post(http, local_cloud, batch, f"{symbol}-recent-{n}")
    late = _ticks(symbol, day - 130_000, 100, 250, 11) + _ticks(symbol, day - 90_000, 60, 3_000, 5)
    await _post(http, local_cloud, late, f"{symbol}-late")
    closing = now + 1_000
    await _post(http, local_cloud, _ticks(symbol, closing, 1, 1, 1), f"{symbol}-closing")

    # WHEN the rollups have reached the closing tick (its watermark)
    deadline = time.monotonic() + DEADLINE_S
    watch = {"symbol": symbol, "interval": "1m", "from": str(closing), "to": str(closing)}
    while True:
        status, answer = await _get(http, local_cloud, "bars", watch)
        assert status == 200, answer
        if answer["watermark"] is not None and answer["watermark"] >= closing:
            break
        assert time.monotonic() < deadline, f"rollups stuck at {answer['watermark']}"

    # THEN /bars of every interval over a range cut mid-minute equals bars of the /query pages
    start, end = day - 3 * 3_600_000 + 12_345, closing + 5_000
    expected = await _query_bars(http, local_cloud, symbol, start, end)
    assert sum(bar["count"] for bar in expected["1d"]) == 300 + 160 + 1
    for interval, bars in expected.items():
        params = {"symbol": symbol, "interval": interval, "from": str(start), "to": str(end)}
        status, answer = await _get(http, local_cloud, "bars", params)
        assert status == 200, answer
        assert answer["bars"] == bars, interval
        assert answer["watermark"] == closing
        # Only the closing tick's minute was read raw: the rest came from the rollups.
        assert answer["raw_from"] == closing - closing % MINUTE


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"interval": "2m"}, "interval"),
        ({"interval": ""}, "interval"),
        ({"from": "2000", "to": "1000"}, "from"),
        ({"from": "-1"}, "from"),
        ({"to": "1e12"}, "to"),
        ({"cursor": "abc"}, "cursor"),
        ({"interval": "1m", "from": "0", "to": str(5_000 * MINUTE)}, "from"),
        ({"interval": "1d", "from": "0", "to": str(5_000 * DAY)}, "from"),
    ],
)
async def test_bad_bars_requests_are_400_naming_the_parameter(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, params: dict[str, str], name: str
) -> None:
    # GIVEN a bad interval, range or parameter (a range over 5,000 intervals included)
    # WHEN /bars is asked THEN it answers 400 naming the parameter, at once
    status, body = await _get(http, local_cloud, "bars", {"symbol": "AAPL", **params})
    assert status == 400, body
    assert body["error"] == "invalid_parameter"
    assert [detail["field"] for detail in body["details"]] == [name]
