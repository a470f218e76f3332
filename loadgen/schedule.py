"""The open-loop arrival plan: when each request should go out, fixed before the run starts.

Send times depend only on the stages, never on how fast the server answers, so a slow server
cannot slow the offered load down (the coordinated omission that closed-loop generators suffer).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from loadgen.config import LoadConfig, Stage

__all__ = ["Ramp", "Schedule"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Ramp:
    """A linear ramp from `from_rps` to `to_rps` over `[start_s, start_s + duration_s)`."""

    start_s: float
    duration_s: float
    from_rps: float
    to_rps: float
    before: float
    """Arrivals planned (as a continuous count) before this ramp starts."""

    @property
    def count(self) -> float:
        """Continuous number of arrivals inside the ramp (the area under the rate)."""
        return self.duration_s * (self.from_rps + self.to_rps) / 2.0

    def cumulative(self, t: float) -> float:
        """Continuous arrival count from the ramp's start to `t` seconds into it."""
        slope = (self.to_rps - self.from_rps) / self.duration_s
        return self.from_rps * t + slope * t * t / 2.0

    def time_of(self, count: float) -> float:
        """Offset into the ramp at which the cumulative count reaches `count`."""
        a = (self.to_rps - self.from_rps) / (2.0 * self.duration_s)
        b = self.from_rps
        # The root of a*t^2 + b*t - count = 0 written as 2c / (b + sqrt(b^2 + 4ac)): stable when
        # a is 0 (constant rate) or b is 0 (ramp from zero), and valid for ramps down.
        disc = max(b * b + 4.0 * a * count, 0.0)
        denom = b + math.sqrt(disc)
        return 0.0 if denom <= 0.0 else min(2.0 * count / denom, self.duration_s)


class Schedule:
    """Piecewise-linear arrival rate; arrival k is planned where the cumulative count is k + 0.5.

    With `burst`, each arrival moves to the start of the second it falls in: a second's requests
    are all planned at once, as a simulator firing one batch per second sends them, with the
    same count per second. Latency is still measured from each (now shared) planned time.
    """

    __slots__ = ("_ramps", "burst", "duration_s", "total")

    def __init__(self, stages: tuple[Stage, ...], *, start_rps: float, burst: bool = False) -> None:
        ramps: list[Ramp] = []
        t = 0.0
        before = 0.0
        rate = start_rps
        for stage in stages:
            ramp = Ramp(
                start_s=t,
                duration_s=stage.duration_s,
                from_rps=rate,
                to_rps=stage.target_rps,
                before=before,
            )
            ramps.append(ramp)
            t += stage.duration_s
            before += ramp.count
            rate = stage.target_rps
        self._ramps = tuple(ramps)
        self.burst = burst
        self.duration_s = t
        self.total = _whole(before)

    @classmethod
    def from_config(cls, config: LoadConfig) -> Schedule:
        """The schedule a run config describes."""
        return cls(config.stages, start_rps=config.start_rps, burst=config.arrival == "burst")

    def cumulative(self, t: float) -> float:
        """Continuous count of arrivals planned in `[0, t)`."""
        if self.burst:  # planned at floor(u) < t exactly when the uniform time u < ceil(t)
            t = math.ceil(t)
        for ramp in self._ramps:
            if t < ramp.start_s + ramp.duration_s:
                return ramp.before + ramp.cumulative(max(t - ramp.start_s, 0.0))
        return self._ramps[-1].before + self._ramps[-1].count

    def planned_in(self, start_s: float, end_s: float) -> int:
        """Whole arrivals planned in `[start_s, end_s)`, consistent with `arrivals()`."""
        return _whole(self.cumulative(end_s)) - _whole(self.cumulative(start_s))

    def time_of(self, index: int) -> float:
        """Planned send offset (seconds from the run start) of arrival `index`."""
        target = index + 0.5
        for ramp in self._ramps:
            if target <= ramp.before + ramp.count or ramp is self._ramps[-1]:
                return self._planned(ramp.start_s + ramp.time_of(target - ramp.before))
        raise AssertionError("unreachable: the last ramp always matches")

    def arrivals(self, *, first: int = 0, step: int = 1) -> Iterator[tuple[int, float]]:
        """Yield `(index, offset_s)` for arrivals `first, first + step, ...` in time order."""
        ramps = self._ramps
        r = 0
        for index in range(first, self.total, step):
            target = index + 0.5
            # Ramps whose (continuous) count is exhausted are skipped for good; ramps at
            # rate 0 have count 0 and are skipped immediately.
            while r < len(ramps) - 1 and target > ramps[r].before + ramps[r].count:
                r += 1
            ramp = ramps[r]
            yield index, self._planned(ramp.start_s + ramp.time_of(target - ramp.before))

    def _planned(self, uniform_s: float) -> float:
        return float(math.floor(uniform_s)) if self.burst else uniform_s


def _whole(count: float) -> int:
    """Arrivals k whose half-point `k + 0.5` is below a continuous count."""
    return max(0, math.ceil(count - 0.5))
