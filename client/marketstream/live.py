"""Live ticks over the WebSocket API (docs/fanout.md): subscribe, reconnect, subscribe again.

A background task owns the socket and feeds a queue the iterator reads: the subscription keeps
its socket alive (and reconnects) even while the caller is busy elsewhere. Live data is best
effort: ticks broadcast while the socket was down are not replayed (read them with `ticks()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Self

import aiohttp

from marketstream.errors import ApiError, AuthError
from marketstream.models import SYMBOL_PATTERN, Tick

__all__ = ["Backoff", "Subscription"]

_SEEN: Final = 50_000
"""Recent ticks remembered to drop repeats (delivery is at least once)."""
_HEARTBEAT_S: Final = 30.0


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Reconnect delays: `first_s` doubling up to `cap_s`, each with up to 50 % jitter."""

    first_s: float = 0.5
    cap_s: float = 10.0

    def delay(self, failures: int) -> float:
        """Seconds before reconnect number `failures` (1-based)."""
        base = min(self.cap_s, self.first_s * 2 ** (failures - 1))
        return float(base * random.uniform(0.5, 1.0))


class _Stop:
    """Queue item: the subscription ended (with the error, if any)."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class Subscription:
    """An async iterator of live ticks; `async with` it, or `aclose()` when done."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        symbols: Sequence[str],
        *,
        backoff: Backoff,
        queue_size: int,
    ) -> None:
        bad = [s for s in symbols if not isinstance(s, str) or not SYMBOL_PATTERN.fullmatch(s)]
        if not symbols or bad:
            raise ValueError(f"symbols must be 1-16 characters of A-Z 0-9 . - _ : / ({bad})")
        self._session = session
        self._url = url
        self._token = token
        self.symbols = sorted({s.upper() for s in symbols})
        self._backoff = backoff
        self._queue: asyncio.Queue[Tick | _Stop] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._stopped = False
        self.connects = 0
        """Sockets opened (1 + reconnects)."""
        self.duplicates = 0
        """Repeated ticks dropped."""

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        self.start()
        return self

    async def __anext__(self) -> Tick:
        if self._stopped and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, _Stop):
            self._stopped = True
            if item.error is not None:
                raise item.error
            raise StopAsyncIteration
        return item

    def start(self) -> None:
        """Start the socket task (done by `async with` and by iterating)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def subscribed(self) -> None:
        """Wait until the server confirmed the subscription of the current socket."""
        self.start()
        waiter = asyncio.ensure_future(self._subscribed.wait())
        assert self._task is not None
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            # The task ended before a subscription: its error is in the queue; raise it here.
            await self.__anext__()

    async def aclose(self) -> None:
        """Close the socket and stop reconnecting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        error: BaseException | None = None
        try:
            while True:
                try:
                    await self._connection()
                    failures = 0  # the server closed a healthy socket: reconnect at once
                except AuthError:
                    raise
                except (aiohttp.ClientError, TimeoutError, ConnectionError):
                    failures += 1
                    await asyncio.sleep(self._backoff.delay(failures))
                    continue
                failures += 1
                await asyncio.sleep(self._backoff.delay(failures) if failures > 1 else 0)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # an auth refusal or a bug: end the iteration with it
            error = exc
        await self._queue.put(_Stop(error))

    async def _connection(self) -> None:
        self._subscribed.clear()
        try:
            ws = await self._session.ws_connect(
                self._url, params={"token": self._token}, heartbeat=_HEARTBEAT_S
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                raise AuthError(exc.status, "the WebSocket refused the token") from None
            raise
        self.connects += 1
        async with ws:
            await ws.send_json({"action": "subscribe", "symbols": self.symbols})
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                await self._handle(json.loads(message.data))

    async def _handle(self, document: Any) -> None:
        if not isinstance(document, dict):
            return
        if document.get("type") == "ticks":
            for raw in document.get("ticks") or []:
                tick = Tick.from_json(raw)
                key = (tick.symbol, tick.timestamp, tick.price, tick.size, tick.id)
                if key in self._seen:
                    self.duplicates += 1
                    continue
                self._seen[key] = None
                if len(self._seen) > _SEEN:
                    self._seen.popitem(last=False)
                await self._queue.put(tick)
        elif document.get("action") == "subscribe":
            self._subscribed.set()
        elif document.get("error") == "unknown_connection":
            # The server forgot this socket (its item expired): a new socket is registered anew.
            raise ConnectionError("the server no longer knows this connection")
        elif "error" in document:
            raise ApiError.from_body(400, document)
