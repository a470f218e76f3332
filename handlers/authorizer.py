"""Lambda REQUEST authorizer of the ingest HTTP API (payload 2.0, simple responses).

Accepts `Authorization: Bearer <token>` when the token equals the secret whose id is in
`MARKETSTREAM_TOKEN_SECRET_ID`. The secret is fetched once per container; the comparison is in
constant time (`handlers.core.tokens`, shared with the WebSocket `$connect` route). API Gateway
caches each decision per token (300 s), so this runs rarely — but its INIT is billed, so boto3 is
imported only on the first call and pydantic not at all.
"""

from __future__ import annotations

from typing import Any

from handlers.core.tokens import TOKEN_SECRET_ID_ENV, TokenSecret, bearer_token

__all__ = ["TOKEN_SECRET_ID_ENV", "handler", "is_authorized"]

_TOKEN = TokenSecret()


def handler(event: dict[str, Any], context: object) -> dict[str, bool]:
    """Entry point: `{"isAuthorized": bool}` for an HTTP API authorizer event."""
    return {"isAuthorized": is_authorized(_header(event, "authorization"))}


def is_authorized(header: str | None) -> bool:
    """True if `header` is `Bearer <token>` with the configured token."""
    return _TOKEN.matches(bearer_token(header))


def _header(event: dict[str, Any], name: str) -> str | None:
    """A request header by lower-case name (payload 2.0 lower-cases them; be lenient anyway)."""
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return None  # a malformed event is denied, not answered with an error
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def _reset() -> None:
    """Forget the cached token (tests, and containers that must pick up a rotated secret)."""
    _TOKEN.reset()
