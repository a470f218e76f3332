"""The open-loop schedule: counts, order, ramps and the split across workers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.config import LoadConfig, Stage, parse_stages
from loadgen.schedule import Schedule


def test_constant_rate_spaces_requests_evenly():
    schedule = Schedule((Stage(duration_s=2.0, target_rps=100.0),), start_rps=100.0)
    times = [t for _, t in schedule.arrivals()]
    assert schedule.total == len(times) == 200
    assert times[0] == pytest.approx(0.005)
    assert times[1] - times[0] == pytest.approx(0.01)
    assert times[-1] == pytest.approx(1.995)


def test_stages_ramp_linearly():
    # 0 -> 100 over 30 s, 100 -> 500 over 60 s, 500 -> 0 over 30 s
    schedule = Schedule(parse_stages("30s:100,60s:500,30s:0"), start_rps=0.0)
    assert schedule.total == 1500 + 18000 + 7500
    assert schedule.planned_in(0, 30) == 1500
    # the rate halfway up the first ramp is 50/s
    assert schedule.planned_in(14.5, 15.5) == pytest.approx(50, abs=1)
    assert schedule.planned_in(59.5, 60.5) == pytest.approx(300, abs=1)
    assert schedule.planned_in(119, 120) == pytest.approx(8, abs=1)


stage_lists = st.lists(
    st.builds(
        Stage,
        duration_s=st.floats(min_value=0.1, max_value=5.0),
        target_rps=st.floats(min_value=0.0, max_value=400.0),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=50, deadline=None)
@given(stage_lists, st.floats(min_value=0.0, max_value=400.0), st.integers(1, 4))
def test_arrivals_are_ordered_complete_and_split_exactly(stages, start, workers):
    schedule = Schedule(tuple(stages), start_rps=start)
    everything = list(schedule.arrivals())
    times = [t for _, t in everything]
    # every planned request once, in time order, inside the run
    assert [i for i, _ in everything] == list(range(schedule.total))
    assert times == sorted(times)
    assert all(0.0 <= t <= schedule.duration_s + 1e-9 for t in times)
    # the per-second targets add up to the total
    seconds = int(schedule.duration_s) + 1
    assert sum(schedule.planned_in(s, s + 1) for s in range(seconds)) == schedule.total
    # workers take interleaved slices that together are exactly the schedule
    split = sorted(a for w in range(workers) for a in schedule.arrivals(first=w, step=workers))
    assert split == everything


def test_config_counts_planned_requests():
    config = LoadConfig(stages=(Stage(duration_s=10, target_rps=2000),), start_rps=2000)
    assert config.planned_requests == 20_000


@settings(max_examples=50, deadline=None)
@given(stages=stage_lists, start=st.floats(min_value=0.0, max_value=400.0))
def test_burst_plans_each_second_at_its_start_with_the_same_counts(stages, start):
    uniform = Schedule(tuple(stages), start_rps=start)
    burst = Schedule(tuple(stages), start_rps=start, burst=True)
    assert burst.total == uniform.total
    times = [t for _, t in burst.arrivals()]
    assert all(t == int(t) for t in times)
    assert times == sorted(times)
    assert times == [burst.time_of(i) for i in range(burst.total)]
    for second in range(math.ceil(uniform.duration_s)):
        expected = uniform.planned_in(second, second + 1)
        assert times.count(float(second)) == expected
        # Any window: consistent with the arrivals themselves.
        assert burst.planned_in(second - 0.5, second + 0.5) == expected


def test_burst_fires_the_original_simulators_pattern():
    # 500 requests at the start of every second, for 3 s.
    schedule = Schedule((Stage(duration_s=3.0, target_rps=500.0),), start_rps=500.0, burst=True)
    times = [t for _, t in schedule.arrivals()]
    assert [times.count(s) for s in (0.0, 1.0, 2.0)] == [500, 500, 500]
    assert len(times) == 1500
