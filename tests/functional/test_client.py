"""The Python client (`client/`, import name `marketstream`) against the session's local cloud."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from marketstream import (
    ApiError,
    AsyncClient,
    AuthError,
    Client,
    RetryPolicy,
    SendResult,
    Tick,
)

from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.ticks import make_ticks, new_symbol

DEADLINE_S = 60.0
"""Bound on every polling wait (each ends on an observed event, not on the clock)."""
FAST_RETRIES = RetryPolicy(attempts=30, base_s=0.01, cap_s=0.2, timeout_s=30)
"""Many quick retries: the tests inject faults at high rates and time nothing."""


def _client(cloud: CloudProcess, **options: Any) -> Client:
    return Client.from_outputs(cloud.outputs_path, retry=FAST_RETRIES, **options)


def _set_faults(cloud: CloudProcess, document: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (the test's own 127.0.0.1 cloud)
        f"{cloud.admin_url}/faults", data=json.dumps(document).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        answer: dict[str, Any] = json.loads(reply.read())
    return answer


@pytest.fixture
def faults(local_cloud: CloudProcess) -> Iterator[Any]:
    """Sets fault modes for one test, and switches every mode it set off afterwards."""
    touched: set[str] = set()

    def set_modes(document: dict[str, Any]) -> dict[str, Any]:
        touched.update(k for k in document if k != "for_s")
        return _set_faults(local_cloud, document)

    try:
        yield set_modes
    finally:
        if touched:
            _set_faults(local_cloud, dict.fromkeys(touched, 0))


def _key(tick: Tick) -> tuple[Any, ...]:
    return (tick.symbol, tick.timestamp, tick.price, tick.size, tick.id)


def _stored(client: Client, symbol: str, expected: int) -> list[Tick]:
    """Every stored tick of `symbol`, once at least `expected` are there (the spill queue's
    replay stores late), or what is there at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        ticks = list(client.ticks(symbol))
        if len(ticks) >= expected or time.monotonic() > deadline:
            return ticks
        time.sleep(0.2)


def test_send_with_lost_answers_and_throttles_stores_every_tick_once(
    local_cloud: CloudProcess, faults: Any
) -> None:
    # GIVEN 30 % of ingest answers lost after the write (503), 30 % of requests throttled (429)
    # and 30 % of DynamoDB writes throttled (the handler retries, then spills: 202 queued)
    faults({"http_unavailable": 0.3, "http_throttle": 0.3, "throttle_writes": 0.3})
    symbol = new_symbol()
    sent = [Tick.of(**t) for t in make_ticks(symbol, 1500)]
    # WHEN the client sends them, 60 sends of 25 (Tick objects and dicts): with that many
    # requests, each fault is all but certain to hit some (0.7**60 that one never does)
    result = SendResult()
    with _client(local_cloud) as client:
        for first in range(0, len(sent), 25):
            chunk = sent[first : first + 25]
            result.add(client.send(chunk if first % 50 else [t.as_json() for t in chunk]))
        faults({"http_unavailable": 0, "http_throttle": 0, "throttle_writes": 0})
        stored = _stored(client, symbol, len(sent))
    # THEN every tick is acknowledged, retries happened, and each tick is stored exactly once
    assert result.accepted == len(sent)
    assert result.requests == 60
    assert result.attempts > result.requests
    assert result.statuses.get(503, 0) > 0
    assert result.statuses.get(429, 0) > 0
    assert Counter(map(_key, stored)) == Counter(map(_key, sent))


def test_paging_returns_every_tick_of_a_range_once(local_cloud: CloudProcess) -> None:
    # GIVEN 2,345 ticks, several in one millisecond
    symbol = new_symbol()
    sent = [Tick.of(**t) for t in make_ticks(symbol, 2300)]
    sent += [Tick.of(symbol, f"9{i}.5", sent[i].timestamp, "1") for i in range(45)]
    with _client(local_cloud) as client:
        assert client.send(sent).accepted == len(sent)
        start, end = sent[100].timestamp, sent[2199].timestamp
        expected = Counter(_key(t) for t in sent if start <= t.timestamp <= end)
        # WHEN a range is read in pages of 97, in both orders
        ascending = list(client.ticks(symbol, start, end, page_size=97))
        descending = list(client.ticks(symbol, start, end, "desc", page_size=97))
    # THEN each tick of the range comes exactly once, in order, prices exact
    assert Counter(map(_key, ascending)) == expected
    assert Counter(map(_key, descending)) == expected
    assert [t.timestamp for t in ascending] == sorted(t.timestamp for t in ascending)
    assert [t.timestamp for t in descending] == sorted(
        (t.timestamp for t in ascending), reverse=True
    )
    assert all(isinstance(t.price, Decimal) for t in ascending)


def test_latest_and_bars(local_cloud: CloudProcess) -> None:
    # GIVEN 180 ticks over three whole minutes
    symbol = new_symbol()
    start = (int(time.time() * 1000) - 3_600_000) // 60_000 * 60_000
    sent = [Tick.of(**t) for t in make_ticks(symbol, 180, start_ms=start)]
    with _client(local_cloud) as client:
        client.send(sent)
        # WHEN the latest tick and the 1m bars are asked (times as datetimes and as ms)
        latest = client.latest(symbol)
        bars = client.bars(symbol, "1m", sent[0].time, start + 180_000)
    # THEN they agree with what was sent, to the last digit
    assert latest is not None
    assert (latest.timestamp, latest.price) == (sent[-1].timestamp, sent[-1].price)
    assert [b.start for b in bars] == [start, start + 60_000, start + 120_000]
    first = sent[:60]
    assert (bars[0].open, bars[0].close, bars[0].count) == (first[0].price, first[-1].price, 60)
    assert bars[0].high == max(t.price for t in first)
    assert bars[0].volume == sum((t.size or Decimal(0) for t in first), Decimal(0))


def test_a_refused_batch_raises_with_the_servers_details(local_cloud: CloudProcess) -> None:
    ticks = make_ticks(new_symbol(), 3)
    ticks[1]["timestamp"] = int(time.time() * 1000) + 86_400_000  # a day ahead
    with _client(local_cloud) as client, pytest.raises(ApiError) as refused:
        client.send(ticks)
    assert refused.value.status == 400
    assert refused.value.code == "invalid_tick"
    [detail] = refused.value.details
    assert (detail.index, detail.field) == (1, "timestamp")
    assert "later than the accepted window" in detail.reason


def test_a_wrong_token_raises_auth_error(local_cloud: CloudProcess) -> None:
    with (
        _client(local_cloud, ingest_token="not-the-token") as client,
        pytest.raises(AuthError) as refused,
    ):
        client.send(make_ticks(new_symbol(), 1))
    assert refused.value.status == 403


def test_writer_flushes_by_size_delay_and_close(local_cloud: CloudProcess) -> None:
    symbol = new_symbol()
    sent = [Tick.of(**t) for t in make_ticks(symbol, 1234)]
    with _client(local_cloud) as client:
        # WHEN ticks are written one by one through a small bounded buffer
        with client.writer(max_batch=100, max_delay_s=0.05, max_buffer=200) as writer:
            for tick in sent:
                writer.write(tick)
        # THEN close flushed the rest, the counts add up, and everything is stored once
        assert (writer.sent, writer.failed) == (len(sent), 0)
        stored = _stored(client, symbol, len(sent))
    assert Counter(map(_key, stored)) == Counter(map(_key, sent))


async def test_async_send_concurrently_with_faults(local_cloud: CloudProcess, faults: Any) -> None:
    faults({"http_unavailable": 0.3})
    symbol = new_symbol()
    sent = [Tick.of(**t) for t in make_ticks(symbol, 2000)]
    async with AsyncClient.from_outputs(local_cloud.outputs_path, retry=FAST_RETRIES) as client:
        result: SendResult = await client.send(sent, concurrency=4)
        faults({"http_unavailable": 0})
        stored = [t async for t in client.ticks(symbol)]
    assert (result.accepted, result.requests) == (len(sent), 4)
    assert Counter(map(_key, stored)) == Counter(map(_key, sent))


async def _reconnected(live: Any) -> None:
    while live.connects < 2:
        await asyncio.sleep(0.05)


def _connection_of(cloud: CloudProcess, symbol: str) -> str:
    table = next(
        r["id"]
        for r in cloud.state["resources"]
        if r["type"] == "aws:dynamodb/table:Table" and r["name"] == "fanout-connections"
    )
    items = cloud.aws("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    [found] = [
        i["connection_id"]["S"] for i in items if symbol in i.get("symbols", {}).get("SS", [])
    ]
    return str(found)


async def test_subscribe_gets_ticks_sent_after_it_and_survives_a_server_close(
    local_cloud: CloudProcess,
) -> None:
    symbol = new_symbol()
    now = int(time.time() * 1000)
    first = [Tick.of(symbol, f"1.{i}", now + i) for i in range(5)]
    second = [Tick.of(symbol, f"2.{i}", now + 100 + i) for i in range(5)]
    client = AsyncClient.from_outputs(local_cloud.outputs_path, retry=FAST_RETRIES)
    async with client, client.subscribe([symbol.lower()]) as live:
        # GIVEN a confirmed subscription, WHEN ticks are sent, THEN they arrive
        await asyncio.wait_for(live.subscribed(), DEADLINE_S)
        await client.send(first)
        got = [await asyncio.wait_for(anext(live), DEADLINE_S) for _ in first]
        assert sorted(map(_key, got)) == sorted(map(_key, first))
        # WHEN the server closes the socket (the @connections API, as API Gateway would)
        connection = await asyncio.to_thread(_connection_of, local_cloud, symbol)
        management = local_cloud.aws(
            "apigatewaymanagementapi",
            endpoint_url=str(local_cloud.outputs[outputs.WS_URL]).replace("ws://", "http://"),
        )
        await asyncio.to_thread(management.delete_connection, ConnectionId=connection)
        # THEN the subscription reconnects, subscribes again, and gets what is sent next
        await asyncio.wait_for(_reconnected(live), DEADLINE_S)
        await asyncio.wait_for(live.subscribed(), DEADLINE_S)
        await client.send(second)
        got = [await asyncio.wait_for(anext(live), DEADLINE_S) for _ in second]
        assert sorted(map(_key, got)) == sorted(map(_key, second))
