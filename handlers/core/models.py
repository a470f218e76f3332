"""The tick model and the parsing of an ingest body into validated ticks (all or nothing)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from handlers.core.errors import ErrorDetail, RequestError

__all__ = [
    "MAX_DECIMAL_DIGITS",
    "SYMBOL_PATTERN",
    "JsonNumber",
    "Tick",
    "TimeWindow",
    "canonical_decimal",
    "load_json",
    "parse_ticks",
    "validate_symbol",
]

SYMBOL_PATTERN: Final = r"^[A-Za-z0-9._:/-]{1,16}$"
MAX_DECIMAL_DIGITS: Final = 38
"""Digits a price or size may carry; the encoding stores any length, this bounds abuse."""
_MAX_EXPONENT: Final = 40
_DECIMAL_TEXT = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


class JsonNumber(str):
    """The exact text of a JSON number with a fraction or exponent: it never becomes a float."""

    __slots__ = ()


def load_json(body: bytes | str) -> Any:
    """Parse JSON keeping non-integer numbers as their source text (see `JsonNumber`)."""
    return json.loads(body, parse_float=JsonNumber)


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
    if _DECIMAL_TEXT.fullmatch(text) is None:
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


def _price(value: object) -> str:
    return canonical_decimal(value, positive=True)


def _size(value: object) -> str:
    return canonical_decimal(value, positive=False)


class TimeWindow(BaseModel):
    """Accepted timestamps: [now - past_ms, now + future_ms], passed as validation context."""

    model_config = ConfigDict(frozen=True)

    now_ms: int
    past_ms: int
    future_ms: int


class Tick(BaseModel):
    """One market tick: symbol, exact decimal price, epoch-ms timestamp, optional size and id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: Annotated[str, StringConstraints(to_upper=True, pattern=SYMBOL_PATTERN)]
    price: Annotated[str, BeforeValidator(_price)]
    timestamp: StrictInt
    size: Annotated[str, BeforeValidator(_size)] | None = None
    id: Annotated[str, Field(pattern=r"^[\x20-\x7e]{1,64}$")] | None = None

    @field_validator("timestamp")
    @classmethod
    def _within_window(cls, value: int, info: ValidationInfo) -> int:
        window = info.context.get("window") if isinstance(info.context, dict) else None
        if value < 0:
            raise ValueError("must be epoch milliseconds >= 0")
        if isinstance(window, TimeWindow):
            if value < window.now_ms - window.past_ms:
                raise ValueError(f"older than the accepted window ({window.past_ms} ms before now)")
            if value > window.now_ms + window.future_ms:
                raise ValueError(
                    f"later than the accepted window ({window.future_ms} ms after now)"
                )
        return value


_TICKS: Final = TypeAdapter(list[Tick])


def validate_symbol(value: str) -> str:
    """The upper-cased symbol, or ValueError naming the rule it breaks."""
    if re.fullmatch(SYMBOL_PATTERN, value) is None:
        raise ValueError("must be 1-16 characters of A-Z 0-9 . - _ : /")
    return value.upper()


def _reason(error: Any) -> str:
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def parse_ticks(document: Any, *, max_ticks: int, window: TimeWindow) -> list[Tick]:
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
    try:
        return _TICKS.validate_python(raw, context={"window": window})
    except ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = err["loc"]
            index = loc[0] if loc and isinstance(loc[0], int) else None
            field = ".".join(str(part) for part in loc[1:]) or "tick"
            details.append(ErrorDetail(index=index, field=field, reason=_reason(err)))
        raise RequestError(
            400,
            "invalid_tick",
            f"{len(details)} problem(s) in the ticks; nothing was written",
            details,
        ) from None
