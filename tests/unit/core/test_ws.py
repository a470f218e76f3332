"""GIVEN the WebSocket handler over moto (connections table, token secret)
WHEN route events arrive THEN connections are authorised, recorded, subscribed and forgotten."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.core import aws
from tests.unit.core.events import ws_event

TOKEN = "ws-token-0123456789abcdef"


@dataclass
class Ws:
    ddb: Any
    handler: Any

    def item(self, connection_id: str = "conn-1") -> dict[str, Any] | None:
        answer = self.ddb.get_item(
            TableName="connections", Key={"connection_id": {"S": connection_id}}
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item


def make_connections_table(ddb: Any) -> None:
    ddb.create_table(
        TableName="connections",
        KeySchema=[{"AttributeName": "connection_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "connection_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def ws(monkeypatch: pytest.MonkeyPatch, fake_aws_env: None) -> Iterator[Ws]:
    with mock_aws():
        ddb = boto3.client("dynamodb")
        make_connections_table(ddb)
        secret = boto3.client("secretsmanager").create_secret(Name="tok", SecretString=TOKEN)
        monkeypatch.setenv("MARKETSTREAM_CONNECTIONS_TABLE", "connections")
        monkeypatch.setenv("MARKETSTREAM_TOKEN_SECRET_ID", secret["ARN"])
        monkeypatch.setenv("MARKETSTREAM_CONNECTION_TTL_S", "7800")
        aws.dynamodb.cache_clear()
        module = importlib.reload(importlib.import_module("handlers.ws"))
        yield Ws(ddb, module.handler)
        aws.dynamodb.cache_clear()


def call(ws: Ws, route: str, **kw: Any) -> tuple[int, Any]:
    response = ws.handler(ws_event(route, **kw), None)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    "auth",
    [{"query": {"token": TOKEN}}, {"headers": {"Authorization": f"Bearer {TOKEN}"}}],
)
def test_connect_with_the_token_records_the_connection_with_a_ttl(
    ws: Ws, auth: dict[str, Any]
) -> None:
    before = int(time.time())
    assert call(ws, "$connect", **auth) == (200, {"connected": True})
    item = ws.item()
    assert item is not None
    assert before + 7800 <= int(item["expires_at"]["N"]) <= int(time.time()) + 7800
    assert "symbols" not in item


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        ({}, 401),
        ({"query": {"token": ""}}, 401),
        ({"headers": {"Authorization": "Basic x"}}, 401),
        ({"query": {"token": TOKEN + "x"}}, 403),
        ({"query": {"token": "tökén"}}, 403),
        ({"headers": {"authorization": "Bearer nope"}}, 403),
    ],
)
def test_connect_without_or_with_a_wrong_token_is_refused(
    ws: Ws, auth: dict[str, Any], status: int
) -> None:
    code, body = call(ws, "$connect", **auth)
    assert code == status
    assert body["error"] in {"unauthorized", "forbidden"}
    assert ws.item() is None


def test_subscribe_unsubscribe_and_disconnect(ws: Ws) -> None:
    call(ws, "$connect", query={"token": TOKEN})
    body = {"action": "subscribe", "symbols": ["aapl", "MSFT", "BTC-USD"]}
    assert call(ws, "subscribe", body=body) == (
        200,
        {"action": "subscribe", "symbols": ["AAPL", "BTC-USD", "MSFT"]},
    )
    body = {"action": "unsubscribe", "symbols": ["MSFT", "NOPE"]}
    assert call(ws, "unsubscribe", body=body) == (
        200,
        {"action": "unsubscribe", "symbols": ["AAPL", "BTC-USD"]},
    )
    body = {"action": "unsubscribe", "symbols": ["AAPL", "BTC-USD"]}
    assert call(ws, "unsubscribe", body=body) == (200, {"action": "unsubscribe", "symbols": []})
    assert call(ws, "$disconnect") == (200, {"disconnected": True})
    assert ws.item() is None
    assert call(ws, "$disconnect")[0] == 200, "idempotent"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ([1, 2], "body"),
        ({"action": "subscribe"}, "symbols"),
        ({"action": "subscribe", "symbols": []}, "symbols"),
        ({"action": "subscribe", "symbols": "AAPL"}, "symbols"),
        ({"action": "subscribe", "symbols": ["A" * 101]}, "symbols[0]"),
        ({"action": "subscribe", "symbols": ["AAPL", "no spaces"]}, "symbols[1]"),
        ({"action": "subscribe", "symbols": ["AAPL", 7]}, "symbols[1]"),
        ({"action": "subscribe", "symbols": ["X"] * 101}, "symbols"),
        ({"action": "subscribe", "symbols": ["AAPL"], "extra": 1}, "extra"),
    ],
)
def test_bad_subscribe_bodies_answer_400_naming_the_field(ws: Ws, body: Any, field: str) -> None:
    call(ws, "$connect", query={"token": TOKEN})
    code, answer = call(ws, "subscribe", body=body)
    assert code == 400
    assert field in [d["field"] for d in answer["details"]]
    assert "symbols" not in (ws.item() or {})


def test_unknown_connection_and_unknown_action(ws: Ws) -> None:
    code, answer = call(ws, "subscribe", connection_id="ghost", body={"symbols": ["AAPL"]})
    assert (code, answer["error"]) == (410, "unknown_connection")
    assert ws.item("ghost") is None, "no item without a TTL is created"
    code, answer = call(ws, "$default", body={"action": "dance"})
    assert (code, answer["details"][0]["field"]) == (400, "action")
