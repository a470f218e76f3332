"""GIVEN the handlers over moto WHEN API Gateway events arrive THEN they store, serve and spill."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers.core.spill import decode_message
from tests.unit.core.conftest import Cloud, body_of
from tests.unit.core.events import http_v2, rest_v1, sqs

NOW = time.time_ns() // 1_000_000


def ticks(n: int, symbol: str = "AAPL", base: int = NOW - 10_000) -> list[dict[str, Any]]:
    return [
        {"symbol": symbol, "price": f"189.{i:02d}", "timestamp": base + i, "id": f"{symbol}-{i}"}
        for i in range(n)
    ]


def ingest(cloud: Cloud, body: Any, **kw: Any) -> tuple[int, Any]:
    response = cloud.ingest.handler(http_v2(body, **kw), None)
    return response["statusCode"], body_of(response)


def query(cloud: Cloud, resource: str, **params: str) -> tuple[int, Any]:
    response = cloud.query.handler(rest_v1(resource, params), None)
    return response["statusCode"], body_of(response)


def test_ingest_then_query_returns_the_same_ticks_exactly(cloud: Cloud):
    sent = ticks(30) + ticks(5, "MSFT")
    sent[0]["price"] = "189.10"
    assert ingest(cloud, {"ticks": sent}) == (200, {"accepted": 35})
    assert len(cloud.stored_items()) == 2  # one block per symbol, not one item per tick
    got, cursor = [], None
    while True:
        params = {"symbol": "aapl", "limit": "7", **({"cursor": cursor} if cursor else {})}
        status, page = query(cloud, "/query", **params)
        assert status == 200 and page["symbol"] == "AAPL"
        got += page["ticks"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == sent[:30]
    assert got[0]["price"] == "189.10"


def test_a_retried_request_rewrites_the_same_items(cloud: Cloud):
    body = {"ticks": ticks(3)}
    ingest(cloud, body)
    ingest(cloud, body)
    assert len(cloud.stored_items()) == 1
    _, page = query(cloud, "/query", symbol="AAPL")
    assert len(page["ticks"]) == 3


def test_idempotency_key_header_makes_retries_idempotent(cloud: Cloud):
    ingest(cloud, ticks(1)[0], headers={"Idempotency-Key": "abc"})
    ingest(cloud, ticks(1)[0], headers={"Idempotency-Key": "abc"})
    ingest(cloud, ticks(1)[0], headers={"Idempotency-Key": "def"})
    assert len(cloud.stored_items()) == 2


def test_two_ticks_same_symbol_same_millisecond_both_persist(cloud: Cloud):
    a = {"symbol": "X", "price": "1", "timestamp": NOW}
    b = {"symbol": "X", "price": "2", "timestamp": NOW}
    ingest(cloud, a)
    ingest(cloud, b)
    _, page = query(cloud, "/query", symbol="X")
    assert sorted(t["price"] for t in page["ticks"]) == ["1", "2"]


def test_base64_body_is_accepted(cloud: Cloud):
    assert ingest(cloud, json.dumps(ticks(2)[0]), base64_body=True)[0] == 200


@pytest.mark.parametrize(
    ("event_kw", "body", "status", "code"),
    [
        ({}, "{not json", 400, "invalid_json"),
        ({}, "", 400, "invalid_body"),
        ({"headers": {"content-type": "text/plain"}}, "{}", 415, "unsupported_media_type"),
        ({}, {"ticks": ticks(501)}, 413, "too_many_ticks"),
        ({}, "x" * (256 * 1024 + 1), 413, "payload_too_large"),
        (
            {},
            {"ticks": [*ticks(3), {"symbol": "AAPL", "price": "-1", "timestamp": NOW}]},
            400,
            "invalid_tick",
        ),
        ({"headers": {"Idempotency-Key": ""}}, ticks(1)[0], 400, "invalid_header"),
    ],
)
def test_bad_requests_get_4xx_json_and_write_nothing(cloud: Cloud, event_kw, body, status, code):
    got_status, answer = ingest(cloud, body, **event_kw)
    assert (got_status, answer["error"]) == (status, code)
    assert answer["message"] and isinstance(answer["details"], list)
    assert cloud.stored_items() == []
    assert cloud.queued_bodies() == []


def test_invalid_tick_names_index_field_and_reason(cloud: Cloud):
    body = {"ticks": [*ticks(2), {"symbol": "AAPL", "price": "abc", "timestamp": NOW}]}
    _, answer = ingest(cloud, body)
    assert answer["details"] == [
        {"index": 2, "field": "price", "reason": answer["details"][0]["reason"]}
    ]
    assert "decimal" in answer["details"][0]["reason"]


def _refuse_writes(cloud: Cloud, monkeypatch: pytest.MonkeyPatch | Any) -> None:
    def refuse(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "BatchWriteItem"
        )

    monkeypatch.setattr(cloud.ingest._writer(), "_sleep", lambda s: None)
    monkeypatch.setattr(cloud.ingest._writer()._client, "batch_write_item", refuse)


def test_persistent_table_failure_spills_and_replay_stores_it(cloud: Cloud, monkeypatch):
    with monkeypatch.context() as patch:
        _refuse_writes(cloud, patch)
        status, answer = ingest(cloud, {"ticks": ticks(4) + ticks(2, "MSFT")})
    assert (status, answer) == (202, {"accepted": 6, "queued": 6})
    assert cloud.stored_items() == []
    bodies = cloud.queued_bodies()
    assert sum(b.count for body in bodies for b in decode_message(body)) == 6
    result = cloud.replay.handler(sqs([*bodies, "not a spill message"]), None)
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{len(bodies)}"}]}
    _, page = query(cloud, "/query", symbol="AAPL")
    assert [t["id"] for t in page["ticks"]] == [f"AAPL-{i}" for i in range(4)]
    # Replaying the same message again (SQS is at-least-once) adds nothing.
    cloud.replay.handler(sqs(bodies), None)
    assert len(cloud.stored_items()) == 2


def test_table_and_queue_both_failing_is_503_not_acknowledged(cloud: Cloud, monkeypatch):
    _refuse_writes(cloud, monkeypatch)
    monkeypatch.setattr(cloud.ingest._spill(), "_url", "http://127.0.0.1:9/nope")
    status, answer = ingest(cloud, ticks(1)[0])
    assert status == 503 and answer["error"] == "unavailable"


def test_latest_and_bars(cloud: Cloud):
    minute = (NOW - 120_000) // 60_000 * 60_000
    sent = [
        {"symbol": "B", "price": p, "timestamp": minute + o, "size": "2"}
        for p, o in [("5", 0), ("7.5", 1000), ("4", 2000), ("6", 61_000)]
    ]
    ingest(cloud, {"ticks": sent})
    assert query(cloud, "/latest", symbol="b") == (
        200,
        {
            "symbol": "B",
            "tick": {"symbol": "B", "price": "6", "timestamp": minute + 61_000, "size": "2"},
        },
    )
    status, bars = query(
        cloud, "/bars", symbol="B", interval="1m", **{"from": str(minute), "to": str(NOW)}
    )
    assert status == 200
    assert [
        (b["open"], b["high"], b["low"], b["close"], b["volume"], b["count"]) for b in bars["bars"]
    ] == [
        ("5", "7.5", "4", "4", "6", 3),
        ("6", "6", "6", "6", "2", 1),
    ]
    assert query(cloud, "/latest", symbol="NONE") == (200, {"symbol": "NONE", "tick": None})


@pytest.mark.parametrize(
    ("resource", "params", "field"),
    [
        ("/query", {}, "symbol"),
        ("/query", {"symbol": "a b"}, "symbol"),
        ("/query", {"symbol": "A", "limit": "0"}, "limit"),
        ("/query", {"symbol": "A", "limit": "1001"}, "limit"),
        ("/query", {"symbol": "A", "limit": "ten"}, "limit"),
        ("/query", {"symbol": "A", "order": "up"}, "order"),
        ("/query", {"symbol": "A", "from": "5", "to": "4"}, "from"),
        ("/query", {"symbol": "A", "from": "-5"}, "from"),
        ("/query", {"symbol": "A", "cursor": "garbage"}, "cursor"),
        ("/query", {"symbol": "A", "sym": "x"}, "sym"),
        ("/bars", {"symbol": "A", "interval": "2m"}, "interval"),
        ("/bars", {"symbol": "A", "interval": "1s", "from": "0", "to": str(NOW)}, "from"),
        ("/latest", {}, "symbol"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(cloud: Cloud, resource, params, field):
    status, answer = query(cloud, resource, **params)
    assert status == 400
    assert answer["error"] == "invalid_parameter"
    assert answer["details"][0]["field"] == field


def test_cursor_of_another_symbol_is_refused(cloud: Cloud):
    ingest(cloud, {"ticks": ticks(3) + ticks(3, "MSFT")})
    _, page = query(cloud, "/query", symbol="AAPL", limit="1")
    status, answer = query(cloud, "/query", symbol="MSFT", cursor=page["next_cursor"])
    assert status == 400 and answer["details"][0]["field"] == "cursor"
