"""Strategies for DynamoDB stream batches of the tick table: block records and malformed ones."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from handlers.core.blocks import Block, build_blocks, idempotency_key
from handlers.core.models import Tick
from tests.unit.core.events import stream_record
from tests.unit.handlers.strategies import WRONG_TYPES, hostile_text, json_values

T0 = 1_767_225_600_000
SYMBOLS = ["AAPL", "MSFT", "BTC-USD"]


@dataclass(frozen=True)
class StreamRecord:
    """A generated stream record and what it holds: a block, nothing (REMOVE), or poison."""

    raw: Any
    kind: str
    """"block" (its ticks must go out), "remove" (nothing to send), "poison" (undecodable)."""
    block: Block | None = None

    @property
    def sequence(self) -> str:
        """The record's SequenceNumber, "" if it has none."""
        stream = self.raw.get("dynamodb") if isinstance(self.raw, dict) else None
        value = stream.get("SequenceNumber") if isinstance(stream, dict) else None
        return value if isinstance(value, str) else ""


# Built once: Hypothesis validates every new strategy object, which costs more than a draw.
_TICKS = st.lists(
    st.builds(
        Tick,
        symbol=st.sampled_from(SYMBOLS),
        price=st.integers(min_value=1, max_value=10**8).map(lambda c: f"{c / 100:.2f}"),
        timestamp=st.integers(min_value=T0, max_value=T0 + 900),
        size=st.none() | st.sampled_from(["1", "0.5"]),
        id=st.none() | st.sampled_from(["a", "b-1"]),
    ),
    min_size=1,
    max_size=4,
).map(lambda sent: [t.model_copy(update={"symbol": sent[0].symbol}) for t in sent])
"""The ticks of one block: one symbol, within one block span."""

BAD_ATTRIBUTES: dict[str, list[Any]] = {
    "symbol": [{"N": "1"}, {"S": 5}, {"S": None}, {"S": ""}, {"S": ["A"]}, "AAPL", None, {}],
    "sk": [{"N": "1"}, {"S": 5}, {"S": None}, None, {}],
    "t1": [{"N": "x"}, {"N": float("inf")}, {"N": float("nan")}, {"N": None}, {"S": "1"}, 5],
    "n": [{"N": "x"}, {"N": float("-inf")}, {"N": []}, None],
    "b": [
        {"B": "not base64!"},
        {"B": base64.b64encode(b"\x02garbage").decode()},
        {"B": base64.b64encode(b"\x01\x05").decode()},
        {"B": ""},
        {"B": 10**12},  # bytes(10**12) would try to allocate a terabyte
        {"B": -1},
        {"B": [1, 2, 3]},
        {"B": None},
        {"S": "AQ=="},
        None,
    ],
    "expires_at": [{"N": "x"}, {"N": float("inf")}, {"S": "1"}, "1", 5],
}


def _blocks(sent: list[Tick], key: str) -> Block:
    (block,) = build_blocks(sent, request_key=idempotency_key(key), expires_at=1_800_000_000)
    return block


@st.composite
def _poison(draw: st.DrawFn, good: dict[str, Any]) -> Any:
    """A record that no retry can decode, derived from a good one (its SequenceNumber kept)."""
    record = json.loads(json.dumps(good))
    image = record["dynamodb"]["NewImage"]
    choice = draw(st.sampled_from(["attribute", "delete", "image", "stream", "event", "record"]))
    if choice == "attribute":
        name = draw(st.sampled_from(sorted(BAD_ATTRIBUTES)))
        image[name] = draw(st.sampled_from(BAD_ATTRIBUTES[name]))
    elif choice == "delete":
        del image[draw(st.sampled_from(["symbol", "sk", "t1", "n", "b"]))]
    elif choice == "image":
        bad: Any = draw(st.sampled_from([None, [], "image", 5, {"b": {"B": "AQ=="}}]))
        if bad is None and draw(st.booleans()):
            del record["dynamodb"]["NewImage"]  # an INSERT with no image: not a NEW_IMAGE stream
        else:
            record["dynamodb"]["NewImage"] = bad
    elif choice == "stream":
        # No `dynamodb` object: the record has no SequenceNumber either.
        record["dynamodb"] = draw(st.sampled_from([None, [], "dynamodb", 5]))
    elif choice == "event":
        record["eventName"] = draw(st.sampled_from([None, "", "insert", "UPDATE", 5, ["INSERT"]]))
    else:
        return draw(st.sampled_from([None, 5, "record", [good]]) | json_values(4))
    return record


@st.composite
def batches(draw: st.DrawFn, *, max_size: int = 6) -> list[StreamRecord]:
    """1-`max_size` records in shard order: blocks, REMOVEs and poison records."""
    records: list[StreamRecord] = []
    for n in range(draw(st.integers(min_value=1, max_value=max_size))):
        kind = draw(st.sampled_from(["block", "block", "block", "remove", "poison"]))
        block = _blocks(draw(_TICKS), f"r{n}")
        event_name = draw(st.sampled_from(["INSERT", "MODIFY"]))
        good = stream_record(block.to_item(), 100 + n, event_name=event_name)
        if kind == "block":
            records.append(StreamRecord(good, kind, block))
        elif kind == "remove":
            records.append(StreamRecord(stream_record(None, 100 + n, event_name="REMOVE"), kind))
        else:
            records.append(StreamRecord(draw(_poison(good)), kind))
    return records


def any_records() -> st.SearchStrategy[Any]:
    """The value of `Records` in events of any shape."""
    return st.one_of(
        json_values(),
        st.lists(st.sampled_from(WRONG_TYPES) | hostile_text() | json_values(4), max_size=4),
    )
