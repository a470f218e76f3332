"""The fault matrix: the load generator at a fixed rate through a local cloud while a fault is on.

Shared by `bench/faults.py` (which prints) and `tests/functional/test_fault_matrix.py` (which
asserts), so it imports no pytest. One case: set the fault through the admin endpoint (time-bound,
so it switches itself off), run the load generator in this process (a `Worker` that keeps every
ingest answer, for per-request evidence), probe `/query` once a second, wait for the spill
queue to drain, read every tick back (loadgen's verify), retry each request that was not
acknowledged with its Idempotency-Key, and read everything back again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

from infra import outputs
from loadgen.config import LoadConfig, Stage
from loadgen.runner import Worker, WorkerSpec
from loadgen.stats import MergedStats, percentiles_ms
from loadgen.targets import Targets, from_outputs
from loadgen.verify import VerifyResult, verify_ticks
from localcloud.faults import CRASH, THROTTLE_WRITES, UNAVAILABLE
from localcloud.launcher import CloudProcess, LaunchOptions

__all__ = [
    "CASES",
    "CLOUD",
    "STACK_FILE",
    "CaseResult",
    "FaultCase",
    "Load",
    "run_case",
]

STACK_FILE: Final = Path(__file__).with_name("faults_stack.yaml")
WORKERS: Final = 32
"""Lambda threads in the local cloud: an outage makes each ingest take ~1 s (the writer's retries
before it spills), and Lambda would scale out for that; 8 threads would queue the requests."""
DRAIN_DEADLINE_S: Final = 90.0
RETRY_ATTEMPTS: Final = 5
PROBE_INTERVAL_S: Final = 1.0
_FUNCTION_TYPE: Final = "aws:lambda/function:Function"
INGEST_FUNCTION: Final = "ingest-ingest-fn"
"""Logical names the program gives the ingest and replay functions (`IngestPath("ingest")`)."""
REPLAY_FUNCTION: Final = "ingest-replay-fn"
CLOUD: Final = LaunchOptions(stack_file=STACK_FILE, workers=WORKERS)
"""How the matrix's local cloud is launched."""


@dataclass(frozen=True, kw_only=True)
class Load:
    """What the load generator offers: a fixed rate of ingest requests."""

    rate: float = 12.0
    batch: int = 10
    symbols: int = 8
    seed: int = 1


@dataclass(frozen=True, kw_only=True)
class FaultCase:
    """One row of the matrix: a fault mode, its share, when it starts and how long it lasts."""

    key: str
    title: str
    mode: str
    share: float
    start_s: float
    """When the fault is set, counted from the first planned request."""
    for_s: float | None
    """How long it lasts (the injector switches it off); None: the whole run."""
    run_s: float

    def settings(self, ingest_function: str) -> dict[str, Any]:
        """The POST /_localcloud/faults document that starts the fault."""
        document: dict[str, Any] = (
            {CRASH: {"function": ingest_function, "share": self.share}}
            if self.mode == CRASH
            else {self.mode: self.share}
        )
        if self.for_s is not None:
            document["for_s"] = self.for_s
        return document

    def clearing(self) -> dict[str, Any]:
        """The document that switches the fault off."""
        return {CRASH: None} if self.mode == CRASH else {self.mode: 0}


CASES: Final = (
    FaultCase(
        key="throttle",
        title="30 % of DynamoDB writes throttled for 20 s",
        mode=THROTTLE_WRITES,
        share=0.3,
        start_s=3.0,
        for_s=20.0,
        run_s=26.0,
    ),
    FaultCase(
        key="outage",
        title="DynamoDB unreachable for 10 s",
        mode=UNAVAILABLE,
        share=1.0,
        start_s=3.0,
        for_s=10.0,
        run_s=16.0,
    ),
    FaultCase(
        key="crash",
        title="ingest crashes mid-write in 5 % of invocations",
        mode=CRASH,
        share=0.05,
        start_s=0.0,
        for_s=None,
        run_s=15.0,
    ),
)


@dataclass
class Answer:
    """What one ingest request was told."""

    status: int
    """0: no HTTP answer (connection error or timeout)."""
    body: Any
    planned_s: float


@dataclass
class CaseResult:
    """Everything one case measured; the test asserts on it, the bench prints it."""

    case: FaultCase
    requests: int
    answers: dict[int, Answer]
    """By request sequence number."""
    verify: VerifyResult
    """Read back once the spill queue drained: the acknowledged requests only."""
    after_retry: VerifyResult
    """Read back after every unacknowledged request was retried with its Idempotency-Key."""
    retried: Counter[int]
    """Final status of each retried request."""
    injected: int
    """Faults the injector counted during the case."""
    fault_over: bool
    """The fault had switched itself off (or was cleared) when the load ended."""
    spill_deleted: int
    """Spill messages the replay stored and the event source deleted during the case."""
    replayed_ticks: int
    """Sum of the replay function's `TicksReplayed` metric during the case."""
    ingest_retries: int
    """Sum of the ingest function's `WriteRetries` metric during the case."""
    function_errors: dict[str, int]
    """Invocation errors per function during the case."""
    dlq_depth: int
    drain_s: float
    """From the last answer to an empty spill queue."""
    latency_ms: dict[str, float | int]
    """Corrected ingest latency percentiles (loadgen's figures)."""
    probes: Counter[tuple[int, str]] = field(default_factory=Counter)
    """`/query` answers while the fault was on: (status, error code or "")."""

    def statuses(self) -> Counter[int]:
        """How many requests got each status."""
        return Counter(answer.status for answer in self.answers.values())

    def queued_ticks(self) -> int:
        """Ticks the 202 answers said were queued."""
        return sum(
            int(a.body.get("queued", 0))
            for a in self.answers.values()
            if a.status == 202 and isinstance(a.body, dict)
        )

    def row(self) -> dict[str, Any]:
        """The case as one flat row (the bench's table and JSON)."""
        statuses = self.statuses()
        five = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
        return {
            "case": self.case.key,
            "requests": self.requests,
            "200": statuses[200],
            "202": statuses[202],
            "503": statuses[503],
            "5xx": five,
            "other": self.requests - statuses[200] - statuses[202] - statuses[503] - five,
            "acked_ticks": self.verify.acknowledged,
            "stored": self.verify.found,
            "missing": self.verify.missing,
            "duplicated": self.verify.duplicated,
            "unacked_stored": self.verify.unacknowledged_found,
            "retried": sum(self.retried.values()),
            "after_retry_missing": self.after_retry.missing,
            "after_retry_duplicated": self.after_retry.duplicated,
            "injected": self.injected,
            "queued_ticks": self.queued_ticks(),
            "replayed_ticks": self.replayed_ticks,
            "p50_ms": round(self.latency_ms.get("p50", 0)),
            "p99_ms": round(self.latency_ms.get("p99", 0)),
            "drain_s": round(self.drain_s, 1),
            "dlq": self.dlq_depth,
        }


class RecordingWorker(Worker):
    """The load generator's worker, keeping every ingest answer by request."""

    def __init__(self, spec: WorkerSpec) -> None:
        super().__init__(spec)
        self.answers: dict[int, Answer] = {}

    async def _post(
        self, session: aiohttp.ClientSession, seq: int, planned_s: float
    ) -> tuple[int, bytes]:
        self.answers[seq] = Answer(0, None, planned_s)
        status, payload = await super()._post(session, seq, planned_s)
        try:
            body = json.loads(payload)
        except ValueError:
            body = None
        self.answers[seq] = Answer(status, body, planned_s)
        return status, payload

    def body(self, seq: int) -> bytes:
        """Request `seq`'s body, byte for byte as it was sent."""
        planned_ms = self.spec.base_ms + int(self.answers[seq].planned_s * 1000)
        return self.pool.ingest(seq).render(planned_ms, self.pool.key(seq))


class _Cloud:
    """What a case reads from the running cloud: admin counters, queues, function logs."""

    def __init__(self, cloud: CloudProcess, http: aiohttp.ClientSession) -> None:
        self.cloud = cloud
        self.http = http
        self.admin = cloud.admin_url
        functions = {
            r["name"]: r["id"] for r in cloud.state["resources"] if r["type"] == _FUNCTION_TYPE
        }
        self.ingest = functions[INGEST_FUNCTION]
        self.replay = functions[REPLAY_FUNCTION]
        self.sqs = cloud.aws("sqs")

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.admin}/{path}") as reply:
            reply.raise_for_status()
            return await reply.json()

    async def set_faults(self, document: dict[str, Any]) -> Any:
        async with self.http.post(f"{self.admin}/faults", json=document) as reply:
            answer = await reply.json()
            if reply.status != 200:
                raise RuntimeError(f"fault settings refused: {answer}")
            return answer

    async def depth(self, output: str) -> int:
        def read() -> int:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.cloud.outputs[output],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            return sum(int(value) for value in attributes.values())

        return await asyncio.to_thread(read)

    def log(self, function: str) -> Path:
        # `localcloud up --outputs D/outputs.json` writes function logs to D/logs/<name>.log.
        return self.cloud.directory / "logs" / f"{function}.log"


def _log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _metric_sum(path: Path, offset: int, name: str) -> int:
    """Sum of an EMF metric over the log lines written after `offset`."""
    if not path.exists():
        return 0
    total = 0.0
    with path.open("rb") as file:
        file.seek(offset)
        for line in file:
            try:
                document = json.loads(line)
            except ValueError:
                continue
            value = document.get(name) if isinstance(document, dict) else None
            if isinstance(value, list):
                total += sum(value)
            elif isinstance(value, int | float):
                total += value
    return round(total)


def _spill_deleted(health: dict[str, Any], replay: str) -> int:
    return sum(p["deleted"] for p in health["pollers"] if p["function"] == replay)


async def _wait(check: Callable[[], Any], what: str, deadline_s: float) -> float:
    """Poll the coroutine function `check` until truthy; seconds taken. TimeoutError if never."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"timed out after {deadline_s:g} s waiting for {what}")
        await asyncio.sleep(0.25)  # the polling interval of a bounded wait
    return time.monotonic() - started


async def _probe(
    http: aiohttp.ClientSession, targets: Targets, until: float, seen: Counter[tuple[int, str]]
) -> None:
    """GET /query once a second until `until` (monotonic), counting (status, error)."""
    headers = {"x-api-key": targets.api_key or ""}
    url = f"{targets.query_base_url}/query"
    while time.monotonic() < until:
        try:
            async with http.get(url, params={"symbol": "AAPL"}, headers=headers) as reply:
                body = await reply.json(content_type=None)
                error = body.get("error", "") if isinstance(body, dict) else ""
                seen[(reply.status, str(error))] += 1
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            seen[(0, type(exc).__name__)] += 1
        await asyncio.sleep(PROBE_INTERVAL_S)


async def _retry(
    http: aiohttp.ClientSession, targets: Targets, worker: RecordingWorker, seq: int
) -> int:
    """Send request `seq` again, same body and Idempotency-Key, until acknowledged; last status."""
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {targets.token}",
        "Idempotency-Key": worker.pool.key(seq),
    }
    assert targets.ingest_url is not None
    status = 0
    for attempt in range(RETRY_ATTEMPTS):
        try:
            async with http.post(
                targets.ingest_url, data=worker.body(seq), headers=headers
            ) as reply:
                status = reply.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        if status in (200, 202):
            worker.stats.mark_acked(seq)
            return status
        await asyncio.sleep(0.2 * 2**attempt)  # a client's backoff between retries
    return status


async def run_case(
    case: FaultCase,
    cloud: CloudProcess,
    http: aiohttp.ClientSession,
    load: Load = Load(),
) -> CaseResult:
    """Run one case end to end and return what it measured (no assertions)."""
    local = _Cloud(cloud, http)
    targets = from_outputs(cloud.outputs, source="localcloud")
    config = LoadConfig(
        stages=(Stage(duration_s=case.run_s, target_rps=load.rate),),
        start_rps=load.rate,
        batch=load.batch,
        symbols=load.symbols,
        seed=load.seed,
        connections=64,
        timeout_s=15.0,
    )
    spec = WorkerSpec(
        config=config,
        targets=targets,
        run_id=secrets.token_hex(4),
        base_ms=time.time_ns() // 1_000_000,
    )
    worker = RecordingWorker(spec)
    faults_before = (await local.get("faults"))[case.mode]["injected"]
    health_before = await local.get("health")
    logs_before = {f: _log_size(local.log(f)) for f in (local.ingest, local.replay)}
    if case.start_s <= 0:
        await local.set_faults(case.settings(local.ingest))  # on before the first request
    loop = asyncio.get_running_loop()
    start_at = loop.time() + 0.5
    probes: Counter[tuple[int, str]] = Counter()

    async def inject() -> None:
        if case.start_s > 0:
            await asyncio.sleep(start_at + case.start_s - loop.time())  # the fault's start time
            await local.set_faults(case.settings(local.ingest))
        end = case.for_s if case.for_s is not None else case.run_s - case.start_s
        await _probe(http, targets, time.monotonic() + end - 0.5, probes)

    injector = asyncio.create_task(inject())
    try:
        # asyncio's loop clock is time.monotonic, the clock Worker.run schedules on.
        result = await worker.run(start_at=start_at)
        await injector
    finally:
        injector.cancel()
        if case.for_s is None:
            await local.set_faults(case.clearing())
    finished = time.monotonic()

    async def fault_off() -> bool:
        return bool((await local.get("faults"))[case.mode]["share"] == 0.0)

    fault_over = await fault_off()
    await _wait(fault_off, "the fault to switch itself off", case.for_s or 1.0)

    async def drained() -> bool:
        return await local.depth(outputs.SPILL_QUEUE_URL) == 0

    await _wait(drained, "the spill queue to drain", DRAIN_DEADLINE_S)
    drain_s = time.monotonic() - finished
    total = worker.schedule.total
    merged = MergedStats([result], total_requests=total)
    verified = await verify_ticks(
        targets=targets,
        config=config,
        run_id=spec.run_id,
        base_ms=spec.base_ms,
        total_requests=total,
        stats=merged,
    )
    unacked = sorted(
        seq for seq, answer in worker.answers.items() if answer.status not in (200, 202)
    )
    retried = Counter(
        await asyncio.gather(*(_retry(http, targets, worker, seq) for seq in unacked))
    )
    after_retry = verified
    if unacked:  # else the same read again would find the same
        after_retry = await verify_ticks(
            targets=targets,
            config=config,
            run_id=spec.run_id,
            base_ms=spec.base_ms,
            total_requests=total,
            stats=MergedStats([worker.stats.result()], total_requests=total),
        )
    health = await local.get("health")
    errors_before = health_before["functions"]
    return CaseResult(
        case=case,
        requests=total,
        answers=dict(worker.answers),
        verify=verified,
        after_retry=after_retry,
        retried=retried,
        injected=(await local.get("faults"))[case.mode]["injected"] - faults_before,
        fault_over=fault_over,
        spill_deleted=_spill_deleted(health, local.replay)
        - _spill_deleted(health_before, local.replay),
        replayed_ticks=_metric_sum(
            local.log(local.replay), logs_before[local.replay], "TicksReplayed"
        ),
        ingest_retries=_metric_sum(
            local.log(local.ingest), logs_before[local.ingest], "WriteRetries"
        ),
        function_errors={
            name: counters["errors"] - errors_before.get(name, {}).get("errors", 0)
            for name, counters in health["functions"].items()
        },
        dlq_depth=await local.depth(outputs.DLQ_URL),
        drain_s=drain_s,
        latency_ms=percentiles_ms(merged.overall()),
        probes=probes,
    )
