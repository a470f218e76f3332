"""The summary document, the keep-up warning, the final table and the live line."""

from __future__ import annotations

import io
from dataclasses import replace
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


def _summary(
    *,
    lag_s: float,
    pool_waits: int = 0,
    cpu_share: float = 0.1,
    cpu_pressure: float = -1.0,
    service_s: float = 0.010,
    sent_share: float = 1.0,
    config: LoadConfig = CONFIG,
) -> dict[str, Any]:
    schedule = Schedule.from_config(config)
    stats = WorkerStats(worker=0, total_requests=schedule.total, late_threshold_s=0.005)
    arrivals = list(schedule.arrivals())
    for index, (seq, planned) in enumerate(arrivals):
        stats.counters.planned += 1
        stats.counters.measured += 1
        if index >= round(len(arrivals) * sent_share):
            stats.record_dropped(endpoint=0, planned_s=planned)
            continue
        stats.record_send(planned_s=planned, sent_s=planned + lag_s)
        stats.record_result(
            endpoint=0,
            planned_s=planned,
            sent_s=planned + lag_s,
            done_s=planned + lag_s + service_s,
            status=200,
            error=None,
        )
        stats.mark_acked(seq)
    stats.counters.pool_waits = pool_waits
    stats.counters.cpu_share = cpu_share
    stats.counters.cpu_pressure = cpu_pressure
    stats.counters.in_flight_peak = config.connections if pool_waits else 1
    merged = MergedStats([stats.result()], total_requests=schedule.total)
    return build_summary(
        config=config,
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


def test_full_rate_with_a_few_ms_of_lag_is_keeping_up():
    # GIVEN a run at 100 % of the target rate whose sends were 6 ms late at p99 (what
    # `make demo` used to call "could not keep up")
    scheduler = _summary(lag_s=0.006)["scheduler"]
    # THEN there is no warning: the lag is within the limit
    assert scheduler["keeping_up"] is True
    assert scheduler["warning"] is None and scheduler["cause"] is None
    assert scheduler["lag_limit_ms"] == CONFIG.lag_limit_ms == 20.0


def test_a_rate_under_99_percent_is_not_keeping_up_even_with_no_lag():
    # GIVEN a run that sent 95 % of its requests on time and never the rest
    scheduler = _summary(lag_s=0.0, sent_share=0.95)["scheduler"]
    # THEN it could not keep up, and says how many requests were never sent
    assert scheduler["keeping_up"] is False
    assert "(keeping up: >= 99%)" in scheduler["warning"]
    assert "1 planned requests were never sent" in scheduler["warning"]


def test_verdict_cpu_when_the_generator_was_on_cpu_all_the_time():
    # GIVEN late sends, free connections and a worker busy 97 % of the run
    scheduler = _summary(lag_s=0.050, cpu_share=0.97)["scheduler"]
    # THEN the cause is the generator's own CPU, with the figure and the threshold
    assert scheduler["cause"] == "cpu"
    warning = scheduler["warning"]
    assert "COULD NOT KEEP UP" in warning
    assert "scheduler lag p99 50.0 ms (limit 20 ms)" in warning
    assert "on CPU 97% of the run (add --workers)" in warning


def test_verdict_connections_when_the_rate_needs_more_than_the_pool():
    # GIVEN one connection, 10 requests/s and 100 ms answers: one in flight needed on average
    config = replace(CONFIG, connections=1)
    scheduler = _summary(lag_s=0.050, pool_waits=7, service_s=0.100, config=config)["scheduler"]
    # THEN the connection limit is named, with the waits and the in-flight need
    assert scheduler["cause"] == "connections"
    warning = scheduler["warning"]
    assert "all 1 connections per worker were busy 7 times" in warning
    assert "needs ~1 in flight per worker (raise --connections" in warning


def test_verdict_server_when_waits_came_from_slow_answers():
    # GIVEN waits for connections although on average far fewer were needed
    config = replace(CONFIG, connections=4)
    scheduler = _summary(lag_s=0.050, pool_waits=3, service_s=0.010, config=config)["scheduler"]
    # THEN the server is named, with its service times and the in-flight peak
    assert scheduler["cause"] == "server"
    warning = scheduler["warning"]
    assert "the server is the limit: all 4 connections per worker were busy 3 times" in warning
    assert "(up to 4 in flight)" in warning
    assert "p99 10.0 ms" in warning


def test_verdict_machine_when_neither_cpu_nor_connections_explain_the_lag():
    # GIVEN late sends, free connections, a generator mostly idle, and a machine whose tasks
    # waited for a CPU 70 % of the time
    scheduler = _summary(lag_s=0.050, cpu_share=0.20, cpu_pressure=0.7)["scheduler"]
    # THEN other processes on the machine are named, not the generator's CPU or --workers
    assert scheduler["cause"] == "machine"
    warning = scheduler["warning"]
    assert "on CPU only 20% of the run and never waited for a connection" in warning
    assert "waited for a CPU 70% of the time (Linux PSI)" in warning
    assert "--workers" not in warning
    assert scheduler["cpu_pressure"] == 0.7


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
