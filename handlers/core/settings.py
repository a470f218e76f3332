"""Handler settings, resolved once from namespaced environment variables.

Every variable the Pulumi program sets on a function is named here, so the program, the local
cloud and the handlers agree on one spelling.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
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
    BARS_TABLE: Final = PREFIX + "BARS_TABLE"
    """DynamoDB table of rollup pages (docs/storage.md, "Bars")."""
    BAR_RETENTION_DAYS: Final = PREFIX + "BAR_RETENTION_DAYS"
    """JSON object interval -> days a rollup page lives after its last bar (0: kept)."""
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
    bars_table: str = ""
    """Empty: no rollups (the fan-out consumer keeps none, `/bars` reads raw ticks only)."""
    bar_retention_days: Mapping[str, int] = field(default_factory=dict)
    """Interval -> days a rollup page lives after its last bar (absent or 0: kept)."""
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
        for setting in fields(cls):
            key = PREFIX + setting.name.upper()
            if key not in env:
                continue
            value = env[key]
            if setting.name in _BOUNDS:
                try:
                    raw[setting.name] = int(value.strip())
                except ValueError:
                    raise ConfigError(f"{key}: must be an integer, not {value!r}") from None
            elif setting.name == "bar_retention_days":
                raw[setting.name] = _retention(key, value)
            else:
                raw[setting.name] = value
        return cls(**raw)


def _retention(key: str, value: str) -> dict[str, int]:
    """A JSON object of interval -> whole days >= 0, or ConfigError naming `key`."""
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ConfigError(f"{key}: must be a JSON object, not {value!r}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in parsed.items()
    ):
        raise ConfigError(f"{key}: must map intervals to whole days >= 0, not {value!r}")
    return parsed
