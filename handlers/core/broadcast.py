"""The broadcaster: a stream batch's new ticks -> one message per subscribed WebSocket connection.

For a batch, the ticks are grouped by symbol (each symbol's ticks in timestamp order, encoded to
JSON once), the connections table is scanned, and every connection subscribed to at least one of
the batch's symbols gets one message `{"type": "ticks", "ticks": [...]}` — split only when it
would pass API Gateway's 128 KiB message limit. A connection API Gateway reports gone is deleted.

Bound: one Scan of the connections table per batch, so cost and latency grow with the number of
open connections (fine for dashboards: a few thousand connections are a few hundred KB to read;
beyond that, index subscriptions by symbol). Live data is best effort: a record that cannot be
decoded is skipped (the fan-out consumer reports it), and a failed post is logged, not retried.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers.core.aws import ManagementApi
from handlers.core.connections import Connection, ConnectionStore
from handlers.core.metrics import METRIC, MetricsLogger
from handlers.core.streams import PoisonRecord, block_of, records_of, tick_json

__all__ = ["MAX_MESSAGE_BYTES", "BroadcastService", "ticks_by_symbol"]

MAX_MESSAGE_BYTES: Final = 128 * 1024
"""API Gateway's limit on one WebSocket message."""
_HEAD: Final = '{"type":"ticks","ticks":['
_TAIL: Final = "]}"
_WORKERS: Final = 8
"""Concurrent posts (botocore's default pool holds 10 connections)."""

_log = logging.getLogger(__name__)


def ticks_by_symbol(records: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Each symbol's new ticks in the batch, as JSON texts in timestamp order."""
    collected: dict[str, list[tuple[int, int, str]]] = {}
    for record in records:
        try:
            decoded = block_of(record)
        except PoisonRecord as exc:
            _log.warning("skipping undecodable stream record: %s", exc)
            continue
        if decoded is None:
            continue
        block, ticks = decoded
        rows = collected.setdefault(block.symbol, [])
        for tick in ticks:
            text = json.dumps(tick_json(block.symbol, tick), separators=(",", ":"))
            rows.append((tick.timestamp, len(rows), text))  # len(rows): stable among equals
    return {symbol: [text for *_, text in sorted(rows)] for symbol, rows in collected.items()}


def _messages(parts: list[str], limit: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """`parts` (tick JSON texts) framed as as few messages under `limit` bytes as possible."""
    budget = limit - len(_HEAD) - len(_TAIL)
    chunk: list[str] = []
    size = 0
    for part in parts:
        length = len(part.encode()) + 1
        if chunk and size + length > budget:
            yield (_HEAD + ",".join(chunk) + _TAIL).encode()
            chunk, size = [], 0
        chunk.append(part)
        size += length
    if chunk:
        yield (_HEAD + ",".join(chunk) + _TAIL).encode()


class BroadcastService:
    """Pushes a stream batch's ticks to the connections subscribed to their symbols."""

    def __init__(
        self,
        connections: Callable[[], ConnectionStore],
        api: Callable[[], ManagementApi],
        *,
        metrics: MetricsLogger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connections = connections
        self._api = api
        self._metrics = MetricsLogger.disabled() if metrics is None else metrics
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None

    def handle(self, event: dict[str, Any]) -> dict[str, int]:
        """Broadcast one stream batch; returns counts (Lambda ignores them, tests read them)."""
        started = time.perf_counter()
        metrics = self._metrics
        metrics.count(METRIC.MESSAGES_POSTED, 0)
        metrics.count(METRIC.CONNECTIONS_PRUNED, 0)
        try:
            result = self._broadcast(records_of(event))
            for key, value in result.items():
                metrics.set_property(key.capitalize(), value)
            return result
        finally:
            metrics.set_property("DurationMs", round((time.perf_counter() - started) * 1e3, 3))
            metrics.flush()

    def _broadcast(self, records: Sequence[dict[str, Any]]) -> dict[str, int]:
        by_symbol = ticks_by_symbol(records)
        if not by_symbol:
            return {"connections": 0, "messages": 0, "pruned": 0}
        # A Scan failure raises: Lambda retries the batch (bounded by the mapping's settings).
        targets = [
            (connection.connection_id, list(_messages(_parts(connection, by_symbol))))
            for connection in self._connections().scan(self._clock())
            if not connection.symbols.isdisjoint(by_symbol)
        ]
        if not targets:
            return {"connections": 0, "messages": 0, "pruned": 0}
        # Created here, not in the threads: boto3's default session is not thread-safe.
        api = self._api()
        post = functools.partial(self._post, api)
        if len(targets) == 1:
            results = [post(targets[0])]
        else:
            results = list(self._executor().map(post, targets))
        posted = sum(sent for sent, _ in results)
        pruned = sum(gone for _, gone in results)
        self._metrics.count(METRIC.MESSAGES_POSTED, posted)
        self._metrics.count(METRIC.CONNECTIONS_PRUNED, pruned)
        return {"connections": len(targets), "messages": posted, "pruned": pruned}

    def _post(self, api: ManagementApi, target: tuple[str, list[bytes]]) -> tuple[int, int]:
        """Send one connection its messages: (messages sent, 1 if it was gone and deleted)."""
        connection_id, messages = target
        sent = 0
        for message in messages:
            try:
                api.post_to_connection(ConnectionId=connection_id, Data=message)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "GoneException":
                    self._prune(connection_id)
                    return sent, 1
                _log.warning("post to %s failed: %s", connection_id, exc)
                return sent, 0
            except BotoCoreError as exc:
                _log.warning("post to %s failed: %s", connection_id, exc)
                return sent, 0
            sent += 1
        return sent, 0

    def _prune(self, connection_id: str) -> None:
        try:
            self._connections().close(connection_id)
        except (ClientError, BotoCoreError) as exc:
            # The item expires by TTL anyway; the next batch tries again.
            _log.warning("could not delete gone connection %s: %s", connection_id, exc)

    def _executor(self) -> ThreadPoolExecutor:
        # Kept for the container: threads are reused across invocations.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="post")
        return self._pool


def _parts(connection: Connection, by_symbol: dict[str, list[str]]) -> list[str]:
    """The tick texts a connection gets: its symbols' ticks, symbol by symbol (sorted)."""
    return [
        part
        for symbol in sorted(connection.symbols & by_symbol.keys())
        for part in by_symbol[symbol]
    ]
