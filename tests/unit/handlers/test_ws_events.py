"""GIVEN random and broken WebSocket API route events ($connect, $disconnect, subscribe,
unsubscribe, $default) WHEN the ws handler answers THEN it never raises: $connect without the
exact token is refused with 401/403 and records nothing, and a garbage message gets a 4xx error
body and leaves the connection's subscriptions as they were."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import event as note
from hypothesis import example, given
from hypothesis import strategies as st

from handlers.core.connections import ConnectionStore
from handlers.core.tokens import TokenSecret
from handlers.core.ws import WebSocketService
from tests.unit.core.events import ws_event
from tests.unit.handlers.conftest import MOTO_FUZZ, TOKEN
from tests.unit.handlers.strategies import (
    bodies,
    hostile_text,
    json_values,
    mangled,
    mostly,
)

ROUTES = ["$connect", "$disconnect", "subscribe", "unsubscribe", "$default"]
CLIENT_STATUSES = {400, 401, 403, 410}


class Ws:
    """The WebSocket service over the moto connections table and token secret."""

    def __init__(self, store: ConnectionStore) -> None:
        self.store = store
        self.service = WebSocketService(lambda: store, TokenSecret(), ttl_s=7_800)

    def answer(self, event: dict[str, Any]) -> tuple[int, Any]:
        response = self.service.handle(event)
        assert isinstance(response, dict)
        status = response["statusCode"]
        assert type(status) is int
        body = json.loads(response["body"])
        note(f"status {status} {body.get('error', '')}")
        if status != 200:
            assert status in CLIENT_STATUSES, f"{status} for a client's message: {body}"
            assert set(body) == {"error", "message", "details"}
            assert isinstance(body["message"], str) and body["message"]
            assert isinstance(body["details"], list)
        return status, body

    def item(self, connection_id: str) -> dict[str, Any] | None:
        answer = self.store._client.get_item(
            TableName="connections", Key={"connection_id": {"S": connection_id}}
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item


@pytest.fixture
def ws(connections: ConnectionStore) -> Ws:
    """The service, and one registered connection `member` subscribed to AAPL."""
    now = int(time.time())
    connections.open("member", connected_at_ms=now * 1000, expires_at=now + 600)
    connections.subscribe("member", ["AAPL"])
    return Ws(connections)


def _near_misses() -> st.SearchStrategy[str]:
    extras = hostile_text().filter(lambda extra: extra.strip() != "")
    return st.one_of(
        st.integers(min_value=0, max_value=len(TOKEN) - 1).map(lambda i: TOKEN[:i]),
        extras.map(lambda extra: TOKEN + extra),
        extras.map(lambda extra: extra + TOKEN),
        st.just(TOKEN.upper()),
        hostile_text(),
    )


NOISE = st.dictionaries(
    hostile_text(12).filter(lambda k: k.lower() not in {"token", "authorization"}),
    hostile_text(),
    max_size=3,
)


@MOTO_FUZZ
@given(
    NOISE,
    NOISE,
    st.none() | _near_misses(),
    st.none() | _near_misses().map(lambda t: f"Bearer {t}") | hostile_text(),
)
@example({}, {}, "\ud800", None)
@example({}, {}, None, "Bearer \udc80")
@example({}, {}, "", f"Basic {TOKEN}")
def test_connect_without_the_token_is_refused_and_records_nothing(
    ws: Ws, query: dict[str, str], headers: dict[str, str], token: str | None, auth: str | None
) -> None:
    if token is not None:
        query = {**query, "token": token}
    if auth is not None:
        headers = {**headers, "Authorization": auth}
    status, _ = ws.answer(ws_event("$connect", "intruder", query=query, headers=headers))
    assert status in {401, 403}
    assert ws.item("intruder") is None


@MOTO_FUZZ
@given(NOISE, NOISE, st.booleans())
def test_connect_with_the_token_is_accepted_whatever_else_comes(
    ws: Ws, query: dict[str, str], headers: dict[str, str], in_query: bool
) -> None:
    if in_query:
        query = {**query, "token": TOKEN}
    else:
        headers = {**headers, "Authorization": f"Bearer {TOKEN}"}
    try:
        assert ws.answer(ws_event("$connect", "guest", query=query, headers=headers)) == (
            200,
            {"connected": True},
        )
        assert ws.item("guest") is not None
    finally:
        ws.store.close("guest")


MESSAGE_ROUTES = mostly(
    st.sampled_from(["subscribe", "unsubscribe"]), st.sampled_from(["$default"]) | hostile_text()
)
SYMBOL_LISTS = st.fixed_dictionaries(
    {
        "symbols": mostly(
            st.lists(st.sampled_from(["AAPL", "msft", "BTC-USD"]), min_size=1, max_size=3),
            json_values(4),
        )
    },
    optional={
        "action": st.sampled_from(["subscribe", "unsubscribe"]) | json_values(2),
        "extra": json_values(2),
    },
).flatmap(lambda d: mostly(st.just(d), st.just({k: v for k, v in d.items() if k != "symbols"})))


@MOTO_FUZZ
@given(
    MESSAGE_ROUTES,
    mostly(SYMBOL_LISTS.map(lambda d: (json.dumps(d), False)), bodies(json_values())),
)
@example("subscribe", ("[" * 5_000, False))
@example("subscribe", ('{"symbols":' + "1" * 5_000 + "}", False))
@example("subscribe", (5, True))
@example("subscribe", ("not base64", True))
@example("subscribe", ("/w==", True))  # base64 of one byte that is not UTF-8
@example("subscribe", ("\ud800", False))
@example("unsubscribe", ({"symbols": ["AAPL"]}, False))
def test_a_garbage_message_gets_a_clear_error_and_changes_nothing(
    ws: Ws, route: str, body: tuple[Any, Any]
) -> None:
    event = ws_event(route, "member", body="")
    event["body"], event["isBase64Encoded"] = body
    before = ws.item("member")
    status, answer = ws.answer(event)
    after = ws.item("member")
    assert after is not None, "a message never forgets its connection"
    if status == 200:
        assert answer["symbols"] == sorted(after.get("symbols", {}).get("SS", []))
        assert answer["action"] == route
        # Back to the fixture's state for the next example.
        ws.store.unsubscribe("member", ["MSFT", "BTC-USD"])
        ws.store.subscribe("member", ["AAPL"])
    else:
        assert status == 400
        assert after == before, "a refused message changed the subscriptions"


@MOTO_FUZZ
@given(
    mangled(
        st.builds(
            lambda route, query, headers, body: ws_event(
                route, "member", body=body, query=query, headers=headers
            ),
            st.sampled_from(ROUTES),
            NOISE.map(lambda q: {**q, "token": TOKEN}),
            NOISE,
            SYMBOL_LISTS,
        )
    )
)
@example({"requestContext": None})
@example({"requestContext": ["$connect"]})
@example({"requestContext": {"routeKey": "$connect", "connectionId": "x"}, "headers": ["a"]})
@example({"requestContext": {"routeKey": "$connect", "connectionId": "x"}, "headers": "h"})
@example(
    {
        "requestContext": {"routeKey": "$connect", "connectionId": "x"},
        "queryStringParameters": ["t"],
    }
)
@example(
    {"requestContext": {"routeKey": "$connect", "connectionId": "x"}, "multiValueHeaders": ["a"]}
)
@example({"requestContext": {"routeKey": "$connect", "connectionId": ["x"]}})
@example({"requestContext": {"routeKey": "subscribe", "connectionId": "member"}, "body": 5})
@example(
    {
        "requestContext": {"routeKey": "subscribe", "connectionId": "member"},
        "body": 5,
        "isBase64Encoded": True,
    }
)
def test_broken_events_get_an_answer_never_a_crash(ws: Ws, event: dict[str, Any]) -> None:
    status, _ = ws.answer(event)
    if status == 200:  # only an accepted event changes anything: back to the fixture's state
        now = int(time.time())
        ws.store.open("member", connected_at_ms=now * 1000, expires_at=now + 600)
        ws.store.subscribe("member", ["AAPL"])
