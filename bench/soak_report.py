"""The soak's figures: latency per window and its drift, RSS per process, as JSON, tables, PNG.

Latency comes from the load generator's own per-second HDR histograms (keyed by planned send
second, corrected for coordinated omission), added together per window, never re-estimated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from bench.rss import ProcessSample, Sample
from loadgen.stats import SecondStats, new_series_histogram, percentiles_ms

__all__ = [
    "SCHEMA",
    "drift",
    "print_report",
    "rss_figures",
    "rss_samples",
    "window_latency",
    "window_series",
    "write_json",
    "write_plot",
]

SCHEMA: Final = "marketstream.bench.soak"
_MB: Final = 1024 * 1024


def window_latency(seconds: Mapping[int, SecondStats], start: int, end: int) -> dict[str, Any]:
    """Requests planned in seconds `[start, end)`: count, errors, p50/p95/p99/max (ms)."""
    histogram = new_series_histogram()
    errors = 0
    for second in range(start, end):
        entry = seconds.get(second)
        if entry is None:
            continue
        errors += entry.errors
        if entry.histogram.get_total_count():
            histogram.add(entry.histogram)
    figures = percentiles_ms(histogram)
    count = int(figures["count"])
    return {
        "from_s": start,
        "to_s": end,
        "count": count,
        "errors": errors,
        **{f"{key}_ms": figures[key] if count else None for key in ("p50", "p95", "p99", "max")},
    }


def window_series(
    seconds: Mapping[int, SecondStats], start: int, end: int, step: int
) -> list[dict[str, Any]]:
    """`window_latency` for consecutive windows of `step` seconds over `[start, end)`."""
    return [window_latency(seconds, t, min(t + step, end)) for t in range(start, end, step)]


def drift(first: Mapping[str, Any], last: Mapping[str, Any]) -> dict[str, Any]:
    """p95 of the last window against the first: absolute (ms) and relative (%)."""
    before, after = first["p95_ms"], last["p95_ms"]
    if before is None or after is None:
        return {"p95_first_ms": before, "p95_last_ms": after, "ms": None, "pct": None}
    change = after - before
    return {
        "p95_first_ms": before,
        "p95_last_ms": after,
        "ms": round(change, 3),
        "pct": round(change / before * 100.0, 2) if before else None,
    }


def _mb(value: int) -> float:
    return round(value / _MB, 2)


def rss_samples(samples: Sequence[Sample], start_at: float) -> list[dict[str, Any]]:
    """Every sample, its time as seconds from the load's start (negative: before the load)."""
    out: list[dict[str, Any]] = []
    for sample in samples:
        trees: dict[str, Any] = {}
        for name, tree in sample.trees.items():
            trees[name] = None
            if tree is not None:
                trees[name] = {
                    "rss_mb": _mb(tree.rss_bytes),
                    "processes": tree.processes,
                    "threads": tree.threads,
                    "fds": tree.fds,
                }
        out.append({"t": round(sample.at - start_at, 3), "processes": trees})
    return out


def rss_figures(
    samples: Sequence[Sample], *, start_at: float, warmup_s: float, pids: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Per process: RSS before the load, after the warm-up (start), at the end, peak, growth."""
    out: dict[str, dict[str, Any]] = {}
    for name, pid in pids.items():
        seen = [
            (sample.at - start_at, tree)
            for sample in samples
            if (tree := sample.trees.get(name)) is not None
        ]
        figures: dict[str, Any] = {
            "pid": pid,
            "samples": len(seen),
            "missing_samples": len(samples) - len(seen),
        }
        if not seen:
            out[name] = figures
            continue
        idle = next((tree for t, tree in seen if t < 0), None)
        # The baseline is the first sample once the warm-up is over (else the last one).
        start_t, start = next(((t, tree) for t, tree in seen if t >= warmup_s), seen[-1])
        end_t, end = seen[-1]
        minutes = (end_t - start_t) / 60.0
        growth = end.rss_bytes - start.rss_bytes
        figures |= {
            "idle_mb": _mb(idle.rss_bytes) if idle else None,
            "start_mb": _mb(start.rss_bytes),
            "start_t": round(start_t, 3),
            "end_mb": _mb(end.rss_bytes),
            "end_t": round(end_t, 3),
            "peak_mb": _mb(max(tree.rss_bytes for _, tree in seen)),
            "growth_mb": _mb(growth),
            "growth_mb_per_min": round(growth / _MB / minutes, 3) if minutes > 0 else None,
            "threads": _span(start, end, "threads"),
            "fds": _span(start, end, "fds"),
        }
        out[name] = figures
    return out


def _span(start: ProcessSample, end: ProcessSample, field: str) -> dict[str, int]:
    return {"start": getattr(start, field), "end": getattr(end, field)}


def write_json(report: Mapping[str, Any], path: Path) -> None:
    """Write the report as indented JSON, creating the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


def _signed(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:+,.1f}{unit}"


def _counts(values: Mapping[str, int]) -> str:
    return ", ".join(f"{key}: {n:,}" for key, n in values.items()) or "none"


def print_report(report: Mapping[str, Any], console: Console) -> None:
    """The summary table and the per-process memory table."""
    load, req, rate = report["load"], report["requests"], report["rate"]
    latency, change = report["latency_ms"], report["drift"]
    first, last = report["first_window"], report["last_window"]
    summary = Table(title=f"Soak of the local cloud ({report['stack']})", show_header=False)
    summary.add_column("figure")
    summary.add_column("value")
    summary.add_row(
        "load",
        f"{load['rate']:g} req/s x {load['batch']} ticks, query ratio {load['query_ratio']:g},"
        f" {load['duration_s']:g} s (warm-up {load['warmup_s']:g} s)",
    )
    summary.add_row(
        "requests",
        f"{req['measured']:,} measured, ok {req['ok']:,}, errors {req['errors']:,}"
        f" ({req['error_ratio']:.3%})",
    )
    summary.add_row("errors by kind", _counts(report["errors"]["by_kind"]))
    summary.add_row("status codes", _counts(report["errors"]["status_codes"]))
    ticks = report["ticks"]
    summary.add_row("ticks", f"acknowledged {ticks['acknowledged']:,} (queued {ticks['queued']:,})")
    verify = report["verify"]
    summary.add_row(
        "verify",
        f"found {verify['found']:,} of {verify['acknowledged']:,}, missing {verify['missing']:,},"
        f" duplicated {verify['duplicated']:,}"
        + ("" if verify["ok"] else f" [bold red]FAILED[/] {'; '.join(verify['errors'])}"),
    )
    summary.add_row(
        "rate",
        f"target {rate['target_rps']:,.2f}/s, achieved {rate['achieved_rps']:,.2f}/s"
        f" ({rate['ratio']:.2%}), goodput {rate['goodput_rps']:,.2f}/s",
    )
    summary.add_row(
        "latency (corrected)",
        f"p50 {_ms(latency['p50'])}, p95 {_ms(latency['p95'])}, p99 {_ms(latency['p99'])},"
        f" max {_ms(latency['max'])}",
    )
    endpoints = report["by_endpoint"]
    summary.add_row(
        "p95 by endpoint",
        ", ".join(
            f"{name} {_ms(ep['latency_ms']['corrected']['p95'])}" for name, ep in endpoints.items()
        )
        or "n/a",
    )
    for label, window in (("first", first), ("last", last)):
        summary.add_row(
            f"p95 {label} window",
            f"{_ms(window['p95_ms'])} (seconds {window['from_s']}-{window['to_s']},"
            f" {window['count']:,} requests, {window['errors']:,} errors)",
        )
    shown = f"{_signed(change['ms'], ' ms')} ({_signed(change['pct'], ' %')})"
    summary.add_row("p95 drift (last - first)", shown)
    if not report["cloud_alive_at_end"]:
        summary.add_row("[bold red]local cloud[/]", "exited before the end of the load")
    per_endpoint = [
        f"{name} {_signed(figures['ms'], ' ms')} ({_signed(figures['pct'], ' %')})"
        for name, figures in change["by_endpoint"].items()
    ]
    summary.add_row("p95 drift by endpoint", ", ".join(per_endpoint) or "n/a")
    warning = report["scheduler"]["warning"]
    if warning:
        summary.add_row("[bold yellow]generator[/]", warning)
    console.print(summary)

    memory = Table(title="Resident memory (RSS, MB) per process tree")
    for column in ("process", "pid", "idle", "start", "end", "peak", "growth", "MB/min"):
        memory.add_column(column, justify="left" if column == "process" else "right")
    memory.add_column("threads", justify="right")
    memory.add_column("fds", justify="right")
    for name, figures in report["processes"].items():
        if "start_mb" not in figures:
            memory.add_row(name, str(figures["pid"]), *["n/a"] * 8)
            continue
        per_min = figures["growth_mb_per_min"]
        memory.add_row(
            name,
            str(figures["pid"]),
            "n/a" if figures["idle_mb"] is None else f"{figures['idle_mb']:.1f}",
            f"{figures['start_mb']:.1f}",
            f"{figures['end_mb']:.1f}",
            f"{figures['peak_mb']:.1f}",
            f"{figures['growth_mb']:+.1f}",
            "n/a" if per_min is None else f"{per_min:+.2f}",
            f"{figures['threads']['start']} -> {figures['threads']['end']}",
            f"{figures['fds']['start']} -> {figures['fds']['end']}",
        )
    console.print(memory)


def write_plot(report: Mapping[str, Any], path: Path) -> None:
    """Two panels: latency percentiles per window, and RSS per process over time."""
    # Imported here: matplotlib costs ~0.5 s to import and most runs never plot.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (ax_latency, ax_rss) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    figure.suptitle(f"soak of the local cloud ({report['stack']}) — {report['started_at']}")
    series = report["series"]
    t = [(row["from_s"] + row["to_s"]) / 2 for row in series]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        values = [row[key] if row[key] is not None else float("nan") for row in series]
        ax_latency.plot(t, values, marker=".", label=key.removesuffix("_ms"))
    for window in (report["first_window"], report["last_window"]):
        ax_latency.axvspan(window["from_s"], window["to_s"], alpha=0.12, color="grey")
    ax_latency.set_ylabel("corrected latency (ms)")
    ax_latency.set_title("Latency per window (shaded: first and last window, compared for drift)")
    ax_latency.legend(loc="upper left")
    ax_latency.grid(True, alpha=0.3)

    samples = report["rss_samples"]
    for name in report["processes"]:
        points = [(s["t"], s["processes"][name]) for s in samples]
        ax_rss.plot(
            [x for x, tree in points if tree is not None],
            [tree["rss_mb"] for _, tree in points if tree is not None],
            marker=".",
            label=name,
        )
    ax_rss.axvline(report["load"]["warmup_s"], linestyle=":", color="grey", label="warm-up end")
    ax_rss.set_xlabel("seconds from the start of the load")
    ax_rss.set_ylabel("RSS (MB)")
    ax_rss.set_title("Resident memory per process tree")
    ax_rss.legend(loc="upper left")
    ax_rss.grid(True, alpha=0.3)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
