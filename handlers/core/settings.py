"""Handler settings, resolved once from namespaced environment variables.

Every variable the Pulumi program sets on a function is named here, so the program, the local
cloud and the handlers agree on one spelling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from handlers.core.errors import ConfigError

__all__ = ["ENV", "Settings"]

PREFIX: Final = "MARKETSTREAM_"


class ENV:
    """Environment variable names (the Pulumi program sets these)."""

    TABLE_NAME: Final = PREFIX + "TABLE_NAME"
    SPILL_QUEUE_URL: Final = PREFIX + "SPILL_QUEUE_URL"
    MAX_TICKS: Final = PREFIX + "MAX_TICKS"
    MAX_BODY_BYTES: Final = PREFIX + "MAX_BODY_BYTES"
    PAST_WINDOW_S: Final = PREFIX + "PAST_WINDOW_S"
    FUTURE_WINDOW_S: Final = PREFIX + "FUTURE_WINDOW_S"
    TTL_DAYS: Final = PREFIX + "TTL_DAYS"
    WRITE_ATTEMPTS: Final = PREFIX + "WRITE_ATTEMPTS"
    TOKEN_SECRET_ID: Final = PREFIX + "TOKEN_SECRET_ID"
    """The live-ingest token's secret (the authorizer); the WebSocket's read token's (ws)."""
    BACKFILL_TOKEN_SECRET_ID: Final = PREFIX + "BACKFILL_TOKEN_SECRET_ID"
    """The backfill token's secret (the authorizer)."""
    STACK: Final = PREFIX + "STACK"
    """Stack name, the `Stack` dimension of the EMF metrics (`handlers.core.metrics`)."""
    TOPIC_ARN: Final = PREFIX + "TOPIC_ARN"
    """SNS topic the fan-out consumer publishes tick messages to."""
    CONNECTIONS_TABLE: Final = PREFIX + "CONNECTIONS_TABLE"
    """DynamoDB table of open WebSocket connections and their subscriptions."""
    WS_ENDPOINT: Final = PREFIX + "WS_ENDPOINT"
    """`https://<api>.execute-api.<region>.amazonaws.com/<stage>`: the `@connections` API."""
    CONNECTION_TTL_S: Final = PREFIX + "CONNECTION_TTL_S"
    """Seconds after `$connect` when a connection item expires if `$disconnect` never came."""


# Bounds of the integer settings, inclusive (None: unbounded).
_BOUNDS: Final[dict[str, tuple[int, int | None]]] = {
    "max_ticks": (1, 10_000),
    "max_body_bytes": (1024, 6 * 1024 * 1024),
    "past_window_s": (1, None),
    "future_window_s": (0, None),
    "ttl_days": (0, 36_500),
    "write_attempts": (1, 20),
    "connection_ttl_s": (60, 7 * 24 * 3600),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """What a handler needs from its environment; unset values take the defaults below.

    A plain dataclass, not a pydantic model: every function reads its settings at INIT, and
    pydantic is needed only on rare paths (docs/architecture.md, Pitfalls: Lambda bills INIT).
    """

    table_name: str = ""
    spill_queue_url: str = ""
    max_ticks: int = 500
    max_body_bytes: int = 256 * 1024
    past_window_s: int = 7 * 24 * 3600
    future_window_s: int = 300
    ttl_days: int = 30
    """Days a tick block lives; 0 disables expiry."""
    write_attempts: int = 6
    """BatchWriteItem attempts (first try included) before blocks are spilled."""
    token_secret_id: str = ""
    topic_arn: str = ""
    connections_table: str = ""
    ws_endpoint: str = ""
    connection_ttl_s: int = 7_800
    """API Gateway closes a WebSocket after 2 h; the default keeps items 10 min beyond that."""

    def __post_init__(self) -> None:
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if type(value) is not int:
                raise ConfigError(f"{PREFIX}{name.upper()}: must be an integer, not {value!r}")
            if value < low or (high is not None and value > high):
                limit = f"between {low} and {high}" if high is not None else f">= {low}"
                raise ConfigError(f"{PREFIX}{name.upper()}: must be {limit} (got {value})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (default: the process environment)."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for field in fields(cls):
            key = PREFIX + field.name.upper()
            if key not in env:
                continue
            value = env[key]
            if field.name in _BOUNDS:
                try:
                    raw[field.name] = int(value.strip())
                except ValueError:
                    raise ConfigError(f"{key}: must be an integer, not {value!r}") from None
            else:
                raw[field.name] = value
        return cls(**raw)
