"""Pydantic models of what the APIs answer, for the OpenAPI document only.

The handlers build their replies as plain dicts (the Lambda package stays lean), so these models
live here; `tests/unit/test_openapi.py` checks them against what the handlers really return.
The request side needs no model of its own: it is the handlers' `Tick`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema

from handlers.core.bars import INTERVALS
from handlers.core.models import Tick
from infra.config import StackConfig

__all__ = [
    "MAX_TICKS",
    "Bar",
    "Bars",
    "Error",
    "ErrorDetail",
    "GatewayError",
    "IngestQueued",
    "IngestStored",
    "Latest",
    "QueryPage",
    "StoredTick",
    "TickBatch",
]

MAX_TICKS = int(StackConfig.model_fields["max_ticks"].default)
"""Ticks per request with the default stack config (`maxTicks`)."""

Interval = Annotated[str, WithJsonSchema({"type": "string", "enum": list(INTERVALS)})]


class _Answer(BaseModel):
    # Replies carry exactly these keys: an extra one in a reply is a spec mismatch to catch.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TickBatch(_Answer):
    """A batch of ticks, stored all or nothing."""

    ticks: Annotated[list[Tick], Field(min_length=1, max_length=MAX_TICKS)]


class IngestStored(_Answer):
    """Every tick of the request is stored."""

    accepted: Annotated[int, Field(ge=1)]


class IngestQueued(_Answer):
    """Every tick is acknowledged; `queued` of them wait in the spill queue (the table refused)."""

    accepted: Annotated[int, Field(ge=1)]
    queued: Annotated[int, Field(ge=1)]


class ErrorDetail(_Answer):
    """One problem: the tick (`index`, null for the request itself), the field and why."""

    index: Annotated[int, Field(ge=0)] | None = None
    field: str
    reason: str


class Error(_Answer):
    """A refused request (nothing was written): a code, a sentence and the problems found."""

    error: Annotated[str, Field(examples=["invalid_tick", "invalid_parameter"])]
    message: str
    details: list[ErrorDetail]


class GatewayError(_Answer):
    """A reply of API Gateway itself (authorizer, API key, throttle, integration failure)."""

    message: Annotated[str, Field(examples=["Unauthorized", "Forbidden", "Too Many Requests"])]


class StoredTick(_Answer):
    """A stored tick; `price` and `size` are the exact decimal text sent, `size`/`id` if set."""

    symbol: str
    price: str
    timestamp: int
    size: str | SkipJsonSchema[None] = None
    id: str | SkipJsonSchema[None] = None


class QueryPage(_Answer):
    """One page of ticks in order; follow `next_cursor` (null on the last page)."""

    symbol: str
    ticks: list[StoredTick]
    next_cursor: str | None


class Latest(_Answer):
    """The symbol's newest tick, or null if it has none."""

    symbol: str
    tick: StoredTick | None


class Bar(_Answer):
    """OHLCV of one interval starting at `start` (epoch ms); prices are the ticks' exact text."""

    start: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    count: Annotated[int, Field(ge=1)]


class Bars(_Answer):
    """Bars of the intervals that have ticks, in time order."""

    symbol: str
    interval: Interval
    bars: list[Bar]
    watermark: int | None
    """1m and up: the newest tick timestamp (epoch ms) the symbol's rollups hold; every tick
    the stream has delivered before its minute is in the rollups. Null for 1s, or for a symbol
    not rolled up yet (its bars were all computed from raw ticks)."""
    raw_from: int | None
    """The bars' ticks from this time (epoch ms) on were read raw, not from the rollups, so the
    newest bars are complete; null when the whole range came from the rollups."""
