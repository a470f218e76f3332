"""Lambda REQUEST authorizer of the ingest HTTP API (payload 2.0, simple responses).

Accepts `Authorization: Bearer <token>` when the token equals the secret whose id is in
`MARKETSTREAM_TOKEN_SECRET_ID`. The secret is fetched once per container; the comparison is in
constant time. API Gateway caches each decision per token (300 s), so this runs rarely — but its
INIT is billed, so boto3 is imported only on the first call and pydantic not at all.
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["TOKEN_SECRET_ID_ENV", "handler", "is_authorized"]

TOKEN_SECRET_ID_ENV: Final = "MARKETSTREAM_TOKEN_SECRET_ID"  # noqa: S105 (a variable name)
"""Spelled as `handlers.core.settings.ENV.TOKEN_SECRET_ID` (not imported: that loads pydantic)."""
_SCHEME: Final = "bearer"

_expected: bytes | None = None


def handler(event: dict[str, Any], context: object) -> dict[str, bool]:
    """Entry point: `{"isAuthorized": bool}` for an HTTP API authorizer event."""
    return {"isAuthorized": is_authorized(_header(event, "authorization"))}


def is_authorized(header: str | None) -> bool:
    """True if `header` is `Bearer <token>` with the configured token."""
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token:
        return False
    # Bytes, not str: compare_digest rejects non-ASCII str, and a client controls this value.
    return hmac.compare_digest(token.encode("utf-8"), _secret())


def _header(event: dict[str, Any], name: str) -> str | None:
    """A request header by lower-case name (payload 2.0 lower-cases them; be lenient anyway)."""
    headers = event.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _secret() -> bytes:
    """The expected token, fetched on the first call of this container and kept."""
    global _expected
    if _expected is None:
        secret_id = os.environ.get(TOKEN_SECRET_ID_ENV, "")
        if not secret_id:
            # A misdeployed function must fail loudly (500), not deny every client quietly.
            raise RuntimeError(f"{TOKEN_SECRET_ID_ENV} is not set")
        response = _client().get_secret_value(SecretId=secret_id)
        _expected = response["SecretString"].encode("utf-8")
    return _expected


def _client() -> SecretsManagerClient:
    import boto3  # here, not at import: most containers answer from API Gateway's cache

    return boto3.client("secretsmanager")


def _reset() -> None:
    """Forget the cached token (tests, and containers that must pick up a rotated secret)."""
    global _expected
    _expected = None
