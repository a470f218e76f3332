"""The run summary: one versioned JSON document, and the final table printed from it."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from loadgen.config import LoadConfig
from loadgen.payloads import ENDPOINT_NAMES
from loadgen.schedule import Schedule
from loadgen.stats import PERCENTILES, Counters, MergedStats, percentiles_ms
from loadgen.targets import Targets

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Verdict",
    "build_summary",
    "keep_up_verdict",
    "print_summary",
    "write_json",
]

SCHEMA: Final = "marketstream.loadgen.summary"
SCHEMA_VERSION: Final = 1
KEEP_UP_RATIO: Final = 0.99
"""An achieved rate under this share of the target means the generator could not keep up."""
CPU_BOUND_SHARE: Final = 0.8
"""A worker busy this share of the run's wall time is the limit itself (asyncio uses one core)."""
_CONNECTIONS_BOUND: Final = 0.8
"""Little's law: when rate x mean service time needs this share of a worker's connections, the
connection limit is what holds the rate back; below it, waits mean the server was slow."""


def build_summary(
    *,
    config: LoadConfig,
    targets: Targets,
    run_id: str,
    started_at: str,
    base_ms: int,
    schedule: Schedule,
    stats: MergedStats,
    cost: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything about the run as a JSON-ready dict (schema `SCHEMA`, version `SCHEMA_VERSION`)."""
    counters = stats.counters
    measured_s = config.measured_s
    # Achieved rate: the measured sends over the window they took. A generator that falls
    # behind stretches that window past the schedule's end, which lowers the rate honestly.
    window_s = max(measured_s, counters.last_send_s - config.warmup_s)
    target_rps = counters.measured / measured_s
    achieved_rps = counters.measured_sent / window_s
    ratio = achieved_rps / target_rps if target_rps else 1.0
    finished = counters.ok + counters.errors
    lag = percentiles_ms(stats.lag)
    scheduler = {
        "lag_ms": {k: lag[k] for k in ("p50", "p90", "p99", "p99.9", "max")},
        "late_sends": counters.late,
        "late_threshold_ms": config.late_threshold_ms,
        "pool_waits": counters.pool_waits,
        "dropped": counters.dropped,
    }
    corrected, raw = stats.overall(), stats.overall(raw=True)
    raw_ms = percentiles_ms(raw)
    verdict = keep_up_verdict(
        config, counters, ratio=ratio, lag_p99_ms=lag["p99"], achieved_rps=achieved_rps,
        raw_ms=raw_ms,
    )  # fmt: skip
    scheduler |= {
        "lag_limit_ms": config.lag_limit_ms,
        "cpu_share": round(counters.cpu_share, 3),
        "cpu_pressure": round(counters.cpu_pressure, 3) if counters.cpu_pressure >= 0 else None,
        "in_flight_peak": counters.in_flight_peak,
        "keeping_up": verdict is None,
        "cause": verdict.cause if verdict else None,
        "warning": verdict.message if verdict else None,
    }
    status: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    for index in range(len(ENDPOINT_NAMES)):
        status.update(stats.status[index])
        kinds.update(stats.kinds[index])
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "started_at": started_at,
        "base_ms": base_ms,
        "config": _config(config),
        "endpoints": targets.redacted(),
        "rate": {
            "target_rps": round(target_rps, 3),
            "achieved_rps": round(achieved_rps, 3),
            "ratio": round(ratio, 5),
            "goodput_rps": round(counters.ok / window_s, 3),
        },
        "requests": {
            "planned": counters.planned,
            "warmup": counters.warmup,
            "measured": counters.measured,
            "sent": counters.measured_sent,
            "ok": counters.ok,
            "errors": counters.errors,
            "error_ratio": round(counters.errors / counters.measured, 6)
            if counters.measured
            else 0.0,
            "finished": finished,
        },
        "latency_ms": {
            "corrected": percentiles_ms(corrected),
            "raw": raw_ms,
        },
        "status_codes": {str(code): n for code, n in sorted(status.items())},
        "error_kinds": dict(sorted(kinds.items())),
        "by_endpoint": _by_endpoint(stats),
        "scheduler": scheduler,
        "ticks": {
            "sent": counters.ticks_sent,
            "acknowledged": counters.ticks_acknowledged,
            "queued": counters.ticks_queued,
        },
        "series": _series(config, schedule, stats),
        "histograms": {
            "unit": "microseconds",
            "corrected": corrected.encode().decode("ascii"),
            "raw": raw.encode().decode("ascii"),
        },
        "verify": None,
        "slo": None,
        "cost": dict(cost) if cost is not None else None,
    }


def _config(config: LoadConfig) -> dict[str, Any]:
    values = asdict(config)
    values["stages"] = [asdict(stage) for stage in config.stages]
    values["duration_s"] = config.duration_s
    values["planned_requests"] = config.planned_requests
    values["connections_total"] = config.connections * config.workers
    values["timeouts"] = {"total_s": config.timeout_s, "connect_s": config.connect_timeout_s}
    return values


def _by_endpoint(stats: MergedStats) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, name in enumerate(ENDPOINT_NAMES):
        corrected = stats.corrected[index]
        errors = sum(stats.kinds[index].values())
        if not corrected.get_total_count() and not errors:
            continue
        requests = corrected.get_total_count() + stats.kinds[index].get("dropped", 0)
        out[name] = {
            "requests": {
                "measured": requests,
                "errors": errors,
                "error_ratio": round(errors / requests, 6) if requests else 0.0,
            },
            "status_codes": {str(c): n for c, n in sorted(stats.status[index].items())},
            "error_kinds": dict(sorted(stats.kinds[index].items())),
            "latency_ms": {
                "corrected": percentiles_ms(corrected),
                "raw": percentiles_ms(stats.raw[index]),
            },
        }
    return out


def _series(config: LoadConfig, schedule: Schedule, stats: MergedStats) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    first = math.floor(config.warmup_s)
    last = max(math.ceil(config.duration_s), max(stats.seconds, default=0) + 1)
    for second in range(first, last):
        entry = stats.seconds.get(second)
        start = max(float(second), config.warmup_s)
        row: dict[str, Any] = {
            "t": second,
            "target": schedule.planned_in(start, float(second + 1)),
            "sent": entry.sent if entry else 0,
            "completed": entry.completed if entry else 0,
            "errors": entry.errors if entry else 0,
        }
        latency = percentiles_ms(entry.histogram) if entry else None
        for key in ("p50", "p90", "p99", "max"):
            row[f"{key}_ms"] = latency[key] if latency and latency["count"] else None
        rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why the generator could not keep up: a cause (`cpu`, `connections`, `server`, `machine`)
    and a sentence with the measured figures that name it."""

    cause: str
    message: str


def keep_up_verdict(
    config: LoadConfig,
    counters: Counters,
    *,
    ratio: float,
    lag_p99_ms: float,
    achieved_rps: float,
    raw_ms: Mapping[str, float],
) -> Verdict | None:
    """None if the generator kept up (rate >= 99 % of the target and lag p99 within the limit);
    else the measured cause: its own CPU, its connections, the server, or the machine."""
    limit = config.lag_limit_ms
    if ratio >= KEEP_UP_RATIO and lag_p99_ms <= limit:
        return None
    head = (
        f"THE GENERATOR COULD NOT KEEP UP: it sent {ratio:.1%} of the target rate"
        f" (keeping up: >= {KEEP_UP_RATIO:.0%}), scheduler lag p99 {lag_p99_ms:.1f} ms"
        f" (limit {limit:g} ms)"
    )
    connections = config.connections
    # Little's law: requests in flight = arrival rate x time in the system, per worker.
    needed = achieved_rps / config.workers * raw_ms["mean"] / 1000.0
    if counters.cpu_share >= CPU_BOUND_SHARE:
        cause = "cpu"
        why = (
            f"the generator's CPU is the limit: its busiest worker was on CPU"
            f" {counters.cpu_share:.0%} of the run (add --workers)"
        )
    elif counters.pool_waits and needed >= _CONNECTIONS_BOUND * connections:
        cause = "connections"
        why = (
            f"the connections are the limit: all {connections} connections per worker were busy"
            f" {counters.pool_waits:,} times, and at the server's mean service time"
            f" ({raw_ms['mean']:.1f} ms) this rate needs ~{needed:,.0f} in flight per worker"
            " (raise --connections, if the server has headroom)"
        )
    elif counters.pool_waits:
        cause = "server"
        why = (
            f"the server is the limit: all {connections} connections per worker were busy"
            f" {counters.pool_waits:,} times (up to {counters.in_flight_peak:,} in flight) while"
            f" its answers took p99 {raw_ms['p99']:.1f} ms, max {raw_ms['max']:.1f} ms,"
            f" though on average ~{needed:,.1f} in flight would do"
        )
    else:
        cause = "machine"
        why = (
            f"other processes took the CPU: the generator was on CPU only"
            f" {counters.cpu_share:.0%} of the run and never waited for a connection"
        )
        if counters.cpu_pressure >= 0:
            why += (
                f", while tasks on this machine waited for a CPU {counters.cpu_pressure:.0%}"
                " of the time (Linux PSI)"
            )
    parts = [head, why]
    if counters.dropped:
        parts.append(f"{counters.dropped:,} planned requests were never sent")
    parts.append("latency is still measured from the planned send times")
    return Verdict(cause, "; ".join(parts))


def write_json(summary: Mapping[str, Any], path: Path) -> None:
    """Write the summary as indented JSON, creating the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def print_summary(summary: Mapping[str, Any], console: Console) -> None:
    """The final table and the figures around it."""
    latency = Table(title="Latency (ms) — corrected: from planned send time; raw: service time")
    latency.add_column("endpoint")
    latency.add_column("measure")
    latency.add_column("count", justify="right")
    labels = [f"p{p:g}" for p in PERCENTILES if p < 99.99] + ["max"]
    for label in labels:
        latency.add_column(label, justify="right")
    rows = [("all", summary["latency_ms"])]
    rows += [(name, ep["latency_ms"]) for name, ep in summary["by_endpoint"].items()]
    for name, figures in rows:
        for measure in ("corrected", "raw"):
            values = figures[measure]
            latency.add_row(
                name if measure == "corrected" else "",
                measure,
                f"{values['count']:,}",
                *(f"{values[label]:.2f}" for label in labels),
            )
    console.print(latency)
    rate, req, sched = summary["rate"], summary["requests"], summary["scheduler"]
    lag = sched["lag_ms"]
    console.print(
        f"rate      target {rate['target_rps']:,.1f}/s  achieved {rate['achieved_rps']:,.1f}/s"
        f" ({rate['ratio']:.2%})  goodput {rate['goodput_rps']:,.1f}/s"
    )
    console.print(
        f"requests  {req['measured']:,} measured ({req['warmup']:,} warm-up)  ok {req['ok']:,}"
        f"  errors {req['errors']:,} ({req['error_ratio']:.3%})"
    )
    statuses = ", ".join(f"{c}: {n:,}" for c, n in summary["status_codes"].items()) or "none"
    kinds = ", ".join(f"{k}: {n:,}" for k, n in summary["error_kinds"].items()) or "none"
    console.print(f"status    {statuses}")
    console.print(f"errors    {kinds}")
    console.print(
        f"scheduler lag p50 {lag['p50']:.2f} ms  p99 {lag['p99']:.2f} ms"
        f" (limit {sched['lag_limit_ms']:g} ms)  max {lag['max']:.2f} ms"
        f"  late sends (>{sched['late_threshold_ms']:g} ms) {sched['late_sends']:,}"
        f"  connection waits {sched['pool_waits']:,}  generator CPU {sched['cpu_share']:.0%}"
        + (
            f"  machine CPU pressure {sched['cpu_pressure']:.0%}"
            if sched.get("cpu_pressure") is not None
            else ""
        )
    )
    ticks = summary["ticks"]
    console.print(
        f"ticks     sent {ticks['sent']:,}  acknowledged {ticks['acknowledged']:,}"
        f"  queued {ticks['queued']:,}"
    )
    if sched["warning"]:
        console.print(f"[bold yellow]WARNING[/] {sched['warning']}", highlight=False)
    cost = summary.get("cost")
    if cost and isinstance(cost.get("by_service"), Mapping):
        _print_cost(cost, console)
    elif cost:  # a custom estimator's flat {name: dollars}
        flat = ", ".join(f"{k} ${v:,.4f}" for k, v in cost.items())
        console.print(f"cost      {flat}")


def _print_cost(cost: Mapping[str, Any], console: Console) -> None:
    """The modelled AWS cost table: per service, per million ticks, for the run, per month."""
    m = cost["measured"]
    table = Table(
        title=(
            f"Modelled AWS cost of this workload ({cost['region']} list prices as of"
            f" {cost['prices_as_of']}): {m['ticks_per_s']:,.0f} ticks/s ="
            f" {m['ingest_rps']:,.1f} ingest req/s x {m['ticks_per_request']} ticks"
            f" ({m['blocks_per_request']} blocks), {m['query_rps']:,.1f} query req/s"
        ),
        caption=(
            f"ingest duration {m['ingest_duration_ms']:.1f} ms = measured mean raw service time"
            " (a stand-in for handler duration); memory, arch, log bytes, fan-out: model defaults"
        ),
    )
    table.add_column("service")
    table.add_column("$ / M ticks", justify="right")
    table.add_column(f"$ this run ({cost['run_seconds']:g} s)", justify="right")
    table.add_column("$ / month at this rate", justify="right")
    for service, figures in cost["by_service"].items():
        table.add_row(service, *_cost_cells(figures))
    table.add_row("[b]total[/b]", *(f"[b]{cell}[/b]" for cell in _cost_cells(cost)))
    console.print(table)


def _cost_cells(figures: Mapping[str, Any]) -> tuple[str, str, str]:
    return (
        f"{figures['usd_per_million_ticks']:.4f}",
        f"{figures['usd_for_run']:.6f}",
        f"{figures['usd_per_month']:,.2f}",
    )
