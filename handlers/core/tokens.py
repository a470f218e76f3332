"""Token checks: the HTTP authorizer's (live-ingest and backfill tokens) and the WebSocket
`$connect` route's (the read token).

Imports neither boto3 nor pydantic: the authorizer's INIT is billed and most of its calls are
answered from API Gateway's cache. The secret is fetched once per container on first use, and
tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "BACKFILL",
    "BACKFILL_TOKEN_SECRET_ID_ENV",
    "CREDENTIAL",
    "LIVE",
    "TOKEN_SECRET_ID_ENV",
    "TokenSecret",
    "bearer_token",
]

TOKEN_SECRET_ID_ENV: Final = "MARKETSTREAM_TOKEN_SECRET_ID"  # noqa: S105 (a variable name)
"""Spelled as `handlers.core.settings.ENV.TOKEN_SECRET_ID` (not imported: this stays lean)."""
BACKFILL_TOKEN_SECRET_ID_ENV: Final = "MARKETSTREAM_BACKFILL_TOKEN_SECRET_ID"  # noqa: S105
"""Spelled as `handlers.core.settings.ENV.BACKFILL_TOKEN_SECRET_ID`."""
CREDENTIAL: Final = "credential"
"""Key of the authorizer's context naming the credential the request carried."""
LIVE: Final = "live"
"""The live-ingest token: ticks inside the live window."""
BACKFILL: Final = "backfill"
"""The backfill token: ticks from epoch 0 up to now (docs/client.md, Backfill)."""
_SCHEME: Final = "bearer"


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (any scheme case), else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token:
        return None
    return token


class TokenSecret:
    """The expected token, read from Secrets Manager on first use and kept for the container."""

    def __init__(self, env_name: str = TOKEN_SECRET_ID_ENV) -> None:
        self._env_name = env_name
        self._expected: bytes | None = None

    def matches(self, token: str | None) -> bool:
        """True if `token` is the configured token (constant-time; empty never matches)."""
        if not token:
            return False
        # Bytes, not str: compare_digest rejects non-ASCII str, and a client controls this value.
        # surrogatepass: a lone surrogate (undecodable header bytes) is a wrong token, not a crash.
        return hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self.expected())

    def expected(self) -> bytes:
        """The token, fetched on the first call of this container."""
        if self._expected is None:
            # Read at first use, not at import: tests and the local cloud set it late.
            secret_id = os.environ.get(self._env_name, "")
            if not secret_id:
                # A misdeployed function must fail loudly (500), not deny every client quietly.
                raise RuntimeError(f"{self._env_name} is not set")
            response = _client().get_secret_value(SecretId=secret_id)
            self._expected = response["SecretString"].encode("utf-8")
        return self._expected

    def reset(self) -> None:
        """Forget the cached token (tests, and containers that must pick up a rotated secret)."""
        self._expected = None


def _client() -> SecretsManagerClient:
    import boto3  # here, not at import: see the module docstring

    return boto3.client("secretsmanager")
