"""Ingest bodies into validated ticks, all or nothing, without loading pydantic on the hot path.

`handlers.core.models.Tick` is the contract: the OpenAPI document is generated from it and it
names every fault. `parse_ticks` first tries a check of the common shape (exact `str`/`int`
values in plain notation, ASCII symbols and ids, no unknown keys) that accepts only what the model
accepts and yields what the model yields; anything else, every refusal included, goes through the
model, so a refused request gets the model's details exactly (docs/architecture.md, Data model;
tests/unit/core/test_ticks_fast.py checks the equivalence).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Final, NamedTuple

from handlers.core.errors import ErrorDetail, RequestError

__all__ = [
    "DECIMAL_TEXT",
    "MAX_DECIMAL_DIGITS",
    "SYMBOL_PATTERN",
    "JsonNumber",
    "TimeWindow",
    "ValidTick",
    "canonical_decimal",
    "fast_ticks",
    "load_json",
    "parse_ticks",
    "validate_symbol",
]

SYMBOL_PATTERN: Final = r"^[A-Za-z0-9._:/-]{1,16}$"
MAX_DECIMAL_DIGITS: Final = 38
"""Digits a price or size may carry; the encoding stores any length, this bounds abuse."""
_MAX_EXPONENT: Final = 40
DECIMAL_TEXT: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""A non-negative decimal in plain or exponent notation (the OpenAPI pattern of price and size)."""
_PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# The model's pattern without anchors, for fullmatch: Python's `$` also matches before a final
# newline, pydantic's (Rust) `$` does not.
_SYMBOL = re.compile(r"[A-Za-z0-9._:/-]{1,16}")
_TICK_KEYS: Final = frozenset({"symbol", "price", "timestamp", "size", "id"})


class JsonNumber(str):
    """The exact text of a JSON number with a fraction or exponent: it never becomes a float."""

    __slots__ = ()


_DECODER: Final = json.JSONDecoder(parse_float=JsonNumber)


def load_json(body: bytes | str) -> Any:
    """Parse JSON keeping non-integer numbers as their source text (see `JsonNumber`)."""
    # json.loads(..., parse_float=...) builds a decoder per call; this is json.loads otherwise.
    if isinstance(body, bytes):
        body = body.decode(json.detect_encoding(body), "surrogatepass")
    elif body.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", body, 0)
    return _DECODER.decode(body)


def canonical_decimal(value: object, *, positive: bool) -> str:
    """The plain-notation text of a non-negative decimal given as a JSON number or string.

    Plain text keeps its scale ("1.50" stays "1.50"); exponents become plain ("1.5e2" -> "150").
    """
    kind = type(value)
    if kind is int:
        text = str(value)
    elif kind is str or kind is JsonNumber:
        text = str(value)
        # The hot path: plain notation, checked by one regex with no per-digit Python work.
        if _PLAIN_DECIMAL.fullmatch(text) is None:
            text = _from_exponent_form(text)
    elif kind is bool:
        raise ValueError("must be a decimal number, not a boolean")
    else:
        raise ValueError("must be a decimal number (JSON number or string)")
    if text[0] == "-":
        raise ValueError("must not be negative")
    if len(text) - ("." in text) > MAX_DECIMAL_DIGITS:
        raise ValueError(f"has more than {MAX_DECIMAL_DIGITS} digits")
    if positive and not text.strip("0."):
        raise ValueError("must be greater than 0")
    return text


def _from_exponent_form(text: str) -> str:
    if DECIMAL_TEXT.fullmatch(text) is None:
        raise ValueError("must be a non-negative decimal in plain or exponent notation")
    try:
        number = Decimal(text)
    except ArithmeticError:
        # decimal.InvalidOperation, not a ValueError: an exponent past 10**18 escaped pydantic
        # and answered 500 (found by schemathesis, tests/functional/test_fuzz_api.py).
        raise ValueError("exponent out of range") from None
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or abs(exponent) > _MAX_EXPONENT:
        raise ValueError("exponent out of range")
    return format(number, "f")


def validate_symbol(value: str) -> str:
    """The upper-cased symbol, or ValueError naming the rule it breaks."""
    if re.fullmatch(SYMBOL_PATTERN, value) is None:
        raise ValueError("must be 1-16 characters of A-Z 0-9 . - _ : /")
    return value.upper()


class TimeWindow(NamedTuple):
    """Accepted timestamps: [now - past_ms, now + future_ms] (the model's validation context;
    a NamedTuple: one per request, cheaper to build than a frozen dataclass)."""

    now_ms: int
    past_ms: int
    future_ms: int


class ValidTick(NamedTuple):
    """A tick the model accepts, as the model gives it: upper-case symbol, plain decimals."""

    symbol: str
    price: str
    timestamp: int
    size: str | None = None
    id: str | None = None


def _fast_decimal(value: object) -> str | None:
    """`canonical_decimal` of a JSON number or an int (not of a `str`: see `fast_ticks`)."""
    kind = type(value)
    if kind is JsonNumber:
        text = str(value)
        if _PLAIN_DECIMAL.fullmatch(text) is None:
            return None
    elif kind is int:
        text = str(value)
        if text[0] == "-":
            return None
    else:
        return None
    return text if len(text) <= MAX_DECIMAL_DIGITS else None


_known_symbols: dict[str, str] = {}
"""Symbols seen valid, upper-cased: a request's ticks mostly repeat a few symbols."""
_KNOWN_SYMBOLS_MAX: Final = 4096


def _symbol(value: str) -> str | None:
    if _SYMBOL.fullmatch(value) is None:
        return None
    if len(_known_symbols) >= _KNOWN_SYMBOLS_MAX:
        _known_symbols.clear()
    upper = _known_symbols[value] = value.upper()
    return upper


def fast_ticks(raw: list[Any], window: TimeWindow) -> list[ValidTick] | None:
    """The ticks if every one has the common shape and is valid; None: ask the model."""
    low = max(0, window.now_ms - window.past_ms)
    high = window.now_ms + window.future_ms
    known = _known_symbols
    plain = _PLAIN_DECIMAL.fullmatch
    digits = MAX_DECIMAL_DIGITS
    new = tuple.__new__
    out: list[ValidTick] = []
    append = out.append
    # Every check is inline (this loop is the hot path of ingest); a value must be exactly a
    # `str` or an `int`, subclasses (bool, JsonNumber for text fields) go to the model.
    try:
        for tick in raw:
            if type(tick) is not dict:
                return None
            symbol = tick["symbol"]
            if type(symbol) is not str:
                return None
            symbol = known.get(symbol) or _symbol(symbol)
            if symbol is None:
                return None
            timestamp = tick["timestamp"]
            if type(timestamp) is not int or not low <= timestamp <= high:
                return None
            price = tick["price"]
            if type(price) is not str or len(price) > digits or plain(price) is None:
                price = _fast_decimal(price)
                if price is None:
                    return None
            if not price.strip("0."):
                return None
            keys = len(tick)
            if keys == 3:  # the three read above are the only keys
                size = tick_id = None
            elif keys == 5:  # and these two are the other two
                size = tick["size"]
                tick_id = tick["id"]
            elif _TICK_KEYS.issuperset(tick):
                size = tick.get("size")
                tick_id = tick.get("id")
            else:
                return None
            if size is not None and (
                type(size) is not str or len(size) > digits or plain(size) is None
            ):
                size = _fast_decimal(size)
                if size is None:
                    return None
            # [\x20-\x7e]{1,64}: printable ASCII is exactly that range.
            if tick_id is not None and (
                type(tick_id) is not str
                or not 0 < len(tick_id) <= 64
                or not tick_id.isascii()
                or not tick_id.isprintable()
            ):
                return None
            append(new(ValidTick, (symbol, price, timestamp, size, tick_id)))
    except KeyError:  # a required key is missing: the model names it
        return None
    return out


def parse_ticks(document: Any, *, max_ticks: int, window: TimeWindow) -> list[ValidTick]:
    """Validate a parsed ingest body (one tick or `{"ticks": [...]}`); RequestError on any fault."""
    if isinstance(document, dict) and "ticks" in document:
        extra = sorted(set(document) - {"ticks"})
        if extra:
            raise RequestError(
                400,
                "invalid_body",
                "a batch body has only the key 'ticks'",
                [ErrorDetail(field=k, reason="unexpected key") for k in extra],
            )
        raw = document["ticks"]
        if not isinstance(raw, list):
            raise RequestError(
                400,
                "invalid_body",
                "'ticks' must be a list",
                [ErrorDetail(field="ticks", reason="must be a list of tick objects")],
            )
    elif isinstance(document, dict):
        raw = [document]
    else:
        raise RequestError(
            400,
            "invalid_body",
            'the body must be a tick object or {"ticks": [...]}',
            [ErrorDetail(field="body", reason="must be a JSON object")],
        )
    if not raw:
        raise RequestError(
            400,
            "invalid_body",
            "'ticks' is empty",
            [ErrorDetail(field="ticks", reason="must hold at least 1 tick")],
        )
    if len(raw) > max_ticks:
        raise RequestError(
            413,
            "too_many_ticks",
            f"{len(raw)} ticks in one request; the limit is {max_ticks}",
            [ErrorDetail(field="ticks", reason=f"at most {max_ticks} ticks per request")],
        )
    ticks = fast_ticks(raw, window)
    if ticks is not None:
        return ticks
    # Rare: a refusal, or a tick only the model reads (exponents, JSON null, other types).
    from handlers.core.models import validate_ticks

    return [
        ValidTick(t.symbol, t.price, t.timestamp, t.size, t.id) for t in validate_ticks(raw, window)
    ]
