"""Every alarm the program declares, driven to ALARM and back to OK on the local cloud.

Each test injects the fault the alarm is there for (`localcloud.faults`), waits for the alarm's
state on `/_localcloud/alarms` to be ALARM, removes the fault and waits for OK: a count alarm
clears after its evaluation periods pass without a bad datapoint, a depth alarm once its queue
is empty. The 18 keys are the program's (`infra/observability.py`, docs/operations.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.cwmetrics import alarm, flush, total, until
from tests.functional.ticks import api_key, ingest, make_ticks, new_symbol

ALARM_KEYS = (
    "ingest-5xx",
    "query-5xx",
    *(
        f"{role}-errors"
        for role in ("authorizer", "broadcast", "fanout", "ingest", "query", "replay", "ws")
    ),
    "dlq-depth",
    "table-write-throttles",
    "table-read-throttles",
    "ingest-p95-duration",
    "replay-failures",
    "rollup-failures",
    "broadcast-iterator-age",
    "fanout-iterator-age",
    "fanout-failures-depth",
)


class Alarms:
    """The alarms' states on the admin endpoint, and the faults that drive them."""

    def __init__(self, http: aiohttp.ClientSession, cloud: CloudProcess) -> None:
        self.http = http
        self.cloud = cloud

    async def state(self, key: str) -> str:
        return str((await alarm(self.http, self.cloud, key))["state"])

    async def reach(self, state: str, *keys: str) -> None:
        """Wait until every alarm of `keys` is in `state`."""

        async def check() -> bool | None:
            states = [await self.state(key) for key in keys]
            return True if all(s == state for s in states) else None

        await until(check, f"{', '.join(keys)} to be {state}")

    async def function(self, role: str) -> str:
        """The physical name of the function with this role (its Errors alarm's dimension)."""
        found = await alarm(self.http, self.cloud, f"{role}-errors")
        return str(found["metric"]["dimensions"]["FunctionName"])

    @asynccontextmanager
    async def faults(self, **settings: Any) -> AsyncIterator[None]:
        """These fault modes on for the block, then off."""
        await self._set(settings)
        try:
            yield
        finally:
            off = {k: (None if isinstance(v, dict) else 0.0) for k, v in settings.items()}
            await self._set(off)

    async def _set(self, settings: dict[str, Any]) -> None:
        async with self.http.post(f"{self.cloud.admin_url}/faults", json=settings) as reply:
            assert reply.status == 200, await reply.text()


@pytest.fixture
def alarms(local_cloud: CloudProcess, http: aiohttp.ClientSession) -> Alarms:
    return Alarms(http, local_cloud)


def _ticks(count: int = 2) -> list[dict[str, Any]]:
    return make_ticks(new_symbol(), count, start_ms=int(time.time() * 1000) - 60_000)


def _empty(sqs: Any, url: str) -> None:
    """Receive and delete every visible message (PurgeQueue allows one call a minute)."""
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


async def _settle_spill(alarms: Alarms) -> None:
    """Wait for the replay to drain the spill queue, then empty the DLQ of what an outage sent
    there (the next tests expect both empty)."""
    sqs = alarms.cloud.aws("sqs")
    spill = alarms.cloud.outputs[outputs.SPILL_QUEUE_URL]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    async def drained() -> bool | None:
        answer = await asyncio.to_thread(
            sqs.get_queue_attributes, QueueUrl=spill, AttributeNames=names
        )
        return True if sum(int(v) for v in answer["Attributes"].values()) == 0 else None

    await until(drained, "the spill queue to drain")
    await asyncio.to_thread(_empty, sqs, alarms.cloud.outputs[outputs.DLQ_URL])


async def _query(http: aiohttp.ClientSession, cloud: CloudProcess) -> int:
    params = {"symbol": new_symbol(), "limit": "10"}
    url = f"{cloud.outputs[outputs.QUERY_BASE_URL]}/query"
    async with http.get(url, params=params, headers=api_key(cloud)) as reply:
        return reply.status


async def test_every_declared_alarm_is_evaluated(alarms: Alarms) -> None:
    async with alarms.http.get(f"{alarms.cloud.admin_url}/alarms") as reply:
        declared = (await reply.json())["alarms"]
    assert sorted(a["name"].split("-", 2)[2] for a in declared) == sorted(ALARM_KEYS)
    assert [a["name"] for a in declared if not a["evaluated"]] == []
    assert all(not a["reason"].startswith("Not evaluated") for a in declared)


async def test_a_crashing_ingest_trips_its_errors_and_the_api_s_5xx(alarms: Alarms) -> None:
    await alarms.reach("OK", "ingest-5xx", "ingest-errors")
    ingest_fn = await alarms.function("ingest")
    # GIVEN the ingest function crashing mid-write
    async with alarms.faults(crash={"function": ingest_fn, "share": 1.0}):
        statuses = [(await ingest(alarms.http, alarms.cloud, _ticks()))[0] for _ in range(3)]
        assert set(statuses) == {500}
        # THEN the API's 5xx and the function's Errors alarm
        await alarms.reach("ALARM", "ingest-5xx", "ingest-errors")
    # AND both clear once requests succeed again
    assert (await ingest(alarms.http, alarms.cloud, _ticks()))[0] == 200
    await alarms.reach("OK", "ingest-5xx", "ingest-errors")


async def test_a_dying_query_function_trips_its_errors_and_the_rest_api_s_5xx(
    alarms: Alarms,
) -> None:
    await alarms.reach("OK", "query-5xx", "query-errors")
    query_fn = await alarms.function("query")
    async with alarms.faults(fail_invocations={"function": query_fn, "share": 1.0}):
        assert await _query(alarms.http, alarms.cloud) == 502
        await alarms.reach("ALARM", "query-5xx", "query-errors")
    assert await _query(alarms.http, alarms.cloud) == 200
    await alarms.reach("OK", "query-5xx", "query-errors")


async def test_throttled_reads_trip_the_read_throttle_and_rollup_alarms(alarms: Alarms) -> None:
    keys = ("table-read-throttles", "query-5xx", "rollup-failures")
    await alarms.reach("OK", *keys)
    async with alarms.faults(throttle_reads=1.0):
        assert await _query(alarms.http, alarms.cloud) == 503
        # ... and the fan-out consumer cannot read a new tick's minute back to roll it up
        assert (await ingest(alarms.http, alarms.cloud, _ticks()))[0] == 200
        await alarms.reach("ALARM", *keys)
    await alarms.reach("OK", *keys)


async def test_a_dying_authorizer_trips_its_errors(alarms: Alarms) -> None:
    await alarms.reach("OK", "authorizer-errors")
    authorizer = await alarms.function("authorizer")
    async with alarms.faults(fail_invocations={"function": authorizer, "share": 1.0}):
        # A token the authorizer has not answered for yet: not in the gateway's cache.
        headers = {"Authorization": f"Bearer {uuid.uuid4().hex}"}
        url = alarms.cloud.outputs[outputs.INGEST_URL]
        async with alarms.http.post(url, json={"ticks": []}, headers=headers) as reply:
            assert reply.status == 500
        await alarms.reach("ALARM", "authorizer-errors")
    await alarms.reach("OK", "authorizer-errors")


async def test_a_dying_websocket_connect_handler_trips_its_errors(alarms: Alarms) -> None:
    await alarms.reach("OK", "ws-errors")
    ws = await alarms.function("ws")
    params = {"token": alarms.cloud.outputs[outputs.INGEST_TOKEN]}
    async with alarms.faults(fail_invocations={"function": ws, "share": 1.0}):
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await alarms.http.ws_connect(alarms.cloud.outputs[outputs.WS_URL], params=params)
        await alarms.reach("ALARM", "ws-errors")
    await alarms.reach("OK", "ws-errors")


async def test_slow_ingest_trips_the_p95_duration_alarm(alarms: Alarms) -> None:
    await alarms.reach("OK", "ingest-p95-duration")
    stop = asyncio.Event()

    async def keep_ingesting() -> None:
        while not stop.is_set():
            await ingest(alarms.http, alarms.cloud, _ticks())

    # GIVEN DynamoDB unreachable: every ingest retries its writes for about a second, then spills
    async with alarms.faults(unavailable=1.0):
        senders = [asyncio.create_task(keep_ingesting()) for _ in range(4)]
        try:
            # THEN its p95 is above the SLO in every period of the window
            await alarms.reach("ALARM", "ingest-p95-duration")
        finally:
            stop.set()
            await asyncio.gather(*senders)
    await alarms.reach("OK", "ingest-p95-duration")
    await _settle_spill(alarms)


async def test_spilled_ticks_the_replay_cannot_store_trip_throttles_failures_errors_and_dlq(
    alarms: Alarms,
) -> None:
    sqs = alarms.cloud.aws("sqs")
    dlq = alarms.cloud.outputs[outputs.DLQ_URL]
    await asyncio.to_thread(_empty, sqs, dlq)
    keys = ("table-write-throttles", "replay-failures", "replay-errors", "dlq-depth")
    await alarms.reach("OK", *keys)
    replay = await alarms.function("replay")
    # GIVEN every write throttled: ingest retries, then spills (202)
    async with alarms.faults(throttle_writes=1.0):
        status, _ = await ingest(alarms.http, alarms.cloud, _ticks())
        assert status == 202
        # THEN write throttles alarm, and the replay function cannot store what it drains
        await alarms.reach("ALARM", "table-write-throttles", "replay-failures")
        # AND when the replay function dies too, its Errors alarm, then (maxReceiveCount
        # receives later) the DLQ's
        async with alarms.faults(fail_invocations={"function": replay, "share": 1.0}):
            await alarms.reach("ALARM", "replay-errors")
            await alarms.reach("ALARM", "dlq-depth")
    # AND everything clears once the faults are gone and the DLQ is handled
    await _settle_spill(alarms)
    await alarms.reach("OK", *keys)


@pytest.mark.parametrize(
    ("role", "extra"), [("fanout", ("fanout-failures-depth",)), ("broadcast", ())]
)
async def test_a_stalled_stream_consumer_trips_its_iterator_age(
    alarms: Alarms, role: str, extra: tuple[str, ...]
) -> None:
    keys = (f"{role}-iterator-age", f"{role}-errors", *extra)
    sqs = alarms.cloud.aws("sqs")
    failures = None
    if extra:
        depth = await alarm(alarms.http, alarms.cloud, "fanout-failures-depth")
        name = depth["metric"]["dimensions"]["QueueName"]
        failures = (await asyncio.to_thread(sqs.get_queue_url, QueueName=name))["QueueUrl"]
    if failures:
        await asyncio.to_thread(_empty, sqs, failures)
    await alarms.reach("OK", *keys)
    consumer = await alarms.function(role)
    age_alarm = await alarm(alarms.http, alarms.cloud, f"{role}-iterator-age")
    # GIVEN the consumer failing every batch (Lambda retries it: the stream stalls)
    async with alarms.faults(fail_invocations={"function": consumer, "share": 1.0}):
        assert (await ingest(alarms.http, alarms.cloud, _ticks()))[0] == 200
        # THEN its Errors, and IteratorAge rising past the threshold
        await alarms.reach("ALARM", *keys)
    # (and the local CloudWatch has the ages that tripped it)
    await flush(alarms.http, alarms.cloud)
    dimensions = age_alarm["metric"]["dimensions"]
    oldest = await asyncio.to_thread(
        total, alarms.cloud, "AWS/Lambda", "IteratorAge", dimensions, "Maximum"
    )
    assert oldest > float(age_alarm["threshold"])
    if failures:
        await asyncio.to_thread(_empty, sqs, failures)
    # AND once it works again, the next batch is young and the alarms clear
    assert (await ingest(alarms.http, alarms.cloud, _ticks()))[0] == 200
    await alarms.reach("OK", *keys)
