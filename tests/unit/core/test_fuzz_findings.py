"""Regressions for what fuzzing the local cloud found (tests/functional/test_fuzz_api.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.core.errors import RequestError
from handlers.core.query import QueryService
from handlers.core.ticks import TimeWindow, canonical_decimal, load_json, parse_ticks
from tests.unit.core.events import rest_v1
from tests.unit.core.memory import MemorySource

NOW = 1_764_000_000_000
WINDOW = TimeWindow(now_ms=NOW, past_ms=60_000, future_ms=5_000)


@pytest.mark.parametrize(
    "price",
    [
        "56e587624697250730466178426388799",  # what schemathesis sent: POST /ingest answered 500
        "1e1000000000000000000",  # just past Decimal's own exponent limit
        "1E-9999999999999999999",  # and past it on the negative side
    ],
)
def test_an_exponent_beyond_decimal_range_is_a_400_naming_the_price(price: str) -> None:
    # GIVEN a tick whose price exponent Decimal itself refuses (InvalidOperation, not ValueError)
    body = json.dumps({"symbol": "AAPL", "price": price, "timestamp": NOW})
    # WHEN it is parsed THEN it is refused like any bad price, not raised as a server error
    with pytest.raises(RequestError) as info:
        parse_ticks(load_json(body), max_ticks=500, window=WINDOW)
    assert info.value.status == 400
    [detail] = info.value.details
    assert (detail.index, detail.field, detail.reason) == (0, "price", "exponent out of range")


def test_the_same_exponent_as_a_json_number_is_refused_too() -> None:
    with pytest.raises(ValueError, match="exponent out of range"):
        canonical_decimal(load_json('{"p": 1e1000000000000000000}')["p"], positive=True)


def _query(params: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    event = rest_v1("/query", {name: values[-1] for name, values in params.items()})
    # As API Gateway sends it: the last copy in the single-valued map, every copy here.
    event["multiValueQueryStringParameters"] = params
    service = QueryService(MemorySource, clock_ms=lambda: NOW)
    reply = service.handle(event)
    return reply["statusCode"], json.loads(reply["body"])


def test_a_parameter_given_twice_is_refused_not_read_as_its_last_copy() -> None:
    # GIVEN `order=sideways&order=desc` (the last copy used to win: 200 in descending order)
    status, body = _query({"symbol": ["AAPL"], "order": ["sideways", "desc"]})
    # THEN the request is refused naming the parameter
    assert status == 400
    assert body["details"] == [
        {"index": None, "field": "order", "reason": "is given more than once"}
    ]
    # AND one copy of each parameter is still served
    assert _query({"symbol": ["AAPL"], "order": ["desc"]})[0] == 200


@pytest.mark.parametrize("name", ["from", "to", "limit", "order", "cursor"])
def test_an_empty_parameter_is_refused_not_read_as_the_default(name: str) -> None:
    # GIVEN `/query?symbol=AAPL&<name>=` (it used to mean the default: `from=` read from 0)
    status, body = _query({"symbol": ["AAPL"], name: [""]})
    # THEN it is refused naming the parameter
    assert status == 400
    assert body["details"] == [{"index": None, "field": name, "reason": "is empty"}]
