"""HDR histograms and counters: recorded in each worker, encoded, and merged exactly in the parent.

Latencies are recorded in microseconds. Every value is clamped into the histogram's range first,
because `HdrHistogram.record_value` silently returns False (drops the sample) when it is not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from hdrh.histogram import HdrHistogram

from loadgen.errors import ErrorKind
from loadgen.payloads import ENDPOINT_NAMES

__all__ = [
    "HIGHEST_US",
    "PERCENTILES",
    "Counters",
    "MergedStats",
    "SecondResult",
    "SecondStats",
    "WorkerResult",
    "WorkerStats",
    "decode",
    "new_histogram",
    "new_series_histogram",
    "percentiles_ms",
    "record_clamped",
]

HIGHEST_US: Final = 3_600_000_000
"""One hour: far above any request timeout, so clamping only ever touches broken clocks."""
PERCENTILES: Final = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99)
_ENDPOINTS: Final = len(ENDPOINT_NAMES)


def new_histogram() -> HdrHistogram:
    """A latency histogram: 1 µs .. 1 h at 3 significant digits (0.1 % resolution)."""
    return HdrHistogram(1, HIGHEST_US, 3)


def new_series_histogram() -> HdrHistogram:
    """A per-second histogram: 2 significant digits, a tenth of the memory of a full one."""
    return HdrHistogram(1, HIGHEST_US, 2)


def record_clamped(histogram: HdrHistogram, value_us: float) -> None:
    """Record `value_us`, clamped into the histogram's trackable range."""
    value = int(value_us)
    if value < 0:
        value = 0
    elif value > HIGHEST_US:
        value = HIGHEST_US
    histogram.record_value(value)


def encode(histogram: HdrHistogram) -> bytes:
    """The histogram in HdrHistogram's compressed wire format (empty bytes when empty)."""
    return bytes(histogram.encode()) if histogram.get_total_count() else b""


def decode(encoded: bytes, *, series: bool = False) -> HdrHistogram:
    """A histogram from `encode()` output; empty input gives an empty histogram."""
    histogram = new_series_histogram() if series else new_histogram()
    if encoded:
        histogram.decode_and_add(encoded)
    return histogram


def percentiles_ms(histogram: HdrHistogram) -> dict[str, float | int]:
    """Count, mean, p50 … p99.99 and max of a microsecond histogram, in milliseconds."""
    count = histogram.get_total_count()
    out: dict[str, float | int] = {"count": count}
    if not count:
        return out | {_label(p): 0.0 for p in PERCENTILES} | {"max": 0.0, "mean": 0.0}
    # One pass over the counts for every figure: hdrh's own mean walks an iterator that costs
    # milliseconds per step, and each get_value_at_percentile call is a separate full scan.
    wanted = [(_label(p), histogram.get_target_count_at_percentile(p)) for p in PERCENTILES]
    counts = histogram.counts
    cumulative = 0
    weighted = 0
    next_wanted = 0
    for index in range(histogram.counts_len):
        found = counts[index]
        if not found:
            continue
        cumulative += found
        value = histogram.get_value_from_index(index)
        low = histogram.get_lowest_equivalent_value(value)
        high = histogram.get_highest_equivalent_value(value)
        weighted += found * ((low + high + 1) // 2)
        while next_wanted < len(wanted) and cumulative >= wanted[next_wanted][1]:
            out[wanted[next_wanted][0]] = round(high / 1000.0, 3)
            next_wanted += 1
        if cumulative >= count:
            break
    out["max"] = round(histogram.get_max_value() / 1000.0, 3)
    out["mean"] = round(weighted / count / 1000.0, 3)
    return out


def _label(percentile: float) -> str:
    return f"p{percentile:g}"


@dataclass(slots=True)
class Counters:
    """Plain counts a worker keeps; summed across workers (maxima where noted)."""

    planned: int = 0
    sent: int = 0
    measured: int = 0
    """Requests planned after the warm-up (the ones in the statistics)."""
    warmup: int = 0
    ok: int = 0
    errors: int = 0
    dropped: int = 0
    late: int = 0
    pool_waits: int = 0
    ticks_sent: int = 0
    ticks_acknowledged: int = 0
    ticks_queued: int = 0
    measured_sent: int = 0
    """Measured requests actually sent (dropped ones are not)."""
    last_send_s: float = 0.0
    """Offset of the last measured send from the run start (max across workers)."""
    cpu_share: float = 0.0
    """CPU time over wall time of the run, of the busiest worker process (max across workers):
    near 1.0, the generator itself is the limit."""
    in_flight_peak: int = 0
    """Most requests one worker had in flight at once (max across workers)."""
    cpu_pressure: float = -1.0
    """Share of the run in which some task on the machine waited for a CPU (Linux PSI,
    `/proc/pressure/cpu`; machine-wide, max across workers); -1 where the kernel has no PSI."""

    def add(self, other: Counters) -> None:
        """Fold another worker's counters into these."""
        for name in self.__slots__:
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, max(mine, theirs) if name in _PEAKS else mine + theirs)


_PEAKS: Final = frozenset({"last_send_s", "cpu_share", "in_flight_peak", "cpu_pressure"})
"""Counters that are maxima across workers, not sums."""


@dataclass(slots=True)
class SecondStats:
    """What happened to the requests planned in one second of the run."""

    histogram: HdrHistogram = field(default_factory=new_series_histogram)
    completed: int = 0
    errors: int = 0
    sent: int = 0
    """Sends that actually happened in this second (by send time, not planned time)."""


@dataclass(frozen=True, slots=True)
class SecondResult:
    """One second of the series, encoded for the trip from a worker to the parent."""

    second: int
    histogram: bytes
    completed: int
    errors: int
    sent: int


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """Everything a worker measured, in picklable form; histograms are HDR-encoded."""

    worker: int
    corrected: tuple[bytes, ...]
    raw: tuple[bytes, ...]
    lag: bytes
    seconds: tuple[SecondResult, ...]
    status: tuple[dict[int, int], ...]
    kinds: tuple[dict[str, int], ...]
    counters: Counters
    acked: bytes
    """Bitmap over request sequence numbers: bit set = the ingest request was acknowledged."""


class WorkerStats:
    """The recording side: one per worker, touched only from that worker's event loop."""

    def __init__(self, *, worker: int, total_requests: int, late_threshold_s: float) -> None:
        self.worker = worker
        self.corrected = [new_histogram() for _ in range(_ENDPOINTS)]
        self.raw = [new_histogram() for _ in range(_ENDPOINTS)]
        self.lag = new_histogram()
        self.window = new_series_histogram()
        """Completions since the last progress snapshot (for the live p95)."""
        self.seconds: dict[int, SecondStats] = {}
        self.status = [Counter[int]() for _ in range(_ENDPOINTS)]
        self.kinds = [Counter[str]() for _ in range(_ENDPOINTS)]
        self.counters = Counters()
        self.acked = bytearray((total_requests + 7) // 8)
        self._late_s = late_threshold_s

    def _second(self, second: int) -> SecondStats:
        stats = self.seconds.get(second)
        if stats is None:
            stats = self.seconds[second] = SecondStats()
        return stats

    def record_send(self, *, planned_s: float, sent_s: float) -> None:
        """A measured request left at `sent_s` (offsets from the run start)."""
        lag = sent_s - planned_s
        record_clamped(self.lag, lag * 1e6)
        counters = self.counters
        counters.measured_sent += 1
        if lag > self._late_s:
            counters.late += 1
        counters.last_send_s = max(counters.last_send_s, sent_s)
        self._second(int(sent_s)).sent += 1

    def record_result(
        self,
        *,
        endpoint: int,
        planned_s: float,
        sent_s: float,
        done_s: float,
        status: int,
        error: ErrorKind | None,
    ) -> None:
        """A measured request finished (successfully or not) at `done_s`."""
        corrected_us = (done_s - planned_s) * 1e6
        record_clamped(self.corrected[endpoint], corrected_us)
        record_clamped(self.raw[endpoint], (done_s - sent_s) * 1e6)
        record_clamped(self.window, corrected_us)
        second = self._second(int(planned_s))
        record_clamped(second.histogram, corrected_us)
        second.completed += 1
        if status:
            self.status[endpoint][status] += 1
        if error is None:
            self.counters.ok += 1
        else:
            self.counters.errors += 1
            second.errors += 1
            self.kinds[endpoint][error.value] += 1

    def record_dropped(self, *, endpoint: int, planned_s: float) -> None:
        """A measured request was never sent: the generator was still behind at the deadline."""
        self.counters.dropped += 1
        self.counters.errors += 1
        self.kinds[endpoint][ErrorKind.DROPPED.value] += 1
        self._second(int(planned_s)).errors += 1

    def mark_acked(self, seq: int) -> None:
        """Ingest request `seq` was acknowledged (200 or 202): its ticks must be readable."""
        self.acked[seq >> 3] |= 1 << (seq & 7)

    def take_window(self) -> bytes:
        """Encode and reset the completions window (the live progress line's p95)."""
        encoded = encode(self.window)
        self.window.reset()
        return encoded

    def result(self) -> WorkerResult:
        """The picklable, encoded form of everything recorded."""
        return WorkerResult(
            worker=self.worker,
            corrected=tuple(encode(h) for h in self.corrected),
            raw=tuple(encode(h) for h in self.raw),
            lag=encode(self.lag),
            seconds=tuple(
                SecondResult(s, encode(v.histogram), v.completed, v.errors, v.sent)
                for s, v in sorted(self.seconds.items())
            ),
            status=tuple(dict(c) for c in self.status),
            kinds=tuple(dict(c) for c in self.kinds),
            counters=self.counters,
            acked=bytes(self.acked),
        )


class MergedStats:
    """All workers' results added together; exact, because HDR histograms add bucket by bucket."""

    def __init__(self, results: list[WorkerResult], *, total_requests: int) -> None:
        self.corrected = [new_histogram() for _ in range(_ENDPOINTS)]
        self.raw = [new_histogram() for _ in range(_ENDPOINTS)]
        self.lag = new_histogram()
        self.seconds: dict[int, SecondStats] = {}
        self.status = [Counter[int]() for _ in range(_ENDPOINTS)]
        self.kinds = [Counter[str]() for _ in range(_ENDPOINTS)]
        self.counters = Counters()
        acked = 0
        for result in results:
            for i in range(_ENDPOINTS):
                _add(self.corrected[i], result.corrected[i])
                _add(self.raw[i], result.raw[i])
                self.status[i].update(result.status[i])
                self.kinds[i].update(result.kinds[i])
            _add(self.lag, result.lag)
            for sec in result.seconds:
                mine = self.seconds.setdefault(sec.second, SecondStats())
                _add(mine.histogram, sec.histogram)
                mine.completed += sec.completed
                mine.errors += sec.errors
                mine.sent += sec.sent
            self.counters.add(result.counters)
            acked |= int.from_bytes(result.acked, "little")
        self.acked = acked.to_bytes((total_requests + 7) // 8, "little")

    def overall(self, *, raw: bool = False) -> HdrHistogram:
        """All endpoints together (corrected latency unless `raw`); a new histogram."""
        total = new_histogram()
        for histogram in self.raw if raw else self.corrected:
            if histogram.get_total_count():
                total.add(histogram)  # same layout: hdrh adds the count arrays in C
        return total

    def is_acked(self, seq: int) -> bool:
        """Whether ingest request `seq` was acknowledged by any worker."""
        return bool(self.acked[seq >> 3] >> (seq & 7) & 1)


def _add(histogram: HdrHistogram, encoded: bytes) -> None:
    if encoded:
        histogram.decode_and_add(encoded)
