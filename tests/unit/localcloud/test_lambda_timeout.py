"""A function's timeout runs from when a thread starts it, not from when it was queued."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.runtime.functions import FunctionSpec, FunctionTimeout, LambdaFunction

CODE = """
def quick(event, context):
    return {"remaining_ms": context.get_remaining_time_in_millis()}


def stuck(event, context):
    event["gate"].wait(10)
    return {}
"""


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    """One thread, as a busy pool looks to the next invocation."""
    with ThreadPoolExecutor(1) as pool:
        yield pool


def _function(tmp_path: Path, executor: ThreadPoolExecutor, handler: str) -> LambdaFunction:
    (tmp_path / "timeoutfn.py").write_text(CODE, encoding="utf-8")
    spec = FunctionSpec(
        name=f"fn-{handler}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:fn-{handler}",
        handler=f"timeoutfn.{handler}",
        code_dir=tmp_path,
        timeout_s=0.3,
    )
    function = LambdaFunction(spec, {}, executor)
    function.load()
    return function


async def test_waiting_for_a_thread_does_not_count_against_the_timeout(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    function = _function(tmp_path, executor, "quick")
    gate = threading.Event()
    # GIVEN the only thread is busy for longer than the function's timeout
    executor.submit(gate.wait, 10)
    invocation = asyncio.ensure_future(function.invoke({}))
    await asyncio.sleep(0.6)  # the queueing being modelled: twice the timeout, thread still busy
    assert not invocation.done()
    gate.set()
    # THEN the invocation runs once a thread is free and gets its whole time budget
    result = await invocation
    assert 0 < result["remaining_ms"] <= 300
    assert function.errors == 0


async def test_a_handler_running_past_its_timeout_still_times_out(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    function = _function(tmp_path, executor, "stuck")
    gate = threading.Event()
    try:
        with pytest.raises(FunctionTimeout, match=r"timed out after 0\.30 seconds"):
            await function.invoke({"gate": gate})
        assert function.errors == 1
    finally:
        gate.set()
