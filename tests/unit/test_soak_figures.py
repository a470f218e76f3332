"""The soak's figures: latency windows and drift from per-second histograms, RSS growth, trees."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from bench.rss import ProcessSample, RssSampler, Sample, sample_trees
from bench.soak_report import drift, rss_figures, window_latency, window_series
from bench.soak_windows import WindowedStats, endpoint_windows
from loadgen.errors import ErrorKind
from loadgen.stats import SecondStats, WorkerStats

_MB = 1024 * 1024


def _seconds(latency_ms: dict[int, list[float]], errors: dict[int, int]) -> dict[int, SecondStats]:
    """Per-second stats recorded through the load generator's own recording path."""
    stats = WorkerStats(worker=0, total_requests=1000, late_threshold_s=0.005)
    for second, values in latency_ms.items():
        for n, value in enumerate(values):
            planned = second + n / (len(values) + 1)
            failed = n < errors.get(second, 0)
            stats.record_result(
                endpoint=0,
                planned_s=planned,
                sent_s=planned,
                done_s=planned + value / 1000,
                status=503 if failed else 200,
                error=ErrorKind.STATUS if failed else None,
            )
    return stats.seconds


def test_window_adds_the_seconds_it_covers_and_no_others():
    # GIVEN seconds 0-5 where second s answers in (s + 1) * 10 ms, and second 1 has 2 errors
    seconds = _seconds({s: [(s + 1) * 10.0] * 20 for s in range(6)}, {1: 2})
    # WHEN the first three seconds are taken as one window
    window = window_latency(seconds, 0, 3)
    # THEN it holds their 60 requests, their errors, and p95 is the slowest of the three (30 ms)
    assert (window["from_s"], window["to_s"]) == (0, 3)
    assert window["count"] == 60
    assert window["errors"] == 2
    assert window["p95_ms"] == pytest.approx(30.0, rel=0.02)  # 2 significant digits
    assert window["p50_ms"] == pytest.approx(20.0, rel=0.02)
    # AND a window over seconds nobody planned in is empty, not zero
    empty = window_latency(seconds, 10, 12)
    assert empty["count"] == 0
    assert empty["p95_ms"] is None


def test_windowed_stats_split_the_windows_by_endpoint_and_agree_with_loadgen():
    # GIVEN a run recorded through WindowedStats with windows [1, 3) and [5, 6)
    stats = WindowedStats(
        worker=0,
        total_requests=100,
        late_threshold_s=0.005,
        windows={"first": (1, 3), "last": (5, 6)},
    )
    for n in range(60):  # planned every 0.1 s over 6 s; endpoint n % 4; latency grows with n
        planned = n / 10
        stats.record_result(
            endpoint=n % 4,
            planned_s=planned,
            sent_s=planned,
            done_s=planned + (n + 1) / 1000,
            status=200,
            error=None,
        )
    windows = endpoint_windows(stats)
    # THEN each window holds exactly the requests planned inside it, split by endpoint
    for name, (start, end) in (("first", (1, 3)), ("last", (5, 6))):
        expected = {
            endpoint: sum(1 for n in range(60) if start <= n / 10 < end and n % 4 == index)
            for index, endpoint in enumerate(("ingest", "query", "latest", "bars"))
        }
        assert {ep: figures["count"] for ep, figures in windows[name].items()} == expected
        # AND the endpoints add up to loadgen's own per-second histograms for the same seconds
        assert sum(expected.values()) == window_latency(stats.seconds, start, end)["count"]
    # AND the slowest ingest request of the last window (n = 56: 57 ms) is its p99
    assert windows["last"]["ingest"]["p99_ms"] == pytest.approx(57.0, rel=0.02)


def test_series_partitions_the_run_into_windows():
    seconds = _seconds({s: [5.0 + s] * (s + 1) for s in range(7)}, {})
    # WHEN the 7 seconds are cut into windows of 3 seconds
    series = window_series(seconds, 0, 7, 3)
    # THEN the windows are contiguous, the last one is cut at the end, and no request is lost
    assert [(w["from_s"], w["to_s"]) for w in series] == [(0, 3), (3, 6), (6, 7)]
    assert sum(w["count"] for w in series) == sum(s + 1 for s in range(7))


def test_drift_is_last_minus_first_in_ms_and_percent():
    first = {"p95_ms": 40.0}
    assert drift(first, {"p95_ms": 50.0}) == {
        "p95_first_ms": 40.0,
        "p95_last_ms": 50.0,
        "ms": 10.0,
        "pct": 25.0,
    }
    assert drift(first, {"p95_ms": 30.0})["pct"] == -25.0
    # An empty window has no p95, so there is no drift to report.
    assert drift({"p95_ms": None}, {"p95_ms": 30.0})["ms"] is None


def _tree(mb: float, threads: int = 4, fds: int = 10) -> ProcessSample:
    return ProcessSample(rss_bytes=int(mb * _MB), processes=1, threads=threads, fds=fds)


def test_rss_figures_take_the_baseline_after_the_warmup():
    # GIVEN samples before the load, in the warm-up, after it, a peak, a gap, and the end
    start_at = 1000.0
    samples = [
        Sample(at=start_at - 1, trees={"cloud": _tree(100)}),
        Sample(at=start_at + 1, trees={"cloud": _tree(105)}),  # still warming up
        Sample(at=start_at + 2, trees={"cloud": _tree(110, fds=12)}),  # the baseline
        Sample(at=start_at + 30, trees={"cloud": _tree(150)}),
        Sample(at=start_at + 40, trees={"cloud": None}),  # the process was gone
        Sample(at=start_at + 62, trees={"cloud": _tree(120, threads=5, fds=20)}),
    ]
    # WHEN the figures are taken with a 2 s warm-up
    figures = rss_figures(samples, start_at=start_at, warmup_s=2.0, pids={"cloud": 42})["cloud"]
    # THEN idle, start, end and peak are those samples and growth is end - start over 60 s
    assert figures["pid"] == 42
    assert figures["idle_mb"] == 100.0
    assert (figures["start_mb"], figures["start_t"]) == (110.0, 2.0)
    assert (figures["end_mb"], figures["end_t"]) == (120.0, 62.0)
    assert figures["peak_mb"] == 150.0
    assert figures["growth_mb"] == 10.0
    assert figures["growth_mb_per_min"] == pytest.approx(10.0)
    assert figures["threads"] == {"start": 4, "end": 5}
    assert figures["fds"] == {"start": 12, "end": 20}
    assert (figures["samples"], figures["missing_samples"]) == (5, 1)


def test_trees_count_each_process_under_its_nearest_named_ancestor():
    # GIVEN this process -> a child -> a grandchild (each waits for its stdin to close)
    code = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'],"
        " stdin=subprocess.PIPE); print(p.pid, flush=True); sys.stdin.read();"
        " p.stdin.close(); p.wait()"
    )
    child = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        me, kid = psutil.Process(), psutil.Process(child.pid)
        # This process's other children (a session's local cloud, say) stay in its own tree.
        mine = 1 + sum(
            1 for p in me.children(recursive=True) if p.pid not in (child.pid, grandchild)
        )
        # WHEN only this process and the child are named
        two = sample_trees({"me": me, "kid": kid})
        # THEN the child's tree (with the grandchild) is not counted under this process
        assert two["me"] is not None and two["kid"] is not None
        assert two["me"].processes == mine
        assert two["kid"].processes == 2
        # AND naming the grandchild too takes it out of the child's tree
        three = sample_trees({"me": me, "kid": kid, "grandkid": psutil.Process(grandchild)})
        counts = {name: tree.processes for name, tree in three.items() if tree is not None}
        assert counts == {"me": mine, "kid": 1, "grandkid": 1}
        assert all(tree is not None and tree.rss_bytes > 0 for tree in three.values())
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    # AND a tree whose root has exited is reported as gone
    assert sample_trees({"kid": kid})["kid"] is None


def test_sampler_samples_at_start_and_on_demand_until_stopped():
    sampler = RssSampler({"me": psutil.Process()}, interval_s=3600.0)
    sampler.start()
    sampler.stop()
    assert len(sampler.samples) == 1  # the start sample; the next beat is an hour away
    sampler.sample_now()
    assert len(sampler.samples) == 2
    assert all(s.trees["me"] is not None for s in sampler.samples)
    assert sampler.samples[0].at <= sampler.samples[1].at
