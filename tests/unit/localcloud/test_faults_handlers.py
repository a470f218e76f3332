"""GIVEN the handlers over moto with the local cloud's fault injector WHEN DynamoDB is
unreachable or the ingest function crashes mid-write THEN clients get 503/202 (never a 500 for an
outage), the replay holds refused messages back, and a retried crash stores every tick once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest

from handlers.core import aws
from handlers.core.blocks import Block
from handlers.core.errors import StoreUnavailable
from handlers.core.replay import MAX_HOLD_S, ReplayService, VisibilityBackoff
from handlers.core.store import WriteReport
from localcloud.faults import UNAVAILABLE, FaultInjector, InjectedCrash, parse_settings
from tests.unit.core.conftest import Cloud, body_of, cloud  # noqa: F401 - a fixture
from tests.unit.core.events import http_v2, rest_v1, sqs

INGEST = "ingest-fn"
NOW = time.time_ns() // 1_000_000


def ticks(n: int, symbol: str = "AAPL") -> list[dict[str, Any]]:
    base = NOW - 10_000
    return [
        {"symbol": symbol, "price": f"10.{i:02d}", "timestamp": base + i, "id": f"{symbol}-{i}"}
        for i in range(n)
    ]


@pytest.fixture
def faults(cloud: Cloud) -> Iterator[FaultInjector]:  # noqa: F811 - the imported fixture
    """The injector on a fresh default session, so only the handlers' clients are hooked."""
    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = boto3.session.Session()
    for cached in (aws.dynamodb, aws.sqs):
        cached.cache_clear()
    injector = FaultInjector(seed=3)
    injector.install(boto3.DEFAULT_SESSION._session)
    try:
        yield injector
    finally:
        boto3.DEFAULT_SESSION = saved
        for cached in (aws.dynamodb, aws.sqs):
            cached.cache_clear()


def set_faults(faults: FaultInjector, document: dict[str, Any]) -> None:
    faults.apply(parse_settings(document, functions={INGEST}))


def ingest(cloud: Cloud, body: Any, key: str | None = None) -> tuple[int, Any]:  # noqa: F811
    headers = {"idempotency-key": key} if key else None
    response = cloud.ingest.handler(http_v2(body, headers=headers), None)
    return response["statusCode"], body_of(response)


def query(cloud: Cloud, resource: str, **params: str) -> tuple[int, Any]:  # noqa: F811
    response = cloud.query.handler(rest_v1(resource, params), None)
    return response["statusCode"], body_of(response)


def test_reads_answer_503_json_while_dynamodb_is_unreachable(
    cloud: Cloud,  # noqa: F811
    faults: FaultInjector,
) -> None:
    assert ingest(cloud, {"ticks": ticks(3)})[0] == 200
    set_faults(faults, {"unavailable": 1})
    for resource, params in (
        ("/query", {"symbol": "AAPL"}),
        ("/latest", {"symbol": "AAPL"}),
        ("/bars", {"symbol": "AAPL", "interval": "1s", "from": str(NOW - 20_000)}),
    ):
        status, answer = query(cloud, resource, **params)
        assert status == 503, (resource, answer)
        assert answer["error"] == "unavailable"
        assert "EndpointConnectionError" in answer["message"]
        assert answer["details"] == []
    assert faults.snapshot()[UNAVAILABLE]["injected"] > 0
    set_faults(faults, {"unavailable": 0})
    status, page = query(cloud, "/query", symbol="AAPL")
    assert (status, len(page["ticks"])) == (200, 3)


def test_ingest_spills_to_the_queue_while_dynamodb_is_unreachable(
    cloud: Cloud,  # noqa: F811
    faults: FaultInjector,
) -> None:
    set_faults(faults, {"unavailable": 1})
    status, answer = ingest(cloud, {"ticks": ticks(4) + ticks(2, "MSFT")})
    assert (status, answer) == (202, {"accepted": 6, "queued": 6})
    assert cloud.stored_items() == []
    assert len(cloud.queued_bodies()) == 1


def spill_records(cloud: Cloud, bodies: Sequence[str], receives: int) -> list[dict[str, Any]]:  # noqa: F811
    """The messages as the event source delivers them: real receipt handles and queue ARN."""
    for body in bodies:
        cloud.sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=body)
    arn = cloud.sqs.get_queue_attributes(QueueUrl=cloud.queue_url, AttributeNames=["QueueArn"])
    messages = cloud.sqs.receive_message(QueueUrl=cloud.queue_url, MaxNumberOfMessages=10)
    assert len(messages["Messages"]) == len(bodies)
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": str(receives)},
            "eventSource": "aws:sqs",
            "eventSourceARN": arn["Attributes"]["QueueArn"],
        }
        for m in messages["Messages"]
    ]


def test_replay_under_an_outage_fails_the_batch_and_holds_it_back(
    cloud: Cloud,  # noqa: F811
    faults: FaultInjector,
) -> None:
    # GIVEN spilled messages, and a queue that would hand them out again at once
    set_faults(faults, {"unavailable": 1})
    for n in range(3):
        assert ingest(cloud, {"ticks": ticks(2, f"S{n}")}, key=f"k{n}")[0] == 202
    bodies = cloud.queued_bodies()
    cloud.sqs.purge_queue(QueueUrl=cloud.queue_url)
    cloud.sqs.set_queue_attributes(QueueUrl=cloud.queue_url, Attributes={"VisibilityTimeout": "0"})
    # (what one message costs: the writer's attempts, each retried by botocore)
    before = faults.snapshot()[UNAVAILABLE]["injected"]
    cloud.replay.handler({"Records": spill_records(cloud, bodies[:1], receives=12)}, None)
    per_message = faults.snapshot()[UNAVAILABLE]["injected"] - before
    records = spill_records(cloud, bodies, receives=12)
    before = faults.snapshot()[UNAVAILABLE]["injected"]
    # WHEN the replay gets a batch of three while DynamoDB is still unreachable
    result = cloud.replay.handler({"Records": records}, None)
    # THEN every message is reported failed, but only the first was tried ...
    assert result == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    assert faults.snapshot()[UNAVAILABLE]["injected"] - before == per_message > 0
    # ... and all of them stay hidden (without the hold, visibility 0 would show them again)
    answer = cloud.sqs.receive_message(QueueUrl=cloud.queue_url, MaxNumberOfMessages=10)
    assert answer.get("Messages", []) == []


def test_a_crash_mid_write_then_a_retry_with_the_same_key_stores_every_tick_once(
    cloud: Cloud,  # noqa: F811
    faults: FaultInjector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", INGEST)
    body = {"ticks": ticks(2, "AAA") + ticks(2, "BBB") + ticks(2, "CCC")}
    set_faults(faults, {"crash": {"function": INGEST, "share": 1}})
    with pytest.raises(InjectedCrash, match="2 of 3"):
        ingest(cloud, body, key="order-1")
    assert len(cloud.stored_items()) == 2  # two of the three blocks landed
    set_faults(faults, {"crash": None})
    assert ingest(cloud, body, key="order-1") == (200, {"accepted": 6})
    assert len(cloud.stored_items()) == 3
    for symbol in ("AAA", "BBB", "CCC"):
        _, page = query(cloud, "/query", symbol=symbol)
        assert [t["id"] for t in page["ticks"]] == [f"{symbol}-0", f"{symbol}-1"]


# -- the replay's outage logic, with stand-ins -------------------------------------------------


class RefusingWriter:
    """Refuses every write, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, blocks: list[Block]) -> WriteReport:
        self.calls += 1
        raise StoreUnavailable(blocks, "EndpointConnectionError", retries=5)


class Holder:
    def __init__(self, fail: bool = False) -> None:
        self.held: list[str] = []
        self.fail = fail

    def hold(self, records: Sequence[dict[str, Any]]) -> None:
        if self.fail:
            raise RuntimeError("SQS is down too")
        self.held.extend(str(r["messageId"]) for r in records)


def test_replay_stops_at_the_first_refusal_and_holds_only_what_the_table_refused() -> None:
    writer, holder = RefusingWriter(), Holder()
    service = ReplayService(lambda: writer, holder=lambda: holder)
    good = json.dumps({"v": 1, "blocks": []})
    event = sqs(["not a spill message", good, good, good])
    result = service.handle(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in range(4)]}
    assert writer.calls == 1
    assert holder.held == ["m1", "m2", "m3"]  # the malformed one goes to the DLQ as before


def test_replay_answers_even_if_holding_back_fails() -> None:
    service = ReplayService(RefusingWriter, holder=lambda: Holder(fail=True))
    result = service.handle(sqs([json.dumps({"v": 1, "blocks": []})]))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


class FakeSqs:
    """The two SQS calls VisibilityBackoff makes."""

    class meta:
        endpoint_url = "https://sqs.us-east-1.amazonaws.com"

    def __init__(self) -> None:
        self.changes: list[tuple[str, list[Any]]] = []
        self.lookups = 0

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> Any:
        self.lookups += 1
        return {"Attributes": {"VisibilityTimeout": "180"}}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[Any]) -> Any:
        self.changes.append((QueueUrl, Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_the_hold_doubles_per_receive_from_the_queues_visibility_up_to_a_cap() -> None:
    client = FakeSqs()
    backoff = VisibilityBackoff(client)  # type: ignore[arg-type]
    assert [backoff.hold_s(180, n) for n in range(1, 9)] == [
        180,
        360,
        720,
        1440,
        2880,
        MAX_HOLD_S,
        MAX_HOLD_S,
        MAX_HOLD_S,
    ]
    records = sqs([f"b{i}" for i in range(12)])["Records"]
    for i, record in enumerate(records):
        record["attributes"]["ApproximateReceiveCount"] = str(1 + i % 3)
    backoff.hold(records)
    backoff.hold(records[:1])
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/spill"
    assert [(u, len(e)) for u, e in client.changes] == [(url, 10), (url, 2), (url, 1)]
    assert [e["VisibilityTimeout"] for e in client.changes[0][1][:3]] == [180, 360, 720]
    assert client.lookups == 1  # the queue's visibility is read once per container


def test_a_record_without_a_queue_arn_cannot_be_held() -> None:
    backoff = VisibilityBackoff(FakeSqs())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        backoff.hold([{"messageId": "m", "receiptHandle": "r", "eventSourceARN": "x"}])
