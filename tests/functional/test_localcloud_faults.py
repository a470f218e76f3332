"""Fault injection, spill and replay on the local cloud: no acknowledged tick is ever lost."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest

from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.cwmetrics import alarm, alarm_fired
from tests.functional.ticks import ingest, make_ticks, new_symbol, read_all

DRAIN_DEADLINE_S = 60.0


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


async def _wait_until(check: Any, what: str) -> None:
    """Poll `check()` until true, within DRAIN_DEADLINE_S."""
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)  # polling interval of a bounded wait, not synchronisation


async def _set_faults(http: aiohttp.ClientSession, cloud: CloudProcess, share: float) -> None:
    async with http.post(f"{cloud.admin_url}/faults", json={"throttle_writes": share}) as reply:
        assert reply.status == 200
        assert (await reply.json())["throttle_writes"]["share"] == share


async def test_every_acknowledged_tick_is_stored_under_write_faults(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    symbol = new_symbol()
    base = int(time.time() * 1000) - 600_000
    # Ticks 1 s apart within a batch, batches 7 ms apart: every timestamp distinct.
    batches = [make_ticks(symbol, 5, start_ms=base + n * 7) for n in range(120)]
    notified = (await alarm(http, local_cloud, "table-write-throttles"))["notifications"]
    try:
        # GIVEN 30% of DynamoDB writes fail
        await _set_faults(http, local_cloud, 0.3)
        # WHEN a burst of 100 requests comes in concurrently
        first = await asyncio.gather(*(ingest(http, local_cloud, b) for b in batches[:100]))
        # AND then every write fails for 20 more (so they must spill)
        await _set_faults(http, local_cloud, 1.0)
        second = await asyncio.gather(*(ingest(http, local_cloud, b) for b in batches[100:]))
    finally:
        await _set_faults(http, local_cloud, 0.0)
    results = list(zip(batches, [*first, *second], strict=True))
    assert {status for _, (status, _) in results} <= {200, 202, 503}
    assert sum(1 for _, (status, _) in results[100:] if status == 202) > 0, "nothing spilled"
    acked = [t for batch, (status, _) in results if status in (200, 202) for t in batch]
    # AND the table's write-throttle alarm fired (its notification went to the alarm topic)
    await alarm_fired(http, local_cloud, "table-write-throttles", notified)
    # THEN once the replay poller drained the spill queue ...
    sqs = local_cloud.aws("sqs")
    spill = local_cloud.outputs[outputs.SPILL_QUEUE_URL]
    await _wait_until(lambda: _depth(sqs, spill) == 0, "the spill queue to drain")
    # ... every acknowledged tick is stored exactly once, and nothing went to the DLQ
    stored = await read_all(http, local_cloud, symbol, limit=1000)
    key = lambda t: (t["timestamp"], t["price"])  # noqa: E731
    assert Counter(map(key, stored)) == Counter(map(key, acked))
    assert _depth(sqs, local_cloud.outputs[outputs.DLQ_URL]) == 0


# A poison message (DLQ after maxReceiveCount, alarm, good messages not blocked): see
# test_replay_poison.py.
