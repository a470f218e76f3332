"""Subscriber-queue messages (docs/fanout.md) decoded into ticks, repeats dropped.

A fan-out subscriber's SQS queue carries one message per block (split when large), identified by
`(symbol, block, offset)`; delivery is at least once, so a consumer drops the ones it has seen.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from marketstream.models import Tick

__all__ = ["QueueMessage", "QueueTicks", "decode_message"]

_REMEMBERED: Final = 100_000


@dataclass(frozen=True)
class QueueMessage:
    """One subscriber-queue message: which part of which block, and its ticks."""

    symbol: str
    block: str
    offset: int
    ticks: list[Tick]

    @property
    def key(self) -> tuple[str, str, int]:
        """What identifies the message across redeliveries."""
        return (self.symbol, self.block, self.offset)


def decode_message(body: str | bytes | dict[str, Any]) -> QueueMessage:
    """A message body (SQS `Body` text, or already parsed) as a `QueueMessage`; ValueError if it
    is not one."""
    document = json.loads(body) if isinstance(body, str | bytes) else body
    if not isinstance(document, dict):
        raise ValueError("a subscriber-queue message is a JSON object")
    try:
        return QueueMessage(
            symbol=str(document["symbol"]),
            block=str(document["block"]),
            offset=int(document["offset"]),
            ticks=[Tick.from_json(t) for t in document["ticks"]],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a subscriber-queue message: {exc}") from None


class QueueTicks:
    """Decodes messages and drops those already seen (remembers the last 100,000 keys)."""

    def __init__(self, remember: int = _REMEMBERED) -> None:
        self._seen: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self._remember = remember
        self.repeats = 0
        """Messages dropped as repeats."""

    def decode(self, body: str | bytes | dict[str, Any]) -> list[Tick]:
        """The message's ticks, or [] if this `(symbol, block, offset)` was seen before."""
        message = decode_message(body)
        if message.key in self._seen:
            self.repeats += 1
            self._seen.move_to_end(message.key)
            return []
        self._seen[message.key] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return message.ticks
