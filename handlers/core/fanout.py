"""The fan-out service: tick blocks from the table's stream -> SNS messages with a symbol attribute.

One message per block: `{"symbol", "block": <sort key>, "offset": 0, "ticks": [tick, ...]}`. A
block too large for one SNS message is split, each part carrying the index of its first tick in
`offset`; `(symbol, block, offset)` identifies a message, so subscribers can drop the duplicates
that at-least-once delivery brings (a retried batch, or a retried ingest's MODIFY record).

Stream semantics: records of a shard arrive in order and Lambda checkpoints by sequence number,
so the handler reports only the *first* record that failed; Lambda retries from it (the records
after it come again too). A record that can never be decoded is reported the same way: bisection
isolates it and, after the mapping's bounded retries, its metadata goes to the on-failure queue.

The same consumer keeps the OHLCV rollups (`handlers.core.rollup`): DynamoDB Streams serves two
readers per shard, and the stream already has two (docs/storage.md, "Bars").
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers.core.encoding import EncodedTick
from handlers.core.errors import ConfigError
from handlers.core.metrics import METRIC, MetricsLogger
from handlers.core.rollup import RollupService, Touched
from handlers.core.streams import PoisonRecord, block_of, records_of, sequence_number, tick_json

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_ENTRIES", "SYMBOL_ATTRIBUTE", "FanoutService", "messages"]

MAX_BATCH_ENTRIES: Final = 10
"""SNS PublishBatch takes at most 10 entries."""
MAX_BATCH_BYTES: Final = 256 * 1024
"""SNS caps one message, and the sum of a PublishBatch's messages, at 256 KiB (attributes count)."""
_SLACK: Final = 2 * 1024
"""Kept free under the caps for the JSON framing this module does not count byte by byte."""
SYMBOL_ATTRIBUTE: Final = "symbol"
"""The message attribute subscribers' filter policies match."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One SNS message and the index of the stream record it came from."""

    record: int
    symbol: str
    body: str
    ticks: int

    @property
    def size(self) -> int:
        # What SNS counts: the body plus the attribute's name, type and value.
        return len(self.body.encode()) + len(SYMBOL_ATTRIBUTE) + len("String") + len(self.symbol)


def messages(
    symbol: str, block: str, ticks: Sequence[EncodedTick], limit: int = MAX_BATCH_BYTES
) -> Iterator[tuple[str, int]]:
    """The message bodies of one block and their tick counts; parts stay under `limit` bytes."""
    head = f'{{"symbol":{json.dumps(symbol)},"block":{json.dumps(block)},"offset":'
    budget = limit - _SLACK - len(head) - len(symbol)
    parts: list[str] = []
    size = 0
    offset = 0
    for tick in ticks:
        text = json.dumps(tick_json(symbol, tick), separators=(",", ":"))
        if parts and size + len(text) + 1 > budget:
            yield f'{head}{offset},"ticks":[{",".join(parts)}]}}', len(parts)
            offset += len(parts)
            parts, size = [], 0
        parts.append(text)
        size += len(text) + 1
    yield f'{head}{offset},"ticks":[{",".join(parts)}]}}', len(parts)


class FanoutService:
    """Publishes each stream batch's new blocks to the topic; reports the first failed record."""

    def __init__(
        self,
        sns: Callable[[], SNSClient],
        topic_arn: str,
        *,
        metrics: MetricsLogger | None = None,
        rollup: RollupService | None = None,
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._metrics = MetricsLogger.disabled() if metrics is None else metrics
        self._rollup = rollup

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Answer a stream event with `{"batchItemFailures": [<first failed record>]}`."""
        started = time.perf_counter()
        metrics = self._metrics
        metrics.count(METRIC.TICKS_PUBLISHED, 0)
        metrics.count(METRIC.FANOUT_FAILURES, 0)
        if self._rollup is not None:
            metrics.count(METRIC.ROLLUP_FAILURES, 0)
        try:
            return self._fan_out(records_of(event))
        finally:
            metrics.set_property("DurationMs", round((time.perf_counter() - started) * 1e3, 3))
            metrics.flush()

    def _fan_out(self, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not self._topic_arn:
            raise ConfigError("MARKETSTREAM_TOPIC_ARN is not set")
        self._metrics.set_property("Records", len(records))
        entries: list[_Entry] = []
        touched: list[Touched] = []
        failed: int | None = None
        for index, record in enumerate(records):
            try:
                decoded = block_of(record)
            except PoisonRecord as exc:
                # Never decodable: report it, so retries run out and it reaches the on-failure
                # queue; what came before it is still published below.
                _log.error("poison stream record: %s", exc)
                self._metrics.set_property("ErrorCode", "poison_record")
                failed = index
                break
            if decoded is None:
                continue
            block, ticks = decoded
            touched.append(Touched(index, block, ticks))
            entries += (
                _Entry(index, block.symbol, body, count)
                for body, count in messages(block.symbol, block.sk, ticks)
            )
        publish_failed = self._publish(entries)
        if publish_failed is not None:
            failed = publish_failed if failed is None else min(failed, publish_failed)
        if self._rollup is not None:
            # Rolled up whatever the publishing did: a retry from the first failed record
            # recomputes the same bars, so neither failure needs the other to stop.
            rollup_failed = self._rollup.apply(touched)
            if rollup_failed is not None:
                self._metrics.count(METRIC.ROLLUP_FAILURES)
                self._metrics.set_property("ErrorCode", "rollup_failed")
                failed = rollup_failed if failed is None else min(failed, rollup_failed)
        if failed is None:
            return {"batchItemFailures": []}
        self._metrics.count(METRIC.FANOUT_FAILURES)
        return {"batchItemFailures": [{"itemIdentifier": sequence_number(records[failed])}]}

    def _publish(self, entries: Sequence[_Entry]) -> int | None:
        """Publish in order, in batches; the first record whose message failed, or None."""
        for batch in _batches(entries):
            failed = self._publish_batch(batch)
            if failed:
                # Stop here: Lambda retries from the first failed record anyway, so publishing
                # later records now would only add duplicates.
                return min(batch[i].record for i in failed)
            self._metrics.count(METRIC.TICKS_PUBLISHED, sum(e.ticks for e in batch))
        return None

    def _publish_batch(self, batch: Sequence[_Entry]) -> list[int]:
        """Indices (in `batch`) of the entries SNS did not accept."""
        request: list[PublishBatchRequestEntryTypeDef] = [
            {
                "Id": str(i),
                "Message": entry.body,
                "MessageAttributes": {
                    SYMBOL_ATTRIBUTE: {"DataType": "String", "StringValue": entry.symbol}
                },
            }
            for i, entry in enumerate(batch)
        ]
        try:
            answer = self._sns().publish_batch(
                TopicArn=self._topic_arn, PublishBatchRequestEntries=request
            )
        except (ClientError, BotoCoreError) as exc:
            _log.warning("PublishBatch failed: %s", exc)
            self._metrics.set_property("ErrorCode", "publish_failed")
            return list(range(len(batch)))
        failed = sorted(int(f["Id"]) for f in answer.get("Failed", []))
        if failed:
            first = answer["Failed"][0]
            _log.warning("SNS refused %d message(s): %s", len(failed), first.get("Code"))
            self._metrics.set_property("ErrorCode", "publish_failed")
        return failed


def _batches(entries: Sequence[_Entry]) -> Iterator[list[_Entry]]:
    """Consecutive groups of at most 10 entries and 256 KiB, in order."""
    batch: list[_Entry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + entry.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch
