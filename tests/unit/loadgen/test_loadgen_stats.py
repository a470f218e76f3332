"""Histogram recording, clamping and the exact merge of workers' encoded histograms."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import ErrorKind
from loadgen.stats import (
    HIGHEST_US,
    PERCENTILES,
    MergedStats,
    WorkerStats,
    new_histogram,
    percentiles_ms,
    record_clamped,
)

latencies_s = st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=300)


def _record(stats: WorkerStats, samples: list[tuple[int, float]]) -> None:
    for seq, latency in samples:
        stats.record_send(planned_s=seq * 0.01, sent_s=seq * 0.01 + latency / 10)
        stats.record_result(
            endpoint=seq % 4,
            planned_s=seq * 0.01,
            sent_s=seq * 0.01 + latency / 10,
            done_s=seq * 0.01 + latency,
            status=200 if seq % 3 else 503,
            error=None if seq % 3 else ErrorKind.STATUS,
        )


@settings(max_examples=25, deadline=None)
@given(latencies_s)
def test_two_workers_merge_to_exactly_one_histogram_of_all_samples(latencies: list[float]):
    # GIVEN samples split across two workers the way the schedule splits them (even/odd)
    samples = list(enumerate(latencies))
    single = WorkerStats(worker=0, total_requests=len(samples), late_threshold_s=0.005)
    _record(single, samples)
    halves = [
        WorkerStats(worker=w, total_requests=len(samples), late_threshold_s=0.005) for w in (0, 1)
    ]
    for worker in (0, 1):
        _record(halves[worker], samples[worker::2])
    # WHEN their encoded results cross a process boundary (pickle) and are merged
    results = [pickle.loads(pickle.dumps(h.result())) for h in halves]  # noqa: S301 - own data
    merged = MergedStats(results, total_requests=len(samples))
    alone = MergedStats([single.result()], total_requests=len(samples))
    # THEN every histogram is bucket-for-bucket the single worker's
    for mine, theirs in (
        (merged.overall(), alone.overall()),
        (merged.overall(raw=True), alone.overall(raw=True)),
        (merged.lag, alone.lag),
        *zip(merged.corrected, alone.corrected, strict=True),
    ):
        assert list(mine.counts) == list(theirs.counts)
        assert mine.get_total_count() == theirs.get_total_count()
        assert percentiles_ms(mine) == percentiles_ms(theirs)
    assert merged.counters == alone.counters
    assert merged.status == alone.status
    assert merged.kinds == alone.kinds
    for second, entry in alone.seconds.items():
        assert list(merged.seconds[second].histogram.counts) == list(entry.histogram.counts)
        assert merged.seconds[second].completed == entry.completed


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=200))
def test_percentiles_match_hdrh(values: list[int]):
    histogram = new_histogram()
    for value in values:
        histogram.record_value(value)
    figures = percentiles_ms(histogram)
    for p in PERCENTILES:
        assert figures[f"p{p:g}"] == round(histogram.get_value_at_percentile(p) / 1000.0, 3)
    assert figures["max"] == round(histogram.get_max_value() / 1000.0, 3)
    assert abs(float(figures["mean"]) - histogram.get_mean_value() / 1000.0) < 0.01


def test_out_of_range_values_are_clamped_not_dropped():
    histogram = new_histogram()
    # hdrh would return False (and drop the sample) for these
    assert histogram.record_value(HIGHEST_US * 10) is False
    record_clamped(histogram, HIGHEST_US * 10)
    record_clamped(histogram, -5)
    assert histogram.get_total_count() == 2
    assert histogram.get_min_value() == 0
    assert histogram.get_max_value() >= HIGHEST_US


def test_acknowledged_bitmap_merges_across_workers():
    a = WorkerStats(worker=0, total_requests=20, late_threshold_s=0.005)
    b = WorkerStats(worker=1, total_requests=20, late_threshold_s=0.005)
    a.mark_acked(0)
    a.mark_acked(18)
    b.mark_acked(19)
    merged = MergedStats([a.result(), b.result()], total_requests=20)
    assert [seq for seq in range(20) if merged.is_acked(seq)] == [0, 18, 19]


def test_late_sends_are_counted_beyond_the_threshold():
    stats = WorkerStats(worker=0, total_requests=3, late_threshold_s=0.005)
    stats.record_send(planned_s=1.0, sent_s=1.001)
    stats.record_send(planned_s=2.0, sent_s=2.050)
    assert stats.counters.late == 1
    assert stats.counters.last_send_s == 2.050
