"""Validated run settings: frozen dataclasses that check themselves, and their text parsers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loadgen.errors import UsageError

__all__ = [
    "LoadConfig",
    "ReportOptions",
    "Stage",
    "parse_duration",
    "parse_stages",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Parse `500ms`, `30s`, `2m`, `1h` or a bare number of seconds into seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"bad duration {text!r}: use e.g. 30s, 2m, 500ms")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_stages(text: str) -> tuple[Stage, ...]:
    """Parse `30s:100,60s:500,30s:0` into stages (duration, rate reached at the stage's end)."""
    stages: list[Stage] = []
    for part in text.split(","):
        duration, sep, rate = part.strip().partition(":")
        if not sep:
            raise UsageError(f"bad stage {part.strip()!r}: use DURATION:RATE, e.g. 30s:100")
        try:
            target = float(rate)
        except ValueError:
            raise UsageError(f"bad stage rate {rate!r} in {part.strip()!r}") from None
        stages.append(Stage(duration_s=parse_duration(duration), target_rps=target))
    return tuple(stages)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


@dataclass(frozen=True, kw_only=True, slots=True)
class Stage:
    """One stage of the arrival schedule: the rate ramps linearly to `target_rps` over the stage."""

    duration_s: float
    target_rps: float

    def __post_init__(self) -> None:
        _require(
            math.isfinite(self.duration_s) and self.duration_s > 0,
            f"stage duration must be > 0 (got {self.duration_s})",
        )
        _require(
            math.isfinite(self.target_rps) and self.target_rps >= 0,
            f"stage rate must be >= 0 (got {self.target_rps})",
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadConfig:
    """What load to offer and how the client behaves; recorded verbatim in the JSON summary."""

    stages: tuple[Stage, ...]
    start_rps: float = 0.0
    """Rate at t=0; each stage ramps from the previous stage's end rate (this, for the first)."""
    arrival: Literal["uniform", "burst"] = "uniform"
    """`uniform`: requests spread evenly; `burst`: each second's requests at its start."""
    batch: int = 10
    """Ticks per ingest request."""
    symbols: int = 8
    query_ratio: float = 0.0
    """Share of requests that are reads, split evenly over /query, /latest and /bars."""
    seed: int = 1
    warmup_s: float = 0.0
    """Requests planned in the first `warmup_s` seconds are sent but left out of the statistics."""
    connections: int = 256
    """TCPConnector limit per worker; also the cap on requests in flight per worker."""
    timeout_s: float = 10.0
    """ClientTimeout.total for one request (connect + send + read)."""
    connect_timeout_s: float = 3.0
    """ClientTimeout.sock_connect."""
    workers: int = 1
    late_threshold_ms: float = 5.0
    """A send later than this after its planned time counts as a late send."""
    lag_limit_ms: float = 20.0
    """A scheduler lag p99 above this means the generator could not keep up (with a rate under
    99 % of the target); a few ms of lag is an event loop's normal jitter, not falling behind."""
    grace_s: float = 5.0
    """How long after the schedule ends a generator that fell behind may keep sending."""
    query_limit: int = 100
    pool_size: int = 1024
    """Prebuilt payload templates per worker: memory stays flat however long the run."""

    def __post_init__(self) -> None:
        _require(len(self.stages) > 0, "at least one stage is required")
        _require(math.isfinite(self.start_rps) and self.start_rps >= 0, "start rate must be >= 0")
        _require(1 <= self.batch <= 1000, f"--batch must be 1..1000 (got {self.batch})")
        _require(1 <= self.symbols <= 10_000, f"--symbols must be 1..10000 (got {self.symbols})")
        _require(
            0.0 <= self.query_ratio <= 1.0, f"--query-ratio must be 0..1 (got {self.query_ratio})"
        )
        _require(self.seed >= 0, "--seed must be >= 0")
        _require(
            0.0 <= self.warmup_s < self.duration_s,
            f"--warmup must be >= 0 and shorter than the run ({self.duration_s:g}s)",
        )
        _require(1 <= self.connections <= 100_000, "--connections must be 1..100000")
        _require(self.timeout_s > 0, "--timeout must be > 0")
        _require(self.connect_timeout_s > 0, "--connect-timeout must be > 0")
        _require(1 <= self.workers <= 64, "--workers must be 1..64")
        _require(self.late_threshold_ms > 0, "--late-threshold must be > 0")
        _require(self.lag_limit_ms > 0, "--lag-limit must be > 0")
        _require(self.grace_s >= 0, "--grace must be >= 0")
        _require(1 <= self.query_limit <= 1000, "query limit must be 1..1000")
        _require(1 <= self.pool_size <= 1_000_000, "pool size must be 1..1000000")
        _require(self.planned_requests > 0, "the schedule plans no requests: raise the rate")

    @property
    def duration_s(self) -> float:
        """Length of the whole schedule, warm-up included."""
        return sum(stage.duration_s for stage in self.stages)

    @property
    def measured_s(self) -> float:
        """Length of the measured window (the schedule after warm-up)."""
        return self.duration_s - self.warmup_s

    @property
    def planned_requests(self) -> int:
        """Requests the schedule plans over the whole run (all workers together)."""
        # Imported here: schedule imports this module for Stage.
        from loadgen.schedule import Schedule

        return Schedule.from_config(self).total

    @property
    def ingest_share(self) -> float:
        """Share of requests that are ingest POSTs."""
        return 1.0 - self.query_ratio


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportOptions:
    """Where the results go and what decides the exit code."""

    json_path: Path | None = None
    plot_path: Path | None = None
    slo: str | None = None
    verify: bool = False
    progress: bool = True
