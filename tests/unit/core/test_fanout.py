"""GIVEN stream batches of tick blocks WHEN the fan-out consumer runs over moto SNS -> SQS
THEN each subscriber queue gets exactly its symbols' ticks, and failures are reported in order."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.core import aws
from handlers.core.blocks import Block, build_blocks
from handlers.core.encoding import EncodedTick
from handlers.core.fanout import FanoutService, messages
from handlers.core.models import Tick
from handlers.core.reading import Position, StoredTick
from handlers.core.streams import tick_json
from tests.unit.core.events import stream, stream_record

T0 = 1_764_000_000_000


def ticks(symbol: str, n: int, base: int = T0) -> list[Tick]:
    return [
        Tick(symbol=symbol, price=f"10.{i:02d}", timestamp=base + i, size="5", id=f"{symbol}{i}")
        for i in range(n)
    ]


def block(symbol: str, n: int = 3, base: int = T0) -> Block:
    (only,) = build_blocks(ticks(symbol, n, base))
    return only


@dataclass
class Topic:
    sns: Any
    sqs: Any
    arn: str
    queues: dict[str, str]
    handler: Any

    def received(self, name: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queues[name], MaxNumberOfMessages=10)
            batch = answer.get("Messages", [])
            if not batch:
                return bodies
            bodies += [json.loads(m["Body"]) for m in batch]
            for m in batch:
                self.sqs.delete_message(
                    QueueUrl=self.queues[name], ReceiptHandle=m["ReceiptHandle"]
                )


SUBSCRIBERS = {"equities": ["AAPL", "MSFT"], "crypto": ["BTC-USD"]}


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch, fake_aws_env: None) -> Iterator[Topic]:
    """GIVEN a topic with two raw-delivery SQS subscribers filtered by symbol."""
    with mock_aws():
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        arn = sns.create_topic(Name="ticks")["TopicArn"]
        queues = {}
        for name, symbols in SUBSCRIBERS.items():
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            sns.subscribe(
                TopicArn=arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={
                    "RawMessageDelivery": "true",
                    "FilterPolicy": json.dumps({"symbol": symbols}),
                },
            )
            queues[name] = url
        monkeypatch.setenv("MARKETSTREAM_TOPIC_ARN", arn)
        aws.sns.cache_clear()
        module = importlib.reload(importlib.import_module("handlers.fanout"))
        yield Topic(sns, sqs, arn, queues, module.handler)
        aws.sns.cache_clear()


def _ticks_of(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for body in bodies for t in body["ticks"]]


def test_each_subscriber_gets_exactly_its_symbols_ticks(topic: Topic) -> None:
    blocks = [block("AAPL"), block("BTC-USD", 2), block("MSFT", 4), block("TSLA", 5)]
    event = stream([stream_record(b.to_item(), i) for i, b in enumerate(blocks)])

    assert topic.handler(event, None) == {"batchItemFailures": []}

    equities = topic.received("equities")
    crypto = topic.received("crypto")
    assert sorted(b["symbol"] for b in equities) == ["AAPL", "MSFT"]
    assert [b["symbol"] for b in crypto] == ["BTC-USD"]
    expected = {b.symbol: [tick_json(b.symbol, t) for t in b.ticks()] for b in blocks}
    assert sorted(_ticks_of(equities), key=lambda t: (t["symbol"], t["timestamp"])) == (
        expected["AAPL"] + expected["MSFT"]
    )
    assert _ticks_of(crypto) == expected["BTC-USD"]
    first = next(b for b in equities if b["symbol"] == "AAPL")
    assert first == {
        "symbol": "AAPL",
        "block": blocks[0].sk,
        "offset": 0,
        "ticks": expected["AAPL"],
    }


def test_modify_of_a_rewritten_block_is_published_again_and_remove_is_not(topic: Topic) -> None:
    b = block("AAPL")
    event = stream(
        [
            stream_record(b.to_item(), 1),
            stream_record(b.to_item(), 2, event_name="MODIFY"),  # a retried ingest
            stream_record(None, 3, event_name="REMOVE"),  # TTL expiry
        ]
    )
    assert topic.handler(event, None) == {"batchItemFailures": []}
    got = topic.received("equities")
    # At least once: the duplicate carries the same (symbol, block, offset), so it can be dropped.
    assert len(got) == 2
    assert {(m["symbol"], m["block"], m["offset"]) for m in got} == {("AAPL", b.sk, 0)}


def test_more_than_ten_blocks_take_several_publish_batches(topic: Topic) -> None:
    blocks = [block("AAPL", 2, T0 + 10_000 * i) for i in range(23)]
    event = stream([stream_record(b.to_item(), i) for i, b in enumerate(blocks)])
    assert topic.handler(event, None) == {"batchItemFailures": []}
    assert sorted(m["block"] for m in topic.received("equities")) == sorted(b.sk for b in blocks)


def test_a_poison_record_is_reported_and_what_came_before_is_published(topic: Topic) -> None:
    good = block("AAPL")
    poison = block("MSFT").to_item()
    poison["b"] = {"B": b"\xff\x00not a block"}
    after = block("BTC-USD")
    event = stream(
        [
            stream_record(good.to_item(), 1),
            stream_record(poison, 2),
            stream_record(after.to_item(), 3),
        ]
    )
    assert topic.handler(event, None) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]
    }
    assert [m["symbol"] for m in topic.received("equities")] == ["AAPL"]
    # The record after the poison comes again in Lambda's retry: not published now (no duplicate).
    assert topic.received("crypto") == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda item: item.pop("b"),
        lambda item: item.update(t1={"N": "x"}),
        lambda item: item.update(b={"B": "not base64!"}),
    ],
)
def test_malformed_images_are_poison(topic: Topic, mangle: Any) -> None:
    record = stream_record(block("AAPL").to_item(), 7)
    mangle(record["dynamodb"]["NewImage"])
    assert topic.handler(stream([record]), None) == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    }


class _FailingSns:
    """An SNS client whose PublishBatch refuses the entries with the given ids."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.calls: list[list[dict[str, Any]]] = []

    def publish_batch(self, **kw: Any) -> dict[str, Any]:
        entries = kw["PublishBatchRequestEntries"]
        self.calls.append(entries)
        return {
            "Successful": [{"Id": e["Id"]} for e in entries if e["Id"] not in self.refuse],
            "Failed": [
                {"Id": e["Id"], "Code": "Throttled", "SenderFault": False}
                for e in entries
                if e["Id"] in self.refuse
            ],
        }


def test_the_first_refused_message_names_the_checkpoint_and_later_batches_wait() -> None:
    client = _FailingSns({"3", "6"})
    service = FanoutService(lambda: client, "arn:aws:sns:us-east-1:123456789012:t")  # type: ignore[arg-type, return-value]
    blocks = [block("AAPL", 1, T0 + 10_000 * i) for i in range(15)]
    event = stream([stream_record(b.to_item(), 100 + i) for i, b in enumerate(blocks)])
    answer = service.handle(event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{103:030d}"}]}
    assert len(client.calls) == 1, "no batch after a failed one: Lambda retries from record 3"
    first = client.calls[0][0]
    assert first["MessageAttributes"] == {"symbol": {"DataType": "String", "StringValue": "AAPL"}}


def test_a_failed_publish_call_reports_its_first_record() -> None:
    from botocore.exceptions import ClientError

    class Down:
        def publish_batch(self, **kw: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "PublishBatch")

    service = FanoutService(lambda: Down(), "arn:aws:sns:us-east-1:123456789012:t")  # type: ignore[arg-type, return-value]
    event = stream([stream_record(block("AAPL").to_item(), 5)])
    assert service.handle(event) == {"batchItemFailures": [{"itemIdentifier": f"{5:030d}"}]}


def test_a_large_block_is_split_under_the_sns_limit() -> None:
    many = [EncodedTick(T0 + i, "123.456789", "1000", f"id-{i:08d}") for i in range(6_000)]
    parts = list(messages("AAPL", "sk", many))
    assert len(parts) > 1
    assert all(len(body.encode()) <= 256 * 1024 for body, _ in parts)
    decoded = [json.loads(body) for body, _ in parts]
    assert [d["offset"] for d in decoded] == [
        0,
        *[sum(c for _, c in parts[:i]) for i in range(1, len(parts))],
    ]
    assert [t["id"] for d in decoded for t in d["ticks"]] == [t.id for t in many]


def test_tick_json_matches_the_query_api_shape() -> None:
    for tick in (EncodedTick(T0, "1.50"), EncodedTick(T0, "2", "10", "x")):
        stored = StoredTick(
            "AAPL", tick.timestamp, tick.price, tick.size, tick.id, Position(0, "", 0)
        )
        assert tick_json("AAPL", tick) == stored.as_json()
