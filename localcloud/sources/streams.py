"""DynamoDB stream event source mappings: Lambda's stream poller, one shard at a time, in order.

Semantics kept (docs/architecture.md, Pitfalls; Lambda's documentation): the iterator starts at
LATEST when the local cloud starts; batches of up to `batchSize` records, waiting at most the
batching window after the first; filter criteria (dropped records are checkpointed past, as Lambda
does); one invocation per shard at a time, so order within a shard holds. A partial batch response
checkpoints at the first failed `itemIdentifier` and retries from there; a raised error fails the
whole batch. With `bisectBatchOnFunctionError` a failing batch whose head fails is halved (halving
does not count as a retry, as on AWS) until the bad record is alone. After `maximumRetryAttempts`
retries, or once a record is older than `maximumRecordAgeInSeconds`, the batch's *metadata* (shard,
sequence range, never the records) goes to the on-failure destination and the shard moves on.
Nothing is skipped without a count in the stats and a log line.

Records come from moto's DynamoDB Streams API as its JSON answer (`records.RecordReader`) and are
delivered the way Lambda delivers them: binary attribute values base64 strings, times epoch
seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from localcloud.deploy.program import Resource
from localcloud.deploy.provision import MOTO_ACCESS_KEY
from localcloud.sources.base import Clients, MappingSettings, Poller
from localcloud.sources.records import CREATED, RecordReader, event_record

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

__all__ = [
    "FailureDestination",
    "StreamPoller",
    "failure_destination",
    "stream_poller",
]

_log = logging.getLogger("localcloud.sources.streams")
POLL_INTERVAL_S: Final = 0.05
"""Poll period per shard while records keep coming, and the first pause after an empty poll.
Lambda polls 4 times a second; faster here, as moto is local and the latency benchmark measures
the emulation, not the poll period."""
IDLE_MAX_S: Final = 0.25
"""Longest pause of an idle shard (Lambda's own period); a function's write ends it, though not
sooner than `POLL_INTERVAL_S` after the last poll (`localcloud.sources.wakeup`)."""
_MAX_GET_RECORDS: Final = 1000
_BACKOFF_S: Final = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Pause before each retry of a failed batch (short: tests wait for exhausted retries)."""


@dataclass
class FailureDestination:
    """Where a discarded batch's metadata goes (an SQS queue or an SNS topic)."""

    arn: str
    send: Callable[[str], None]


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Fetched records not yet checkpointed, in sequence order."""
    retries: int = 0
    """Failed attempts of the batch starting at `pending[0]`."""
    limit: int | None = None
    """Bisection's cap on the next batch (None: batch size)."""
    created: dict[str, float] = field(default_factory=dict)
    """Sequence number -> when the record was written, to the microsecond (the event has the
    second): the batch's IteratorAge."""


class StreamPoller(Poller):
    """Lambda's DynamoDB stream poller for one event source mapping."""

    idle_s = POLL_INTERVAL_S
    idle_max_s = IDLE_MAX_S

    def __init__(
        self,
        settings: MappingSettings,
        *,
        client: DynamoDBStreamsClient,
        records: RecordReader,
        bisect: bool,
        max_retries: int,
        max_record_age_s: float,
        on_failure: FailureDestination | None,
    ) -> None:
        super().__init__(settings)
        self._client = client
        self._records = records
        self._bisect = bisect
        self._max_retries = max_retries  # -1: until the record expires (AWS's default)
        self._max_age_s = max_record_age_s  # <= 0: no limit
        self._on_failure = on_failure
        self._shards: list[_Shard] = []
        self.discarded = 0

    def prepare(self) -> None:
        """Take LATEST iterators for every shard (blocking; before the cloud says it is ready)."""
        stream = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in stream.get("Shards", []):
            if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
                continue  # closed shards hold nothing newer than LATEST
            iterator = self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            self._shards.append(_Shard(shard["ShardId"], iterator))

    async def _start(self) -> None:
        if not self._shards:
            await asyncio.to_thread(self.prepare)

    async def _poll(self) -> bool:
        """One round over the shards (shards of one stream share this task: in order)."""
        busy = False
        for shard in self._shards:
            busy = await self._step(shard) or busy
        return busy

    async def _fetch(self, shard: _Shard) -> int:
        """Append newly arrived records (filtered) to the shard's pending list; how many came."""
        if shard.iterator is None:
            return 0
        answer = await asyncio.to_thread(
            self._records.get_records, shard.iterator, _MAX_GET_RECORDS
        )
        shard.iterator = answer.get("NextShardIterator")
        raw = answer.get("Records", [])
        precise = {
            _sequence(r): float(created)
            for r in raw
            if isinstance(created := r.get("dynamodb", {}).get(CREATED), int | float)
        }
        records = [event_record(r, region=self._region, source_arn=self._arn) for r in raw]
        kept = self._matching(records)  # dropped ones are checkpointed past
        for record in kept:
            sequence = _sequence(record)
            if sequence in precise:
                shard.created[sequence] = precise[sequence]
        shard.pending.extend(kept)
        return len(records)

    async def _step(self, shard: _Shard) -> bool:
        """Fetch, then deliver one batch if one is due; whether there is more to do at once."""
        fetched = await self._fetch(shard)
        if not shard.pending:
            return False
        if len(shard.pending) < self._batch_size and self._window_s > 0 and shard.retries == 0:
            # Batching window: wait for more records, at most the window after the first one.
            deadline = time.monotonic() + self._window_s
            while len(shard.pending) < self._batch_size and time.monotonic() < deadline:
                await asyncio.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
                await self._fetch(shard)
        await self._discard_expired(shard)
        if not shard.pending:
            return fetched > 0
        limit = min(self._batch_size, shard.limit or self._batch_size)
        batch = shard.pending[:limit]
        await self._deliver(shard, batch)
        return bool(shard.pending) or fetched > 0

    async def _discard_expired(self, shard: _Shard) -> None:
        if self._max_age_s <= 0:
            return
        oldest_allowed = time.time() - self._max_age_s
        expired = 0
        for record in shard.pending:
            created = record.get("dynamodb", {}).get(CREATED)
            if not isinstance(created, int | float) or created >= oldest_allowed:
                break
            expired += 1
        if expired:
            await self._give_up(shard, shard.pending[:expired], "RecordAgeExceeded", None)

    async def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        created = shard.created.get(_sequence(batch[-1]))
        if created is not None:
            # Lambda's IteratorAge: the age of the batch's last record when it is delivered.
            self._function.observe_iterator_age((time.time() - created) * 1000.0)
        outcome = await self._invoke(batch)
        if outcome.error is not None:
            failed_at: int | None = 0
        else:
            sequence = [_sequence(record) for record in batch]
            failed = self._reported_failures(outcome.result, sequence)
            failed_at = failed[0] if failed else None
        if failed_at is None:
            self._checkpoint(shard, len(batch))
            return
        self.stats.failed += len(batch) - failed_at
        if failed_at > 0:
            # Lambda checkpoints before the first failed record; the retry starts there.
            self._checkpoint(shard, failed_at)
            return
        if self._bisect and len(batch) > 1:
            shard.limit = (len(batch) + 1) // 2  # halving is not a retry (AWS)
            return
        shard.retries += 1
        if 0 <= self._max_retries < shard.retries:
            await self._give_up(shard, batch, "RetryAttemptsExhausted", outcome.error)
            return
        await asyncio.sleep(_BACKOFF_S[min(shard.retries, len(_BACKOFF_S)) - 1])

    def _checkpoint(self, shard: _Shard, count: int) -> None:
        for record in shard.pending[:count]:
            shard.created.pop(_sequence(record), None)
        del shard.pending[:count]
        shard.retries = 0
        if shard.limit is not None and count >= shard.limit:
            shard.limit = None  # the isolated part is through: full batches again

    async def _give_up(
        self, shard: _Shard, batch: list[dict[str, Any]], condition: str, error: str | None
    ) -> None:
        """Send the batch's metadata to the on-failure destination and move past it."""
        self.discarded += len(batch)
        _log.error(
            "stream poller %s: discarding %d record(s) (%s) %s..%s",
            self._arn,
            len(batch),
            condition,
            _sequence(batch[0]),
            _sequence(batch[-1]),
        )
        if self._on_failure is not None:
            document = self._failure_document(shard, batch, condition, error)
            await asyncio.to_thread(self._on_failure.send, json.dumps(document))
        for record in batch:
            shard.created.pop(_sequence(record), None)
        del shard.pending[: len(batch)]
        shard.retries = 0
        shard.limit = None

    def _failure_document(
        self, shard: _Shard, batch: list[dict[str, Any]], condition: str, error: str | None
    ) -> dict[str, Any]:
        """Lambda's on-failure record for a stream batch: metadata only, never the records."""
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if error is not None:
            response["functionError"] = error
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function.spec.arn,
                "condition": condition,
                "approximateInvokeCount": shard.retries + 1,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": _sequence(batch[0]),
                "endSequenceNumber": _sequence(batch[-1]),
                "approximateArrivalOfFirstRecord": _arrival(batch[0]),
                "approximateArrivalOfLastRecord": _arrival(batch[-1]),
                "batchSize": len(batch),
                "streamArn": self._arn,
            },
        }


def _sequence(record: Mapping[str, Any]) -> str:
    return str(record.get("dynamodb", {}).get("SequenceNumber", ""))


def _arrival(record: Mapping[str, Any]) -> str:
    created = record.get("dynamodb", {}).get(CREATED)
    if not isinstance(created, int | float):
        return ""
    return dt.datetime.fromtimestamp(created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_destination(arn: str, *, sqs: SQSClient, sns: SNSClient) -> FailureDestination | None:
    """An on-failure destination for an SQS queue or SNS topic ARN; None for other services."""
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    if parts[2] == "sqs":
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        return FailureDestination(arn, lambda body: _sqs_send(sqs, url, body))
    if parts[2] == "sns":
        return FailureDestination(arn, lambda body: _sns_publish(sns, arn, body))
    return None


def _sqs_send(sqs: SQSClient, url: str, body: str) -> None:
    sqs.send_message(QueueUrl=url, MessageBody=body)


def _sns_publish(sns: SNSClient, arn: str, body: str) -> None:
    sns.publish(TopicArn=arn, Message=body)


def stream_poller(
    mapping: Resource, settings: MappingSettings, clients: Clients
) -> StreamPoller | None:
    """The poller for a mapping whose source is a table's stream; None for other DynamoDB ARNs."""
    inputs = mapping.inputs
    if "/stream/" not in settings.source_arn:
        return None
    destination = None
    target = ((inputs.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
    if target:
        destination = failure_destination(str(target), sqs=clients("sqs"), sns=clients("sns"))
    retries = inputs.get("maximumRetryAttempts")
    age = inputs.get("maximumRecordAgeInSeconds")
    client = clients("dynamodbstreams")
    return StreamPoller(
        settings,
        client=client,
        records=RecordReader(
            client.meta.endpoint_url, region=client.meta.region_name, access_key=MOTO_ACCESS_KEY
        ),
        bisect=bool(inputs.get("bisectBatchOnFunctionError")),
        max_retries=int(retries) if retries is not None else -1,
        max_record_age_s=float(age) if age is not None and age >= 0 else 0.0,
        on_failure=destination,
    )
