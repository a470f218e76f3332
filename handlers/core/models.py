"""The tick model: the ingest contract (the OpenAPI document is generated from it).

Loaded only when it is needed: by `handlers.core.ticks.parse_ticks` for a body its fast check
does not settle (every refusal among them), and by the OpenAPI generator. Its rules live here
once; the fast check accepts a subset of what this model accepts.
"""

from __future__ import annotations

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
from handlers.core.ticks import SYMBOL_PATTERN, TimeWindow, canonical_decimal

__all__ = ["Tick", "validate_ticks"]


def _price(value: object) -> str:
    return canonical_decimal(value, positive=True)


def _size(value: object) -> str:
    return canonical_decimal(value, positive=False)


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


def _reason(error: Any) -> str:
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def validate_ticks(raw: list[Any], window: TimeWindow) -> list[Tick]:
    """Validate a list of tick objects with the model; RequestError naming every fault."""
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
