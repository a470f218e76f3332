"""GIVEN subscribed connections in a moto table and a stubbed `@connections` API
WHEN a stream batch arrives THEN each subscriber gets one message with its symbols' new ticks,
and gone connections are deleted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from handlers.core.blocks import Block, build_blocks
from handlers.core.broadcast import MAX_MESSAGE_BYTES, BroadcastService
from handlers.core.connections import ConnectionStore
from handlers.core.models import Tick
from tests.unit.core.events import stream, stream_record
from tests.unit.core.test_ws import make_connections_table

T0 = 1_764_000_000_000


def block(symbol: str, n: int = 2, base: int = T0) -> Block:
    ticks = [Tick(symbol=symbol, price=f"1.{i}", timestamp=base + i) for i in range(n)]
    (only,) = build_blocks(ticks)
    return only


class StubApi:
    """Records posts; connections in `gone` answer GoneException, in `broken` a throttle."""

    def __init__(self, gone: set[str] = frozenset(), broken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.gone = gone
        self.broken = broken
        self.posts: list[tuple[str, Any]] = []

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> Any:
        for ids, code in ((self.gone, "GoneException"), (self.broken, "LimitExceededException")):
            if ConnectionId in ids:
                raise ClientError({"Error": {"Code": code, "Message": ""}}, "PostToConnection")
        self.posts.append((ConnectionId, json.loads(Data)))
        return {}

    def by_connection(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for connection_id, message in self.posts:
            out.setdefault(connection_id, []).append(message)
        return out


@pytest.fixture
def store(fake_aws_env: None) -> Iterator[ConnectionStore]:
    with mock_aws():
        ddb = boto3.client("dynamodb")
        make_connections_table(ddb)
        yield ConnectionStore(ddb, "connections")


def connect(store: ConnectionStore, connection_id: str, *symbols: str, ttl: int = 600) -> None:
    now = int(time.time())
    store.open(connection_id, connected_at_ms=now * 1000, expires_at=now + ttl)
    if symbols:
        store.subscribe(connection_id, symbols)


def test_one_message_per_connection_per_batch_with_its_symbols(store: ConnectionStore) -> None:
    connect(store, "a", "AAPL", "MSFT")
    connect(store, "b", "BTC-USD")
    connect(store, "c", "TSLA")  # nothing for it in this batch
    connect(store, "d")  # no subscriptions
    api = StubApi()
    service = BroadcastService(lambda: store, lambda: api)
    blocks = [
        block("MSFT", 2, T0 + 5),
        block("AAPL", 3),
        block("BTC-USD"),
        block("AAPL", 1, T0 + 1),
    ]
    event = stream([stream_record(b.to_item(), i) for i, b in enumerate(blocks)])

    assert service.handle(event) == {"connections": 2, "messages": 2, "pruned": 0}

    got = api.by_connection()
    assert sorted(got) == ["a", "b"]
    (message,) = got["a"]
    assert message["type"] == "ticks"
    # Symbol by symbol, each in timestamp order (the stream had AAPL's blocks out of order).
    assert [(t["symbol"], t["timestamp"]) for t in message["ticks"]] == [
        ("AAPL", T0),
        ("AAPL", T0 + 1),
        ("AAPL", T0 + 1),
        ("AAPL", T0 + 2),
        ("MSFT", T0 + 5),
        ("MSFT", T0 + 6),
    ]
    assert message["ticks"][0] == {"symbol": "AAPL", "price": "1.0", "timestamp": T0}
    assert [t["symbol"] for t in got["b"][0]["ticks"]] == ["BTC-USD", "BTC-USD"]


def test_gone_connections_are_pruned_and_others_still_served(store: ConnectionStore) -> None:
    for connection_id in ("a", "gone", "broken"):
        connect(store, connection_id, "AAPL")
    api = StubApi(gone={"gone"}, broken={"broken"})
    service = BroadcastService(lambda: store, lambda: api)
    event = stream([stream_record(block("AAPL").to_item(), 1)])

    assert service.handle(event) == {"connections": 3, "messages": 1, "pruned": 1}

    remaining = sorted(c.connection_id for c in store.scan(time.time()))
    assert remaining == ["a", "broken"], "a throttled post is not a reason to forget a client"


def test_expired_connections_and_empty_batches_get_nothing(store: ConnectionStore) -> None:
    connect(store, "old", "AAPL", ttl=-1)  # TTL passed, DynamoDB has not deleted it yet
    api = StubApi()
    service = BroadcastService(lambda: store, lambda: api)
    assert service.handle(stream([stream_record(block("AAPL").to_item(), 1)]))["messages"] == 0
    removed = stream([stream_record(None, 2, event_name="REMOVE")])
    assert service.handle(removed) == {"connections": 0, "messages": 0, "pruned": 0}
    assert api.posts == []


def test_a_poison_record_is_skipped_not_retried(store: ConnectionStore) -> None:
    connect(store, "a", "AAPL")
    poison = block("AAPL").to_item()
    poison["b"] = {"B": b"\xff"}
    api = StubApi()
    service = BroadcastService(lambda: store, lambda: api)
    event = stream([stream_record(poison, 1), stream_record(block("AAPL", 1).to_item(), 2)])
    assert service.handle(event)["messages"] == 1


def test_a_huge_batch_is_split_under_the_message_limit(store: ConnectionStore) -> None:
    connect(store, "a", "AAPL")
    blocks = [block("AAPL", 500, T0 + 2_000 * i) for i in range(12)]
    api = StubApi()
    service = BroadcastService(lambda: store, lambda: api)
    service.handle(stream([stream_record(b.to_item(), i) for i, b in enumerate(blocks)]))
    messages = api.by_connection()["a"]
    assert len(messages) > 1
    assert all(len(json.dumps(m, separators=(",", ":"))) <= MAX_MESSAGE_BYTES for m in messages)
    assert sum(len(m["ticks"]) for m in messages) == 6_000


def test_many_connections_are_posted_concurrently_once_each(store: ConnectionStore) -> None:
    for i in range(25):
        connect(store, f"c{i:02d}", "AAPL")
    api = StubApi()
    service = BroadcastService(lambda: store, lambda: api)
    service.handle(stream([stream_record(block("AAPL").to_item(), 1)]))
    assert sorted(api.by_connection()) == [f"c{i:02d}" for i in range(25)]
    assert all(len(m) == 1 for m in api.by_connection().values())


def test_the_handler_module_posts_to_the_configured_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from handlers.core import aws

    endpoint = "https://wsapi.execute-api.us-east-1.amazonaws.com/live"
    monkeypatch.setenv("MARKETSTREAM_WS_ENDPOINT", endpoint)
    monkeypatch.setenv("MARKETSTREAM_CONNECTIONS_TABLE", "connections")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    module = importlib.reload(importlib.import_module("handlers.broadcast"))
    client: Any = module._api()
    assert client.meta.endpoint_url == endpoint
    assert client.meta.service_model.service_name == "apigatewaymanagementapi"
    aws.management_api.cache_clear()
