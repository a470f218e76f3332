"""AWS cost model for MarketStream: list prices, billing rules, and a workload -> dollars function.

Pure functions and frozen dataclasses only (no I/O), so the CLI, the load generator's run summary
and the unit tests all use the same arithmetic. Prices and rules are explained, with sources, in
`docs/cost.md`; keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_QUERY_MIX",
    "DYNAMODB_ITEM_OVERHEAD_BYTES",
    "GIB",
    "PRESETS",
    "PRICES",
    "SECONDS_PER_MONTH",
    "CostEstimate",
    "LineItem",
    "Prices",
    "QueryKind",
    "Workload",
    "billed_ms",
    "block_item_bytes",
    "estimate",
    "lambda_gb_seconds",
    "metered_units",
    "query_request_usd",
    "read_units",
    "write_units",
]

SECONDS_PER_MONTH: Final = 730 * 3600
"""AWS price pages convert hourly to monthly with 730 hours, so the model does too."""
GIB: Final = 1024**3
"""AWS bills "GB" of storage and log ingestion as 2**30 bytes."""
DYNAMODB_ITEM_OVERHEAD_BYTES: Final = 100
"""DynamoDB adds 100 bytes of indexing overhead to every item's billed storage size."""

Arch = Literal["arm64", "x86_64"]
IngestApi = Literal["http", "rest"]


@dataclass(frozen=True)
class Prices:
    """AWS list prices (USD) for one region on one date; per-unit, not per-million."""

    region: str = "us-east-1"
    as_of: str = "2026-11-23"
    lambda_request: float = 0.20 / 1e6
    lambda_gb_s_x86_64: float = 0.0000166667
    lambda_gb_s_arm64: float = 0.0000133334
    http_api_request: float = 1.00 / 1e6
    http_api_meter_bytes: int = 512 * 1024
    rest_api_request: float = 3.50 / 1e6
    websocket_message: float = 1.00 / 1e6
    websocket_meter_bytes: int = 32 * 1024
    websocket_connection_minute: float = 0.25 / 1e6
    dynamodb_wru: float = 0.625 / 1e6
    dynamodb_rru: float = 0.125 / 1e6
    dynamodb_storage_gb_month: float = 0.25
    dynamodb_pitr_gb_month: float = 0.20
    sqs_request: float = 0.40 / 1e6
    sqs_meter_bytes: int = 64 * 1024
    sns_publish: float = 0.50 / 1e6
    sns_meter_bytes: int = 64 * 1024
    logs_ingest_gb: float = 0.50

    def lambda_gb_s(self, arch: Arch) -> float:
        """Price of one GB-second of Lambda duration on `arch`."""
        return self.lambda_gb_s_arm64 if arch == "arm64" else self.lambda_gb_s_x86_64


PRICES: Final = Prices()


# --- billing rules ----------------------------------------------------------------------------


def billed_ms(duration_ms: float) -> int:
    """Lambda bills duration rounded up to the next whole millisecond (at least 1 ms)."""
    if duration_ms < 0:
        raise ValueError(f"duration must be >= 0 ms, got {duration_ms}")
    return max(1, math.ceil(duration_ms))


def lambda_gb_seconds(memory_mb: int, duration_ms: float) -> float:
    """GB-seconds of one invocation: configured memory in GB x billed seconds."""
    return (memory_mb / 1024) * (billed_ms(duration_ms) / 1000)


def write_units(item_bytes: int) -> int:
    """DynamoDB write request units for one item write: 1 per started KB."""
    return max(1, math.ceil(item_bytes / 1024))


def read_units(total_bytes: int, *, consistent: bool = False) -> float:
    """DynamoDB read units for reading `total_bytes`: 1 per started 4 KB, half if eventual."""
    units = max(1, math.ceil(total_bytes / 4096))
    return float(units) if consistent else units / 2


def metered_units(payload_bytes: float, increment_bytes: int) -> int:
    """Billed requests for one call whose payload is metered in `increment_bytes` chunks."""
    return max(1, math.ceil(payload_bytes / increment_bytes))


def block_item_bytes(ticks: int, header_bytes: int, bytes_per_tick: int) -> int:
    """Size of one stored tick block: key/header attributes plus the encoded ticks."""
    return header_bytes + ticks * bytes_per_tick


def query_request_usd(
    call_bytes: Sequence[int],
    duration_ms: float,
    *,
    memory_mb: int = 512,
    arch: Arch = "arm64",
    p: Prices | None = None,
) -> dict[str, float]:
    """Dollars of one query API request: the REST call, one warm invocation, and DynamoDB reads
    (eventually consistent; each call's items summed and rounded up to 4 KB on their own)."""
    prices = PRICES if p is None else p
    rru = sum(read_units(size) for size in call_bytes)
    parts = {
        "api": prices.rest_api_request,
        "lambda": prices.lambda_request
        + lambda_gb_seconds(memory_mb, duration_ms) * prices.lambda_gb_s(arch),
        "dynamodb": rru * prices.dynamodb_rru,
    }
    return {**parts, "total": sum(parts.values())}


# --- workload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryKind:
    """One query route in the read mix: its share of query requests and what one request does."""

    name: str
    share: float
    blocks_read: int
    """Tick blocks read (sized like the workload's blocks)."""
    duration_ms: float
    pages_read: int = 0
    """Rollup pages (and the mark) read, sized `Workload.bar_page_bytes` (`/bars` from 1m up)."""


DEFAULT_QUERY_MIX: Final = (
    QueryKind("query", 0.5, 10, 30.0),
    QueryKind("latest", 0.4, 1, 15.0),
    QueryKind("bars", 0.1, 60, 20.0, pages_read=3),
)
"""Assumed read mix: range pages of ~10 blocks, single-block latest, and 100 1m bars: two 1m
pages and the mark from the rollups, the newest minute's ~60 blocks raw (bench.bars measures
the cases)."""


@dataclass(frozen=True)
class Workload:
    """What the system is asked to do, and how the functions behave; defaults are the project's."""

    ticks_per_s: float = 500.0
    ticks_per_request: int = 100
    symbols_per_request: int = 10
    """Blocks per ingest request: one item per (request, symbol)."""
    ingest_api: IngestApi = "http"
    request_bytes_per_tick: int = 60
    """JSON bytes per tick on the wire; only matters for HTTP API's 512 KB metering."""
    arch: Arch = "arm64"
    memory_mb: int = 256
    """Configured memory of every function."""
    ingest_duration_ms: float = 40.0
    init_duration_ms: float = 700.0
    cold_start_share: float = 0.001
    """Share of invocations that pay INIT (billed since 2025-08-01)."""
    log_bytes_per_invocation: int = 600
    """CloudWatch Logs bytes per invocation of any function (platform + app + EMF lines)."""
    block_header_bytes: int = 40
    block_bytes_per_tick: int = 10
    retention_days: float = 30.0
    """Days an item stays in the table (TTL); storage is modelled at steady state."""
    pitr: bool = True
    authorizer: bool = True
    authorizer_duration_ms: float = 5.0
    authorizer_ttl_s: float = 300.0
    ingest_clients: int = 1
    """Distinct bearer tokens; the authorizer runs once per token per cache TTL."""
    query_rate: float = 5.0
    query_mix: tuple[QueryKind, ...] = DEFAULT_QUERY_MIX
    fanout: bool = True
    """Stream consumer publishing every block to SNS."""
    fanout_records_per_invocation: float = 50.0
    """Blocks per fan-out batch: the stack's one-second batch window (`fanoutBatchWindowS`)
    gathers a second of blocks (500 ticks/s in requests of 100 over 10 symbols: 50)."""
    fanout_duration_ms: float = 20.0
    sns_messages_per_publish: float = 1.0
    """1 = one Publish per block; up to 10 with PublishBatch."""
    subscribers: int = 2
    subscriber_match_share: float = 1.0
    """Share of blocks each subscriber's filter policy accepts."""
    sqs_requests_per_message: float = 0.2
    """Consumer calls per delivered message: ReceiveMessage + DeleteMessageBatch of 10."""
    dashboards: int = 2
    """Open WebSocket connections, all day."""
    dashboard_messages_per_s: float = 1.0
    dashboard_message_bytes: int = 2048
    broadcast_duration_ms: float = 20.0
    rollups: bool = True
    """The fan-out consumer keeps 1m/5m/1h/1d bar rollups (docs/storage.md, "Bars")."""
    bar_page_bytes: int = 900
    """Stored size of one rollup page (keys, version, deflated bars; bench.bars measures it)."""
    spill_share: float = 0.0
    """Share of ingest requests whose blocks go through the spill queue and replay."""

    def __post_init__(self) -> None:
        """Reject workloads the model cannot price, naming the field."""
        positive = {"ticks_per_s": self.ticks_per_s, "authorizer_ttl_s": self.authorizer_ttl_s}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        non_negative = {
            "ingest_duration_ms": self.ingest_duration_ms,
            "init_duration_ms": self.init_duration_ms,
            "log_bytes_per_invocation": self.log_bytes_per_invocation,
            "block_header_bytes": self.block_header_bytes,
            "block_bytes_per_tick": self.block_bytes_per_tick,
            "request_bytes_per_tick": self.request_bytes_per_tick,
            "retention_days": self.retention_days,
            "authorizer_duration_ms": self.authorizer_duration_ms,
            "query_rate": self.query_rate,
            "fanout_duration_ms": self.fanout_duration_ms,
            "subscribers": self.subscribers,
            "dashboards": self.dashboards,
            "dashboard_messages_per_s": self.dashboard_messages_per_s,
            "dashboard_message_bytes": self.dashboard_message_bytes,
            "broadcast_duration_ms": self.broadcast_duration_ms,
            "bar_page_bytes": self.bar_page_bytes,
            "sqs_requests_per_message": self.sqs_requests_per_message,
            "ingest_clients": self.ingest_clients,
        }
        for name, value in non_negative.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        shares = {
            "cold_start_share": self.cold_start_share,
            "subscriber_match_share": self.subscriber_match_share,
            "spill_share": self.spill_share,
        }
        for name, value in shares.items():
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.ticks_per_request < 1:
            raise ValueError(f"ticks_per_request must be >= 1, got {self.ticks_per_request}")
        if not 1 <= self.symbols_per_request <= self.ticks_per_request:
            raise ValueError(
                "symbols_per_request must be within [1, ticks_per_request], "
                f"got {self.symbols_per_request}"
            )
        # Lambda's configurable memory range.
        if not 128 <= self.memory_mb <= 10_240:
            raise ValueError(f"memory_mb must be within [128, 10240], got {self.memory_mb}")
        if self.arch not in ("arm64", "x86_64"):
            raise ValueError(f"arch must be arm64 or x86_64, got {self.arch!r}")
        if self.ingest_api not in ("http", "rest"):
            raise ValueError(f"ingest_api must be http or rest, got {self.ingest_api!r}")
        if not self.fanout_records_per_invocation >= 1:
            raise ValueError("fanout_records_per_invocation must be >= 1")
        if not 1 <= self.sns_messages_per_publish <= 10:
            raise ValueError("sns_messages_per_publish must be within [1, 10] (PublishBatch max)")
        if self.query_rate > 0:
            total = sum(kind.share for kind in self.query_mix)
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                raise ValueError(f"query mix shares must add up to 1, got {total:g}")
            for kind in self.query_mix:
                if min(kind.share, kind.blocks_read, kind.pages_read, kind.duration_ms) < 0:
                    raise ValueError(f"query mix entry {kind.name!r} has a negative value")

    @property
    def requests_per_s(self) -> float:
        """Ingest requests per second."""
        return self.ticks_per_s / self.ticks_per_request

    @property
    def ticks_per_block(self) -> int:
        """Ticks in the largest block of a request (ticks split evenly over its symbols)."""
        return math.ceil(self.ticks_per_request / self.symbols_per_request)

    @property
    def rollup_symbols_per_batch(self) -> float:
        """Distinct symbols in one fan-out batch: each recomputes its touched bars once."""
        return min(self.fanout_records_per_invocation, float(self.symbols_per_request))

    @property
    def rollup_minute_bytes(self) -> float:
        """Bytes of one symbol's blocks a full read of its minute returns, 30 s into it."""
        return 0.5 * 60 * self.requests_per_s * self.item_bytes

    @property
    def rollup_full_reads_per_s(self) -> float:
        """Minutes read back in full per second. The consumer's minute memory answers every
        other recompute: a busy symbol's minute is read when first touched (nearly empty) and
        again 30 s in (docs/storage.md, "Bars"); a symbol recomputed less than twice a minute
        is read at every recompute."""
        symbols = self.symbols_per_request
        batches = self.requests_per_s * symbols / self.fanout_records_per_invocation
        per_symbol = batches * self.rollup_symbols_per_batch / symbols
        return symbols * min(per_symbol, 2.0 / 60.0)

    @property
    def item_bytes(self) -> int:
        """Stored size of one tick block."""
        return block_item_bytes(
            self.ticks_per_block, self.block_header_bytes, self.block_bytes_per_tick
        )


# --- result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    """One billed dimension: how much of it a month and what that costs."""

    service: str
    item: str
    quantity: float
    unit: str
    usd_per_month: float


@dataclass(frozen=True)
class CostEstimate:
    """Monthly cost of a workload, itemised, with totals per service and per million ticks."""

    workload: Workload
    prices: Prices
    ticks_per_month: float
    items: tuple[LineItem, ...]
    _by_service: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Sum the line items per service once, in first-seen order."""
        totals: dict[str, float] = {}
        for line in self.items:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd_per_month
        # A read-only view keeps the frozen dataclass honestly immutable.
        object.__setattr__(self, "_by_service", MappingProxyType(totals))

    @property
    def usd_per_month(self) -> float:
        """Total dollars per month."""
        return sum(line.usd_per_month for line in self.items)

    @property
    def usd_per_million_ticks(self) -> float:
        """Total dollars per million ingested ticks."""
        return self.usd_per_month / (self.ticks_per_month / 1e6)

    @property
    def by_service(self) -> Mapping[str, float]:
        """Dollars per month per service."""
        return self._by_service

    def by_service_per_million_ticks(self) -> dict[str, float]:
        """Dollars per million ticks per service."""
        millions = self.ticks_per_month / 1e6
        return {service: usd / millions for service, usd in self._by_service.items()}

    def usd_for_seconds(self, seconds: float) -> float:
        """Cost of running this workload for `seconds` (e.g. one load-test run)."""
        return self.usd_per_month * seconds / SECONDS_PER_MONTH

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: prices date and region, workload, totals, services, line items."""
        return {
            "region": self.prices.region,
            "prices_as_of": self.prices.as_of,
            "workload": asdict(self.workload),
            "ticks_per_month": self.ticks_per_month,
            "usd_per_month": self.usd_per_month,
            "usd_per_million_ticks": self.usd_per_million_ticks,
            "by_service": dict(self._by_service),
            "by_service_per_million_ticks": self.by_service_per_million_ticks(),
            "items": [asdict(line) for line in self.items],
        }


# --- the model --------------------------------------------------------------------------------


def _lambda_items(
    name: str, invocations: float, duration_ms: float, w: Workload, p: Prices
) -> list[LineItem]:
    """Request and duration line items of one function; cold starts bill INIT + handler."""
    warm = lambda_gb_seconds(w.memory_mb, duration_ms)
    cold = lambda_gb_seconds(w.memory_mb, duration_ms + w.init_duration_ms)
    gb_s = invocations * ((1 - w.cold_start_share) * warm + w.cold_start_share * cold)
    return [
        LineItem(
            "Lambda", f"{name} requests", invocations, "requests", invocations * p.lambda_request
        ),
        LineItem(
            "Lambda", f"{name} duration ({w.arch})", gb_s, "GB-s", gb_s * p.lambda_gb_s(w.arch)
        ),
    ]


def estimate(w: Workload, p: Prices = PRICES) -> CostEstimate:
    """Price `w` for one month at list prices `p` (no free tier: marginal cost at scale)."""
    month = SECONDS_PER_MONTH
    ticks = w.ticks_per_s * month
    requests = w.requests_per_s * month
    blocks = requests * w.symbols_per_request
    items: list[LineItem] = []
    invocations: list[float] = []  # every function's invocations, for log volume

    # Ingest: API Gateway, the ingest function, and the (cached) authorizer.
    if w.ingest_api == "http":
        body = w.request_bytes_per_tick * w.ticks_per_request
        units = requests * metered_units(body, p.http_api_meter_bytes)
        items.append(
            LineItem(
                "API Gateway", "HTTP API ingest", units, "requests", units * p.http_api_request
            )
        )
    else:
        items.append(
            LineItem(
                "API Gateway",
                "REST API ingest",
                requests,
                "requests",
                requests * p.rest_api_request,
            )
        )
    items += _lambda_items("ingest", requests, w.ingest_duration_ms, w, p)
    invocations.append(requests)
    if w.authorizer and w.ingest_api == "http":
        auth = w.ingest_clients * month / w.authorizer_ttl_s
        items += _lambda_items("authorizer", auth, w.authorizer_duration_ms, w, p)
        invocations.append(auth)

    # Storage: every block is one item write, counted per item even inside BatchWriteItem.
    wru = blocks * write_units(w.item_bytes)
    items.append(LineItem("DynamoDB", "tick block writes", wru, "WRU", wru * p.dynamodb_wru))
    stored_items = blocks / month * w.retention_days * 86_400
    stored_gb = stored_items * (w.item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES) / GIB
    items.append(
        LineItem(
            "DynamoDB", "storage", stored_gb, "GB-month", stored_gb * p.dynamodb_storage_gb_month
        )
    )
    if w.pitr:
        items.append(
            LineItem(
                "DynamoDB",
                "PITR backup",
                stored_gb,
                "GB-month",
                stored_gb * p.dynamodb_pitr_gb_month,
            )
        )

    # Spill path: one SendMessageBatch (10 blocks per call) plus the replay's receive and delete.
    if w.spill_share > 0:
        spilled = requests * w.spill_share
        calls_per_request = math.ceil(w.symbols_per_request / 10)
        sqs = spilled * calls_per_request * 3
        items.append(LineItem("SQS", "spill + replay", sqs, "requests", sqs * p.sqs_request))
        items += _lambda_items("replay", spilled, w.ingest_duration_ms, w, p)
        invocations.append(spilled)

    # Queries: REST API, the query function, and Query reads (sizes summed, then rounded to 4 KB).
    if w.query_rate > 0:
        for kind in w.query_mix:
            n = w.query_rate * kind.share * month
            if n == 0:
                continue
            items.append(
                LineItem(
                    "API Gateway", f"REST API /{kind.name}", n, "requests", n * p.rest_api_request
                )
            )
            items += _lambda_items(f"/{kind.name}", n, kind.duration_ms, w, p)
            invocations.append(n)
            if kind.blocks_read > 0:
                rru = n * read_units(kind.blocks_read * w.item_bytes)
                items.append(
                    LineItem("DynamoDB", f"/{kind.name} reads", rru, "RRU", rru * p.dynamodb_rru)
                )
            if kind.pages_read > 0:
                rru = n * read_units(kind.pages_read * w.bar_page_bytes)
                items.append(
                    LineItem(
                        "DynamoDB", f"/{kind.name} rollup reads", rru, "RRU", rru * p.dynamodb_rru
                    )
                )

    # Fan-out: stream reads by Lambda are free; SNS publishes; SNS -> SQS delivery is free,
    # the subscribers' receive/delete calls are not.
    if w.fanout:
        batches = blocks / w.fanout_records_per_invocation
        items += _lambda_items("fan-out", batches, w.fanout_duration_ms, w, p)
        invocations.append(batches)
        publishes = blocks / w.sns_messages_per_publish
        chunks = metered_units(w.item_bytes * 2 * w.sns_messages_per_publish, p.sns_meter_bytes)
        sns = publishes * chunks
        items.append(LineItem("SNS", "publishes", sns, "requests", sns * p.sns_publish))
        if w.rollups:
            # Per symbol of a batch: its 1m, 5m, 1h and 1d pages rewritten (conditional puts)
            # and its mark raised; read first, strongly consistent: the four pages. The touched
            # minute's blocks are read back only when the minute memory cannot answer: twice a
            # minute per busy symbol, once nearly empty and once half full.
            recomputes = batches * w.rollup_symbols_per_batch
            wru = recomputes * (4 * write_units(w.bar_page_bytes) + 1)
            items.append(LineItem("DynamoDB", "rollup writes", wru, "WRU", wru * p.dynamodb_wru))
            full_reads = w.rollup_full_reads_per_s * month
            rru = (
                recomputes * 4 * read_units(w.bar_page_bytes, consistent=True)
                + full_reads
                * (
                    read_units(w.item_bytes, consistent=True)
                    + read_units(math.ceil(w.rollup_minute_bytes), consistent=True)
                )
                / 2
            )
            items.append(LineItem("DynamoDB", "rollup reads", rru, "RRU", rru * p.dynamodb_rru))
        if w.subscribers > 0:
            delivered = blocks * w.subscriber_match_share * w.subscribers
            sqs = delivered * w.sqs_requests_per_message
            items.append(
                LineItem("SQS", "subscriber receive/delete", sqs, "requests", sqs * p.sqs_request)
            )
        if w.dashboards > 0:
            minutes = w.dashboards * month / 60
            items.append(
                LineItem(
                    "API Gateway",
                    "WebSocket connection-minutes",
                    minutes,
                    "minutes",
                    minutes * p.websocket_connection_minute,
                )
            )
            msgs = (
                w.dashboards
                * w.dashboard_messages_per_s
                * month
                * metered_units(w.dashboard_message_bytes, p.websocket_meter_bytes)
            )
            items.append(
                LineItem(
                    "API Gateway",
                    "WebSocket messages",
                    msgs,
                    "messages",
                    msgs * p.websocket_message,
                )
            )
            items += _lambda_items("broadcast", batches, w.broadcast_duration_ms, w, p)
            invocations.append(batches)
            # The broadcaster reads the connections table (~200 bytes per connection) per batch.
            rru = batches * read_units(w.dashboards * 200)
            items.append(
                LineItem("DynamoDB", "connections reads", rru, "RRU", rru * p.dynamodb_rru)
            )

    log_gb = sum(invocations) * w.log_bytes_per_invocation / GIB
    items.append(LineItem("CloudWatch Logs", "ingestion", log_gb, "GB", log_gb * p.logs_ingest_gb))
    return CostEstimate(workload=w, prices=p, ticks_per_month=ticks, items=tuple(items))


# --- presets ----------------------------------------------------------------------------------

PRESETS: Final[Mapping[str, Workload]] = MappingProxyType(
    {
        # The original CDK project (andreivince/aws-real-time-pipeline): API Gateway *REST* API
        # (`apigateway.RestApi`), Node.js 20 with CDK's default 128 MB on x86_64, 24.6 ms average
        # duration, one PutItem of {symbol, timestamp, price} per tick (~100 bytes), stream on
        # with no consumer, no authorizer, no query traffic, no PITR, no TTL, Lambda's plain-text
        # START/END/REPORT lines only.
        "original": Workload(
            ticks_per_s=500.0,
            ticks_per_request=1,
            symbols_per_request=1,
            ingest_api="rest",
            arch="x86_64",
            memory_mb=128,
            ingest_duration_ms=25.0,
            init_duration_ms=250.0,
            cold_start_share=0.0001,
            log_bytes_per_invocation=330,
            block_header_bytes=90,
            block_bytes_per_tick=10,
            retention_days=30.0,
            pitr=False,
            authorizer=False,
            query_rate=0.0,
            fanout=False,
            subscribers=0,
            dashboards=0,
        ),
        "default": Workload(),
    }
)
"""Named workloads for the CLI: the original CDK project and this project's defaults."""
