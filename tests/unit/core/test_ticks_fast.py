"""GIVEN any list of would-be ticks WHEN the fast check and the model both judge it THEN they agree.

The fast check (`handlers.core.ticks.fast_ticks`) may only accept what the model accepts, and
must give the same values; `parse_ticks` must answer exactly what the model answers, refusals
with the same details included.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.core.errors import RequestError
from handlers.core.models import validate_ticks
from handlers.core.ticks import JsonNumber, TimeWindow, ValidTick, fast_ticks, parse_ticks

NOW = 1_764_000_000_000
WINDOW = TimeWindow(now_ms=NOW, past_ms=60_000, future_ms=5_000)
MISSING = object()

_ascii = st.characters(min_codepoint=0, max_codepoint=127)
_plain = st.from_regex(r"(?:0|[1-9][0-9]{0,40})(?:\.[0-9]{1,6})?", fullmatch=True)
_odd_text = st.sampled_from(
    ["", " 1", "1 ", "01", ".5", "1.", "-1", "-0.5", "1e3", "2.5E-3", "1e99999999", "NaN",
     "Infinity", "1_000", "٣", "0", "0.000", "0.0010", "9" * 38, "9" * 39, "1." + "0" * 37]
)  # fmt: skip
_decimal_text = _plain | _odd_text
_other: st.SearchStrategy[object] = st.sampled_from([None, True, False, [], {}, [1], 1.5])


def _decimal() -> st.SearchStrategy[object]:
    return st.one_of(
        _decimal_text,
        _decimal_text.map(JsonNumber),
        st.integers(min_value=-5, max_value=10**40),
        _other,
    )


_symbol: st.SearchStrategy[object] = st.one_of(
    st.text(alphabet="abcXYZ019._:/-", min_size=1, max_size=16),
    st.text(alphabet=_ascii, max_size=18),
    st.sampled_from(["ı", "ß", "ǅ", "AAPL\n", "a" * 17, "ﬀ", "Ⅻ"]),
    st.sampled_from(["1.5", "AAPL"]).map(JsonNumber),
    st.integers(),
    _other,
)
_timestamp: st.SearchStrategy[object] = st.one_of(
    st.integers(min_value=NOW - 61_000, max_value=NOW + 6_000),
    st.sampled_from([NOW - 60_000, NOW + 5_000, -1, 0, 10**30]),
    st.sampled_from([str(NOW), JsonNumber(f"{NOW}.0")]),
    _other,
)
_id: st.SearchStrategy[object] = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=66),
    st.text(max_size=4),
    st.sampled_from(["tab\there", "x\n", "é", "\x7f"]),
    st.integers(),
    _other,
)


@st.composite
def _tick(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, [], "tick", 1]))
    fields: dict[str, st.SearchStrategy[object]] = {
        "symbol": _symbol,
        "price": _decimal(),
        "timestamp": _timestamp,
        "size": _decimal(),
        "id": _id,
    }
    tick: dict[str, object] = {}
    for name, strategy in fields.items():
        # Required fields are mostly present, optional ones often absent.
        absent = draw(st.integers(0, 2 if name in {"size", "id"} else 12)) == 0
        if not absent:
            tick[name] = draw(strategy)
    if draw(st.integers(0, 15)) == 0:
        tick[draw(st.sampled_from(["venue", "Symbol", "sizes"]))] = 1
    return tick


def _valid_tick() -> st.SearchStrategy[dict[str, object]]:
    """Ticks of the common shape, the decimals anything: the fast check's own ground."""
    return st.fixed_dictionaries(
        {
            "symbol": st.text(alphabet="abcXYZ019._:/-", min_size=1, max_size=16),
            "price": _decimal(),
            "timestamp": st.integers(min_value=NOW - 60_000, max_value=NOW + 5_000),
        },
        optional={"size": _decimal(), "id": st.text(alphabet=_ascii, min_size=1, max_size=64)},
    )


def _model(raw: list[Any]) -> list[ValidTick] | RequestError:
    try:
        ticks = validate_ticks(raw, WINDOW)
    except RequestError as exc:
        return exc
    return [ValidTick(t.symbol, t.price, t.timestamp, t.size, t.id) for t in ticks]


def _parsed(raw: list[Any]) -> list[ValidTick] | RequestError:
    try:
        return parse_ticks({"ticks": raw}, max_ticks=10_000, window=WINDOW)
    except RequestError as exc:
        return exc


def _same(left: list[ValidTick] | RequestError, right: list[ValidTick] | RequestError) -> None:
    if isinstance(left, RequestError) or isinstance(right, RequestError):
        assert isinstance(left, RequestError), f"model refused, parse accepted {left}"
        assert isinstance(right, RequestError), f"model accepted, parse refused {left.details}"
        assert (left.status, left.code, left.message) == (right.status, right.code, right.message)
        assert left.details == right.details
        return
    assert left == right
    assert [type(v) for t in left for v in t] == [type(v) for t in right for v in t]


def _check(raw: list[Any]) -> None:
    model = _model(raw)
    fast = fast_ticks(raw, WINDOW)
    if fast is not None:
        # THEN what the fast check accepts, the model accepts, with the same values
        assert not isinstance(model, RequestError), f"fast accepted what the model refuses: {raw}"
        _same(fast, model)
    # AND parse_ticks answers what the model answers, refusal details included
    _same(_parsed(raw), model)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_tick(), min_size=1, max_size=4))
def test_fast_check_and_parse_agree_with_the_model_on_anything(raw: list[Any]) -> None:
    _check(raw)


@settings(max_examples=600, deadline=None)
@given(st.lists(_valid_tick(), min_size=1, max_size=3))
def test_fast_check_and_parse_agree_with_the_model_on_common_ticks(raw: list[Any]) -> None:
    _check(raw)


_EDGES: dict[str, list[object]] = {
    "symbol": ["A", "a" * 16, "a" * 17, "", "ı", "ß", "AAPL\n", JsonNumber("1.5"), 1, None],
    "price": [
        "9" * 38, "9" * 39, "1." + "0" * 37, "1." + "0" * 38, 10**38 - 1, 10**38,
        JsonNumber("9" * 37 + ".9"), JsonNumber("9" * 38 + ".9"), "0", "0.0", "0.001", 0, 1,
        -1, "1e2", JsonNumber("1e2"), "01", True, None,
    ],
    "timestamp": [NOW - 60_001, NOW - 60_000, NOW + 5_000, NOW + 5_001, 0, -1, True, None],
    "size": ["0", 0, "9" * 38, "9" * 39, 10**38, "-1", -1, JsonNumber("0.50"), "1e2", None],
    "id": ["x", "x" * 64, "x" * 65, "", " ", "~", "\x7f", "\x1f", "é", 1, None],
}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values in _EDGES.items() for value in values],
)
def test_fast_check_and_parse_agree_with_the_model_at_every_edge(field: str, value: object) -> None:
    # GIVEN a valid tick with one field at the edge of a rule, alone and after a valid tick
    tick = {"symbol": "ok", "price": "1", "timestamp": NOW, "size": "1", "id": "i", field: value}
    good = {"symbol": "ok", "price": "1", "timestamp": NOW}
    # WHEN both judge it THEN they agree
    _check([tick])
    _check([good, tick])


def test_the_common_shape_takes_the_fast_path() -> None:
    # GIVEN ticks as clients send them: strings for price and size, an id, lower-case symbols
    raw = [
        {"symbol": "aapl", "price": "189.50", "timestamp": NOW, "size": "100", "id": "t-1"},
        {"symbol": "AAPL", "price": 190, "timestamp": NOW - 1, "size": 0},
        {"symbol": "BTC-USD", "price": JsonNumber("64000.5"), "timestamp": NOW + 5_000},
    ]
    # WHEN the fast check reads them THEN it settles them without the model
    assert fast_ticks(raw, WINDOW) == [
        ValidTick("AAPL", "189.50", NOW, "100", "t-1"),
        ValidTick("AAPL", "190", NOW - 1, "0", None),
        ValidTick("BTC-USD", "64000.5", NOW + 5_000, None, None),
    ]


def test_importing_the_ingest_handler_does_not_load_pydantic() -> None:
    # GIVEN a fresh interpreter WHEN it imports the ingest, query and replay handlers
    code = (
        "import sys, handlers.ingest, handlers.query, handlers.replay; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pydantic', 'pydantic_core'}))"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    # THEN pydantic is not loaded: only a refusal or an unusual tick needs the model
    assert out.strip() == "[]"
