"""API Gateway's throttles (token buckets) and usage-plan quotas (requests per calendar period)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from localcloud.deploy.program import Deployment

__all__ = ["PERIODS", "Limits", "Quota", "TokenBucket", "stage_throttles"]

PERIODS: Final = ("DAY", "WEEK", "MONTH")


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; starts full, like API Gateway."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must not be negative")
        self.rate = float(rate)
        # A burst of 0 with a positive rate would refuse everything; AWS treats it as 1.
        self.burst = float(max(burst, 1 if rate > 0 else 0))
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def _period_key(period: str, now: datetime) -> tuple[int, int, int]:
    if period == "DAY":
        return (now.year, now.month, now.day)
    if period == "WEEK":
        year, week, _ = now.isocalendar()
        return (year, week, 0)
    return (now.year, now.month, 0)


class Quota:
    """At most `limit` requests per calendar `period` (UTC), reset when the period turns."""

    __slots__ = ("_clock", "_key", "limit", "period", "used")

    def __init__(
        self, limit: int, period: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        if period not in PERIODS:
            raise ValueError(f"quota period must be one of {', '.join(PERIODS)}")
        self.limit = int(limit)
        self.period = period
        self._clock = clock
        self._key = _period_key(period, clock())
        self.used = 0

    def take(self) -> bool:
        """Count one request if the period's quota allows it."""
        key = _period_key(self.period, self._clock())
        if key != self._key:
            self._key, self.used = key, 0
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def remaining(self) -> int:
        """Requests left in the current period."""
        return max(0, self.limit - self.used)


Limits = tuple[float, int] | None
"""A stage's default route throttle (rate per second, burst), or None for no throttle."""


def stage_throttles(deployment: Deployment) -> dict[str, dict[str, Limits]]:
    """API id -> stage name -> its default-route throttle, for every API Gateway v2 stage."""
    found: dict[str, dict[str, Limits]] = {}
    for r in deployment.of_type("aws:apigatewayv2/stage:Stage"):
        settings = r.inputs.get("defaultRouteSettings") or {}
        rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
        limits = (float(rate), int(burst)) if rate is not None and burst is not None else None
        found.setdefault(str(r.inputs["apiId"]), {})[str(r.inputs["name"])] = limits
    return found
