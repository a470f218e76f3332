"""Run the schedule in one process or fan it out to N spawned processes, and collect the results.

Worker w sends arrivals w, w+N, w+2N, ... of the same schedule, so the workers together offer
exactly the planned load. Every worker builds its payloads first, reports ready, and then all of
them start at one monotonic instant chosen by the parent (CLOCK_MONOTONIC is system-wide).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import time
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from loadgen.errors import LoadgenError
from loadgen.runner import ProgressCallback, Worker, WorkerSpec
from loadgen.stats import WorkerResult

__all__ = ["run_workers"]

_START_DELAY_S = 0.2
"""Head start between 'go' and the first planned send, so no worker begins already late."""
_READY_TIMEOUT_S = 120.0


def run_workers(spec: WorkerSpec, *, on_progress: ProgressCallback | None) -> list[WorkerResult]:
    """Run the whole schedule with `spec.config.workers` workers; one result per worker."""
    count = spec.config.workers
    if count == 1:
        worker = Worker(replace(spec, worker=0, workers=1))
        start_at = time.monotonic() + _START_DELAY_S
        return [asyncio.run(worker.run(start_at=start_at, on_progress=on_progress))]
    return _run_processes(spec, count, on_progress)


def _run_processes(
    spec: WorkerSpec, count: int, on_progress: ProgressCallback | None
) -> list[WorkerResult]:
    # spawn, not fork: a fresh interpreter per worker, no inherited event loop or threads.
    context = multiprocessing.get_context("spawn")
    connections: list[Connection] = []
    processes = []
    try:
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker_main,
                args=(child, replace(spec, worker=index, workers=count)),
                name=f"loadgen-worker-{index}",
                daemon=True,
            )
            process.start()
            child.close()
            connections.append(parent)
            processes.append(process)
        for connection in connections:
            if not connection.poll(_READY_TIMEOUT_S):
                raise LoadgenError("a worker did not get ready in time")
            _expect(connection.recv(), "ready")
        start_at = time.monotonic() + _START_DELAY_S
        for connection in connections:
            connection.send(("start", start_at))
        results: dict[int, WorkerResult] = {}
        pending = list(connections)
        while pending:
            for ready in wait(pending):
                assert isinstance(ready, Connection)
                try:
                    message = ready.recv()
                except EOFError:
                    raise LoadgenError("a worker exited without a result") from None
                kind = message[0]
                if kind == "progress" and on_progress is not None:
                    on_progress(message[1])
                elif kind == "result":
                    result: WorkerResult = message[1]
                    results[result.worker] = result
                    pending.remove(ready)
                elif kind == "error":
                    raise LoadgenError(f"worker failed: {message[1]}")
        for process in processes:
            process.join(timeout=10)
        return [results[index] for index in range(count)]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for connection in connections:
            connection.close()


def _expect(message: Any, kind: str) -> None:
    if not (isinstance(message, tuple) and message and message[0] == kind):
        detail = message[1] if isinstance(message, tuple) and len(message) > 1 else message
        raise LoadgenError(f"worker failed before the run: {detail}")


def _worker_main(connection: Connection, spec: WorkerSpec) -> None:
    """Entry point of a spawned worker process."""
    # Ctrl-C goes to the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        worker = Worker(spec)
        connection.send(("ready",))
        _, start_at = connection.recv()

        def forward(progress: Any) -> None:
            connection.send(("progress", progress))

        result = asyncio.run(worker.run(start_at=start_at, on_progress=forward))
        connection.send(("result", result))
    except Exception as exc:  # reported to the parent, which fails the run
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()
