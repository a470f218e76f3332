"""GIVEN DynamoDB stream batches mixing tick blocks, REMOVEs and poison records, and a
subscribed WebSocket connection WHEN the broadcaster runs THEN it never raises, skips the poison
records (live data is best effort: the fan-out consumer reports them) and pushes every tick of
every block in the batch, symbol by symbol, each symbol's ticks in timestamp order."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import given

from handlers.core.broadcast import BroadcastService
from handlers.core.connections import ConnectionStore
from handlers.core.streams import tick_json
from tests.unit.handlers.conftest import FUZZ, MOTO_FUZZ
from tests.unit.handlers.streams import SYMBOLS, StreamRecord, any_records, batches


class RecordingApi:
    """The `@connections` API: remembers what each connection was sent."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> Any:
        self.posts.append((ConnectionId, json.loads(Data)))
        return {}


@pytest.fixture
def store(connections: ConnectionStore) -> ConnectionStore:
    """One connection subscribed to every symbol the batches use, one to none of them."""
    now = int(time.time())
    for connection_id, symbols in (("all", SYMBOLS), ("other", ["ZZZ"])):
        connections.open(connection_id, connected_at_ms=now * 1000, expires_at=now + 600)
        connections.subscribe(connection_id, symbols)
    return connections


@MOTO_FUZZ
@given(batches())
def test_every_tick_of_every_block_is_pushed_and_poison_is_skipped(
    store: ConnectionStore, records: list[StreamRecord]
) -> None:
    api = RecordingApi()
    service = BroadcastService(lambda: store, lambda: api)
    result = service.handle({"Records": [r.raw for r in records]})
    expected = Counter(
        json.dumps(tick_json(r.block.symbol, t), sort_keys=True)
        for r in records
        if r.block is not None
        for t in r.block.ticks()
    )
    if not expected:
        assert (result, api.posts) == ({"connections": 0, "messages": 0, "pruned": 0}, [])
        return
    assert {connection for connection, _ in api.posts} == {"all"}
    assert result == {"connections": 1, "messages": len(api.posts), "pruned": 0}
    pushed = [t for _, message in api.posts for t in message["ticks"]]
    assert all(message["type"] == "ticks" for _, message in api.posts)
    assert Counter(json.dumps(t, sort_keys=True) for t in pushed) == expected
    order = [(t["symbol"], t["timestamp"]) for t in pushed]
    assert order == sorted(order), "symbol by symbol, each in timestamp order"


@FUZZ
@given(any_records())
def test_any_records_value_is_answered_or_refused_as_not_a_stream_event(
    store: ConnectionStore, records: Any
) -> None:
    api = RecordingApi()
    service = BroadcastService(lambda: store, lambda: api)
    if not isinstance(records, list):
        with pytest.raises(ValueError, match="no 'Records' list"):
            service.handle({"Records": records})
        return
    assert service.handle({"Records": records}) == {"connections": 0, "messages": 0, "pruned": 0}
    assert api.posts == []
