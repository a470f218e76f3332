"""The replay service: drains spill-queue messages into the table with partial batch responses."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from handlers.core.errors import StoreUnavailable
from handlers.core.ingest import Writer
from handlers.core.metrics import METRIC, MetricsLogger
from handlers.core.spill import decode_message

__all__ = ["ReplayService"]

_log = logging.getLogger(__name__)


class ReplayService:
    """Writes each message's blocks; reports the messages that failed so only they come back."""

    def __init__(
        self, writer: Callable[[], Writer], *, metrics: MetricsLogger | None = None
    ) -> None:
        self._writer = writer
        self._metrics = MetricsLogger.disabled() if metrics is None else metrics

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Answer an SQS event with `{"batchItemFailures": [...]}`; one EMF line per call."""
        started = time.perf_counter()
        metrics = self._metrics
        for name in (METRIC.TICKS_REPLAYED, METRIC.REPLAY_FAILURES, METRIC.WRITE_RETRIES):
            metrics.count(name, 0)
        try:
            return self._replay(event)
        finally:
            metrics.set_property("DurationMs", round((time.perf_counter() - started) * 1e3, 3))
            metrics.flush()

    def _replay(self, event: dict[str, Any]) -> dict[str, Any]:
        metrics = self._metrics
        failures: list[dict[str, str]] = []
        records = event.get("Records")
        if not isinstance(records, list):
            raise ValueError("not an SQS event: no 'Records' list")
        metrics.set_property("Messages", len(records))
        for record in records:
            message_id = str(record.get("messageId", ""))
            try:
                blocks = decode_message(str(record["body"]))
                report = self._writer().write(blocks)
            except (ValueError, KeyError) as exc:
                # A malformed message will never succeed: fail it so redrive moves it to the DLQ.
                _log.error("message %s is not a spill message: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
                metrics.set_property("ErrorCode", "malformed_message")
            except StoreUnavailable as exc:
                _log.warning("message %s not replayed yet: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
                metrics.count(METRIC.WRITE_RETRIES, exc.retries)
                metrics.set_property("ErrorCode", "store_unavailable")
            else:
                metrics.count(METRIC.TICKS_REPLAYED, sum(block.count for block in blocks))
                metrics.count(METRIC.WRITE_RETRIES, report.retries)
        metrics.count(METRIC.REPLAY_FAILURES, len(failures))
        return {"batchItemFailures": failures}
