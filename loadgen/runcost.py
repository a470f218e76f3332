"""The modelled AWS cost of a load run: the run's measured workload priced by `loadgen.cost`.

From the summary it takes what the run knows (achieved ingest and query request rates, ticks per
request, blocks per request, the query mix, measured mean raw service times) and leaves
everything else (memory, architecture, log bytes, fan-out, subscribers, dashboards, retention) at
the cost model's defaults. The mean raw service time is a stand-in for handler duration: it also
contains the gateway, the authorizer cache lookup and the network, so it overstates what Lambda
would bill; on the local cloud it is an in-process handler plus moto, not AWS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from loadgen.cost import (
    DEFAULT_QUERY_MIX,
    PRICES,
    SECONDS_PER_MONTH,
    CostEstimate,
    Prices,
    QueryKind,
    Workload,
    estimate,
)

__all__ = ["ASSUMED", "blocks_per_request", "describe", "run_cost", "run_workload"]

_DEFAULTS: Final = Workload()
ASSUMED: Final = (
    "ingest and query handler durations: the measured mean raw service time of each endpoint "
    "(a stand-in: it includes gateway, authorizer and network time)",
    f"memory {_DEFAULTS.memory_mb} MB, {_DEFAULTS.arch}, {_DEFAULTS.log_bytes_per_invocation} log "
    "bytes per invocation, HTTP API ingest, one client token: cost model defaults",
    f"fan-out to {_DEFAULTS.subscribers} subscribers and {_DEFAULTS.dashboards} dashboards, "
    f"{_DEFAULTS.retention_days:g}-day retention with PITR, blocks read per query: "
    "cost model defaults",
    "dollars for the run: the steady-state monthly rate x the run's duration (warm-up included)",
)
"""What the run cannot measure, said plainly in the summary."""


def blocks_per_request(batch: int, symbols: int) -> int:
    """Expected distinct symbols (one stored block each) in `batch` ticks drawn from `symbols`."""
    # The payload pool draws each tick's symbol uniformly at random (loadgen.payloads).
    expected = symbols * (1.0 - (1.0 - 1.0 / symbols) ** batch)
    return max(1, min(batch, symbols, round(expected)))


def _requests(summary: Mapping[str, Any], endpoint: str) -> int:
    entry = summary["by_endpoint"].get(endpoint)
    return int(entry["requests"]["measured"]) if entry else 0


def _mean_raw_ms(summary: Mapping[str, Any], endpoint: str) -> float | None:
    entry = summary["by_endpoint"].get(endpoint)
    if not entry or not entry["latency_ms"]["raw"].get("count"):
        return None
    return float(entry["latency_ms"]["raw"]["mean"])


def run_workload(summary: Mapping[str, Any]) -> Workload | None:
    """The workload the run offered, as the cost model sees it; None without ingest traffic."""
    config = summary["config"]
    counts = {kind.name: _requests(summary, kind.name) for kind in DEFAULT_QUERY_MIX}
    ingest = _requests(summary, "ingest")
    reads = sum(counts.values())
    achieved = float(summary["rate"]["achieved_rps"])
    if ingest == 0 or achieved <= 0:
        return None  # no ticks: nothing to price per tick
    # Achieved rate split by the measured request mix: what the server was actually asked.
    ingest_rps = achieved * ingest / (ingest + reads)
    query_rps = achieved * reads / (ingest + reads)
    mix: tuple[QueryKind, ...] = DEFAULT_QUERY_MIX
    if reads:
        mix = tuple(
            dataclasses.replace(
                kind,
                share=counts[kind.name] / reads,
                duration_ms=_mean_raw_ms(summary, kind.name) or kind.duration_ms,
            )
            for kind in DEFAULT_QUERY_MIX
        )
    batch = int(config["batch"])
    return dataclasses.replace(
        _DEFAULTS,
        ticks_per_s=ingest_rps * batch,
        ticks_per_request=batch,
        symbols_per_request=blocks_per_request(batch, int(config["symbols"])),
        ingest_duration_ms=_mean_raw_ms(summary, "ingest") or _DEFAULTS.ingest_duration_ms,
        query_rate=query_rps,
        query_mix=mix,
    )


def _figures(usd_per_month: float, millions: float, seconds: float) -> dict[str, float]:
    return {
        "usd_per_million_ticks": usd_per_month / millions,
        "usd_for_run": usd_per_month * seconds / SECONDS_PER_MONTH,
        "usd_per_month": usd_per_month,
    }


def describe(result: CostEstimate, seconds: float) -> dict[str, Any]:
    """JSON-ready cost section: totals and per-service figures, the workload, the assumptions."""
    millions = result.ticks_per_month / 1e6
    w = result.workload
    return {
        "model": "loadgen.cost",
        "region": result.prices.region,
        "prices_as_of": result.prices.as_of,
        "run_seconds": seconds,
        **_figures(result.usd_per_month, millions, seconds),
        "by_service": {
            service: _figures(usd, millions, seconds) for service, usd in result.by_service.items()
        },
        "measured": {
            "ingest_rps": w.requests_per_s,
            "ticks_per_s": w.ticks_per_s,
            "ticks_per_request": w.ticks_per_request,
            "blocks_per_request": w.symbols_per_request,
            "ingest_duration_ms": w.ingest_duration_ms,
            "query_rps": w.query_rate,
            "query_mix": {kind.name: kind.share for kind in w.query_mix},
            "query_duration_ms": {kind.name: kind.duration_ms for kind in w.query_mix},
        },
        "assumed": list(ASSUMED),
        "workload": dataclasses.asdict(w),
    }


def run_cost(summary: Mapping[str, Any], prices: Prices = PRICES) -> dict[str, Any] | None:
    """The `cost` section of a run summary (a `loadgen.cli.CostEstimator`); None: no ticks."""
    workload = run_workload(summary)
    if workload is None:
        return None
    return describe(estimate(workload, prices), float(summary["config"]["duration_s"]))
