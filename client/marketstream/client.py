"""`Client`: the synchronous client, over the standard library's `http.client` (keep-alive)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Self
from urllib.parse import urlsplit

from marketstream.base import BaseClient, bar_list, latest_tick, page_ticks
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
from marketstream.writer import Writer

__all__ = ["Client"]

_Connection = http.client.HTTPConnection


class _Connections:
    """One keep-alive connection per host and thread (a writer flushes from its own thread)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[_Connection] = []
        self._lock = threading.Lock()

    def send(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); OSError or HTTPException when no answer came."""
        parts = urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = self._get(parts.scheme, parts.netloc)
        try:
            connection.request(request.method, target, request.body, dict(request.headers))
            reply = connection.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException):
            # A half-used connection is never reused: the next attempt opens a fresh one.
            connection.close()
            self._mine().pop((parts.scheme, parts.netloc), None)
            with self._lock:
                self._all.remove(connection)
            raise
        return reply.status, dict(reply.getheaders()), data

    def _mine(self) -> dict[tuple[str, str], _Connection]:
        """This thread's connections by (scheme, host:port)."""
        mine: dict[tuple[str, str], _Connection] | None = getattr(self._local, "connections", None)
        if mine is None:
            mine = self._local.connections = {}
        return mine

    def _get(self, scheme: str, netloc: str) -> _Connection:
        mine = self._mine()
        found = mine.get((scheme, netloc))
        if found is None:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            found = mine[(scheme, netloc)] = kind(netloc, timeout=self._timeout_s)
            with self._lock:
                self._all.append(found)
        return found

    def close(self) -> None:
        """Close every connection of every thread."""
        with self._lock:
            for connection in self._all:
                connection.close()
            self._all.clear()


class Client(BaseClient):
    """Send, backfill and read ticks synchronously (thread-safe; a connection per thread)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = _Connections(self.retry.timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def execute(self, request: Request, result: SendResult | None = None) -> tuple[int, Any]:
        """Send `request`, retrying timeouts, connection errors and `RETRY_STATUSES`; (status,
        JSON). ApiError for any other refusal, RetriesExhausted when no attempt is left."""
        attempt = Attempt(self.retry)
        counts = result if result is not None else SendResult()
        while True:
            attempt.number += 1
            try:
                status, headers, data = self._http.send(request)
            except (OSError, http.client.HTTPException) as exc:
                counts.saw(0)
                time.sleep(attempt.failed(f"{type(exc).__name__}: {exc}"))
                continue
            counts.saw(status)
            if status in RETRY_STATUSES:
                time.sleep(attempt.failed(f"HTTP {status}", retry_after(headers)))
                continue
            return status, read_reply(status, data)

    def send(
        self, ticks: Iterable[Tick | Mapping[str, Any]], *, backfill: bool = False
    ) -> SendResult:
        """Send ticks in requests of <= 500 ticks / 256 KB, each retried under its own
        Idempotency-Key until acknowledged; `backfill=True` uses the backfill token."""
        url, token = self._ingest_target(backfill)
        total = SendResult()
        for request in ingest_requests(url, token, ticks, key_prefix=new_key_prefix()):
            total.add(self.send_request(request))
        return total

    def send_request(self, request: Request) -> SendResult:
        """One prepared ingest request, retried until acknowledged."""
        result = SendResult(requests=1)
        status, body = self.execute(request, result)
        result.add(ingest_result(status, body))
        return result

    def writer(
        self,
        *,
        max_batch: int = 500,
        max_delay_s: float = 0.25,
        max_buffer: int = 10_000,
        backfill: bool = False,
    ) -> Writer:
        """A buffered writer: flushes every `max_batch` ticks or `max_delay_s`, blocks `write`
        while `max_buffer` ticks wait, flushes on `close` (use it with `with`)."""
        return Writer(
            lambda ticks: self.send(ticks, backfill=backfill),
            max_batch=max_batch,
            max_delay_s=max_delay_s,
            max_buffer=max_buffer,
        )

    def ticks(
        self,
        symbol: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        order: str = "asc",
        *,
        page_size: int = 1000,
    ) -> Iterator[Tick]:
        """Every tick of `symbol` in [start, end] (inclusive, ms), following every page."""
        cursor: str | None = None
        while True:
            request = self._page_request(symbol, start, end, order, page_size, cursor)
            ticks, cursor = page_ticks(self.execute(request)[1])
            yield from ticks
            if cursor is None:
                return

    def latest(self, symbol: str) -> Tick | None:
        """The newest tick of `symbol`, or None."""
        return latest_tick(self.execute(self._read("latest", {"symbol": symbol}))[1])

    def bars(
        self,
        symbol: str,
        interval: str = "1m",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[Bar]:
        """OHLCV bars of the intervals in [start, end] that have ticks (default: the server's,
        the last 100 intervals)."""
        return bar_list(self.execute(self._bars_request(symbol, interval, start, end))[1])
