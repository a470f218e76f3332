"""GIVEN random and broken REST API (payload 1.0) events for /query, /latest and /bars
WHEN the query handler answers THEN it never raises, never answers 5xx for what a client sends,
and every 4xx is an error body naming the parameter; crafted cursors included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from hypothesis import event as note
from hypothesis import example, given
from hypothesis import strategies as st

from handlers.core.bars import INTERVALS
from handlers.core.blocks import MAX_TIMESTAMP, Block, build_blocks, idempotency_key
from handlers.core.cursor import encode_cursor, query_fingerprint
from handlers.core.models import Tick
from handlers.core.query import QueryService
from handlers.core.reading import Position
from tests.unit.core.events import rest_v1
from tests.unit.core.memory import MemorySource
from tests.unit.handlers.conftest import FUZZ
from tests.unit.handlers.strategies import hostile_text, json_values, mangled, mostly

T0 = 1_767_225_600_000
NOW = T0 + 60_000


class DynamoLikeSource(MemorySource):
    """A MemorySource that refuses the Query requests DynamoDB refuses with a 400.

    moto accepts them, DynamoDB does not: `BETWEEN` with its lower bound above its upper bound,
    an empty key value, a sort key value over 1024 bytes, a number over 38 digits. A handler
    that sends one turns a client's request into a 500.
    """

    def blocks(
        self, symbol: str, sk_low: str, sk_high: str, *, ascending: bool, min_last_ts: int
    ) -> Iterator[Block]:
        problems = [
            (not symbol, "empty partition key value"),
            (sk_low > sk_high, "BETWEEN lower bound above its upper bound"),
            (max(len(sk_low.encode()), len(sk_high.encode())) > 1024, "sort key over 1024 bytes"),
            (len(str(abs(min_last_ts))) > 38, "number over 38 digits"),
        ]
        for failed, message in problems:
            if failed:
                raise ClientError(
                    {"Error": {"Code": "ValidationException", "Message": message}}, "Query"
                )
        return super().blocks(symbol, sk_low, sk_high, ascending=ascending, min_last_ts=min_last_ts)


def _source() -> DynamoLikeSource:
    source = DynamoLikeSource()
    for n, symbol in enumerate(["AAPL", "MSFT"]):
        sent = [
            Tick(symbol=symbol, price=f"10.{i:02d}", timestamp=T0 + 250 * i, size="1")
            for i in range(12)
        ]
        source.put(build_blocks(sent, request_key=idempotency_key(f"r{n}")))
    return source


SERVICE = QueryService(_source, clock_ms=lambda: NOW)
SHAPES = {
    "/query": {"symbol", "ticks", "next_cursor"},
    "/latest": {"symbol", "tick"},
    "/bars": {"symbol", "interval", "bars", "watermark", "raw_from"},
}


def check_answer(event: dict[str, Any]) -> tuple[int, Any]:
    """Every event: a proxy reply with an int status, never 5xx, 4xx as an error body."""
    response = SERVICE.handle(event)
    assert isinstance(response, dict)
    status = response["statusCode"]
    assert type(status) is int
    body = json.loads(response["body"])
    note(f"status {status} {body.get('error', '')}")
    if status == 200:
        assert set(body) == SHAPES[event["resource"]]
    else:
        assert status in {400, 404, 405}, f"{status} for a client's request: {body}"
        assert set(body) == {"error", "message", "details"}
        assert isinstance(body["message"], str) and body["message"]
        assert isinstance(body["details"], list)
    return status, body


NUMBERS = mostly(
    st.integers(min_value=T0 - 5_000, max_value=NOW).map(str),
    st.one_of(
        st.integers().map(str),
        st.sampled_from([str(MAX_TIMESTAMP), str(MAX_TIMESTAMP + 1), "0", "00", "1" * 40]),
        hostile_text(),
    ),
)
PARAMS = st.fixed_dictionaries(
    {"symbol": mostly(st.sampled_from(["AAPL", "aapl", "MSFT", "NONE"]), hostile_text())},
    optional={
        "from": NUMBERS,
        "to": NUMBERS,
        "limit": mostly(st.integers(min_value=1, max_value=5).map(str), NUMBERS),
        "order": mostly(st.sampled_from(["asc", "desc"]), hostile_text()),
        "interval": mostly(st.sampled_from(sorted(INTERVALS)), hostile_text()),
        "cursor": hostile_text(),
    },
).flatmap(lambda params: mostly(st.just(params), st.just({**params, "junk": "1"})))


def events() -> st.SearchStrategy[dict[str, Any]]:
    """Structurally valid 1.0 events with random parameters, routes and methods."""
    resources = st.sampled_from(sorted(SHAPES))
    return st.builds(_event, resources, PARAMS, mostly(st.just("GET"), hostile_text()))


def _event(resource: str, params: dict[str, str], method: str) -> dict[str, Any]:
    event = rest_v1(resource, params)
    event["httpMethod"] = method
    return event


@FUZZ
@given(events())
@example(rest_v1("/query", {"symbol": "AAPL", "limit": "²"}))
@example(rest_v1("/query", {"symbol": "AAPL", "from": "٣"}))
@example(rest_v1("/query", {"symbol": "AAPL", "to": "9" * 5000}))
@example(rest_v1("/bars", {"symbol": "AAPL", "interval": "1m", "from": "1" * 40}))
@example(rest_v1("/latest", {"symbol": "\ud800"}))
def test_any_parameters_get_a_json_answer_never_5xx(event: dict[str, Any]) -> None:
    status, body = check_answer(event)
    if status == 400 and body["error"] == "invalid_parameter":
        (detail,) = body["details"]
        # It names a parameter sent, or the one missing ("symbol") or ruling the range ("from").
        sent = set(event["queryStringParameters"] or {})
        assert detail["field"] in sent | {"symbol", "from"}


@FUZZ
@given(mangled(st.builds(rest_v1, st.sampled_from(sorted(SHAPES)), PARAMS)))
@example({**rest_v1("/query"), "queryStringParameters": ["symbol", "AAPL"]})
@example({**rest_v1("/query"), "queryStringParameters": ["sy"]})
@example({**rest_v1("/query"), "queryStringParameters": "symbol=AAPL"})
@example({**rest_v1("/query"), "queryStringParameters": {"symbol": ["AAPL"]}})
@example({**rest_v1("/query"), "queryStringParameters": {"symbol": "AAPL", "limit": 5}})
@example({**rest_v1("/query"), "queryStringParameters": {"symbol": "AAPL", "cursor": 5}})
@example({**rest_v1("/latest"), "queryStringParameters": {"symbol": None}})
@example({**rest_v1("/query"), "resource": None, "path": None})
@example({**rest_v1("/query"), "resource": ["/query"]})
def test_broken_events_get_a_4xx_never_a_crash(event: dict[str, Any]) -> None:
    event.setdefault("resource", "")
    response = SERVICE.handle(event)
    status = response["statusCode"]
    body = json.loads(response["body"])
    note(f"status {status} {body.get('error', '')}")
    assert status == 200 or (
        status in {400, 404, 405} and set(body) == {"error", "message", "details"}
    )


@FUZZ
@given(
    st.sampled_from(["asc", "desc"]),
    st.integers(min_value=T0 - 2_000, max_value=T0 + 4_000),
    st.integers(min_value=0, max_value=6_000),
    mostly(
        st.integers(min_value=T0 - 2_000, max_value=T0 + 4_000),
        st.one_of(
            st.integers(),
            st.sampled_from([-1, 0, MAX_TIMESTAMP, MAX_TIMESTAMP + 1, 10**40]),
        ),
    ),
    mostly(st.sampled_from([f"{T0:013d}#", "0", "~"]), hostile_text()).filter(
        lambda sk: "|" not in sk
    ),
    mostly(
        st.integers(min_value=0, max_value=12), st.integers(min_value=-(2**70), max_value=2**70)
    ),
)
@example("asc", T0, 1_000, T0 + 5_000, "x", 0)  # after the range, ascending
@example("desc", T0 + 2_000, 1_000, T0 - 5_000, "x", 0)  # before the range, descending
def test_a_crafted_cursor_of_the_same_query_is_served_or_refused(
    order: str, start: int, span: int, ts: int, sk: str, idx: int
) -> None:
    # The fingerprint only binds a cursor to its query; anyone can compute it and forge one.
    end = start + span
    fingerprint = query_fingerprint("AAPL", start, end, order == "asc")
    try:
        cursor = encode_cursor(Position(ts, sk, idx), fingerprint)
    except UnicodeEncodeError:
        cursor = "\ud800"  # a lone surrogate cannot be encoded: send it raw instead
    params = {"symbol": "AAPL", "from": str(start), "to": str(end), "order": order}
    status, body = check_answer(rest_v1("/query", {**params, "cursor": cursor}))
    if status == 200:
        assert all(start <= t["timestamp"] <= end for t in body["ticks"])
    else:
        assert (status, body["details"][0]["field"]) == (400, "cursor")


@FUZZ
@given(json_values())
def test_any_json_value_as_the_parameter_map(params: Any) -> None:
    event = rest_v1("/query")
    event["queryStringParameters"] = params
    response = SERVICE.handle(event)
    assert response["statusCode"] in {200, 400}
    if response["statusCode"] == 400:
        assert set(json.loads(response["body"])) == {"error", "message", "details"}
