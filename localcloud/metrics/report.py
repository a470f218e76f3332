"""The original project's headline figures, read back from the local CloudWatch after a run.

Total Lambda invocations, sustained throughput (ticks and requests per second over the run),
ingest duration p95 and average, DynamoDB write latency, errors and throttles: each one
GetMetricData over the run's window (one period covering it), so the table shows what the
CloudWatch APIs answer, not the local cloud's own counters. The ingest function is the one whose
EMF lines carry `TicksAccepted` (`handlers.core.metrics`, the names the program's dashboard uses).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from rich.table import Table

from handlers.core.metrics import METRIC, NAMESPACE

__all__ = ["Figure", "report_table", "run_figures"]

Figure = tuple[str, str, str]
"""(what, value, where it comes from)."""
_LAMBDA: Final = "AWS/Lambda"
_API: Final = "AWS/ApiGateway"
_DYNAMODB: Final = "AWS/DynamoDB"


class _Reader:
    def __init__(self, cloudwatch: Any, start: float, end: float) -> None:
        self._cloudwatch = cloudwatch
        self._start = datetime.fromtimestamp(math.floor(start), UTC)
        self._end = datetime.fromtimestamp(math.ceil(end) + 1, UTC)
        seconds = (self._end - self._start).total_seconds()
        self._period = 60 * max(1, math.ceil(seconds / 60))
        self.seconds = max(1.0, end - start)
        self._metrics: list[dict[str, Any]] = []
        token: str | None = None
        while True:  # every metric and dimension set recorded so far
            page = cloudwatch.list_metrics(**({"NextToken": token} if token else {}))
            self._metrics += page.get("Metrics", [])
            token = page.get("NextToken")
            if not token:
                break

    def series(self, namespace: str, name: str) -> list[list[dict[str, str]]]:
        """Each distinct dimension set of a metric."""
        found = {
            tuple(sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))
            for m in self._metrics
            if m["Namespace"] == namespace and m["MetricName"] == name
        }
        return [[{"Name": k, "Value": v} for k, v in dims] for dims in sorted(found)]

    def value(
        self, namespace: str, name: str, dimensions: Sequence[dict[str, str]], stat: str
    ) -> float | None:
        answer = self._cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": name,
                            "Dimensions": list(dimensions),
                        },
                        "Period": self._period,
                        "Stat": stat,
                    },
                }
            ],
            StartTime=self._start,
            EndTime=self._end,
        )
        values = answer["MetricDataResults"][0]["Values"]
        return float(values[0]) if values else None

    def active_seconds(self, namespace: str, name: str) -> float:
        """Seconds from the first to the last second the metric has data (its busy span)."""
        stamps: list[float] = []
        for dims in self.series(namespace, name):
            answer = self._cloudwatch.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "m",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": namespace,
                                "MetricName": name,
                                "Dimensions": dims,
                            },
                            "Period": 1,
                            "Stat": "SampleCount",
                        },
                    }
                ],
                StartTime=self._start,
                EndTime=self._end,
            )
            stamps += [t.timestamp() for t in answer["MetricDataResults"][0]["Timestamps"]]
        return max(stamps) - min(stamps) + 1.0 if stamps else self.seconds

    def total(self, namespace: str, name: str, only: Iterable[tuple[str, str]] = ()) -> float:
        """Sum over every dimension set (those holding every (name, value) of `only`)."""
        wanted = set(only)
        return sum(
            self.value(namespace, name, dims, "Sum") or 0.0
            for dims in self.series(namespace, name)
            if wanted <= {(d["Name"], d["Value"]) for d in dims}
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def run_figures(cloudwatch: Any, *, start: float, end: float, table_name: str) -> list[Figure]:
    """The figures of the run between `start` and `end` (epoch seconds)."""
    read = _Reader(cloudwatch, start, end)
    ticks = read.series(NAMESPACE, METRIC.TICKS_ACCEPTED)
    ingest = next((d for dims in ticks for d in dims if d["Name"] == "FunctionName"), None)
    ingest_dims = [{"Name": "FunctionName", "Value": ingest["Value"]}] if ingest else []
    accepted = read.total(NAMESPACE, METRIC.TICKS_ACCEPTED)
    requests = read.total(_API, "Count")
    # Sustained: over the seconds ticks were being accepted (not the warm-up or read-back).
    busy = read.active_seconds(NAMESPACE, METRIC.TICKS_ACCEPTED)
    ingest_requests = (
        read.total(_LAMBDA, "Invocations", [("FunctionName", ingest["Value"])]) if ingest else 0
    )
    table = [("TableName", table_name), ("Operation", "BatchWriteItem")]
    write = [{"Name": k, "Value": v} for k, v in sorted(table)]
    return [
        ("Lambda invocations (all functions)", f"{read.total(_LAMBDA, 'Invocations'):,.0f}",
         "AWS/Lambda Invocations Sum"),
        ("API requests (all APIs)", f"{requests:,.0f}", "AWS/ApiGateway Count Sum"),
        ("ticks accepted", f"{accepted:,.0f}", f"{NAMESPACE} {METRIC.TICKS_ACCEPTED} Sum"),
        ("sustained ingest throughput",
         f"{accepted / busy:,.0f} ticks/s, {ingest_requests / busy:,.1f} req/s",
         f"TicksAccepted, ingest Invocations / {busy:.0f} s"),
        ("ingest duration p95",
         _ms(read.value(_LAMBDA, "Duration", ingest_dims, "p95") if ingest else None),
         "AWS/Lambda Duration p95"),
        ("ingest duration average",
         _ms(read.value(_LAMBDA, "Duration", ingest_dims, "Average") if ingest else None),
         "AWS/Lambda Duration Average"),
        ("DynamoDB write latency average (BatchWriteItem)",
         _ms(read.value(_DYNAMODB, "SuccessfulRequestLatency", write, "Average")),
         "AWS/DynamoDB SuccessfulRequestLatency"),
        ("DynamoDB write latency p95 (BatchWriteItem)",
         _ms(read.value(_DYNAMODB, "SuccessfulRequestLatency", write, "p95")),
         "AWS/DynamoDB SuccessfulRequestLatency"),
        ("errors",
         f"{read.total(_LAMBDA, 'Errors'):,.0f} Lambda, "
         f"{read.total(_API, '5xx') + read.total(_API, '5XXError'):,.0f} API 5xx, "
         f"{read.total(_API, '4xx') + read.total(_API, '4XXError'):,.0f} API 4xx",
         "Errors, 5xx, 4xx Sum"),
        ("throttles",
         f"{read.total(_LAMBDA, 'Throttles'):,.0f} Lambda, "
         f"{read.total(_DYNAMODB, 'WriteThrottleEvents'):,.0f} DynamoDB write, "
         f"{read.total(_DYNAMODB, 'ReadThrottleEvents'):,.0f} DynamoDB read",
         "Throttles, *ThrottleEvents Sum"),
    ]  # fmt: skip


def report_table(figures: Sequence[Figure], source: str) -> Table:
    """The figures as a table titled by where they were read."""
    table = Table(title=f"Run metrics ({source})")
    for column in ("metric", "value", "from"):
        table.add_column(column)
    for row in figures:
        table.add_row(*row)
    return table
