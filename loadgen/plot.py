"""`--plot PATH.png`: latency percentiles per second, target vs achieved rate, distribution."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadgen.stats import decode

__all__ = ["write_plot"]

_SPECTRUM = (0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0)


def write_plot(summary: Mapping[str, Any], path: Path) -> None:
    """Render the run summary as a three-panel PNG."""
    # Imported here: matplotlib costs ~0.5 s to import and most runs never plot.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = summary["series"]
    t = [row["t"] for row in series]
    figure, (ax_latency, ax_rate, ax_dist) = plt.subplots(3, 1, figsize=(10, 11))
    title = f"loadgen run {summary['run_id']} — {summary['started_at']}"
    figure.suptitle(title)

    for key, style in (("p50_ms", "-"), ("p90_ms", "-"), ("p99_ms", "-"), ("max_ms", ":")):
        values = [row[key] if row[key] is not None else float("nan") for row in series]
        ax_latency.plot(t, values, style, label=key.removesuffix("_ms"))
    ax_latency.set_yscale("log")
    ax_latency.set_xlabel("second of run (by planned send time)")
    ax_latency.set_ylabel("corrected latency (ms)")
    ax_latency.set_title("Latency percentiles per second")
    ax_latency.legend(loc="upper right")
    ax_latency.grid(True, which="both", alpha=0.3)

    ax_rate.plot(t, [row["target"] for row in series], "--", label="target")
    ax_rate.plot(t, [row["sent"] for row in series], "-", label="achieved (sent)")
    ax_rate.plot(t, [row["errors"] for row in series], "-", label="errors", alpha=0.7)
    ax_rate.set_xlabel("second of run")
    ax_rate.set_ylabel("requests / s")
    ax_rate.set_title("Target vs achieved rate")
    ax_rate.legend(loc="upper right")
    ax_rate.grid(True, alpha=0.3)

    # Percentile spectrum on a "number of nines" axis, the usual way to draw HDR histograms.
    histograms = summary["histograms"]
    for name in ("corrected", "raw"):
        histogram = decode(histograms[name].encode("ascii"))
        if not histogram.get_total_count():
            continue
        xs = [1.0 / (1.0 - p / 100.0) if p < 100.0 else 1e6 for p in _SPECTRUM]
        ys = [histogram.get_value_at_percentile(p) / 1000.0 for p in _SPECTRUM]
        ax_dist.plot(xs, ys, marker="o", label=name)
    ax_dist.set_xscale("log")
    ax_dist.set_xticks([1, 2, 10, 100, 1000, 10000, 100000, 1e6])
    ax_dist.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "max"])
    ax_dist.set_xlabel("percentile")
    ax_dist.set_ylabel("latency (ms)")
    ax_dist.set_title("Latency distribution (whole run)")
    ax_dist.legend(loc="upper left")
    ax_dist.grid(True, which="both", alpha=0.3)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
