"""GIVEN ingest bodies WHEN they are parsed THEN valid ticks come out exact, bad ones are named."""

from __future__ import annotations

import pytest

from handlers.core.errors import RequestError
from handlers.core.ticks import TimeWindow, canonical_decimal, load_json, parse_ticks

NOW = 1_764_000_000_000
WINDOW = TimeWindow(now_ms=NOW, past_ms=60_000, future_ms=5_000)


def parse(text: str, max_ticks: int = 500):
    return parse_ticks(load_json(text), max_ticks=max_ticks, window=WINDOW)


def refusal(text: str, max_ticks: int = 500) -> RequestError:
    with pytest.raises(RequestError) as info:
        parse(text, max_ticks)
    return info.value


def test_single_tick_object_is_one_tick_with_symbol_upper_cased():
    [tick] = parse(f'{{"symbol": "btc-usd", "price": "64000.50", "timestamp": {NOW}}}')
    assert tick.symbol == "BTC-USD"
    assert tick.price == "64000.50"
    assert tick.timestamp == NOW
    assert tick.size is None and tick.id is None


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("1.50", "1.50"),  # JSON number keeps its trailing zero: never through float
        ('"1.50"', "1.50"),
        ("0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827"),
        ("123456789012345678901234567890.12", "123456789012345678901234567890.12"),
        ("189", "189"),
        ("1.5e2", "150"),
        ('"2.5E-3"', "0.0025"),
    ],
)
def test_price_is_kept_as_exact_decimal_text(sent: str, stored: str):
    [tick] = parse(f'{{"symbol": "X", "price": {sent}, "timestamp": {NOW}}}')
    assert tick.price == stored


def test_batch_with_size_and_id():
    ticks = parse(
        f'{{"ticks": [{{"symbol": "A", "price": 1, "timestamp": {NOW}, "size": "0.00",'
        f' "id": "x-1"}},'
        f' {{"symbol": "b", "price": "2", "timestamp": {NOW - 1}}}]}}'
    )
    assert [(t.symbol, t.size, t.id) for t in ticks] == [("A", "0.00", "x-1"), ("B", None, None)]


@pytest.mark.parametrize(
    ("field", "value", "reason_part"),
    [
        ("symbol", '""', "pattern"),
        ("symbol", '"ABCDEFGHIJKLMNOPQ"', "pattern"),
        ("symbol", '"A B"', "pattern"),
        ("symbol", "12", "string"),
        ("price", "0", "greater than 0"),
        ("price", '"0.000"', "greater than 0"),
        ("price", "-1.5", "negative"),
        ("price", '"NaN"', "decimal"),
        ("price", '"Infinity"', "decimal"),
        ("price", '"1_000"', "decimal"),
        ("price", '" 1"', "decimal"),
        ("price", "true", "boolean"),
        ("price", "null", "decimal"),
        ("price", '"1e99999999"', "exponent"),
        ("price", '"' + "9" * 39 + '"', "digits"),
        ("timestamp", f'"{NOW}"', "integer"),
        ("timestamp", f"{NOW}.0", "integer"),
        ("timestamp", str(NOW - 61_000), "older"),
        ("timestamp", str(NOW + 6_000), "later"),
        ("timestamp", "-1", ">= 0"),
        ("size", '"-1"', "decimal"),
        ("size", "[]", "decimal"),
        ("id", '""', "pattern"),
        ("id", '"' + "x" * 65 + '"', "pattern"),
        ("id", '"tab\\there"', "pattern"),
    ],
)
def test_each_bad_field_is_named_with_index_and_reason(field: str, value: str, reason_part: str):
    tick = {"symbol": '"OK"', "price": '"1"', "timestamp": str(NOW)}
    tick[field] = value
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in tick.items()) + "}"
    good = f'{{"symbol": "OK", "price": "1", "timestamp": {NOW}}}'
    error = refusal(f'{{"ticks": [{good}, {body}]}}')
    assert error.status == 400
    assert error.code == "invalid_tick"
    [detail] = error.details
    assert (detail.index, detail.field) == (1, field)
    assert reason_part in detail.reason


@pytest.mark.parametrize("missing", ["symbol", "price", "timestamp"])
def test_missing_required_field_is_named(missing: str):
    tick = {"symbol": "OK", "price": "1", "timestamp": NOW}
    del tick[missing]
    import json

    [detail] = refusal(json.dumps(tick)).details
    assert (detail.index, detail.field, detail.reason) == (0, missing, "Field required")


def test_unknown_field_is_refused():
    [detail] = refusal(f'{{"symbol": "A", "price": 1, "timestamp": {NOW}, "venue": "x"}}').details
    assert detail.field == "venue"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("[]", 400, "invalid_body"),
        ('"tick"', 400, "invalid_body"),
        ('{"ticks": []}', 400, "invalid_body"),
        ('{"ticks": {}}', 400, "invalid_body"),
        ('{"ticks": [], "extra": 1}', 400, "invalid_body"),
    ],
)
def test_bad_envelopes(body: str, status: int, code: str):
    error = refusal(body)
    assert (error.status, error.code) == (status, code)
    assert error.as_json()["details"]


def test_too_many_ticks_is_413():
    tick = f'{{"symbol": "A", "price": 1, "timestamp": {NOW}}}'
    error = refusal(f'{{"ticks": [{tick}, {tick}, {tick}]}}', max_ticks=2)
    assert (error.status, error.code) == (413, "too_many_ticks")


def test_canonical_decimal_keeps_scale_and_refuses_garbage():
    assert canonical_decimal("10.000", positive=False) == "10.000"
    assert canonical_decimal(7, positive=True) == "7"
    with pytest.raises(ValueError, match="greater than 0"):
        canonical_decimal("0", positive=True)
    with pytest.raises(ValueError, match="JSON number or string"):
        canonical_decimal(1.5, positive=True)  # a float would already have lost digits
