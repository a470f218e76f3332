"""The spill queue: blocks the table refused travel as SQS messages until the replay drains them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from handlers.core.blocks import Block
from handlers.core.errors import SpillFailed

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["MAX_MESSAGE_BYTES", "SpillQueue", "decode_message", "encode_messages"]

MAX_MESSAGE_BYTES: Final = 200_000
"""Below SQS's 256 KiB message limit with room for attributes."""
_VERSION: Final = 1


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
    """The blocks in a spill message; ValueError if the body is not one."""
    try:
        document = json.loads(body)
        if document.get("v") != _VERSION:
            raise ValueError(f"unsupported spill message version {document.get('v')!r}")
        return [
            Block(
                symbol=str(raw["symbol"]),
                sk=str(raw["sk"]),
                last_ts=int(raw["t1"]),
                count=int(raw["n"]),
                payload=base64.b64decode(raw["b"], validate=True),
                expires_at=int(raw["x"]) if "x" in raw else None,
            )
            for raw in document["blocks"]
        ]
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a spill message: {exc}") from None


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
