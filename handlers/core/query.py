"""The query service: REST API (payload 1.0) events for /query, /latest and /bars."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any, Final

from handlers.core.barpages import ROLLUPS
from handlers.core.barreads import BarReader, TooManyTicks
from handlers.core.bars import INTERVALS, compute_bars
from handlers.core.blocks import MAX_TIMESTAMP
from handlers.core.cursor import decode_cursor, encode_cursor, query_fingerprint
from handlers.core.errors import ErrorDetail, RequestError
from handlers.core.http import error_response, json_response
from handlers.core.reading import BlockSource, iter_ticks, latest, read_page
from handlers.core.store import ReadUnavailable
from handlers.core.ticks import validate_symbol

__all__ = ["MAX_BARS", "MAX_BAR_TICKS", "QueryService"]

_log = logging.getLogger(__name__)

MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100
MAX_BARS: Final = 5000
"""Most intervals one /bars request may span."""
MAX_BAR_TICKS: Final = 200_000
"""Most raw ticks one /bars request may read; beyond it the client narrows the range. Rolled-up
intervals read raw only the range's partial minutes and what the rollups have not reached."""

_ALLOWED: Final = {
    "query": {"symbol", "from", "to", "limit", "order", "cursor"},
    "latest": {"symbol"},
    "bars": {"symbol", "interval", "from", "to"},
}


def _bad(name: str, reason: str) -> RequestError:
    return RequestError(
        400, "invalid_parameter", f"query parameter {name!r} {reason}", [ErrorDetail(name, reason)]
    )


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:  # an empty value is refused before (_refuse_ambiguous)
        return default
    # isdigit() alone admits "²" (int() refuses it) and other scripts' digits (int() takes them).
    if not text.isascii() or not text.isdigit():
        raise _bad(name, "must be a non-negative integer")
    digits = text.lstrip("0") or "0"
    # Past `high`'s length it is out of range, and int() refuses over 4300 digits anyway.
    value = int(digits) if len(digits) <= len(str(high)) else high + 1
    if not low <= value <= high:
        raise _bad(name, f"must be between {low} and {high}")
    return value


def _params(raw: object) -> dict[str, str]:
    """The query string parameters: null or an object of text values, else a 400."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestError(
            400,
            "invalid_parameter",
            "the query string parameters are not a map of names to values",
            [ErrorDetail("queryStringParameters", "must be an object of strings")],
        )
    for name, value in raw.items():
        if not isinstance(value, str):
            raise _bad(str(name), "must be one text value")
    return dict(raw)


def _refuse_ambiguous(params: Mapping[str, str], multi: object) -> None:
    """A 400 for a parameter given more than once or with an empty value.

    Both used to read as the default and so widen a read silently (found by schemathesis,
    tests/functional/test_fuzz_api.py): API Gateway passes only the last copy in
    `queryStringParameters`, so `order=bad&order=` was the default order, and `from=` was 0.
    """
    if isinstance(multi, dict):
        for name in sorted(multi, key=str):
            values = multi[name]
            if isinstance(values, list) and len(values) > 1:
                raise _bad(str(name), "is given more than once")
    for name in sorted(params):
        if params[name] == "":
            raise _bad(name, "is empty")


def _symbol(params: Mapping[str, str]) -> str:
    text = params.get("symbol")
    if not text:
        raise _bad("symbol", "is required")
    try:
        return validate_symbol(text)
    except ValueError as exc:
        raise _bad("symbol", str(exc)) from None


def _range(params: Mapping[str, str], default_from: int, default_to: int) -> tuple[int, int]:
    start = _int(params, "from", default_from, 0, MAX_TIMESTAMP)
    end = _int(params, "to", default_to, 0, MAX_TIMESTAMP)
    if start > end:
        raise _bad("from", "must not be after 'to'")
    return start, end


class QueryService:
    """Serves ticks, the latest tick and OHLCV bars from blocks."""

    def __init__(
        self,
        source: Callable[[], BlockSource],
        *,
        clock_ms: Callable[[], int],
        bars: Callable[[], BarReader] | None = None,
    ) -> None:
        self._source = source
        self._clock_ms = clock_ms
        self._bars = bars

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Answer one REST API request."""
        route = str(event.get("resource") or event.get("path") or "").rstrip("/").rsplit("/", 1)[-1]
        try:
            if route not in _ALLOWED:
                raise RequestError(404, "not_found", f"no route {route!r}")
            if event.get("httpMethod", "GET") != "GET":
                raise RequestError(405, "method_not_allowed", "only GET is served")
            params = _params(event.get("queryStringParameters"))
            _refuse_ambiguous(params, event.get("multiValueQueryStringParameters"))
            unknown = sorted(set(params) - _ALLOWED[route])
            if unknown:
                raise _bad(unknown[0], f"is not a parameter of /{route}")
            if route == "query":
                return json_response(200, self.query(params))
            if route == "latest":
                return json_response(200, self.latest(params))
            return json_response(200, self.bars(params))
        except RequestError as exc:
            return error_response(exc)
        except ReadUnavailable as exc:
            _log.warning("read refused: %s", exc)
            return json_response(
                503,
                {
                    "error": "unavailable",
                    "message": f"storage is unavailable ({exc}); retry later",
                    "details": [],
                },
            )

    def query(self, params: Mapping[str, str]) -> dict[str, Any]:
        """`GET /query`: one page of a symbol's ticks in [from, to]."""
        symbol = _symbol(params)
        start, end = _range(params, 0, MAX_TIMESTAMP)
        limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        order = params.get("order") or "asc"
        if order not in ("asc", "desc"):
            raise _bad("order", "must be 'asc' or 'desc'")
        ascending = order == "asc"
        fingerprint = query_fingerprint(symbol, start, end, ascending)
        after = None
        if params.get("cursor"):
            try:
                after = decode_cursor(params["cursor"], fingerprint)
            except ValueError as exc:
                raise _bad("cursor", str(exc)) from None
            # Anyone can compute a fingerprint; a forged position outside the range would make
            # a Query DynamoDB refuses (BETWEEN bounds reversed), a 500 for a client's request.
            if not start <= after.ts <= end:
                raise _bad("cursor", "is outside the query's range")
        ticks, resume = read_page(
            self._source(), symbol, start, end, limit=limit, ascending=ascending, after=after
        )
        return {
            "symbol": symbol,
            "ticks": [t.as_json() for t in ticks],
            "next_cursor": encode_cursor(resume, fingerprint) if resume else None,
        }

    def latest(self, params: Mapping[str, str]) -> dict[str, Any]:
        """`GET /latest`: the symbol's newest tick, or null."""
        symbol = _symbol(params)
        tick = latest(self._source(), symbol)
        return {"symbol": symbol, "tick": tick.as_json() if tick else None}

    def bars(self, params: Mapping[str, str]) -> dict[str, Any]:
        """`GET /bars`: OHLCV per interval over [from, to] (default: the last 100 intervals)."""
        symbol = _symbol(params)
        interval = params.get("interval") or "1m"
        if interval not in INTERVALS:
            raise _bad("interval", f"must be one of {', '.join(INTERVALS)}")
        length = INTERVALS[interval]
        now = self._clock_ms()
        start, end = _range(params, max(0, now - 100 * length), now)
        if (end - start) // length + 1 > MAX_BARS:
            raise _bad("from", f"the range spans more than {MAX_BARS} {interval} intervals")
        if interval in ROLLUPS and self._bars is not None:
            try:
                answer = self._bars().read(symbol, interval, start, end)
            except TooManyTicks:
                raise _too_many_ticks() from None
            return {
                "symbol": symbol,
                "interval": interval,
                "bars": [bar.as_json() for bar in answer.bars],
                "watermark": answer.watermark,
                "raw_from": answer.raw_from,
            }
        ticks = list(islice(iter_ticks(self._source(), symbol, start, end), MAX_BAR_TICKS + 1))
        if len(ticks) > MAX_BAR_TICKS:
            raise _too_many_ticks()
        return {
            "symbol": symbol,
            "interval": interval,
            "bars": [bar.as_json() for bar in compute_bars(ticks, length)],
            "watermark": None,
            "raw_from": start,
        }


def _too_many_ticks() -> RequestError:
    return RequestError(
        400,
        "range_too_large",
        f"more than {MAX_BAR_TICKS} ticks in the range; narrow 'from'..'to'",
        [ErrorDetail("from", "range holds too many ticks")],
    )
