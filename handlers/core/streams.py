"""DynamoDB stream records of the tick table, as Lambda delivers them, back into blocks.

The table's stream view is NEW_IMAGE: an INSERT or MODIFY record carries the whole item in
DynamoDB's wire format, with binary values base64-encoded (the event is JSON). A retried ingest
rewrites a block with the same content and arrives as a MODIFY; with no old image to compare,
consumers publish it again: delivery is at least once, and `(symbol, block)` identifies a block.
REMOVE records (TTL expiry) carry no new image and hold no new ticks.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from handlers.core.blocks import Block, block_from_item
from handlers.core.encoding import EncodedTick

__all__ = ["PoisonRecord", "block_of", "records_of", "sequence_number", "tick_json"]


class PoisonRecord(ValueError):
    """A stream record that no retry will ever decode (not a block of a version this code reads)."""


def records_of(event: dict[str, Any]) -> Sequence[dict[str, Any]]:
    """The records of a DynamoDB stream event; ValueError if the event has no `Records` list."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not a DynamoDB stream event: no 'Records' list")
    return records


def sequence_number(record: dict[str, Any]) -> str:
    """The record's position in its shard (what a partial batch response names); "" if none."""
    stream = record.get("dynamodb") if isinstance(record, dict) else None
    value = stream.get("SequenceNumber") if isinstance(stream, dict) else None
    return value if isinstance(value, str) else ""


def block_of(record: dict[str, Any]) -> tuple[Block, list[EncodedTick]] | None:
    """The block a record wrote and its ticks; None for a REMOVE; PoisonRecord if undecodable.

    An INSERT or MODIFY without a new image is poison too, not skipped: it means the stream is
    not NEW_IMAGE, and skipping would drop ticks without a trace.
    """
    event_name = record.get("eventName") if isinstance(record, dict) else None
    if event_name == "REMOVE":
        return None
    where = f"record {sequence_number(record)!r}"
    if event_name not in ("INSERT", "MODIFY"):
        raise PoisonRecord(f"{where}: not a stream record (eventName {event_name!r})")
    stream = record.get("dynamodb")
    image = stream.get("NewImage") if isinstance(stream, dict) else None
    if not isinstance(image, dict):
        raise PoisonRecord(f"{where}: no NewImage object (the stream view must be NEW_IMAGE)")
    try:
        item = dict(image)
        payload = item["b"]["B"]
        if isinstance(payload, str):  # the Lambda event is JSON: binary arrives as base64 text
            item["b"] = {"B": base64.b64decode(payload, validate=True)}
        elif not isinstance(payload, bytes):  # bytes(<int>) would allocate that many bytes
            raise TypeError("attribute 'b' is not binary")
        block = block_from_item(item)
        if not (isinstance(block.symbol, str) and block.symbol and isinstance(block.sk, str)):
            raise TypeError("attributes 'symbol' and 'sk' must be non-empty strings")
        ticks = block.ticks()
    # ValueError includes binascii.Error; OverflowError is int() of a number attribute Infinity.
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise PoisonRecord(f"{where}: {type(exc).__name__}: {exc}") from exc
    return block, ticks


def tick_json(symbol: str, tick: EncodedTick) -> dict[str, object]:
    """A tick as the APIs show it (`handlers.core.reading.StoredTick.as_json`'s shape)."""
    out: dict[str, object] = {"symbol": symbol, "price": tick.price, "timestamp": tick.timestamp}
    if tick.size is not None:
        out["size"] = tick.size
    if tick.id is not None:
        out["id"] = tick.id
    return out
