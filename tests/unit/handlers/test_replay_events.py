"""GIVEN SQS batches from the spill queue mixing spill messages with malformed records
WHEN the replay handler runs THEN it never raises, reports exactly the malformed messages (so
redrive moves them to the DLQ), and writes every well-formed message of the same batch."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from handlers.core.blocks import Block, build_blocks, idempotency_key
from handlers.core.encoding import EncodedTick, encode_block
from handlers.core.errors import StoreRefused, StoreUnavailable
from handlers.core.models import Tick
from handlers.core.replay import ReplayService
from handlers.core.spill import decode_message, encode_messages
from handlers.core.store import WriteReport
from tests.unit.core.conftest import Cloud
from tests.unit.handlers.conftest import FUZZ, MOTO_FUZZ
from tests.unit.handlers.strategies import hostile_text, json_texts, json_values

T0 = 1_767_225_600_000
REFUSED = "DOWN"
"""Blocks of this symbol are refused by `Table` as if DynamoDB were down."""
REJECTED = "BAD"
"""Blocks of this symbol are refused for good by `Table` (a ValidationException)."""


@dataclass
class Table:
    """A recording writer that refuses blocks of the symbols REFUSED and REJECTED."""

    written: list[Block] = field(default_factory=list)

    def write(self, blocks: list[Block]) -> WriteReport:
        if any(block.symbol == REFUSED for block in blocks):
            raise StoreUnavailable(blocks, "injected")
        if any(block.symbol == REJECTED for block in blocks):
            raise StoreRefused(blocks, "DynamoDB ValidationException")
        self.written += blocks
        return WriteReport(calls=1, retries=0)


@dataclass(frozen=True)
class Record:
    """One SQS record of a generated batch and what the handler must do with it."""

    raw: Any
    kind: str
    """"good" (stored), "refused" (the table is down), "rejected" (the table refuses it for good),
    "bad" (reported), "alien" (skipped)."""
    blocks: tuple[Block, ...] = ()


def _sqs_record(message_id: str, body: Any) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"r-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:spill",
        "awsRegion": "us-east-1",
    }


def _spill_body(sent: list[Tick], key: str) -> tuple[str, list[Block]]:
    blocks = build_blocks(sent, request_key=idempotency_key(key), expires_at=1_800_000_000)
    (body,) = encode_messages(blocks)
    return body, blocks


BAD_BLOCK_FIELDS: dict[str, list[Any]] = {
    "symbol": [5, None, "", "a b", "aapl", "A" * 17, [], "\ud800"],
    "sk": [5, None, "", "x", "123#abc", f"{T0 - 1:013d}#00aa00aa00aa00aa", f"{T0:013d}"],
    "t1": ["x", None, 1.5, float("inf"), float("nan"), True, 10**400, "1767225600000"],
    "n": ["x", None, -1, 0, 10**30, "1"],
    "b": [5, None, "not base64!", "", base64.b64encode(b"\x01\xff\xff").decode(), "QQ=="],
    "x": ["x", None, 1.5, [], float("-inf")],
}


JUNK = hostile_text() | json_texts()
# Built once: Hypothesis validates every new strategy object, which costs more than a draw.
# Plain prices and optional ids: the content is not what these tests vary, and drawing the
# richer ticks of tests.unit.core.strategies dominated their time.
SENT = {
    kind: st.lists(
        st.builds(
            Tick,
            symbol=st.sampled_from(symbols),
            price=st.integers(min_value=1, max_value=10**8).map(lambda c: f"{c / 100:.2f}"),
            timestamp=st.integers(min_value=T0, max_value=T0 + 2_500),
            id=st.none() | st.sampled_from(["a", "b-1"]),
        ),
        min_size=1,
        max_size=4,
    )
    for kind, symbols in (
        ("good", ["AAPL", "MSFT"]),
        ("refused", [REFUSED]),
        ("rejected", [REJECTED]),
    )
}


@st.composite
def bad_bodies(draw: st.DrawFn, good: tuple[str, list[Block]]) -> Any:
    """Bodies that are not spill messages: junk, other JSON, or a real one with a field broken."""
    document = json.loads(good[0])
    choice = draw(st.sampled_from(["junk", "json", "shape", "field", "delete", "type"]))
    if choice == "junk":
        return draw(JUNK)
    if choice == "json":
        value = draw(json_values())
        return json.dumps(value if not isinstance(value, dict) else {**value, "v": 0})
    if choice == "shape":
        return json.dumps(
            draw(
                st.sampled_from(
                    [
                        {"v": 2, "blocks": document["blocks"]},
                        {"blocks": document["blocks"]},
                        {"v": 1},
                        {"v": 1, "blocks": "x"},
                        {"v": 1, "blocks": [5]},
                        {"v": 1, "blocks": {"0": document["blocks"][0]}},
                        {"v": True, "blocks": document["blocks"]},
                    ]
                )
            )
        )
    if choice == "type":
        return draw(st.sampled_from([None, 5, [good[0]], document]))  # a body that is no string
    index = draw(st.integers(min_value=0, max_value=len(document["blocks"]) - 1))
    if choice == "delete":
        del document["blocks"][index][draw(st.sampled_from(["symbol", "sk", "t1", "n", "b"]))]
    else:
        name = draw(st.sampled_from(sorted(BAD_BLOCK_FIELDS)))
        document["blocks"][index][name] = draw(st.sampled_from(BAD_BLOCK_FIELDS[name]))
    return json.dumps(document)


def _alien(message_id: str) -> st.SearchStrategy[Any]:
    """Records that are no SQS message: nothing can name them in a partial batch response."""
    return st.sampled_from(
        [
            None,
            5,
            "record",
            [message_id],
            {"body": "x"},
            {"messageId": "", "body": "x"},
            {"messageId": 5, "body": "x"},
        ]
    )


@st.composite
def batches(
    draw: st.DrawFn, *, refusals: bool = False, rejections: bool = True, aliens: bool = True
) -> list[Record]:
    """1-6 records: spill messages, malformed ones, maybe refused/rejected ones, non-records."""
    kinds = (
        ["good", "good", "bad"]
        + (["rejected"] if rejections else [])
        + (["refused"] if refusals else [])
        + (["alien"] if aliens else [])
    )
    records: list[Record] = []
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        message_id = f"m{n}"
        kind = draw(st.sampled_from(kinds))
        good = _spill_body(draw(SENT.get(kind, SENT["good"])), message_id)
        if kind in ("good", "refused", "rejected"):
            records.append(Record(_sqs_record(message_id, good[0]), kind, tuple(good[1])))
        elif kind == "bad":
            records.append(Record(_sqs_record(message_id, draw(bad_bodies(good))), kind))
        else:
            records.append(Record(draw(_alien(message_id)), kind))
    return records


def expected(records: list[Record]) -> tuple[list[str], list[Block]]:
    """(reported message ids, blocks written) for a batch, as the replay's contract says."""
    reported: list[str] = []
    written: list[Block] = []
    down = False  # after a refusal the rest is failed untried (docstring of handlers.core.replay)
    for record in records:
        if record.kind == "alien":
            continue
        if down or record.kind in ("bad", "refused", "rejected"):
            reported.append(record.raw["messageId"])
            down = down or record.kind == "refused"
        else:
            written += record.blocks
    return reported, written


def replay(records: list[Record]) -> tuple[list[str], list[Block]]:
    table = Table()
    answer = ReplayService(lambda: table).handle({"Records": [r.raw for r in records]})
    assert set(answer) == {"batchItemFailures"}
    reported = [item["itemIdentifier"] for item in answer["batchItemFailures"]]
    assert all(isinstance(i, str) and i for i in reported), "an empty id fails the whole batch"
    return reported, table.written


@FUZZ
@given(batches())
def test_malformed_records_and_only_they_are_reported(records: list[Record]) -> None:
    assert replay(records) == expected(records)


@FUZZ
@given(batches(refusals=True))
def test_a_refused_message_fails_the_rest_of_its_batch_untried(records: list[Record]) -> None:
    assert replay(records) == expected(records)


@FUZZ
@given(SENT["good"], st.data())
def test_every_broken_field_makes_the_message_malformed(sent: list[Tick], data: Any) -> None:
    body, _ = _spill_body(sent, "k")
    broken = data.draw(bad_bodies((body, [])))
    with pytest.raises(ValueError, match="spill message"):
        decode_message(broken if isinstance(broken, str) else str(broken))  # as replay does


@pytest.mark.parametrize(
    ("ticks_in_payload", "reason"),
    [
        ([EncodedTick(T0 - 5, "1")], "first tick"),
        ([EncodedTick(T0, "1"), EncodedTick(T0 + 1, "2")], "count"),
        ([EncodedTick(T0, "1")] * 2, "count"),
    ],
)
def test_a_payload_that_disagrees_with_its_block_is_malformed(
    ticks_in_payload: list[EncodedTick], reason: str
) -> None:
    # Decodable, but not the block the message describes: stored, it would break reads of it.
    block = {"symbol": "AAPL", "sk": f"{T0:013d}#00aa00aa00aa00aa", "t1": T0, "n": 1}
    payload = base64.b64encode(encode_block(ticks_in_payload)).decode()
    with pytest.raises(ValueError, match=reason):
        decode_message(json.dumps({"v": 1, "blocks": [{**block, "b": payload}]}))


@FUZZ
@given(json_values())
@example({"Records": None})
@example({"Records": {"0": {}}})
@example({})
@example([{"messageId": "m0", "body": {"v": 1}}, {"messageId": "m1"}, None])
def test_any_json_event_is_answered_or_refused_as_not_sqs(value: Any) -> None:
    event = value if isinstance(value, dict) else {"Records": value}
    records = event.get("Records")
    if not isinstance(records, list):
        with pytest.raises(ValueError, match="not an SQS event"):
            ReplayService(Table).handle(event)
        return
    answer = ReplayService(Table).handle(event)
    named = [
        r["messageId"]
        for r in records
        if isinstance(r, dict) and isinstance(r.get("messageId"), str) and r["messageId"]
    ]
    assert [i["itemIdentifier"] for i in answer["batchItemFailures"]] == named


@settings(MOTO_FUZZ, max_examples=20)
@given(batches(rejections=False, aliens=False))  # moto refuses none
def test_over_moto_the_good_messages_land_in_the_table(cloud: Cloud, records: list[Record]) -> None:
    for item in cloud.stored_items():
        cloud.ddb.delete_item(
            TableName=cloud.table, Key={"symbol": item["symbol"], "sk": item["sk"]}
        )
    answer = cloud.replay.handler({"Records": [r.raw for r in records]}, None)
    reported, written = expected(records)
    assert [i["itemIdentifier"] for i in answer["batchItemFailures"]] == reported
    stored = sorted((i["symbol"]["S"], i["sk"]["S"]) for i in cloud.stored_items())
    assert stored == sorted({(b.symbol, b.sk) for b in written})
