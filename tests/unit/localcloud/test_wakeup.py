"""GIVEN a stream poller whose polls find nothing WHEN it stays idle THEN its pause doubles up to
its longest; WHEN a function writes to DynamoDB THEN the pause under way ends at once."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud.sources.base import MappingSettings, Poller
from localcloud.sources.wakeup import Wakeup


class IdlePoller(Poller):
    """Finds nothing to do; tells the test each time it polled."""

    idle_s = 0.05
    idle_max_s = 0.25

    def __init__(self, settings: MappingSettings, busy: list[bool]) -> None:
        super().__init__(settings)
        self.polled = asyncio.Queue[int]()
        self._busy = busy
        self._count = 0

    async def _poll(self) -> bool:
        self._count += 1
        self.polled.put_nowait(self._count)
        return self._busy.pop(0) if self._busy else False


def _settings() -> MappingSettings:
    function: Any = SimpleNamespace(spec=SimpleNamespace(name="consumer"))
    return MappingSettings("arn:stream", function, 100, 0.0, True, (), "us-east-1")


class RecordingWakeup(Wakeup):
    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float] = []

    async def pause(self, seconds: float, *, at_least: float = 0.0) -> None:
        assert at_least == 0.05
        self.pauses.append(seconds)
        await asyncio.sleep(0)


async def test_idle_pauses_double_up_to_the_longest_and_reset_when_busy() -> None:
    poller = IdlePoller(_settings(), busy=[False] * 5 + [True] + [False] * 3)
    poller.wakeup = wakeup = RecordingWakeup()
    task = asyncio.create_task(poller.run())
    while await poller.polled.get() < 10:
        pass
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wakeup.pauses[:8] == [0.05, 0.1, 0.2, 0.25, 0.25, 0.05, 0.1, 0.2]


async def test_a_write_ends_the_pause_under_way_after_its_least() -> None:
    wakeup = Wakeup()
    hooks: dict[str, Any] = {}
    session: Any = SimpleNamespace(register=hooks.__setitem__)
    wakeup.install(session)
    assert "after-call.dynamodb.BatchWriteItem" in hooks
    loop = asyncio.get_running_loop()
    for at_least in (0.0, 0.05):
        pause = asyncio.create_task(wakeup.pause(3600, at_least=at_least))
        while not wakeup._waiting:  # the pause has begun
            await asyncio.sleep(0)
        began = loop.time()
        # A handler's write, seen by botocore's hook in one of the functions' threads.
        writer = threading.Thread(target=hooks["after-call.dynamodb.BatchWriteItem"])
        writer.start()
        writer.join()
        await asyncio.wait_for(pause, 30)  # an hour's pause, ended by the write
        assert loop.time() - began >= at_least - 0.01
    assert not wakeup._waiting
