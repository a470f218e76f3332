"""Event source mappings as pollers: SQS queues drained into functions like Lambda's pollers do.

SQS semantics kept: batch size and batching window; with `ReportBatchItemFailures` the reported
messages stay on the queue and the rest are deleted; a function error (or a malformed failure
report) fails the whole batch. Failed messages come back after the queue's visibility timeout,
and moto moves a message to the dead-letter queue once it was received `maxReceiveCount` times
(redrive is moto's, as SQS's is SQS's). DynamoDB stream sources are `localcloud.streams`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from localcloud.lambdas import FunctionError, FunctionThrottled, LambdaFunction
from localcloud.program import Deployment, Resource

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

__all__ = ["Poller", "PollerStats", "SqsPoller", "build_pollers"]

_log = logging.getLogger("localcloud.pollers")
_MAX_RECEIVE: Final = 10
"""SQS returns at most 10 messages per ReceiveMessage."""
_LONG_POLL_S: Final = 2
"""Short enough that shutdown never waits long for an outstanding receive."""


class Poller(Protocol):
    """A background loop feeding one function from one event source."""

    stats: PollerStats

    async def run(self) -> None:
        """Poll until cancelled."""
        ...


@dataclass
class PollerStats:
    """Counters for the health endpoint and the tests."""

    source: str
    function: str
    batches: int = 0
    delivered: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


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


Clients = Callable[[str], Any]
"""Service name -> a boto3 client of moto (shared, created once)."""
_Factory = Callable[[Resource, LambdaFunction, Deployment, Clients, str], "Poller | None"]


def _sqs_poller(
    mapping: Resource,
    function: LambdaFunction,
    deployment: Deployment,
    clients: Clients,
    region: str,
) -> Poller | None:
    arn = str(mapping.inputs["eventSourceArn"])
    queue = next(
        (q for q in deployment.of_type("aws:sqs/queue:Queue") if q.outputs.get("arn") == arn), None
    )
    if queue is None:
        return None
    return SqsPoller(
        client=clients("sqs"),
        queue_url=str(queue.outputs["url"]),
        queue_arn=arn,
        function=function,
        batch_size=int(mapping.inputs.get("batchSize") or 10),
        window_s=float(mapping.inputs.get("maximumBatchingWindowInSeconds") or 0),
        report_failures="ReportBatchItemFailures"
        in (mapping.inputs.get("functionResponseTypes") or []),
        region=region,
    )


def _stream_poller(
    mapping: Resource,
    function: LambdaFunction,
    deployment: Deployment,
    clients: Clients,
    region: str,
) -> Poller | None:
    from localcloud.streams import stream_poller  # here: it imports this module

    return stream_poller(mapping, function, clients, region)


_FACTORIES: Final[dict[str, _Factory]] = {"sqs": _sqs_poller, "dynamodb": _stream_poller}
"""Event source service (from the source ARN) -> poller."""


def build_pollers(
    deployment: Deployment,
    functions: Mapping[str, LambdaFunction],
    clients: Clients,
    region: str,
) -> tuple[list[Poller], list[str]]:
    """Pollers for the program's event source mappings, and notes on the ones not emulated."""
    pollers: list[Poller] = []
    notes: list[str] = []
    for mapping in deployment.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        if mapping.inputs.get("enabled") is False:
            continue
        source = str(mapping.inputs.get("eventSourceArn") or "")
        service = source.split(":")[2] if source.count(":") >= 2 else ""
        function = functions.get(str(mapping.inputs.get("functionName")))
        factory = _FACTORIES.get(service)
        poller = (
            factory(mapping, function, deployment, clients, region)
            if factory is not None and function is not None
            else None
        )
        if poller is None:
            notes.append(f"event source mapping {mapping.name} ({service or source}): not emulated")
        else:
            pollers.append(poller)
    return pollers, notes
