"""Event source mappings as pollers: SQS queues drained into functions like Lambda's pollers do.

SQS semantics kept: batch size and batching window; with `ReportBatchItemFailures` the reported
messages stay on the queue and the rest are deleted; a function error (or a malformed failure
report) fails the whole batch. Failed messages come back after the queue's visibility timeout,
and moto moves a message to the dead-letter queue once it was received `maxReceiveCount` times
(redrive is moto's, as SQS's is SQS's). DynamoDB stream sources are `localcloud.sources.streams`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from localcloud.runtime.functions import FunctionError, FunctionThrottled, LambdaFunction
from localcloud.sources.base import PollerStats

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

__all__ = ["SqsPoller"]

_log = logging.getLogger("localcloud.sources.sqs")
_MAX_RECEIVE: Final = 10
"""SQS returns at most 10 messages per ReceiveMessage."""
_LONG_POLL_S: Final = 2
"""Short enough that shutdown never waits long for an outstanding receive."""


class SqsPoller:
    """Lambda's SQS poller for one event source mapping."""

    def __init__(
        self,
        *,
        client: SQSClient,
        queue_url: str,
        queue_arn: str,
        function: LambdaFunction,
        batch_size: int,
        window_s: float,
        report_failures: bool,
        region: str,
    ) -> None:
        self._client = client
        self._url = queue_url
        self._arn = queue_arn
        self._function = function
        self._batch_size = max(1, batch_size)
        self._window_s = max(0.0, window_s)
        self._report_failures = report_failures
        self._region = region
        self.stats = PollerStats(queue_arn, function.spec.name)

    async def run(self) -> None:
        """Gather batches and deliver them until cancelled."""
        while True:
            try:
                batch = await self._gather()
                if batch:
                    await self._deliver(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # moto hiccup: note it, keep polling
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                del self.stats.errors[:-20]
                _log.warning("poller %s: %s", self._arn, exc)
                await asyncio.sleep(0.5)  # back off from a failing source instead of spinning

    async def _receive(self, count: int, wait_s: int) -> list[MessageTypeDef]:
        answer = await asyncio.to_thread(
            self._client.receive_message,
            QueueUrl=self._url,
            MaxNumberOfMessages=min(_MAX_RECEIVE, count),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    async def _gather(self) -> list[MessageTypeDef]:
        """Up to batch size messages, waiting at most the batching window after the first."""
        batch = await self._receive(self._batch_size, _LONG_POLL_S)
        if not batch:
            return batch
        deadline = time.monotonic() + self._window_s
        while len(batch) < self._batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self._receive(self._batch_size - len(batch), min(_LONG_POLL_S, int(left)))
            if not more and left < 1:
                break
            batch.extend(more)
        return batch

    async def _deliver(self, batch: list[MessageTypeDef]) -> None:
        self.stats.batches += 1
        self.stats.delivered += len(batch)
        event = {"Records": [self._record(m) for m in batch]}
        try:
            result = await self._function.invoke(event)
        except (FunctionError, FunctionThrottled) as exc:
            self.stats.failed += len(batch)
            _log.warning("poller %s: batch of %d failed: %s", self._arn, len(batch), exc)
            return
        failed = self._failed_ids(result, batch)
        done = [m for m in batch if m["MessageId"] not in failed]
        self.stats.failed += len(batch) - len(done)
        for i in range(0, len(done), _MAX_RECEIVE):
            chunk = done[i : i + _MAX_RECEIVE]
            await asyncio.to_thread(
                self._client.delete_message_batch,
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
                ],
            )
            self.stats.deleted += len(chunk)

    def _failed_ids(self, result: Any, batch: list[MessageTypeDef]) -> set[str]:
        """Message ids to keep on the queue; all of them if the report is malformed."""
        everything = {m["MessageId"] for m in batch}
        if not self._report_failures or not isinstance(result, dict):
            return set()
        reported = result.get("batchItemFailures")
        if not reported:
            return set()
        if not isinstance(reported, list):
            return everything
        ids = set()
        for item in reported:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in everything:
                return everything  # Lambda fails the whole batch on a bad identifier
            ids.add(str(identifier))
        return ids

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": list(value.get("StringListValues", [])),
                "binaryListValues": list(value.get("BinaryListValues", [])),
                "dataType": value.get("DataType"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._region,
        }
