"""One worker's run: an open-loop dispatcher on one event loop, sending to the targets over aiohttp.

Each request has a planned send time from the schedule. The dispatcher sleeps until that time and
then starts the request without waiting for earlier ones to finish; latency is taken from the
*planned* time (corrected for coordinated omission) and, beside it, from the actual send (raw).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp
from yarl import URL

from loadgen.config import LoadConfig
from loadgen.errors import ErrorKind, ResponseShapeError, classify
from loadgen.payloads import Endpoint, PayloadPool
from loadgen.schedule import Schedule
from loadgen.stats import WorkerResult, WorkerStats
from loadgen.targets import Targets

__all__ = ["Progress", "ProgressCallback", "Worker", "WorkerSpec", "cpu_stall_us"]

_USER_AGENT = "marketstream-loadgen/1"
_INGEST_OK = frozenset({200, 202})
_PROGRESS_INTERVAL_S = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerSpec:
    """What one worker needs; picklable so it can cross into a spawned process."""

    config: LoadConfig
    targets: Targets
    run_id: str
    base_ms: int
    """Wall-clock epoch ms of the run start: tick timestamps are this plus the planned offset."""
    worker: int = 0
    workers: int = 1


@dataclass(frozen=True, slots=True)
class Progress:
    """A once-a-second snapshot from one worker for the live progress line."""

    worker: int
    elapsed_s: float
    sent: int
    completed: int
    errors: int
    in_flight: int
    sent_window: int
    """Sends since the previous snapshot."""
    window_s: float
    window: bytes
    """Encoded histogram of the corrected latencies completed since the previous snapshot."""


ProgressCallback = Callable[[Progress], None]

_PSI_CPU: Final = Path("/proc/pressure/cpu")


def cpu_stall_us() -> int | None:
    """Microseconds in which some task on this machine waited for a CPU since boot (Linux PSI's
    `some total`), or None where the kernel does not report it."""
    try:
        first = _PSI_CPU.read_text(encoding="ascii").split("\n", 1)[0]
        return int(first.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


class Worker:
    """Prebuilds everything at construction; `run()` then only sends and records."""

    def __init__(self, spec: WorkerSpec) -> None:
        config = spec.config
        self.spec = spec
        self.schedule = Schedule.from_config(config)
        self.pool = PayloadPool(
            config=config,
            run_id=spec.run_id,
            base_ms=spec.base_ms,
            query_base_url=spec.targets.query_base_url,
        )
        self.stats = WorkerStats(
            worker=spec.worker,
            total_requests=self.schedule.total,
            late_threshold_s=config.late_threshold_ms / 1000.0,
        )
        targets = spec.targets
        # Parsed once: aiohttp would otherwise parse the URL string on every request.
        self._ingest_url = URL(targets.ingest_url) if targets.ingest_url else None
        self._ingest_headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        if targets.token:
            self._ingest_headers["Authorization"] = f"Bearer {targets.token}"
        self._read_headers = {"User-Agent": _USER_AGENT}
        if targets.api_key:
            self._read_headers["x-api-key"] = targets.api_key
        self._tasks: set[asyncio.Task[None]] = set()
        self._start = 0.0
        self._sent = 0
        self._completed = 0
        self._errors = 0

    async def run(
        self, *, start_at: float, on_progress: ProgressCallback | None = None
    ) -> WorkerResult:
        """Send the schedule starting at monotonic time `start_at`; return what was measured."""
        config = self.spec.config
        self._start = start_at
        # Everything built so far (payload pool, histograms) lives for the whole run: move it out
        # of the collector's sight so that full collections stay short and sends stay on time.
        gc.collect()
        gc.freeze()
        connector = aiohttp.TCPConnector(limit=config.connections, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(
            total=config.timeout_s, sock_connect=config.connect_timeout_s
        )
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            ticker = (
                asyncio.create_task(self._report_progress(on_progress)) if on_progress else None
            )
            # The process's CPU over the run's wall time: the verdict's evidence that the
            # generator itself was (or was not) the limit.
            cpu, wall = time.process_time(), max(time.monotonic(), start_at)
            stalled = cpu_stall_us()
            try:
                await self._dispatch(session)
                while self._tasks:
                    await asyncio.gather(*self._tasks)
            finally:
                elapsed = time.monotonic() - wall
                counters = self.stats.counters
                if elapsed > 0:
                    counters.cpu_share = (time.process_time() - cpu) / elapsed
                    now_stalled = cpu_stall_us()
                    if stalled is not None and now_stalled is not None:
                        counters.cpu_pressure = min(1.0, (now_stalled - stalled) / 1e6 / elapsed)
                gc.unfreeze()
                if ticker is not None:
                    ticker.cancel()
                for task in self._tasks:
                    task.cancel()
        return self.stats.result()

    async def _dispatch(self, session: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        config = self.spec.config
        # The in-flight cap equals the connector limit, so a request never queues invisibly
        # inside aiohttp's pool: waiting for a connection shows up here, as scheduler lag.
        slots = asyncio.Semaphore(config.connections)
        start = self._start
        deadline = start + self.schedule.duration_s + config.grace_s
        warmup = config.warmup_s
        counters = self.stats.counters
        arrivals = self.schedule.arrivals(first=self.spec.worker, step=self.spec.workers)
        for seq, offset in arrivals:
            counters.planned += 1
            measured = offset >= warmup
            if measured:
                counters.measured += 1
            else:
                counters.warmup += 1
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if slots.locked():
                counters.pool_waits += 1
            await slots.acquire()
            if loop.time() > deadline:
                slots.release()
                self._drop(seq, offset, measured)
                for later_seq, later_offset in arrivals:
                    counters.planned += 1
                    later_measured = later_offset >= warmup
                    counters.measured += later_measured
                    counters.warmup += not later_measured
                    self._drop(later_seq, later_offset, later_measured)
                return
            task = loop.create_task(self._send(session, slots, seq, offset, measured))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if len(self._tasks) > counters.in_flight_peak:
                counters.in_flight_peak = len(self._tasks)

    def _drop(self, seq: int, offset: float, measured: bool) -> None:
        if measured:
            self.stats.record_dropped(endpoint=self.pool.kind(seq), planned_s=offset)
        self._errors += 1

    async def _send(
        self,
        session: aiohttp.ClientSession,
        slots: asyncio.Semaphore,
        seq: int,
        planned_s: float,
        measured: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        start = self._start
        sent_s = loop.time() - start
        self._sent += 1
        stats = self.stats
        if measured:
            stats.record_send(planned_s=planned_s, sent_s=sent_s)
        kind = self.pool.kind(seq)
        status = 0
        error: ErrorKind | None
        try:
            if kind is Endpoint.INGEST:
                status, payload = await self._post(session, seq, planned_s)
                error = self._check_ingest(seq, status, payload)
            else:
                status, payload = await self._get(session, seq, kind, planned_s)
                error = self._check_read(kind, status, payload)
        except Exception as exc:  # every failure is classified and counted
            error = classify(exc)
        finally:
            slots.release()
        done_s = loop.time() - start
        stats.counters.sent += 1
        self._completed += 1
        if error is not None:
            self._errors += 1
        if measured:
            stats.record_result(
                endpoint=kind,
                planned_s=planned_s,
                sent_s=sent_s,
                done_s=done_s,
                status=status,
                error=error,
            )

    async def _post(
        self, session: aiohttp.ClientSession, seq: int, planned_s: float
    ) -> tuple[int, bytes]:
        pool = self.pool
        key = pool.key(seq)
        body = pool.ingest(seq).render(self.spec.base_ms + int(planned_s * 1000), key)
        headers = {**self._ingest_headers, "Idempotency-Key": key}
        self.stats.counters.ticks_sent += pool.batch
        assert self._ingest_url is not None  # checked by the CLI before any worker starts
        async with session.post(self._ingest_url, data=body, headers=headers) as response:
            return response.status, await response.read()

    async def _get(
        self, session: aiohttp.ClientSession, seq: int, kind: Endpoint, planned_s: float
    ) -> tuple[int, bytes]:
        url = self.pool.read_url(seq, kind, self.spec.base_ms + int(planned_s * 1000))
        async with session.get(url, headers=self._read_headers) as response:
            return response.status, await response.read()

    def _check_ingest(self, seq: int, status: int, payload: bytes) -> ErrorKind | None:
        """Judge an ingest answer; raises for a malformed one (classified by the caller)."""
        if status not in _INGEST_OK:
            return ErrorKind.STATUS
        answer = json.loads(payload)
        if not isinstance(answer, dict):
            raise ResponseShapeError("ingest answer is not an object")
        # 200 and 202 both acknowledge: the ticks are stored or queued, and must be readable.
        batch = self.pool.batch
        counters = self.stats.counters
        self.stats.mark_acked(seq)
        counters.ticks_acknowledged += batch
        if status == 202:
            counters.ticks_queued += batch
        if answer.get("accepted") != batch:
            raise ResponseShapeError(f"accepted {answer.get('accepted')!r} of {batch}")
        return None

    @staticmethod
    def _check_read(kind: Endpoint, status: int, payload: bytes) -> ErrorKind | None:
        """Judge a read answer; raises for a malformed one (classified by the caller)."""
        if status != 200:
            return ErrorKind.STATUS
        answer = json.loads(payload)
        if not isinstance(answer, dict) or "symbol" not in answer:
            raise ResponseShapeError(f"{kind.name.lower()} answer has no symbol")
        if kind is Endpoint.QUERY and not isinstance(answer.get("ticks"), list):
            raise ResponseShapeError("query answer has no ticks list")
        return None

    async def _report_progress(self, on_progress: ProgressCallback) -> None:
        loop = asyncio.get_running_loop()
        previous_sent = 0
        previous_at = self._start
        delay = self._start - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        while True:
            await asyncio.sleep(_PROGRESS_INTERVAL_S)
            now = loop.time()
            on_progress(
                Progress(
                    worker=self.spec.worker,
                    elapsed_s=now - self._start,
                    sent=self._sent,
                    completed=self._completed,
                    errors=self._errors,
                    in_flight=len(self._tasks),
                    sent_window=self._sent - previous_sent,
                    window_s=max(now - previous_at, 1e-9),
                    window=self.stats.take_window(),
                )
            )
            previous_sent, previous_at = self._sent, now
