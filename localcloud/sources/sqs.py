"""Event source mappings as pollers: SQS queues drained into functions like Lambda's pollers do.

SQS semantics kept: batch size and batching window; with `ReportBatchItemFailures` the reported
messages stay on the queue and the rest are deleted; a function error (or a malformed failure
report) fails the whole batch. Failed messages come back after the queue's visibility timeout,
and moto moves a message to the dead-letter queue once it was received `maxReceiveCount` times
(redrive is moto's, as SQS's is SQS's). DynamoDB stream sources are `localcloud.sources.streams`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any, Final

from localcloud.deploy.program import Deployment
from localcloud.sources.base import Clients, MappingSettings, Poller

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

__all__ = ["SqsPoller", "sqs_poller"]

_MAX_RECEIVE: Final = 10
"""SQS returns at most 10 messages per ReceiveMessage."""
_LONG_POLL_S: Final = 2
"""Short enough that shutdown never waits long for an outstanding receive."""


class SqsPoller(Poller):
    """Lambda's SQS poller for one event source mapping."""

    def __init__(self, settings: MappingSettings, *, client: SQSClient, queue_url: str) -> None:
        super().__init__(settings)
        self._client = client
        self._url = queue_url

    async def _poll(self) -> bool:
        batch = await self._gather()
        if batch:
            await self._deliver(batch)
        return bool(batch)

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
        records = [self._record(m) for m in batch]
        kept = self._matching(records)
        # Lambda deletes the messages its filters drop, unseen by the function.
        kept_ids = {r["messageId"] for r in kept}
        done = [m for m in batch if m["MessageId"] not in kept_ids]
        if kept:
            done.extend(await self._processed(batch, records, kept))
        await self._delete(done)

    async def _processed(
        self, batch: list[MessageTypeDef], records: list[dict[str, Any]], kept: list[dict[str, Any]]
    ) -> list[MessageTypeDef]:
        """Invoke with the kept records; the messages to delete (all but the failed ones)."""
        outcome = await self._invoke(kept)
        if outcome.error is not None:
            self.stats.failed += len(kept)
            return []
        # Reported messages stay on the queue (back after the visibility timeout), the rest go.
        failed = set(self._reported_failures(outcome.result, [r["messageId"] for r in kept]))
        self.stats.failed += len(failed)
        by_id = {m["MessageId"]: m for m in batch}
        return [by_id[r["messageId"]] for n, r in enumerate(kept) if n not in failed]

    async def _delete(self, done: list[MessageTypeDef]) -> None:
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

    def _filtered_view(self, record: dict[str, Any]) -> dict[str, Any]:
        # Lambda matches `body` patterns against the body's JSON fields when it is a JSON object.
        try:
            body = json.loads(record["body"])
        except ValueError:
            return record
        return {**record, "body": body} if isinstance(body, dict) else record

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


def sqs_poller(
    settings: MappingSettings, deployment: Deployment, clients: Clients
) -> SqsPoller | None:
    """The poller for a mapping whose source is a queue of the program; None if it is not."""
    arn = settings.source_arn
    queue = next(
        (q for q in deployment.of_type("aws:sqs/queue:Queue") if q.outputs.get("arn") == arn), None
    )
    if queue is None:
        return None
    return SqsPoller(settings, client=clients("sqs"), queue_url=str(queue.outputs["url"]))
