"""Handler settings, resolved once from namespaced environment variables.

Every variable the Pulumi program sets on a function is named here, so the program, the local
cloud and the handlers agree on one spelling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError

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
    STACK: Final = PREFIX + "STACK"
    """Stack name, the `Stack` dimension of the EMF metrics (`handlers.core.metrics`)."""
    TOPIC_ARN: Final = PREFIX + "TOPIC_ARN"
    """SNS topic the fan-out consumer publishes tick messages to."""
    CONNECTIONS_TABLE: Final = PREFIX + "CONNECTIONS_TABLE"
    """DynamoDB table of open WebSocket connections and their subscriptions."""
    WS_ENDPOINT: Final = PREFIX + "WS_ENDPOINT"
    """`https://<api>.execute-api.<region>.amazonaws.com/<stage>`: the `@connections` API."""
    BARS_TABLE: Final = PREFIX + "BARS_TABLE"
    """DynamoDB table of rollup pages (docs/storage.md, "Bars")."""
    BAR_RETENTION_DAYS: Final = PREFIX + "BAR_RETENTION_DAYS"
    """JSON object interval -> days a rollup page lives after its last bar (0: kept)."""
    CONNECTION_TTL_S: Final = PREFIX + "CONNECTION_TTL_S"
    """Seconds after `$connect` when a connection item expires if `$disconnect` never came."""


class Settings(BaseModel):
    """What a handler needs from its environment; unset values take the defaults below."""

    model_config = ConfigDict(frozen=True)

    table_name: str = ""
    spill_queue_url: str = ""
    max_ticks: int = Field(500, ge=1, le=10_000)
    max_body_bytes: int = Field(256 * 1024, ge=1024, le=6 * 1024 * 1024)
    past_window_s: int = Field(7 * 24 * 3600, ge=1)
    future_window_s: int = Field(300, ge=0)
    ttl_days: int = Field(30, ge=0, le=36_500)
    """Days a tick block lives; 0 disables expiry."""
    write_attempts: int = Field(6, ge=1, le=20)
    """BatchWriteItem attempts (first try included) before blocks are spilled."""
    token_secret_id: str = ""
    bars_table: str = ""
    """Empty: no rollups (the fan-out consumer keeps none, `/bars` reads raw ticks only)."""
    bar_retention_days: Json[dict[str, int]] = Field(default_factory=dict)
    """Interval -> days a rollup page lives after its last bar (absent or 0: kept)."""
    topic_arn: str = ""
    connections_table: str = ""
    ws_endpoint: str = ""
    connection_ttl_s: int = Field(7_800, ge=60, le=7 * 24 * 3600)
    """API Gateway closes a WebSocket after 2 h; the default keeps items 10 min beyond that."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (default: the process environment)."""
        env = os.environ if environ is None else environ
        raw = {
            name: env[PREFIX + name.upper()]
            for name in cls.model_fields
            if PREFIX + name.upper() in env
        }
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = PREFIX + str(first["loc"][0]).upper()
            raise ConfigError(f"{key}: {first['msg']}") from None
