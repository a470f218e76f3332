"""The store aggregates per second, drains each second once, and answers windows for alarms."""

from __future__ import annotations

from localcloud.metrics.publish import datums
from localcloud.metrics.store import MetricStore, metric_key

KEY = metric_key("AWS/Lambda", "Duration", {"FunctionName": "f"})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_seconds_drain_once_after_their_grace_and_late_samples_move_on() -> None:
    clock = Clock(1000.2)
    store = MetricStore(clock=clock)
    store.add(KEY, 5.0, "Milliseconds")
    store.add(KEY, 7.0, "Milliseconds")
    assert store.drain() == []  # second 1000 is not over yet
    clock.now = 1002.1
    [drained] = store.drain()
    assert (drained.second, drained.unit, drained.cell.count) == (1000, "Milliseconds", 2)
    assert store.drain() == []
    store.add(KEY, 9.0, at=1000.5)  # late for a second already put: counts in the next
    clock.now = 1003.1
    [late] = store.drain()
    assert late.second == 1001
    assert store.cell(KEY, 1000, 1001).statistic("Sum") == 21.0  # type: ignore[union-attr]
    assert store.cell(KEY, 990, 999) is None


def test_everything_drains_the_current_second_and_disabled_records_nothing() -> None:
    clock = Clock(50.0)
    store = MetricStore(clock=clock)
    store.add(KEY, 1.0)
    assert [d.second for d in store.drain(everything=True)] == [50]
    store.add(KEY, 1.0)
    assert store.cell(KEY, 51, 51) is not None
    # a second `everything` drain within the same second takes what came since
    assert [d.second for d in store.drain(everything=True)] == [51]
    off = MetricStore(clock=clock, enabled=False)
    off.add(KEY, 1.0)
    assert off.keys() == set()


def test_a_second_becomes_values_and_counts_datums_of_at_most_150_values() -> None:
    clock = Clock(10.0)
    store = MetricStore(clock=clock)
    for i in range(400):
        store.add(KEY, 2000.0 + i * 37.0, "Milliseconds")
    [drained] = store.drain(everything=True)
    entries = datums(drained)
    assert len(entries) > 1
    assert all(len(e["Values"]) <= 150 and len(e["Values"]) == len(e["Counts"]) for e in entries)
    assert sum(sum(e["Counts"]) for e in entries) == 400
    assert entries[0]["Dimensions"] == [{"Name": "FunctionName", "Value": "f"}]
    assert entries[0]["Timestamp"].timestamp() == 10
    assert entries[0]["StorageResolution"] == 1
