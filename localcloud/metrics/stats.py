"""One metric's samples in one second (a `Cell`): statistics and percentiles, compactly.

A cell keeps count, sum, minimum and maximum exactly, and a histogram for percentiles: small
non-negative integers (counts, 0/1 error flags) in a bucket each, every other value in a
logarithmic bucket 1 % wide, each bucket with its count and sum. It goes to CloudWatch as
`Values`/`Counts` (`pairs`): one value per bucket (the mean of its samples), with the minimum and
maximum split out of their buckets, so Sum, SampleCount, Minimum and Maximum stay exact and a
percentile is off by at most a bucket's width. moto's side (localcloud/moto/patches.py) computes
percentiles from the same pairs with `percentile`, so local alarms and GetMetricData agree.
Pure Python, no imports from the rest of the package: the moto process imports it too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = [
    "BASIC_STATISTICS",
    "MAX_PAIRS",
    "Cell",
    "bucket_key",
    "percentile",
    "percentile_of",
    "statistic",
]

MAX_PAIRS: Final = 150
"""CloudWatch's limit on distinct values in one `Values`/`Counts` datum."""
BASIC_STATISTICS: Final = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
_EXACT_BELOW: Final = 1024
_INV_LOG: Final = 1.0 / math.log(1.01)
_LOG_BASE: Final = 10_000_000
_PERCENTILE: Final = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")

Pairs = list[tuple[float, float]]
"""(value, count), ascending by value."""


def bucket_key(value: float) -> int:
    """The histogram bucket of `value` (monotonic within each of the three ranges)."""
    if 0 <= value < _EXACT_BELOW and value == int(value):
        return int(value)
    if value > 0:
        return _LOG_BASE + math.floor(math.log(value) * _INV_LOG)
    if value == 0:
        return 0
    return -_LOG_BASE - math.floor(math.log(-value) * _INV_LOG)


class Cell:
    """The samples of one metric and dimension set in one period."""

    __slots__ = ("buckets", "count", "high", "low", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.buckets: dict[int, list[float]] = {}

    def add(self, value: float) -> None:
        """One sample."""
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        # Small whole numbers (counts, flags) are most samples: their own bucket, no log.
        key = int(value) if 0 <= value < _EXACT_BELOW and value == int(value) else bucket_key(value)
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = [1.0, value]
        else:
            bucket[0] += 1.0
            bucket[1] += value

    def merge(self, other: Cell) -> None:
        """Add every sample of `other`."""
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        for key, (count, total) in other.buckets.items():
            bucket = self.buckets.get(key)
            if bucket is None:
                self.buckets[key] = [count, total]
            else:
                bucket[0] += count
                bucket[1] += total

    def pairs(self) -> Pairs:
        """(value, count) ascending: each bucket's mean, with the minimum and maximum exact."""
        if not self.count:
            return []
        means = sorted((total / count, count) for count, total in self.buckets.values())
        if len(means) == 1 and self.low == self.high:
            return [(self.low, means[0][1])]
        out: Pairs = []
        for index, (mean, count) in enumerate(means):
            total = mean * count
            if index == 0 and mean != self.low:
                out.append((self.low, 1.0))
                total, count = total - self.low, count - 1
            tail = index == len(means) - 1 and total / max(count, 1.0) != self.high
            if tail and count >= 1:
                total, count = total - self.high, count - 1
            if count >= 1:
                out.append((total / count, count))
            if tail:
                out.append((self.high, 1.0))
        return out

    def statistic(self, name: str) -> float | None:
        """A basic statistic (`Sum`, ...) or a percentile (`p95`); None if it has none."""
        if not self.count:
            return None
        basic = {
            "Sum": self.total,
            "SampleCount": float(self.count),
            "Average": self.total / self.count,
            "Minimum": self.low,
            "Maximum": self.high,
        }
        if name in basic:
            return basic[name]
        rank = percentile_of(name)
        return None if rank is None else percentile(self.pairs(), rank)


def percentile_of(name: str) -> float | None:
    """95.0 for `p95` (`p99.9`, `p100`); None if `name` is not a percentile statistic."""
    match = _PERCENTILE.match(name)
    return float(match.group(1)) if match else None


def percentile(pairs: Sequence[tuple[float, float]], rank: float) -> float | None:
    """The nearest-rank percentile of samples given as ascending (value, count) pairs."""
    total = sum(count for _, count in pairs)
    if total <= 0:
        return None
    target = max(1.0, math.ceil(rank / 100.0 * total))
    seen = 0.0
    for value, count in pairs:
        seen += count
        if seen >= target:
            return value
    return pairs[-1][0]


def statistic(values: Iterable[tuple[float, float]], name: str) -> float | None:
    """A statistic of samples given as (value, count) pairs in any order."""
    pairs = sorted(values)
    count = sum(c for _, c in pairs)
    if count <= 0:
        return None
    if name == "Sum":
        return sum(v * c for v, c in pairs)
    if name == "SampleCount":
        return count
    if name == "Average":
        return sum(v * c for v, c in pairs) / count
    if name == "Minimum":
        return pairs[0][0]
    if name == "Maximum":
        return pairs[-1][0]
    rank = percentile_of(name)
    return None if rank is None else percentile(pairs, rank)
