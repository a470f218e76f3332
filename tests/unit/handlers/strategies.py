"""Hypothesis strategies for hostile Lambda events: hostile text and JSON, bodies, mangled events.

A Lambda event is what the runtime's `json.loads` made of the invocation payload, so every value
here is JSON-shaped (str keys; None, bool, int, float incl. NaN/Infinity, str, list, dict). Lone
surrogates are included on purpose: `"\\ud800"` is valid JSON and decodes to one.

The builders are cached: Hypothesis validates every new strategy object, and building them
afresh inside composite draws cost more time than running the handlers.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from hypothesis import strategies as st

Json = Any
"""A JSON-shaped value (hypothesis draws them; no narrower type helps mypy here)."""

TRICKY_TEXT = [
    "",
    " ",
    "null",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e999",
    "1e-999",
    "0x10",
    "²",  # isdigit() is True, int() refuses it
    "١٢٣",  # Arabic-Indic digits: isdigit() and int() both accept them
    "9" * 5000,  # past Python's int/str conversion limit (4300 digits)
    "-1",
    "1.5",
    "AAPL\n",
    " AAPL",
    "aapl",
    "A" * 17,
    "\x00",
    "\ud800",
    "caf\udce9",
    "🚀📈",
    "\u202eRTL",  # right-to-left override
    "Bearer",
    "Bearer ",
    "application/json",
    '{"a":1}',
    "[]",
]
"""Strings that broke or nearly broke parsers somewhere: kept as explicit examples."""

SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\udc80"])


@cache
def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text: tricky literals, arbitrary unicode, control characters, lone surrogates."""
    mixed = st.lists(
        st.one_of(st.text(max_size=8), SURROGATES, st.sampled_from(TRICKY_TEXT[:12])),
        max_size=4,
    ).map("".join)
    return st.one_of(
        st.sampled_from(TRICKY_TEXT),
        st.text(max_size=max_size),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=max_size),
        mixed,
    )


@cache
def json_scalars() -> st.SearchStrategy[Json]:
    """JSON leaves, hostile ones included: huge and negative numbers, NaN, ±Infinity."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**38, 10**400]),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
    )


@cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Json]:
    """JSON of every shape: scalars, lists, objects, nested."""
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(hostile_text(12), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def mostly(draw: st.DrawFn, usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    """A draw from `usual` three times in four, else from `rare`: enough valid input to get past
    the first check, enough hostile input everywhere (a plain one_of leans to its first branch)."""
    return draw(rare if draw(st.sampled_from([False, False, False, True])) else usual)


def _nested(depth: int, opener: str, closer: str, balanced: bool) -> str:
    return opener * depth + (closer * depth if balanced else "")


@cache
def json_texts() -> st.SearchStrategy[str]:
    """Texts a JSON parser chokes on, or parses into hostile documents."""
    return st.one_of(
        json_values().map(lambda v: json.dumps(v, allow_nan=True)),
        st.builds(
            _nested,
            st.integers(min_value=900, max_value=5_000),
            st.sampled_from(["[", '{"a":', '{"ticks":[']),
            st.sampled_from(["]", "}"]),
            st.booleans(),
        ),
        st.integers(min_value=4_000, max_value=5_000).map(lambda n: "7" * n),
        st.integers(min_value=4_000, max_value=5_000).map(
            lambda n: '{"symbol":"A","price":' + "1" * n + ',"timestamp":1}'
        ),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "[NaN]", '{"ticks":Infinity}', "1e99999"]),
        hostile_text(200),
    )


@cache
def tick_like(now_ms: int) -> st.SearchStrategy[dict[str, Json]]:
    """Objects shaped like a tick whose fields may hold anything (or be missing, or extra)."""
    near = st.integers(min_value=now_ms - 3_600_000, max_value=now_ms)
    field = {
        "symbol": st.sampled_from(["AAPL", "msft", "BTC-USD"]) | json_scalars(),
        "price": st.sampled_from(["189.10", "1", "1e3", "0.000001"]) | json_scalars(),
        "timestamp": near | json_scalars(),
        "size": st.sampled_from(["5", "0", "1.5"]) | json_scalars(),
        "id": st.sampled_from(["a1", "x" * 64, "x" * 65]) | json_scalars(),
    }
    return st.fixed_dictionaries(
        {},
        optional={**field, "extra": json_values(4)},
    )


@cache
def tick_documents(now_ms: int) -> st.SearchStrategy[Json]:
    """Ingest bodies as documents: a tick, `{"ticks": [...]}`, or something else entirely."""
    tick = tick_like(now_ms)
    return st.one_of(
        tick,
        st.fixed_dictionaries({"ticks": st.lists(tick, max_size=6)}),
        st.fixed_dictionaries({"ticks": json_values(6)}),
        st.fixed_dictionaries(
            {"ticks": st.lists(tick, max_size=3)}, optional={"x": json_values(3)}
        ),
        json_values(),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@cache
def bodies(documents: st.SearchStrategy[Json]) -> st.SearchStrategy[tuple[Json, Json]]:
    """(body, isBase64Encoded) pairs: JSON text, hostile text, bytes as base64, non-base64, junk."""
    text = st.one_of(documents.map(lambda d: json.dumps(d, allow_nan=True)), json_texts())
    return st.one_of(
        st.tuples(text, st.sampled_from([False, None])),
        st.tuples(text.map(lambda t: _b64(t.encode("utf-8", "surrogatepass"))), st.just(True)),
        st.tuples(st.binary(max_size=64).map(_b64), st.just(True)),  # invalid UTF-8 inside
        st.tuples(hostile_text(), st.just(True)),  # flagged base64 but is not
        st.tuples(json_values(4), json_scalars()),  # body and flag of any type
    )


def _paths(value: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into nested dicts and lists (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        items: list[tuple[Any, Json]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return found
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(child, path))
    return found


WRONG_TYPES: list[Json] = [
    None,
    123,
    -1,
    1.5,
    float("nan"),
    True,
    "",
    "text",
    [],
    ["x"],
    {},
    {"k": 1},
]
"""Replacements for a value of any type: every JSON type, empty and not."""
_REPLACEMENTS = st.sampled_from(WRONG_TYPES) | json_values(4)


@st.composite
def mangled(draw: st.DrawFn, events: st.SearchStrategy[dict[str, Json]]) -> dict[str, Json]:
    """An event with 1-3 values somewhere in it deleted or replaced by a value of another type."""
    # A deep copy, as the runtime would hand it over.
    event: dict[str, Json] = json.loads(json.dumps(draw(events)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not event:
            break
        # A top-level key first, then a path under it: otherwise the many nested keys of
        # `requestContext` would take most of the mutations.
        top = draw(st.sampled_from(sorted(event)))
        path = draw(st.sampled_from([(top,), *_paths(event[top], (top,))]))
        parent: Any = event
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[last]
        else:
            parent[last] = draw(_REPLACEMENTS)
    return event
