"""The WebSocket API's routes: `$connect` with the read token, `$disconnect`, (un)subscribe.

The token is the stack's read token (its secret id in `MARKETSTREAM_TOKEN_SECRET_ID`): watching
is reading, so the tokens that write (live ingest, backfill) are refused here like any other.

API Gateway routes on `requestContext.routeKey` (selected by the body's `action`). `$connect`
refuses a connection by answering 401 (no token) or 403 (wrong token); the token comes from the
query string (`?token=`, as browsers cannot set headers on a WebSocket) or `Authorization: Bearer`.
`subscribe` / `unsubscribe` take `{"action": ..., "symbols": [...]}` and answer
`{"action", "symbols": <the connection's symbols now>}`; a bad body answers 400 naming the field.
Those replies reach the client through the routes' `$default` route responses.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from handlers.core.connections import ConnectionStore
from handlers.core.errors import ErrorDetail, RequestError
from handlers.core.http import error_response, json_response
from handlers.core.ticks import validate_symbol
from handlers.core.tokens import TokenSecret, bearer_token

__all__ = ["CONNECT", "DISCONNECT", "MAX_SYMBOLS", "SUBSCRIBE", "UNSUBSCRIBE", "WebSocketService"]

CONNECT: Final = "$connect"
DISCONNECT: Final = "$disconnect"
SUBSCRIBE: Final = "subscribe"
UNSUBSCRIBE: Final = "unsubscribe"
MAX_SYMBOLS: Final = 100
"""Symbols one (un)subscribe message may name."""
_KEYS: Final = frozenset({"action", "symbols"})

_log = logging.getLogger(__name__)


class WebSocketService:
    """Answers the WebSocket API's route events (Lambda proxy integration)."""

    def __init__(
        self,
        connections: Callable[[], ConnectionStore],
        token: TokenSecret,
        *,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connections = connections
        self._token = token
        self._ttl_s = ttl_s
        self._clock = clock

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """The reply to one route event; RequestErrors become their 4xx replies."""
        context = _mapping(event.get("requestContext"))
        route = str(context.get("routeKey", ""))
        connection_id = context.get("connectionId")
        try:
            if not isinstance(connection_id, str) or not connection_id:
                raise RequestError(400, "invalid_event", "no requestContext.connectionId")
            if route == CONNECT:
                return self._connect(event, connection_id)
            if route == DISCONNECT:
                self._connections().close(connection_id)
                return json_response(200, {"disconnected": True})
            if route in (SUBSCRIBE, UNSUBSCRIBE):
                return self._subscription(route, event, connection_id)
            raise RequestError(
                400,
                "unknown_action",
                f"unknown action; send {SUBSCRIBE!r} or {UNSUBSCRIBE!r}",
                [ErrorDetail(field="action", reason=f"must be {SUBSCRIBE} or {UNSUBSCRIBE}")],
            )
        except RequestError as exc:
            return error_response(exc)

    def _connect(self, event: dict[str, Any], connection_id: str) -> dict[str, Any]:
        token = _query(event, "token") or bearer_token(_header(event, "authorization"))
        if token is None:
            raise RequestError(401, "unauthorized", "a token is required (?token= or Bearer)")
        if not self._token.matches(token):
            raise RequestError(403, "forbidden", "the token is not valid")
        now = self._clock()
        self._connections().open(
            connection_id, connected_at_ms=int(now * 1000), expires_at=int(now) + self._ttl_s
        )
        return json_response(200, {"connected": True})

    def _subscription(
        self, route: str, event: dict[str, Any], connection_id: str
    ) -> dict[str, Any]:
        symbols = parse_symbols(event)
        store = self._connections()
        if route == SUBSCRIBE:
            current = store.subscribe(connection_id, symbols)
        else:
            current = store.unsubscribe(connection_id, symbols)
        if current is None:
            # The item expired or was pruned while the socket stayed open: the client reconnects.
            raise RequestError(410, "unknown_connection", "this connection is not registered")
        return json_response(200, {"action": route, "symbols": current})


def parse_symbols(event: dict[str, Any]) -> list[str]:
    """The validated, upper-cased symbols of an (un)subscribe body, else a 400 naming the field."""
    raw = event.get("body") or ""
    try:
        if not isinstance(raw, str):
            raise TypeError("the body is not text")
        text = base64.b64decode(raw).decode() if event.get("isBase64Encoded") else raw
        document = json.loads(text)
    # RecursionError: arrays nested ~1000 deep; ValueError also covers over-long integers.
    except (ValueError, TypeError, RecursionError):
        raise RequestError(
            400, "invalid_body", "the body is not JSON", [ErrorDetail("body", "must be JSON")]
        ) from None
    if not isinstance(document, dict):
        raise RequestError(
            400,
            "invalid_body",
            "the body must be an object",
            [ErrorDetail("body", "not an object")],
        )
    extra = sorted(set(document) - _KEYS)
    if extra:
        raise RequestError(
            400,
            "invalid_body",
            "unexpected keys",
            [ErrorDetail(field=key, reason="unexpected key") for key in extra],
        )
    symbols = document.get("symbols")
    if not isinstance(symbols, list) or not 1 <= len(symbols) <= MAX_SYMBOLS:
        raise RequestError(
            400,
            "invalid_body",
            "'symbols' must be a list of symbols",
            [ErrorDetail("symbols", f"must be a list of 1 to {MAX_SYMBOLS} symbols")],
        )
    details: list[ErrorDetail] = []
    valid: list[str] = []
    for index, symbol in enumerate(symbols):
        try:
            if not isinstance(symbol, str):
                raise ValueError("must be a string")
            valid.append(validate_symbol(symbol))
        except ValueError as exc:
            details.append(ErrorDetail(field=f"symbols[{index}]", reason=str(exc)))
    if details:
        raise RequestError(400, "invalid_symbol", f"{len(details)} invalid symbol(s)", details)
    return valid


def _query(event: dict[str, Any], name: str) -> str | None:
    copies = _copies(event.get("multiValueQueryStringParameters"), lambda key: key == name)
    value = ",".join(copies) if copies else _mapping(event.get("queryStringParameters")).get(name)
    return str(value) if value else None


def _header(event: dict[str, Any], name: str) -> str | None:
    copies = _copies(event.get("multiValueHeaders"), lambda key: key.lower() == name)
    if copies:
        return ",".join(copies)
    for key, value in _mapping(event.get("headers")).items():
        if key.lower() == name:
            return str(value)
    return None


def _copies(multi: Any, wanted: Callable[[str], bool]) -> list[str]:
    """Every copy of a repeated header or parameter: joined with commas (RFC 9110), a repeated
    credential is never a match, whichever copy the single-value map kept."""
    if not isinstance(multi, dict):
        return []
    found: list[str] = []
    for key, values in multi.items():
        if isinstance(key, str) and wanted(key):
            found.extend(str(v) for v in (values if isinstance(values, list) else [values]))
    return found


def _mapping(value: Any) -> dict[str, Any]:
    """`value` if it is an object, else empty: a malformed event is refused, not a crash."""
    return value if isinstance(value, dict) else {}
