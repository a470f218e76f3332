"""A buffered writer: ticks go into a bounded buffer that a thread flushes by size or delay."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from marketstream.errors import WriterError
from marketstream.models import Tick, to_tick
from marketstream.protocol import SendResult

__all__ = ["Writer"]


class Writer:
    """Buffers ticks and sends them from a background thread.

    A batch leaves when `max_batch` ticks wait or the oldest waited `max_delay_s`; `write`
    blocks while `max_buffer` ticks wait (back-pressure instead of unbounded memory). A batch
    that still fails after the client's retries counts in `failed`, and the next `flush` or
    `close` raises `WriterError` with the causes: failures are raised, never swallowed.
    """

    def __init__(
        self,
        send: Callable[[list[Tick]], SendResult],
        *,
        max_batch: int = 500,
        max_delay_s: float = 0.25,
        max_buffer: int = 10_000,
    ) -> None:
        if not 1 <= max_batch <= max_buffer:
            raise ValueError("need 1 <= max_batch <= max_buffer")
        if max_delay_s <= 0:
            raise ValueError("max_delay_s must be > 0")
        self._send = send
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._max_buffer = max_buffer
        self._buffer: deque[Tick] = deque()
        self._oldest: float | None = None
        self._in_flight = 0
        self._flushing = 0
        self._closed = False
        self._errors: list[Exception] = []
        self._unreported = 0
        self._cond = threading.Condition()
        self.sent = 0
        """Ticks acknowledged (stored or queued)."""
        self.queued = 0
        """Of `sent`, ticks that went to the spill queue."""
        self.failed = 0
        """Ticks not delivered (their batch failed after every retry, or was refused)."""
        self._thread = threading.Thread(target=self._run, name="marketstream-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, tick: Tick | Mapping[str, Any]) -> None:
        """Buffer one tick; blocks while the buffer is full."""
        value = to_tick(tick)
        with self._cond:
            if self._closed:
                raise ValueError("the writer is closed")
            while len(self._buffer) >= self._max_buffer:
                self._cond.wait()
            self._buffer.append(value)
            if self._oldest is None:
                self._oldest = time.monotonic()
                self._cond.notify_all()  # the thread now has a deadline to wait for
            elif len(self._buffer) >= self._max_batch:
                self._cond.notify_all()

    def write_many(self, ticks: Iterable[Tick | Mapping[str, Any]]) -> None:
        """Buffer each tick in turn."""
        for tick in ticks:
            self.write(tick)

    def flush(self) -> None:
        """Send everything buffered now and wait; WriterError if ticks failed since the last."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            while self._buffer or self._in_flight:
                self._cond.wait()
            self._flushing -= 1
            self._raise_failures()

    def close(self) -> None:
        """Flush, stop the thread; WriterError if ticks failed since the last report."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        with self._cond:
            self._raise_failures()

    def _raise_failures(self) -> None:
        if self._unreported:
            failed, self._unreported = self._unreported, 0
            raise WriterError(failed, list(self._errors))

    def _due(self) -> float | None:
        """0 if a batch should leave now, else seconds until one might; None: wait for writes."""
        if not self._buffer:
            return None
        if len(self._buffer) >= self._max_batch or self._flushing or self._closed:
            return 0.0
        assert self._oldest is not None
        return max(0.0, self._oldest + self._max_delay_s - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._cond:
                while (wait := self._due()) != 0.0:
                    if wait is None and self._closed:
                        return
                    self._cond.wait(wait)
                take = min(len(self._buffer), self._max_batch)
                batch = [self._buffer.popleft() for _ in range(take)]
                self._oldest = time.monotonic() if self._buffer else None
                self._in_flight += take
                self._cond.notify_all()
            try:
                result: SendResult | None = self._send(batch)
                error: Exception | None = None
            except Exception as exc:  # kept, and raised by flush/close
                result, error = None, exc
            with self._cond:
                self._in_flight -= take
                if result is not None:
                    self.sent += result.accepted
                    self.queued += result.queued
                else:
                    assert error is not None
                    self.failed += take
                    self._unreported += take
                    self._errors.append(error)
                self._cond.notify_all()
