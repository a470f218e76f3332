"""Tick blocks: one DynamoDB item per (request, symbol, time span) holding that request's ticks.

A block's sort key is `<first timestamp, 13 digits>#<block id>`. The block id is a hash of the
request key (its `Idempotency-Key`, or a hash of its validated content) with the symbol and the
block's ordinal, so a retried request rewrites the same items, and two requests carrying
different ticks of the same symbol and millisecond write two items. A block spans less than
`BLOCK_SPAN_MS`, which bounds how far before a range a reader has to look.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final, Protocol, TypeVar

from handlers.core.encoding import EncodedTick, TickFields, decode_block, encode_block

__all__ = [
    "BLOCK_SPAN_MS",
    "MAX_TIMESTAMP",
    "Block",
    "SymbolTick",
    "block_from_item",
    "build_blocks",
    "content_key",
    "idempotency_key",
    "sort_key",
]

BLOCK_SPAN_MS: Final = 1_000
"""Every tick of a block lies in [first_ts, first_ts + BLOCK_SPAN_MS)."""
MAX_TIMESTAMP: Final = 10**13 - 1
"""Sort keys hold 13 timestamp digits: epoch milliseconds up to the year 2286."""


class SymbolTick(TickFields, Protocol):
    """A validated tick with its symbol (a `ValidTick`, or the model's `Tick`)."""

    @property
    def symbol(self) -> str: ...


_T = TypeVar("_T", bound=SymbolTick)
_BY_TIME: Final = attrgetter("timestamp")


def sort_key(first_ts: int, block_id: str = "") -> str:
    """The sort key of a block (or, with no id, the lowest key of its millisecond)."""
    return f"{first_ts:013d}#{block_id}"


@dataclass(frozen=True, slots=True)
class Block:
    """One stored item: a symbol's ticks from one request within one time span."""

    symbol: str
    sk: str
    last_ts: int
    count: int
    payload: bytes
    expires_at: int | None = None

    @property
    def first_ts(self) -> int:
        """Timestamp of the block's first tick (the sort key's prefix)."""
        return int(self.sk[:13])

    def ticks(self) -> list[EncodedTick]:
        """The block's ticks, sorted by timestamp."""
        return decode_block(self.payload)

    def to_item(self) -> dict[str, Any]:
        """The block in DynamoDB's attribute-value wire format."""
        item: dict[str, Any] = {
            "symbol": {"S": self.symbol},
            "sk": {"S": self.sk},
            "t1": {"N": str(self.last_ts)},
            "n": {"N": str(self.count)},
            "b": {"B": self.payload},
        }
        if self.expires_at is not None:
            item["expires_at"] = {"N": str(self.expires_at)}
        return item


def block_from_item(item: dict[str, Any]) -> Block:
    """A block from a DynamoDB item in wire format."""
    expires = item.get("expires_at")
    return Block(
        symbol=item["symbol"]["S"],
        sk=item["sk"]["S"],
        last_ts=int(item["t1"]["N"]),
        count=int(item["n"]["N"]),
        payload=bytes(item["b"]["B"]),
        expires_at=int(expires["N"]) if expires else None,
    )


def idempotency_key(header_value: str) -> bytes:
    """The request key for a client-supplied `Idempotency-Key`."""
    return b"k:" + header_value.encode()


def content_key(groups: Iterable[tuple[str, bytes]]) -> bytes:
    """The request key for a request without `Idempotency-Key`: a hash of its encoded content."""
    parts: list[bytes] = []
    for symbol, payload in groups:
        parts += (symbol.encode(), b"\0", len(payload).to_bytes(4, "big"), payload)
    return b"c:" + hashlib.blake2b(b"".join(parts), digest_size=16).digest()


def _spans(ticks: list[_T]) -> list[list[_T]]:
    if ticks[-1].timestamp - ticks[0].timestamp < BLOCK_SPAN_MS:  # sorted: one span
        return [ticks]
    spans = []
    start = 0
    for i in range(1, len(ticks) + 1):
        if i == len(ticks) or ticks[i].timestamp - ticks[start].timestamp >= BLOCK_SPAN_MS:
            spans.append(ticks[start:i])
            start = i
    return spans


def build_blocks(
    ticks: Sequence[SymbolTick],
    *,
    request_key: bytes | None = None,
    expires_at: int | None = None,
) -> list[Block]:
    """Group a request's ticks into blocks; `request_key` None means "derive it from content"."""
    by_symbol: dict[str, list[SymbolTick]] = {}
    for tick in ticks:
        group = by_symbol.get(tick.symbol)
        if group is None:
            by_symbol[tick.symbol] = [tick]
        else:
            group.append(tick)
    encoded: list[tuple[str, list[SymbolTick], bytes]] = []
    for symbol, group in by_symbol.items():
        group.sort(key=_BY_TIME)  # stable: same-millisecond ticks keep request order
        encoded += [(symbol, span, encode_block(span)) for span in _spans(group)]
    key = request_key or content_key([(symbol, payload) for symbol, _, payload in encoded])
    blocks = []
    ordinals: dict[str, int] = {}
    for symbol, span, payload in encoded:
        ordinal = ordinals.get(symbol, 0)
        ordinals[symbol] = ordinal + 1
        block_id = hashlib.blake2b(
            b"%s\0%s\0%s" % (key, symbol.encode(), ordinal.to_bytes(4, "big")), digest_size=8
        ).hexdigest()
        blocks.append(
            Block(
                symbol,
                sort_key(span[0].timestamp, block_id),
                span[-1].timestamp,
                len(span),
                payload,
                expires_at,
            )
        )
    return blocks
