"""Per-endpoint latency of the soak's first and last window, recorded beside loadgen's own stats.

The load generator keeps one histogram per second of the run for all endpoints together. A
drift in that overall p95 cannot say whether ingest slowed down or whether reads whose range
grows with the run (`/bars` over the whole run) got heavier, so this records, per endpoint,
the corrected latencies of the two windows the drift compares, through loadgen's own recording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.errors import ErrorKind
from loadgen.payloads import ENDPOINT_NAMES
from loadgen.stats import WorkerStats, new_series_histogram, percentiles_ms, record_clamped

__all__ = ["WindowedStats", "endpoint_windows"]


class WindowedStats(WorkerStats):
    """`WorkerStats` that also keep each endpoint's latencies inside some planned-time windows."""

    def __init__(
        self,
        *,
        worker: int,
        total_requests: int,
        late_threshold_s: float,
        windows: Mapping[str, tuple[int, int]],
    ) -> None:
        super().__init__(
            worker=worker, total_requests=total_requests, late_threshold_s=late_threshold_s
        )
        self.windows: dict[str, tuple[int, int, list[HdrHistogram]]] = {
            name: (start, end, [new_series_histogram() for _ in ENDPOINT_NAMES])
            for name, (start, end) in windows.items()
        }
        """Name -> [start, end) in planned seconds, and one histogram per endpoint."""

    def record_result(
        self,
        *,
        endpoint: int,
        planned_s: float,
        sent_s: float,
        done_s: float,
        status: int,
        error: ErrorKind | None,
    ) -> None:
        """Record as loadgen does, and into every window the planned send time falls in."""
        super().record_result(
            endpoint=endpoint,
            planned_s=planned_s,
            sent_s=sent_s,
            done_s=done_s,
            status=status,
            error=error,
        )
        for start, end, histograms in self.windows.values():
            if start <= planned_s < end:
                record_clamped(histograms[endpoint], (done_s - planned_s) * 1e6)


def endpoint_windows(stats: WindowedStats) -> dict[str, dict[str, dict[str, Any]]]:
    """Window name -> endpoint -> count and p50/p95/p99 (ms); endpoints never used are left out."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, (_, _, histograms) in stats.windows.items():
        out[name] = {}
        for endpoint, histogram in zip(ENDPOINT_NAMES, histograms, strict=True):
            figures = percentiles_ms(histogram)
            if figures["count"]:
                out[name][endpoint] = {
                    "count": figures["count"],
                    **{f"{key}_ms": figures[key] for key in ("p50", "p95", "p99")},
                }
    return out
