"""Waking idle stream pollers when a function writes to DynamoDB, instead of polling fast.

An idle stream poller pauses longer after each empty poll (`Poller.idle_s` doubling up to
`Poller.idle_max_s`), so that a quiet stack does not call GetRecords twenty times a second per
shard. A write by any function of this process (a botocore hook on the handlers' session) ends
every pause, though not sooner than `idle_s` after the last poll: a tick written after a quiet
spell reaches the consumers as fast as under load, and a busy writer does not turn batches into
one poll per write. Writes from elsewhere (a test's own client) are seen within the longest
pause.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

__all__ = ["WRITES", "Wakeup"]

WRITES: Final = ("BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
"""The DynamoDB operations that can put a record on a table's stream."""


class Wakeup:
    """Pauses that end early when a write is noticed (`notify`, from any thread)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: set[asyncio.Event] = set()

    def install(self, session: Any) -> None:
        """Notice the DynamoDB writes of every client `session` creates from now on."""
        for operation in WRITES:
            session.register(f"after-call.dynamodb.{operation}", self._written)

    def _written(self, **kwargs: Any) -> None:
        self.notify()

    def notify(self) -> None:
        """End every pause under way (thread-safe; nothing to do if no poller is pausing)."""
        loop = self._loop
        if self._waiting and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for event in list(self._waiting):
            event.set()

    async def pause(self, seconds: float, *, at_least: float = 0.0) -> None:
        """Wait `seconds`, or less if a write is noticed meanwhile, but `at_least` this long:
        a busy writer then wakes a poller once per `at_least`, not once per write."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._waiting.add(event)
        try:
            await asyncio.sleep(min(at_least, seconds))
            if not event.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), max(0.0, seconds - at_least))
        finally:
            self._waiting.discard(event)
