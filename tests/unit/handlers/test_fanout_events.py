"""GIVEN DynamoDB stream batches mixing tick blocks, REMOVEs and poison records
WHEN the fan-out consumer runs THEN it never raises, reports the first poison record (Lambda
checkpoints there), publishes every block before it, and under Lambda's checkpoint-and-retry
every block of the batch is eventually published while the poison never is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from handlers.core.fanout import FanoutService
from handlers.core.streams import tick_json
from tests.unit.handlers.conftest import FUZZ
from tests.unit.handlers.streams import StreamRecord, any_records, batches

TOPIC = "arn:aws:sns:us-east-1:123456789012:ticks"


class RecordingSns:
    """An SNS client whose PublishBatch accepts everything and remembers it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []

    def publish_batch(self, **kw: Any) -> dict[str, Any]:
        assert kw["TopicArn"] == TOPIC
        entries = kw["PublishBatchRequestEntries"]
        for entry in entries:
            attribute = entry["MessageAttributes"]["symbol"]["StringValue"]
            self.messages.append((attribute, json.loads(entry["Message"])))
        return {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}

    def published(self) -> list[tuple[str, str, list[Any]]]:
        """(symbol, block, ticks) per message, in publish order (no block here is split)."""
        out = []
        for attribute, body in self.messages:
            assert attribute == body["symbol"] and body["offset"] == 0
            out.append((body["symbol"], body["block"], body["ticks"]))
        return out


def fan_out(records: list[StreamRecord]) -> tuple[dict[str, Any], RecordingSns]:
    sns = RecordingSns()
    service = FanoutService(lambda: sns, TOPIC)  # type: ignore[arg-type, return-value]
    return service.handle({"Records": [r.raw for r in records]}), sns


def messages_of(records: list[StreamRecord]) -> list[tuple[str, str, list[Any]]]:
    return [
        (r.block.symbol, r.block.sk, [tick_json(r.block.symbol, t) for t in r.block.ticks()])
        for r in records
        if r.block is not None
    ]


@FUZZ
@given(batches())
def test_the_first_poison_record_is_reported_and_the_blocks_before_it_published(
    records: list[StreamRecord],
) -> None:
    answer, sns = fan_out(records)
    poison = [i for i, r in enumerate(records) if r.kind == "poison"]
    if not poison:
        assert answer == {"batchItemFailures": []}
        assert sns.published() == messages_of(records)
        return
    first = poison[0]
    # A record with no SequenceNumber is named "": Lambda then fails the whole batch and
    # bisection isolates the record (docs/fanout.md).
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[first].sequence}]}
    assert sns.published() == messages_of(records[:first])


@FUZZ
@given(batches().filter(lambda rs: all(r.sequence for r in rs)))
def test_under_lambda_retries_every_block_is_published_and_no_poison(
    records: list[StreamRecord],
) -> None:
    published: list[tuple[str, str, list[Any]]] = []
    pending = list(records)
    retries_left = 2  # the mapping's maximumRetryAttempts
    for _ in range(4 * len(records) + 4):
        if not pending:
            break
        answer, sns = fan_out(pending)
        published += sns.published()
        failures = answer["batchItemFailures"]
        if not failures:
            pending = []
            continue
        (failure,) = failures
        at = [r.sequence for r in pending].index(failure["itemIdentifier"])
        assert pending[at].kind == "poison", "only a poison record is reported here"
        if retries_left:
            retries_left -= 1
            pending = pending[at:]  # Lambda resumes from the checkpoint
        else:
            retries_left = 2
            pending = pending[at + 1 :]  # retries ran out: metadata to on-failure, move on
    assert pending == [], "the shard never moved on"
    assert {m[:2] for m in published} == {m[:2] for m in messages_of(records)}
    assert all(m in messages_of(records) for m in published), "a poison record was published"


@FUZZ
@given(any_records())
def test_any_records_value_is_answered_or_refused_as_not_a_stream_event(records: Any) -> None:
    sns = RecordingSns()
    service = FanoutService(lambda: sns, TOPIC)  # type: ignore[arg-type, return-value]
    if not isinstance(records, list):
        with pytest.raises(ValueError, match="no 'Records' list"):
            service.handle({"Records": records})
        return
    answer = service.handle({"Records": records})
    assert set(answer) == {"batchItemFailures"}
    assert len(answer["batchItemFailures"]) <= 1
    assert all(isinstance(f["itemIdentifier"], str) for f in answer["batchItemFailures"])
