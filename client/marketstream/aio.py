"""`AsyncClient`: the asyncio client over aiohttp (HTTP and the live WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Final, Self

import aiohttp

from marketstream.base import BaseClient, bar_list, latest_tick, page_ticks
from marketstream.live import Backoff, Subscription
from marketstream.models import Bar, Tick, TimeLike
from marketstream.protocol import (
    RETRY_STATUSES,
    Attempt,
    Request,
    SendResult,
    ingest_requests,
    ingest_result,
    new_key_prefix,
    read_reply,
    retry_after,
)

__all__ = ["AsyncClient"]

_CONNECT_TIMEOUT_S: Final = 10.0


class AsyncClient(BaseClient):
    """Send, backfill, read and subscribe with asyncio; use it with `async with`."""

    def __init__(self, *args: Any, connections: int = 16, **kwargs: Any) -> None:
        """`connections` bounds the open connections (aiohttp's default is 100)."""
        super().__init__(*args, **kwargs)
        self._limit = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use (inside the running loop)."""
        if self._session is None:
            # Both set explicitly: aiohttp's defaults are 100 connections and a 300 s total.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=aiohttp.ClientTimeout(
                    total=self.retry.timeout_s,
                    connect=min(_CONNECT_TIMEOUT_S, self.retry.timeout_s),
                ),
            )
        return self._session

    async def execute(self, request: Request, result: SendResult | None = None) -> tuple[int, Any]:
        """Send `request` with the retries of `Client.execute`; (status, JSON)."""
        attempt = Attempt(self.retry)
        counts = result if result is not None else SendResult()
        while True:
            attempt.number += 1
            try:
                async with self.session.request(
                    request.method, request.url, data=request.body, headers=dict(request.headers)
                ) as reply:
                    status, headers, data = reply.status, dict(reply.headers), await reply.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                counts.saw(0)
                await asyncio.sleep(attempt.failed(f"{type(exc).__name__}: {exc}"))
                continue
            counts.saw(status)
            if status in RETRY_STATUSES:
                await asyncio.sleep(attempt.failed(f"HTTP {status}", retry_after(headers)))
                continue
            return status, read_reply(status, data)

    async def send(
        self,
        ticks: Iterable[Tick | Mapping[str, Any]],
        *,
        backfill: bool = False,
        concurrency: int = 4,
    ) -> SendResult:
        """`Client.send`, with up to `concurrency` requests in flight."""
        url, token = self._ingest_target(backfill)
        requests = ingest_requests(url, token, ticks, key_prefix=new_key_prefix())
        return await self.send_requests(requests, concurrency=concurrency)

    async def send_request(self, request: Request) -> SendResult:
        """One prepared ingest request, retried until acknowledged."""
        result = SendResult(requests=1)
        status, body = await self.execute(request, result)
        result.add(ingest_result(status, body))
        return result

    async def send_requests(
        self, requests: Iterable[Request], *, concurrency: int = 4
    ) -> SendResult:
        """Prepared ingest requests, `concurrency` at a time; the first error cancels the rest."""
        total = SendResult()
        pending = iter(requests)

        async def worker() -> None:
            for request in pending:  # one shared iterator: each request is taken once
                total.add(await self.send_request(request))

        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
        return total

    async def ticks(
        self,
        symbol: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        order: str = "asc",
        *,
        page_size: int = 1000,
    ) -> AsyncIterator[Tick]:
        """Every tick of `symbol` in [start, end], following every page."""
        cursor: str | None = None
        while True:
            request = self._page_request(symbol, start, end, order, page_size, cursor)
            ticks, cursor = page_ticks((await self.execute(request))[1])
            for tick in ticks:
                yield tick
            if cursor is None:
                return

    async def latest(self, symbol: str) -> Tick | None:
        """The newest tick of `symbol`, or None."""
        return latest_tick((await self.execute(self._read("latest", {"symbol": symbol})))[1])

    async def bars(
        self,
        symbol: str,
        interval: str = "1m",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[Bar]:
        """OHLCV bars of the intervals in [start, end] that have ticks."""
        return bar_list((await self.execute(self._bars_request(symbol, interval, start, end)))[1])

    def subscribe(
        self, symbols: Sequence[str], *, backoff: Backoff | None = None, queue_size: int = 10_000
    ) -> Subscription:
        """Live ticks of `symbols`: `async with client.subscribe([...]) as live: async for tick
        in live`. Reconnects with backoff and subscribes again when the socket closes."""
        return Subscription(
            self.session,
            self.endpoints.need("ws_url"),
            self.endpoints.need("read_token"),
            symbols,
            backoff=backoff or Backoff(),
            queue_size=queue_size,
        )
