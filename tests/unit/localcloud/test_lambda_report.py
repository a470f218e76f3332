"""GIVEN a function with a log WHEN it is invoked THEN each invocation logs Lambda's REPORT line,
with `Init Duration` (the handler's import) on each container's first invocation only."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.runtime.functions import FunctionSpec, LambdaFunction
from localcloud.runtime.logs import FunctionLogs, report_line

CODE = """
def handler(event, context):
    if "gate" in event:
        event["entered"].set()
        event["gate"].wait(10)
    return {}
"""
REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>[0-9.]+) ms"
    r"\tBilled Duration: (?P<billed>[0-9]+) ms\tMemory Size: 256 MB"
    r"(?:\tInit Duration: (?P<init>[0-9.]+) ms)?"
)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


def _reports(logs: FunctionLogs) -> list[re.Match[str]]:
    lines = logs.path("fn").read_text(encoding="utf-8").splitlines()
    matches = [REPORT.fullmatch(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m is not None]


async def test_init_duration_is_reported_on_each_containers_first_invocation(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    # GIVEN a loaded function (its first container started at deploy, as Lambda's INIT)
    (tmp_path / "reportfn.py").write_text(CODE, encoding="utf-8")
    spec = FunctionSpec(
        name="fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        handler="reportfn.handler",
        code_dir=tmp_path,
        memory_mb=256,
    )
    logs = FunctionLogs(tmp_path / "logs")
    function = LambdaFunction(spec, {}, executor, logs=logs)
    function.load()
    try:
        # WHEN it is invoked twice in turn, then twice at once (the second needs a new container)
        await function.invoke({})
        await function.invoke({})
        gate, entered = threading.Event(), threading.Event()
        busy = asyncio.ensure_future(function.invoke({"gate": gate, "entered": entered}))
        assert await asyncio.to_thread(entered.wait, 10)  # the warm container is busy
        await function.invoke({})
        gate.set()
        await busy
    finally:
        logs.uninstall()
    # THEN every invocation has a REPORT line, and only first invocations carry Init Duration
    reports = _reports(logs)
    assert len(reports) == 4
    assert len({m["id"] for m in reports}) == 4
    assert function.containers == 2
    inits = [m["init"] for m in reports]  # the busy invocation's line comes last
    assert [init is not None for init in inits] == [True, False, True, False]
    for match in reports:
        assert int(match["billed"]) >= float(match["duration"])
    assert all(float(init) >= 0 for init in inits if init is not None)


def test_report_line_is_lambdas() -> None:
    line = report_line("8f5d5e1a-0000-4000-8000-000000000000", 12.341, 128, 456.789)
    assert line == (
        "REPORT RequestId: 8f5d5e1a-0000-4000-8000-000000000000\tDuration: 12.34 ms"
        "\tBilled Duration: 13 ms\tMemory Size: 128 MB\tInit Duration: 456.79 ms"
    )
    assert report_line("x", 0.2, 128).endswith("\tBilled Duration: 1 ms\tMemory Size: 128 MB")
