"""Cells keep count, sum, minimum and maximum exactly and percentiles within a bucket."""

from __future__ import annotations

import random

import pytest

from localcloud.metrics.stats import Cell, bucket_key, percentile, percentile_of, statistic


def _cell(values: list[float]) -> Cell:
    cell = Cell()
    for value in values:
        cell.add(value)
    return cell


def test_small_integers_are_exact_and_flags_give_two_pairs() -> None:
    cell = _cell([0, 1, 1, 0, 1])
    assert cell.pairs() == [(0, 2.0), (1, 3.0)]
    assert cell.statistic("Sum") == 3
    assert cell.statistic("Average") == pytest.approx(0.6)
    assert cell.statistic("SampleCount") == 5


@pytest.mark.parametrize("seed", range(5))
def test_pairs_keep_the_exact_basic_statistics_and_close_percentiles(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(3, 1) for _ in range(2000)]
    cell = _cell(values)
    pairs = cell.pairs()
    assert sum(c for _, c in pairs) == len(values)
    assert sum(v * c for v, c in pairs) == pytest.approx(sum(values))
    assert pairs[0][0] == min(values)
    assert pairs[-1][0] == max(values)
    ordered = sorted(values)
    for rank in (50, 95, 99):
        exact = ordered[int(rank / 100 * len(values)) - 1]
        assert cell.statistic(f"p{rank}") == pytest.approx(exact, rel=0.02)


def test_merge_is_adding_the_samples() -> None:
    a, b = _cell([1.5, 2.5, 700]), _cell([3.25, 0.001])
    a.merge(b)
    assert a.statistic("SampleCount") == 5
    assert a.statistic("Minimum") == 0.001
    assert a.statistic("Maximum") == 700
    assert a.statistic("Sum") == pytest.approx(707.251)


def test_percentile_names_and_nearest_rank() -> None:
    assert percentile_of("p95") == 95.0
    assert percentile_of("p99.9") == 99.9
    assert percentile_of("p100") == 100.0
    assert percentile_of("Sum") is None
    assert percentile_of("tm99") is None
    assert percentile([(1.0, 1.0), (2.0, 1.0), (10.0, 2.0)], 50) == 2.0
    assert percentile([], 50) is None
    assert statistic([(10.0, 2.0), (1.0, 1.0)], "Minimum") == 1.0
    assert statistic([(10.0, 2.0), (1.0, 1.0)], "p100") == 10.0


def test_buckets_are_ordered_within_a_range() -> None:
    keys = [bucket_key(v) for v in (0.5, 1.5, 2048.0, 4096.0)]
    assert keys == sorted(keys)
    assert bucket_key(-5.0) < bucket_key(-1.0)
    assert bucket_key(7) == 7
