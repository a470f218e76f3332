"""Lambda REQUEST authorizer of the ingest HTTP API (payload 2.0, simple responses).

Accepts `Authorization: Bearer <token>` when the token equals the live-ingest secret
(`MARKETSTREAM_TOKEN_SECRET_ID`) or the backfill secret (`MARKETSTREAM_BACKFILL_TOKEN_SECRET_ID`),
and tells the ingest function which in its context (`{"credential": "live" | "backfill"}`): the
ingest function widens the time window only for the backfill token. Secrets are fetched once
per container; comparisons are in constant time (`handlers.core.tokens`). API Gateway caches each
decision, context included, per token (300 s), so this runs rarely — but its INIT is billed, so
boto3 is imported only on the first call and pydantic not at all.
"""

from __future__ import annotations

from typing import Any

from handlers.core.tokens import (
    BACKFILL,
    BACKFILL_TOKEN_SECRET_ID_ENV,
    CREDENTIAL,
    LIVE,
    TOKEN_SECRET_ID_ENV,
    TokenSecret,
    bearer_token,
)

__all__ = ["BACKFILL_TOKEN_SECRET_ID_ENV", "TOKEN_SECRET_ID_ENV", "credential", "handler"]

_TOKENS = ((LIVE, TokenSecret()), (BACKFILL, TokenSecret(BACKFILL_TOKEN_SECRET_ID_ENV)))


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Entry point: `{"isAuthorized": bool}`, with the credential's name in the context."""
    found = credential(_header(event, "authorization"))
    if found is None:
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {CREDENTIAL: found}}


def credential(header: str | None) -> str | None:
    """`live` or `backfill` if `header` is `Bearer <token>` with that token, else None."""
    token = bearer_token(header)
    for name, secret in _TOKENS:
        if secret.matches(token):
            return name
    return None


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
    """Forget the cached tokens (tests, and containers that must pick up a rotated secret)."""
    for _, secret in _TOKENS:
        secret.reset()
