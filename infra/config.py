"""Stack configuration: `pulumi.Config("marketstream")` validated into one frozen model.

Every knob has a default and a limit. A bad value fails the program with one message per bad key,
spelled the way the user typed it (`marketstream:ingestMemoryMb: must be between 128 and 10240`),
so `pulumi up` stops before it declares anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, get_args, get_origin

import annotated_types
import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from handlers.core.ticks import validate_symbol

__all__ = [
    "NAMESPACE",
    "ConfigError",
    "QueryClient",
    "StackConfig",
    "Subscriber",
    "Tier",
    "load_config",
    "parse_config",
]

NAMESPACE: Final = "marketstream"

LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
"""The only values CloudWatch Logs accepts for a log group's retention."""

_NAME_PATTERN: Final = r"^[a-z][a-z0-9-]{0,31}$"

Rate = Annotated[float, Field(ge=1, le=10_000)]
"""Steady requests per second (API Gateway's default account limit is 10,000)."""
Burst = Annotated[int, Field(ge=1, le=5_000)]
"""Token-bucket burst (API Gateway's default account limit is 5,000)."""


class ConfigError(pulumi.RunError):
    """Invalid stack configuration; the message names each bad key and its limit.

    A `RunError` makes the Pulumi engine print the message without a Python traceback.
    """


class _Model(BaseModel):
    # Stack files use camelCase keys; unknown keys are typos, so they are errors.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,  # the docstrings below become the generated key reference
    )


class Tier(_Model):
    """A usage-plan tier of the query API: throttle and quota for every key bound to it."""

    rate_limit: Rate = 50
    burst_limit: Burst = 100
    quota_limit: int = Field(100_000, ge=1, le=1_000_000_000)
    """Requests per quota period."""
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"


class QueryClient(_Model):
    """A consumer of the query API: gets one API key, bound to its tier's usage plan."""

    name: str = Field(pattern=_NAME_PATTERN)
    tier: str = Field(pattern=_NAME_PATTERN)


class Subscriber(_Model):
    """A fan-out client: an SQS queue (with its own DLQ) receiving the ticks of its symbols."""

    name: str = Field(pattern=_NAME_PATTERN)
    symbols: list[str] = Field(min_length=1, max_length=150)
    """Symbols its filter policy accepts (SNS allows 150 values per policy); upper-cased."""
    max_receive_count: int = Field(5, ge=1, le=1_000)
    """Receives of a message before SQS moves it to the subscriber's dead-letter queue."""

    @field_validator("symbols")
    @classmethod
    def _symbols_valid(cls, value: list[str]) -> list[str]:
        # The tick model's rule: a symbol no tick can carry would filter nothing in.
        symbols = []
        for symbol in value:
            try:
                symbols.append(validate_symbol(symbol))
            except ValueError as exc:
                raise ValueError(f"{symbol!r} {exc}") from None
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols must be unique")
        return symbols


def _default_tiers() -> dict[str, Tier]:
    return {"standard": Tier()}


def _default_clients() -> list[QueryClient]:
    return [QueryClient(name="loadgen", tier="standard")]


BarInterval = Literal["1m", "5m", "1h", "1d"]
"""The rolled-up bar intervals (`handlers.core.barpages.ROLLUPS`)."""


def _default_bar_retention() -> dict[BarInterval, int]:
    return {"1m": 90, "5m": 365, "1h": 0, "1d": 0}


class StackConfig(_Model):
    """Everything a stack can set, with defaults fit for a small dev stack."""

    architecture: Literal["arm64", "x86_64"] = "arm64"
    """Lambda architecture of every function and of the layer build (arm64: cheaper per ms)."""
    runtime: Literal["python3.12", "python3.13"] = "python3.13"
    """Lambda Python runtime; the layer is built for the same Python version."""

    ingest_memory_mb: int = Field(512, ge=128, le=10_240)
    """Memory (and so CPU share) of the ingest function."""
    query_memory_mb: int = Field(512, ge=128, le=10_240)
    """Memory of the query function."""
    replay_memory_mb: int = Field(512, ge=128, le=10_240)
    """Memory of the replay function."""
    authorizer_memory_mb: int = Field(256, ge=128, le=10_240)
    """Memory of the authorizer function."""
    ingest_timeout_s: int = Field(10, ge=1, le=30)
    """HTTP API integrations time out at 30 s, so a longer function timeout buys nothing."""
    query_timeout_s: int = Field(10, ge=1, le=29)
    """REST API integrations time out at 29 s."""
    replay_timeout_s: int = Field(30, ge=1, le=900)
    """Replay function timeout; the spill queue visibility timeout is 6x this."""
    authorizer_timeout_s: int = Field(3, ge=1, le=10)
    """Authorizer timeout (API Gateway waits at most 10 s for an authorizer)."""

    log_retention_days: int = 14
    """Retention of every log group, in days: one CloudWatch accepts (1, 3, 5, 7, 14, 30, ...)."""
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] = "INFO"
    """Application log level (Lambda advanced logging); the system level is always WARN."""

    ttl_days: int = Field(30, ge=0, le=36_500)
    """Days a tick block lives before DynamoDB expires it; 0 disables expiry. At least the
    ingest window (pastWindowS + futureWindowS) plus a minute: a late tick's minute is rolled
    up again from its blocks, which must all still be there."""
    bar_retention_days: dict[BarInterval, Annotated[int, Field(ge=0, le=36_500)]] = Field(
        default_factory=_default_bar_retention
    )
    """Days a rollup page lives after its last bar, per interval (`1m`, `5m`, `1h`, `1d`;
    0 or absent: kept). At least the ingest window plus a day: a late tick refolds the coarser
    bars of its day from the finer pages, which must all still be there."""
    point_in_time_recovery: bool = False
    """DynamoDB point-in-time recovery (35 days of restorable history)."""
    deletion_protection: bool = False
    """Protects the table and keeps the ingest token secret recoverable for 30 days."""

    max_ticks: int = Field(500, ge=1, le=10_000)
    """Most ticks one ingest request may carry."""
    past_window_s: int = Field(7 * 24 * 3600, ge=1, le=10 * 366 * 24 * 3600)
    """How far in the past a tick timestamp may be, in seconds."""
    future_window_s: int = Field(300, ge=0, le=24 * 3600)
    """How far in the future a tick timestamp may be (clock skew), in seconds."""

    ingest_rate_limit: Rate = 500
    """Ingest stage throttle: steady requests per second."""
    ingest_burst_limit: Burst = 1_000
    """Ingest stage throttle: burst."""
    query_rate_limit: Rate = 200
    """Query stage throttle (all clients together): requests per second."""
    query_burst_limit: Burst = 400
    """Query stage throttle: burst."""
    query_stage_name: str = Field("v1", pattern=r"^[A-Za-z0-9_]{1,64}$")
    """REST API stage name (the last path segment of the query base URL)."""

    usage_plans: dict[str, Tier] = Field(default_factory=_default_tiers, min_length=1)
    """Usage-plan tiers by name: rateLimit, burstLimit, quotaLimit, quotaPeriod (DAY/WEEK/MONTH)."""
    query_clients: list[QueryClient] = Field(default_factory=_default_clients, min_length=1)
    """Query API clients `{name, tier}`: an API key each, on its tier's plan (first is exported)."""

    ingest_token_secret_name: str = Field("", pattern=r"^$|^[A-Za-z0-9/_+=.@-]{1,512}$")
    """Secrets Manager name of the ingest token; empty: `marketstream/<stack>/ingest-token`."""

    replay_batch_size: int = Field(10, ge=1, le=10_000)
    """Spilled messages per replay invocation (above 10 needs a batch window)."""
    replay_batch_window_s: int = Field(1, ge=0, le=300)
    """Seconds the event source waits to fill a replay batch."""
    max_receive_count: int = Field(5, ge=1, le=1_000)
    """Receives of a spilled message before SQS moves it to the dead-letter queue."""
    spill_retention_s: int = Field(4 * 24 * 3600, ge=60, le=1_209_600)
    """How long the spill queue keeps a message."""
    dlq_retention_s: int = Field(1_209_600, ge=60, le=1_209_600)
    """How long the dead-letter queue keeps a message (14 days max)."""

    fanout_memory_mb: int = Field(256, ge=128, le=10_240)
    """Memory of the stream consumer that publishes ticks to the fan-out topic."""
    fanout_timeout_s: int = Field(30, ge=1, le=900)
    """Timeout of the fan-out consumer."""
    ws_memory_mb: int = Field(256, ge=128, le=10_240)
    """Memory of the WebSocket route function ($connect, $disconnect, subscribe, unsubscribe)."""
    ws_timeout_s: int = Field(10, ge=1, le=29)
    """WebSocket integrations time out at 29 s."""
    broadcast_memory_mb: int = Field(512, ge=128, le=10_240)
    """Memory of the broadcaster (it posts to many connections concurrently)."""
    broadcast_timeout_s: int = Field(30, ge=1, le=900)
    """Timeout of the broadcaster."""
    stream_batch_size: int = Field(100, ge=1, le=10_000)
    """Stream records per invocation of the broadcaster."""
    stream_batch_window_s: int = Field(0, ge=0, le=300)
    """Seconds the broadcaster's stream source waits to fill a batch (0: invoke as soon as
    records arrive: dashboards are live)."""
    fanout_batch_size: int = Field(1_000, ge=1, le=10_000)
    """Stream records per invocation of the fan-out consumer. Its rollups cost writes per symbol
    and batch, so a batch should fill by time (`fanoutBatchWindowS`), not by count: at 100 a
    stack writing 480 blocks/s paid for about five batches a second instead of one (Lambda also
    ends a batch at 6 MB of records)."""
    fanout_batch_window_s: int = Field(1, ge=0, le=300)
    """Seconds the fan-out consumer's stream source waits to fill a batch. It also keeps the bar
    rollups, which cost about five writes per symbol per batch: a one-second window makes a
    busy symbol's batch hold a second of blocks (subscriber queues get ticks up to that late)."""
    fanout_max_retries: int = Field(3, ge=0, le=10_000)
    """Retries of a failed fan-out batch before its metadata goes to the on-failure queue
    (bounded: AWS's default, -1, retries until the record expires from the stream)."""
    fanout_max_record_age_s: int = Field(3_600, ge=60, le=604_800)
    """Records older than this are not retried but sent to the on-failure queue."""
    broadcast_max_retries: int = Field(1, ge=0, le=10_000)
    """Retries of a failed broadcast batch (live data: old ticks are worth little)."""
    broadcast_max_record_age_s: int = Field(60, ge=60, le=604_800)
    """Records older than this are skipped by the broadcaster (60 s is the minimum AWS takes)."""
    subscribers: list[Subscriber] = Field(default_factory=list)
    """Fan-out clients `{name, symbols, maxReceiveCount}`: an SQS queue each, subscribed to the
    topic with a filter policy on its symbols and raw delivery, with its own dead-letter queue."""
    subscriber_retention_s: int = Field(4 * 24 * 3600, ge=60, le=1_209_600)
    """How long a subscriber queue keeps a message."""
    ws_stage_name: str = Field("live", pattern=r"^[A-Za-z0-9_]{1,64}$")
    """WebSocket API stage (the last path segment of the wss URL)."""
    ws_rate_limit: Rate = 100
    """WebSocket stage throttle: messages (and connects) per second."""
    ws_burst_limit: Burst = 200
    """WebSocket stage throttle: burst."""
    connection_ttl_s: int = Field(7_800, ge=7_200, le=7 * 24 * 3600)
    """Seconds a connection item lives if `$disconnect` never comes (API Gateway closes a
    WebSocket after 2 h, so at least that)."""
    iterator_age_alarm_ms: int = Field(60_000, ge=1_000, le=86_400_000)
    """Stream consumers' IteratorAge (ms) above which the lag alarm fires."""

    alarm_email: str = Field("", pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """Where alarms go (consumed by the observability component); empty means no subscription."""
    ingest_p95_slo_ms: int = Field(250, ge=1, le=30_000)
    """Ingest function p95 duration (ms) above which the latency alarm fires."""
    alarm_evaluation_periods: int = Field(3, ge=1, le=60)
    """One-minute periods an alarm looks back over: the p95 alarm needs all of them over the
    SLO; count alarms fire on the first bad minute and clear after this many quiet ones."""
    monthly_budget_usd: float = Field(5, ge=1, le=1_000_000)
    """Monthly AWS cost budget in USD (the original roadmap's "cost > $5")."""
    budget_alert_percent: float = Field(100, ge=1, le=1_000)
    """Actual spend, as a percentage of the budget, at which the budget notifies."""

    @field_validator("log_retention_days")
    @classmethod
    def _retention_allowed(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            raise ValueError(f"must be one of {allowed}")
        return value

    def token_secret_name(self, stack: str) -> str:
        """The Secrets Manager name of the ingest token for `stack`."""
        return self.ingest_token_secret_name or f"{NAMESPACE}/{stack}/ingest-token"

    def backfill_token_secret_name(self, stack: str) -> str:
        """The Secrets Manager name of the backfill token for `stack`."""
        return f"{NAMESPACE}/{stack}/backfill-token"

    def read_token_secret_name(self, stack: str) -> str:
        """The Secrets Manager name of the live read token (WebSocket, dashboard) for `stack`."""
        return f"{NAMESPACE}/{stack}/read-token"

    @property
    def spill_visibility_timeout_s(self) -> int:
        """Six times the replay timeout, as AWS asks for SQS event sources."""
        return 6 * self.replay_timeout_s

    @property
    def secret_recovery_days(self) -> int:
        """0 deletes at once (dev stacks come and go); 30 keeps a protected stack's token."""
        return 30 if self.deletion_protection else 0


def parse_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate `raw` (camelCase keys, no namespace) into a `StackConfig`; else `ConfigError`."""
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    _check_cross_fields(config)
    return config


def load_config() -> StackConfig:
    """Read the `marketstream:*` keys of the current stack and validate them."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for name, info in StackConfig.model_fields.items():
        key = info.alias or name
        # Objects and lists arrive as JSON text; scalars stay text and pydantic coerces them.
        value = config.get_object(key) if _is_structured(info) else config.get(key)
        if value is not None:
            raw[key] = value
    for key in _unknown_keys():
        raw[key] = None  # extra="forbid" turns it into an `unknown key` error
    return parse_config(raw)


def _is_structured(info: FieldInfo) -> bool:
    return get_origin(info.annotation) in (dict, list)


def _unknown_keys() -> list[str]:
    """Namespace keys the model does not know (typos), from the config the engine passed in."""
    # Pulumi has no public API to list config keys; this module-level store is what
    # `pulumi.Config` itself reads, and the environment variable is what the mock runtime reads.
    from pulumi.runtime import config as runtime_config

    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    known = {info.alias or name for name, info in StackConfig.model_fields.items()}
    prefix = NAMESPACE + ":"
    return sorted(
        key[len(prefix) :]
        for key in present
        if key.startswith(prefix) and key[len(prefix) :] not in known
    )


def _check_cross_fields(config: StackConfig) -> None:
    """Rules that span keys; each names the key a user would change."""
    if config.replay_batch_size > 10 and config.replay_batch_window_s == 0:
        raise ConfigError(
            f"{NAMESPACE}:replayBatchSize: must be at most 10 when replayBatchWindowS is 0 "
            f"(got {config.replay_batch_size})"
        )
    for tier in config.usage_plans:
        if not _matches_name(tier):
            raise ConfigError(
                f"{NAMESPACE}:usagePlans.{tier}: tier names must match {_NAME_PATTERN}"
            )
    seen: set[str] = set()
    for index, client in enumerate(config.query_clients):
        if client.tier not in config.usage_plans:
            tiers = ", ".join(sorted(config.usage_plans))
            raise ConfigError(
                f"{NAMESPACE}:queryClients[{index}].tier: must be one of the usagePlans "
                f"({tiers}) (got {client.tier!r})"
            )
        if client.name in seen:
            raise ConfigError(
                f"{NAMESPACE}:queryClients[{index}].name: must be unique (got {client.name!r})"
            )
        seen.add(client.name)
    window_s = config.past_window_s + config.future_window_s
    if config.ttl_days and config.ttl_days * 86_400 < window_s + 60:
        raise ConfigError(
            f"{NAMESPACE}:ttlDays: must cover the ingest window (pastWindowS + futureWindowS = "
            f"{window_s} s) plus a minute, or be 0 (got {config.ttl_days})"
        )
    for interval, days in sorted(config.bar_retention_days.items()):
        if days and days * 86_400 < window_s + 86_400:
            raise ConfigError(
                f"{NAMESPACE}:barRetentionDays.{interval}: must cover the ingest window "
                f"(pastWindowS + futureWindowS = {window_s} s) plus a day, or be 0 (got {days})"
            )
    names: set[str] = set()
    for index, subscriber in enumerate(config.subscribers):
        if subscriber.name in names:
            raise ConfigError(
                f"{NAMESPACE}:subscribers[{index}].name: must be unique (got {subscriber.name!r})"
            )
        names.add(subscriber.name)


def _matches_name(value: str) -> bool:
    return re.fullmatch(_NAME_PATTERN, value) is not None


def _key(loc: tuple[int | str, ...]) -> str:
    """`("usagePlans", "pro", "rateLimit")` -> `marketstream:usagePlans.pro.rateLimit`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"{NAMESPACE}:{text}"


def _describe(error: ErrorDetails) -> str:
    """One line for one pydantic error: the key, the rule it broke, and the value given."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        rule = _bounds_rule(_field_at(StackConfig, loc))
    elif kind == "literal_error":
        rule = f"must be one of {ctx.get('expected')}"
    elif kind == "value_error":
        rule = str(ctx.get("error"))
    elif kind == "extra_forbidden":
        return f"{_key(loc)}: unknown key"
    elif kind in {"int_parsing", "int_type", "int_from_float"}:
        rule = "must be an integer"
    elif kind in {"float_parsing", "float_type"}:
        rule = "must be a number"
    elif kind in {"bool_parsing", "bool_type"}:
        rule = "must be true or false"
    elif kind == "string_pattern_mismatch":
        rule = f"must match {ctx.get('pattern')}"
    elif kind == "too_short":
        count = ctx.get("min_length")
        rule = f"must have at least {count} entr{'y' if count == 1 else 'ies'}"
    else:
        rule = error["msg"]
    value = error.get("input")
    got = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
    return f"{_key(loc)}: {rule}{got}"


def _field_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The field `loc` points at, walking nested models, dict values and list items."""
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    info = fields.get(str(loc[0])) if loc else None
    rest = loc[1:]
    if info is None or not rest:
        return info
    annotation: Any = info.annotation
    while rest and get_origin(annotation) in (dict, list):
        annotation = get_args(annotation)[-1]
        rest = rest[1:]
    if rest and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _field_at(annotation, rest)
    return info


def _bounds_rule(info: FieldInfo | None) -> str:
    low: object = None
    high: object = None
    for meta in info.metadata if info is not None else []:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            low = meta.ge if isinstance(meta, annotated_types.Ge) else meta.gt
        elif isinstance(meta, annotated_types.Le | annotated_types.Lt):
            high = meta.le if isinstance(meta, annotated_types.Le) else meta.lt
    if low is not None and high is not None:
        return f"must be between {_num(low)} and {_num(high)}"
    if low is not None:
        return f"must be at least {_num(low)}"
    return f"must be at most {_num(high)}"


def _num(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
