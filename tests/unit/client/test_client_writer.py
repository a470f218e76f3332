"""The buffered writer with a fake sender: flush by size, by delay, back-pressure, failures."""

from __future__ import annotations

import threading

import pytest
from marketstream import SendResult, Tick, Writer, WriterError


class Sender:
    """Records batches; can be held (to fill the buffer) or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[Tick]] = []
        self.release = threading.Event()
        self.release.set()
        self.fail = False
        self.called = threading.Event()

    def __call__(self, ticks: list[Tick]) -> SendResult:
        self.called.set()
        self.release.wait()
        if self.fail:
            raise RuntimeError("down")
        self.batches.append(ticks)
        return SendResult(accepted=len(ticks), requests=1)


def _ticks(n: int) -> list[Tick]:
    return [Tick.of("A", "1", i) for i in range(n)]


def test_flushes_full_batches_and_the_rest_on_close() -> None:
    sender = Sender()
    with Writer(sender, max_batch=10, max_delay_s=60, max_buffer=100) as writer:
        writer.write_many(_ticks(25))
    assert sorted(len(b) for b in sender.batches) == [5, 10, 10]
    assert (writer.sent, writer.failed) == (25, 0)


def test_flushes_by_delay() -> None:
    sender = Sender()
    writer = Writer(sender, max_batch=100, max_delay_s=0.01, max_buffer=100)
    writer.write(_ticks(1)[0])
    assert sender.called.wait(10)  # nothing else would send a 1-tick batch
    writer.close()
    assert writer.sent == 1


def test_write_blocks_while_the_buffer_is_full() -> None:
    sender = Sender()
    sender.release.clear()
    writer = Writer(sender, max_batch=2, max_delay_s=60, max_buffer=2)
    writer.write_many(_ticks(2))  # the thread takes these and is held in send
    assert sender.called.wait(10)
    writer.write_many(_ticks(2))  # the buffer is full again
    done = threading.Event()

    def write_one() -> None:
        writer.write(_ticks(1)[0])
        done.set()

    blocked = threading.Thread(target=write_one)
    blocked.start()
    assert not done.wait(0.2)  # still blocked: the buffer holds max_buffer ticks
    sender.release.set()
    blocked.join(10)
    assert done.is_set()
    writer.close()
    assert writer.sent == 5


def test_failures_are_counted_and_raised_on_close() -> None:
    sender = Sender()
    sender.fail = True
    writer = Writer(sender, max_batch=5, max_delay_s=60, max_buffer=10)
    writer.write_many(_ticks(7))
    with pytest.raises(WriterError, match="7 tick"):
        writer.close()
    assert (writer.sent, writer.failed) == (0, 7)
