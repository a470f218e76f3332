"""Put what the store recorded into moto's CloudWatch, every few seconds.

Each drained second of each metric becomes PutMetricData `Values`/`Counts` datums (at most
`MAX_PAIRS` values each; more take several datums with the same timestamp, which CloudWatch
aggregates), timestamped to the second with one-second storage resolution: CloudWatch's own
encoding of a pre-aggregated distribution, so Sum, SampleCount, Minimum and Maximum arrive
exactly and percentiles within a bucket (`stats`). Queue depths are sampled just before.
Every `FLUSH_PERIOD_S`, not every second: moto spends milliseconds on each call, and the one
reader that needs the last second, the alarms, reads the store itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final

from localcloud.metrics.observers import QueueGauges
from localcloud.metrics.stats import MAX_PAIRS
from localcloud.metrics.store import Drained, MetricStore

__all__ = ["FLUSH_PERIOD_S", "MetricPublisher", "datums"]

FLUSH_PERIOD_S: Final = 5.0
"""Also the sampling period of the queue depths (AWS/SQS has one-minute datapoints)."""
_PER_CALL: Final = 1000
"""PutMetricData's limit of datums per call."""
_log = logging.getLogger(__name__)


def datums(drained: Drained) -> list[dict[str, Any]]:
    """The PutMetricData `MetricData` entries of one metric's second."""
    _, name, dimensions = drained.key
    pairs = drained.cell.pairs()
    base: dict[str, Any] = {
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
        "Timestamp": datetime.fromtimestamp(drained.second, UTC),
        "Unit": drained.unit,
        "StorageResolution": 1,
    }
    return [
        {
            **base,
            "Values": [value for value, _ in pairs[i : i + MAX_PAIRS]],
            "Counts": [count for _, count in pairs[i : i + MAX_PAIRS]],
        }
        for i in range(0, len(pairs), MAX_PAIRS)
    ]


class MetricPublisher:
    """Samples the queue gauges and flushes the store into CloudWatch every period."""

    def __init__(
        self,
        store: MetricStore,
        cloudwatch: Any,
        *,
        gauges: QueueGauges | None = None,
        period_s: float = FLUSH_PERIOD_S,
    ) -> None:
        self.store = store
        self._cloudwatch = cloudwatch
        self._gauges = gauges
        self.period_s = period_s
        self.put_calls = 0
        self.datums = 0
        self.failures = 0
        # Its own thread: asyncio's default executor is shared with the pollers' long polls and
        # waits, and a flush queued behind them stalled the metrics for seconds at a time.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="metrics")

    def flush(self, *, everything: bool = False) -> int:
        """Sample the gauges, then put every drained second; the datums put.

        `everything`: the current second too (a test or the demo reading what it just did).
        """
        if self._gauges is not None and self.store.enabled:
            self._gauges.sample()
        by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for drained in self.store.drain(everything=everything):
            by_namespace[drained.key[0]].extend(datums(drained))
        sent = 0
        for namespace, data in by_namespace.items():
            for i in range(0, len(data), _PER_CALL):
                chunk = data[i : i + _PER_CALL]
                try:
                    self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                except Exception as exc:  # moto stopping: these seconds are lost, as on a crash
                    self.failures += 1
                    _log.warning("put_metric_data %s: %s: %s", namespace, type(exc).__name__, exc)
                    continue
                self.put_calls += 1
                sent += len(chunk)
        self.datums += sent
        return sent

    def snapshot(self) -> dict[str, Any]:
        """Counters for `GET /_localcloud/metrics`."""
        return {
            "enabled": self.store.enabled,
            "samples": self.store.samples,
            "put_calls": self.put_calls,
            "datums": self.datums,
            "failures": self.failures,
            "period_s": self.period_s,
        }

    async def flush_now(self, *, everything: bool = False) -> int:
        """`flush` on the publisher's own thread (flushes never overlap); the datums put."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._thread, functools.partial(self.flush, everything=everything)
        )

    async def run(self) -> None:
        """Flush once per period until cancelled."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        try:
            while True:
                await self.flush_now()
                next_at = max(next_at + self.period_s, loop.time())
                await asyncio.sleep(next_at - loop.time())
        finally:
            self._thread.shutdown(wait=False, cancel_futures=True)
