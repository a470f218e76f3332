"""The replay service: drains spill-queue messages into the table with partial batch responses.

When the table refuses a message after the writer's whole retry budget, it is down (an outage
or a long throttle), so the rest of the batch is failed without trying: trying would only spend
the function's time (a batch of 100 could outlast its timeout). The failed messages are kept
hidden for longer on each receive (`VisibilityBackoff`): with the queue's fixed visibility, every
visibility timeout of an outage burns one receive of `maxReceiveCount`, and the spill moves to
the DLQ after `maxReceiveCount` x visibility (24 min with prod's settings) while the table is
still down. Backing off doubles the wait per receive, so the same settings ride out hours.
Malformed messages, and messages the table refuses for good (a ValidationException:
`StoreRefused`), are poisons, not an outage: they fail alone, unheld, and go to the DLQ as fast
as before while the rest of their batch is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from handlers.core.errors import StoreRefused, StoreUnavailable
from handlers.core.metrics import METRIC, MetricsLogger
from handlers.core.spill import decode_message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

    from handlers.core.ingest import Writer  # the ingest service's Protocol, for types only

__all__ = ["MAX_HOLD_S", "Holder", "ReplayService", "VisibilityBackoff"]

_log = logging.getLogger(__name__)
MAX_HOLD_S: Final = 3600
"""Longest a refused message is kept hidden (SQS allows 12 h)."""
_SQS_BATCH: Final = 10


class Holder(Protocol):
    """Keeps messages the table refused hidden for a while before their next delivery."""

    def hold(self, records: Sequence[dict[str, Any]]) -> None:
        """Delay the next delivery of these SQS event records."""
        ...


class VisibilityBackoff:
    """Hides a refused message for the queue's visibility timeout x 2^(receives - 1), capped."""

    def __init__(self, client: SQSClient, *, max_hold_s: int = MAX_HOLD_S) -> None:
        self._client = client
        self._max = max_hold_s
        self._visibility: dict[str, int] = {}

    def hold_s(self, visibility_s: int, receives: int) -> int:
        """Seconds to hide a message received `receives` times from a queue of this visibility."""
        return int(min(self._max, max(1, visibility_s) * 2 ** min(max(0, receives - 1), 20)))

    def hold(self, records: Sequence[dict[str, Any]]) -> None:
        """ChangeMessageVisibility for each record, per source queue, 10 at a time."""
        by_queue: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_queue.setdefault(str(record.get("eventSourceARN", "")), []).append(record)
        for arn, group in by_queue.items():
            url = self._queue_url(arn)
            visibility = self._queue_visibility(url)
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {
                    "Id": str(n),
                    "ReceiptHandle": str(record["receiptHandle"]),
                    "VisibilityTimeout": self.hold_s(visibility, _receives(record)),
                }
                for n, record in enumerate(group)
            ]
            for i in range(0, len(entries), _SQS_BATCH):
                answer = self._client.change_message_visibility_batch(
                    QueueUrl=url, Entries=entries[i : i + _SQS_BATCH]
                )
                for failed in answer.get("Failed", []):
                    _log.warning("could not hold message %s: %s", failed["Id"], failed["Code"])

    def _queue_url(self, arn: str) -> str:
        # arn:aws:sqs:<region>:<account>:<name>; the client's endpoint is the region's (or the
        # local cloud's), so no GetQueueUrl call (and no permission for it) is needed.
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise ValueError(f"not an SQS queue ARN: {arn!r}")
        return f"{self._client.meta.endpoint_url.rstrip('/')}/{parts[4]}/{parts[5]}"

    def _queue_visibility(self, url: str) -> int:
        if url not in self._visibility:
            attributes = self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
            self._visibility[url] = int(attributes["VisibilityTimeout"])
        return self._visibility[url]


def _receives(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1


class ReplayService:
    """Writes each message's blocks; reports the messages that failed so only they come back."""

    def __init__(
        self,
        writer: Callable[[], Writer],
        *,
        metrics: MetricsLogger | None = None,
        holder: Callable[[], Holder] | None = None,
    ) -> None:
        self._writer = writer
        self._metrics = MetricsLogger.disabled() if metrics is None else metrics
        self._holder = holder

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
        held: list[dict[str, Any]] = []
        for record in records:
            message_id = record.get("messageId") if isinstance(record, dict) else None
            if not isinstance(message_id, str) or not message_id:
                # Not an SQS message: an empty or unknown itemIdentifier would fail the whole
                # batch, and there is nothing SQS could deliver again. Log it and go on.
                _log.error("skipping a record that has no messageId: %.200r", record)
                metrics.set_property("ErrorCode", "malformed_message")
                continue
            if held:
                # The table refused a whole retry budget just now: it is down, skip the rest.
                failures.append({"itemIdentifier": message_id})
                held.append(record)
                continue
            try:
                blocks = decode_message(str(record["body"]))
                report = self._writer().write(blocks)
            except (ValueError, KeyError) as exc:
                # A malformed message will never succeed: fail it so redrive moves it to the DLQ.
                _log.error("message %s is not a spill message: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
                metrics.set_property("ErrorCode", "malformed_message")
            except StoreRefused as exc:
                # Refused for good (e.g. ValidationException): a poison, not an outage, so the
                # rest of the batch is still tried and this one goes to the DLQ unheld.
                _log.error("message %s refused by the table: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
                metrics.count(METRIC.WRITE_RETRIES, exc.retries)
                metrics.set_property("ErrorCode", "store_refused")
            except StoreUnavailable as exc:
                _log.warning("message %s not replayed yet: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
                held.append(record)
                metrics.count(METRIC.WRITE_RETRIES, exc.retries)
                metrics.set_property("ErrorCode", "store_unavailable")
            else:
                metrics.count(METRIC.TICKS_REPLAYED, sum(block.count for block in blocks))
                metrics.count(METRIC.WRITE_RETRIES, report.retries)
        metrics.count(METRIC.REPLAY_FAILURES, len(failures))
        if held:
            self._hold(held)
        return {"batchItemFailures": failures}

    def _hold(self, records: list[dict[str, Any]]) -> None:
        if self._holder is None:
            return
        try:
            self._holder().hold(records)
        except Exception as exc:  # best effort: without it, the queue's visibility applies
            _log.warning("could not hold %d message(s) back: %s", len(records), exc)
