"""The summary document, the keep-up warning, the final table and the live line."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from loadgen.config import LoadConfig, Stage
from loadgen.live import LiveProgress
from loadgen.report import SCHEMA_VERSION, build_summary, print_summary
from loadgen.runner import Progress
from loadgen.schedule import Schedule
from loadgen.stats import MergedStats, WorkerStats, new_series_histogram, record_clamped
from loadgen.targets import Targets

CONFIG = LoadConfig(stages=(Stage(duration_s=2, target_rps=10),), start_rps=10)
TARGETS = Targets(ingest_url="http://127.0.0.1:1/ingest", query_base_url=None, token="sekrit")


def _summary(*, lag_s: float, pool_waits: int = 0) -> dict[str, Any]:
    schedule = Schedule.from_config(CONFIG)
    stats = WorkerStats(worker=0, total_requests=schedule.total, late_threshold_s=0.005)
    for seq, planned in schedule.arrivals():
        stats.counters.planned += 1
        stats.counters.measured += 1
        stats.record_send(planned_s=planned, sent_s=planned + lag_s)
        stats.record_result(
            endpoint=0,
            planned_s=planned,
            sent_s=planned + lag_s,
            done_s=planned + lag_s + 0.010,
            status=200,
            error=None,
        )
        stats.mark_acked(seq)
    stats.counters.pool_waits = pool_waits
    merged = MergedStats([stats.result()], total_requests=schedule.total)
    return build_summary(
        config=CONFIG,
        targets=TARGETS,
        run_id="r1",
        started_at="2025-01-01T00:00:00+00:00",
        base_ms=0,
        schedule=schedule,
        stats=merged,
        cost={"total": 0.01},
    )


def test_summary_shape():
    summary = _summary(lag_s=0.0005)
    assert summary["schema_version"] == SCHEMA_VERSION
    assert summary["endpoints"]["token"] == "***"
    assert summary["config"]["timeouts"] == {"total_s": 10.0, "connect_s": 3.0}
    assert summary["scheduler"]["keeping_up"] is True
    assert summary["cost"] == {"total": 0.01}
    assert [row["t"] for row in summary["series"]] == [0, 1]


def test_a_late_generator_with_free_connections_blames_its_cpu():
    warning = _summary(lag_s=0.050)["scheduler"]["warning"]
    assert "COULD NOT KEEP UP" in warning
    assert "CPU is the limit" in warning


def test_a_late_generator_with_busy_connections_says_so():
    warning = _summary(lag_s=0.050, pool_waits=7)["scheduler"]["warning"]
    assert "busy 7 times" in warning


def test_final_table_prints():
    out = io.StringIO()
    print_summary(_summary(lag_s=0.0005), Console(file=out, width=160))
    text = out.getvalue()
    assert "corrected" in text and "raw" in text
    assert "achieved 10.0/s" in text
    assert "cost" in text


def test_live_line_shows_rate_errors_and_p95():
    window = new_series_histogram()
    for value in (1_000, 2_000, 50_000):
        record_clamped(window, value)
    live = LiveProgress(
        schedule=Schedule.from_config(CONFIG),
        workers=1,
        console=Console(file=io.StringIO()),
        enabled=True,
    )
    live(Progress(0, 1.0, 10, 9, 1, 1, 10, 1.0, bytes(window.encode())))
    line = live.render().plain
    assert "rate     10.0/s" in line
    assert "errors 1 (10.00%)" in line
    assert "p95 50.2 ms" in line  # 2 significant digits: 50,000 µs lands in a 512 µs bucket
