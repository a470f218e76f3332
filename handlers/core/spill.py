"""The spill queue: blocks the table refused travel as SQS messages until the replay drains them."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from handlers.core.blocks import Block
from handlers.core.encoding import decode_block
from handlers.core.errors import SpillFailed
from handlers.core.ticks import SYMBOL_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["MAX_MESSAGE_BYTES", "SpillQueue", "decode_message", "encode_messages"]

MAX_MESSAGE_BYTES: Final = 200_000
"""Below SQS's 256 KiB message limit with room for attributes."""
_VERSION: Final = 1
_SORT_KEY: Final = re.compile(r"[0-9]{13}#[0-9a-f]+")
"""`handlers.core.blocks.sort_key`: the first tick's timestamp, then the block id in hex."""


def _block_json(block: Block) -> dict[str, Any]:
    out: dict[str, Any] = {
        "symbol": block.symbol,
        "sk": block.sk,
        "t1": block.last_ts,
        "n": block.count,
        "b": base64.b64encode(block.payload).decode(),
    }
    if block.expires_at is not None:
        out["x"] = block.expires_at
    return out


def encode_messages(blocks: Sequence[Block]) -> Iterator[str]:
    """Message bodies holding the blocks, each under MAX_MESSAGE_BYTES."""
    batch: list[str] = []
    size = 0
    for block in blocks:
        text = json.dumps(_block_json(block), separators=(",", ":"))
        if batch and size + len(text) + 32 > MAX_MESSAGE_BYTES:
            yield _envelope(batch)
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 1
    if batch:
        yield _envelope(batch)


def _envelope(blocks: list[str]) -> str:
    return f'{{"v":{_VERSION},"blocks":[{",".join(blocks)}]}}'


def decode_message(body: str) -> list[Block]:
    """The blocks in a spill message; ValueError if the body is not one.

    Each block is checked against its own payload: replay writes what it decodes, and a block
    whose payload, count or timestamps disagree would break every read of its range.
    """
    try:
        document = json.loads(body)
        version = document.get("v")
        if type(version) is not int or version != _VERSION:  # True == 1 in Python
            raise ValueError(f"unsupported version {version!r}")
        blocks = document["blocks"]
        if not isinstance(blocks, list):
            raise TypeError("'blocks' is not a list")
        return [_block(raw) for raw in blocks]
    # RecursionError: JSON nested ~1000 deep; OverflowError: a timestamp of Infinity.
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError, OverflowError) as exc:
        raise ValueError(f"not a spill message: {exc}") from None


def _block(raw: dict[str, Any]) -> Block:
    """One block of a message, consistent with its payload, else ValueError or TypeError."""
    symbol, sk, last_ts, count = raw["symbol"], raw["sk"], raw["t1"], raw["n"]
    expires_at = raw.get("x", 0)  # absent: no expiry; present: an integer
    # Ingest writes symbols validated and upper-cased; a lower-case one would be a partition
    # that queries never read (they upper-case the symbol asked for).
    if not isinstance(symbol, str) or not re.fullmatch(SYMBOL_PATTERN, symbol):
        raise ValueError(f"symbol {symbol!r} is not a symbol")
    if symbol != symbol.upper():
        raise ValueError(f"symbol {symbol!r} is not upper-case")
    if not isinstance(sk, str) or _SORT_KEY.fullmatch(sk) is None:
        raise ValueError(f"sort key {sk!r} is not <13-digit timestamp>#<hex id>")
    for name, value in (("t1", last_ts), ("n", count), ("x", expires_at)):
        if type(value) is not int:  # bool is an int subclass, 1.0 and "1" are not wanted either
            raise TypeError(f"{name!r} is not an integer")
    payload = base64.b64decode(raw["b"], validate=True)
    ticks = decode_block(payload)
    if not ticks or len(ticks) != count:
        raise ValueError(f"count {count} but the payload holds {len(ticks)} tick(s)")
    if ticks[0].timestamp != int(sk[:13]) or ticks[-1].timestamp != last_ts:
        raise ValueError("first tick or 't1' disagrees with the payload's timestamps")
    return Block(symbol, sk, last_ts, count, payload, expires_at if "x" in raw else None)


class SpillQueue:
    """Sends refused blocks to the spill queue."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, blocks: Sequence[Block]) -> int:
        """Queue the blocks; SpillFailed if SQS refuses (the caller must not acknowledge)."""
        if not self._url:
            raise SpillFailed("no spill queue is configured")
        sent = 0
        for body in encode_messages(blocks):
            try:
                self._client.send_message(QueueUrl=self._url, MessageBody=body)
            except Exception as exc:  # any failure here means "not acknowledged"
                raise SpillFailed(f"spill queue refused a message: {exc}") from exc
            sent += 1
        return sent
