"""Issue 7 (d): a spill message the replay function fails every time.

It must reach the dead-letter queue after `maxReceiveCount` receives and raise the DLQ-depth
alarm (on `/_localcloud/alarms`, in moto's CloudWatch, and as a notification on the alarm
topic), without holding up the good messages around it: replay reports only the poison in its
partial batch response, so good messages in the same batch and after it are stored while the
poison is still being retried. Afterwards every acknowledged tick is stored exactly once.

The poisons are malformed spill bodies, because that is what fails *every* time: a body of a
newer version (`"v": 2`, a producer deployed ahead of the replay function) and a truncated one
(a producer bug, or anything else writing to the queue). A well-formed message the table
refuses is not a poison to replay: replay cannot tell one refused message from a table that
is down, so it fails the rest of the batch untried and holds it back (the outage design in
`handlers.core.replay`), and retries succeed once the table accepts writes again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from handlers.core.blocks import build_blocks
from handlers.core.models import Tick
from handlers.core.spill import encode_messages
from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional import cwmetrics
from tests.functional.ticks import ingest, make_ticks, new_symbol, read_all

WAIT_S = 30.0
"""Bound of every wait; the poison needs two visibility timeouts (2 x 6 s) to reach the DLQ."""
T = TypeVar("T")


async def _until(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `check()` until it returns something true, within WAIT_S; that value."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_S:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)  # polling interval of a bounded wait, not synchronisation


def _depth(sqs: Any, url: str) -> int:
    """Messages in the queue: waiting, in flight and delayed."""
    names = [
        "ApproximateNumberOf" + s for s in ("Messages", "MessagesNotVisible", "MessagesDelayed")
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def _spill_bodies(ticks: list[dict[str, Any]]) -> list[str]:
    """What ingest spills for a request of these ticks (same blocks, same encoding)."""
    blocks = build_blocks(
        [Tick.model_validate(t) for t in ticks], expires_at=int(time.time()) + 86_400
    )
    return list(encode_messages(blocks))


def _poisons(ticks: list[dict[str, Any]]) -> list[str]:
    """Two bodies replay can never decode: a newer version, and a cut-short v1 message."""
    [body] = _spill_bodies(ticks)
    newer = json.loads(body) | {"v": 2}
    return [json.dumps(newer), body[: len(body) // 2]]


@dataclasses.dataclass
class Admin:
    """The local cloud's admin endpoints."""

    http: aiohttp.ClientSession
    cloud: CloudProcess

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.cloud.admin_url}/{path}") as reply:
            assert reply.status == 200, await reply.text()
            return await reply.json()

    async def fail_writes(self, share: float) -> None:
        body = {"fail_writes": share}
        async with self.http.post(f"{self.cloud.admin_url}/faults", json=body) as reply:
            assert reply.status == 200, await reply.text()

    async def alarm(self, queue_name: str) -> dict[str, Any]:
        """The alarm on the depth of queue `queue_name`, as the program declared it."""
        alarms = (await self.get("alarms"))["alarms"]
        [alarm] = [
            a
            for a in alarms
            if a["metric"]["namespace"] == "AWS/SQS"
            and a["metric"]["name"] == "ApproximateNumberOfMessagesVisible"
            and a["metric"]["dimensions"] == {"QueueName": queue_name}
        ]
        return dict(alarm)

    async def spill_poller(self, spill_arn: str) -> dict[str, Any]:
        [stats] = [p for p in (await self.get("health"))["pollers"] if p["source"] == spill_arn]
        return dict(stats)


@dataclasses.dataclass
class Inbox:
    """An SQS queue subscribed to the alarm topic: the notifications an operator would get."""

    sqs: Any
    url: str
    received: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def collect(self) -> list[dict[str, Any]]:
        """Every alarm notification delivered so far."""
        answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            self.received.append(json.loads(json.loads(message["Body"])["Message"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.received

    async def change(self, alarm: str, new: str, since: int) -> dict[str, Any] | None:
        """The first notification of `alarm` going to `new` from the `since`-th on, if any."""
        received = await asyncio.to_thread(self.collect)
        return next(
            (n for n in received[since:] if n["AlarmName"] == alarm and n["NewStateValue"] == new),
            None,
        )


async def test_a_poison_spill_message_goes_to_the_dlq_and_alarms_without_blocking_replay(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    cloud, admin = local_cloud, Admin(http, local_cloud)
    sqs, sns, cloudwatch = (cloud.aws(s) for s in ("sqs", "sns", "cloudwatch"))
    spill, dlq = cloud.outputs[outputs.SPILL_QUEUE_URL], cloud.outputs[outputs.DLQ_URL]
    spill_attributes = sqs.get_queue_attributes(
        QueueUrl=spill, AttributeNames=["QueueArn", "RedrivePolicy"]
    )["Attributes"]
    max_receives = int(json.loads(spill_attributes["RedrivePolicy"])["maxReceiveCount"])
    alarm = await admin.alarm(dlq.rsplit("/", 1)[1])
    name, topic = alarm["name"], alarm["actions"]["ALARM"][0]
    assert topic in alarm["actions"]["OK"]
    # An operator's subscription to the alarm topic.
    inbox_url = sqs.create_queue(QueueName=f"alarm-inbox-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])
    subscription = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=inbox_arn["Attributes"]["QueueArn"],
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    inbox = Inbox(sqs, inbox_url)

    async def alarm_state(state: str) -> dict[str, Any] | None:
        current = await admin.alarm(dlq.rsplit("/", 1)[1])
        return current if current["state"] == state else None

    symbol = new_symbol()
    base = int(time.time() * 1000) - 600_000
    # Distinct timestamps across every wave: (timestamp, price) identifies a tick.
    same_batch = [make_ticks(symbol, 10, start_ms=base + n * 20_000) for n in range(3)]
    after = [make_ticks(symbol, 10, start_ms=base + 60_000 + n * 20_000) for n in range(3)]
    spilled = [make_ticks(symbol, 5, start_ms=base + 200_000 + n * 7) for n in range(6)]
    poisons = _poisons(make_ticks(symbol, 3, start_ms=base + 300_000))
    key = lambda t: (t["timestamp"], t["price"])  # noqa: E731

    async def stored_exactly(ticks: list[dict[str, Any]]) -> bool:
        stored = await read_all(http, cloud, symbol, limit=1000)
        return Counter(map(key, stored)) == Counter(map(key, ticks))

    try:
        # GIVEN an empty DLQ with its alarm OK (an earlier test may have left messages there)
        if _depth(sqs, dlq):
            sqs.purge_queue(QueueUrl=dlq)
        await _until(lambda: alarm_state("OK"), "the DLQ alarm to be OK")
        # Notifications of earlier changes were published before the state showed OK.
        since = len(await asyncio.to_thread(inbox.collect))
        failures_notified = (await cwmetrics.alarm(http, cloud, "replay-failures"))["notifications"]
        before = await admin.spill_poller(spill_attributes["QueueArn"])

        # WHEN both poisons go on the spill queue in one batch with good spilled messages
        bodies = [b for ticks in same_batch for b in _spill_bodies(ticks)]
        entries = [bodies[0], poisons[0], bodies[1], poisons[1], bodies[2]]
        sent = sqs.send_message_batch(
            QueueUrl=spill,
            Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(entries)],
        )
        assert len(sent["Successful"]) == len(entries)
        # THEN the good ones are stored while the poisons are being failed, not yet in the DLQ
        good = [t for ticks in same_batch for t in ticks]
        await _until(lambda: stored_exactly(good), "the good messages of the poison's batch")
        assert _depth(sqs, dlq) == 0

        # WHEN good messages keep coming after the poisons failed once
        async def failed_once() -> bool:
            stats = await admin.spill_poller(spill_attributes["QueueArn"])
            return bool(stats["failed"] - before["failed"] >= len(poisons))

        await _until(failed_once, "replay to report both poisons as failed")
        # (and the replay-failures alarm fired: the handler's EMF metric, as CloudWatch reads it)
        await cwmetrics.alarm_fired(http, cloud, "replay-failures", failures_notified)
        for body in (b for ticks in after for b in _spill_bodies(ticks)):
            sqs.send_message(QueueUrl=spill, MessageBody=body)
        # THEN they are stored too, while the poisons are still on the spill queue
        good += [t for ticks in after for t in ticks]
        await _until(lambda: stored_exactly(good), "good messages sent after the poison")
        assert _depth(sqs, dlq) == 0
        assert _depth(sqs, spill) >= len(poisons)

        # WHEN ingest spills acknowledged ticks meanwhile (every table write fails for a moment)
        await admin.fail_writes(1.0)
        try:
            answers = await asyncio.gather(*(ingest(http, cloud, ticks) for ticks in spilled))
        finally:
            await admin.fail_writes(0.0)
        assert [status for status, _ in answers] == [202] * len(spilled), answers
        acknowledged = good + [t for ticks in spilled for t in ticks]

        # THEN after maxReceiveCount receives both poisons are in the DLQ, and nothing else is
        await _until(
            lambda: asyncio.to_thread(lambda: _depth(sqs, dlq) == len(poisons)), "both poisons"
        )
        # AND the DLQ-depth alarm fires: on the admin endpoint, in CloudWatch, on the topic
        fired = await _until(lambda: alarm_state("ALARM"), "the DLQ alarm to fire")
        assert fired["reason"].startswith("Threshold Crossed: 1 out of the last")
        described = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        assert [a["StateValue"] for a in described] == ["ALARM"]
        notification = await _until(
            lambda: inbox.change(name, "ALARM", since), "the ALARM notification"
        )
        assert notification["OldStateValue"] == "OK"
        assert notification["AlarmArn"] == fired["arn"]
        assert notification["Trigger"]["Dimensions"] == [
            {"name": "QueueName", "value": dlq.rsplit("/", 1)[1]}
        ]
        # AND the DLQ holds exactly the poisons. (Only now: a message received from the DLQ is
        # invisible, and the alarm's metric counts visible messages, as on AWS.)
        dead = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30
        )["Messages"]
        assert sorted(m["Body"] for m in dead) == sorted(poisons)
        # (this receive counts too: the count carries over from the spill queue)
        assert all(int(m["Attributes"]["ApproximateReceiveCount"]) > max_receives for m in dead)

        # AND once replay drained the spill queue, every acknowledged tick is stored once
        await _until(lambda: asyncio.to_thread(lambda: _depth(sqs, spill) == 0), "replay")
        assert await stored_exactly(acknowledged)

        # WHEN the operator deletes the poisons (the runbook: inspect, then delete garbage)
        for message in dead:
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        # THEN the alarm clears and says so on the topic
        await _until(lambda: alarm_state("OK"), "the DLQ alarm to clear")
        since = inbox.received.index(notification) + 1
        await _until(lambda: inbox.change(name, "OK", since), "the OK notification")
    finally:
        await admin.fail_writes(0.0)
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=inbox_url)
