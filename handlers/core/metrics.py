"""CloudWatch Embedded Metric Format (EMF): one JSON log line per invocation, no dependencies.

CloudWatch Logs turns each line into metrics in the `MarketStream` namespace, dimensioned by
stack and function, with no PutMetricData call and no extra IAM. Lambda's JSON log format passes
`print` output through unchanged, so EMF keeps working there. A hand-written emitter rather than
Powertools Metrics: it adds well under a millisecond of import time instead of ~11-55 ms of billed
INIT (docs/operations.md has the measurements).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Final

__all__ = [
    "DIMENSIONS",
    "FUNCTION_ENV",
    "MAX_VALUES",
    "METRIC",
    "NAMESPACE",
    "STACK_ENV",
    "MetricsLogger",
    "Unit",
]

NAMESPACE: Final = "MarketStream"
STACK_ENV: Final = "MARKETSTREAM_STACK"
"""Spelled as `handlers.core.settings.ENV.STACK` (not imported: this module depends on none)."""
FUNCTION_ENV: Final = "AWS_LAMBDA_FUNCTION_NAME"
"""Set by Lambda; the same value as the `FunctionName` dimension of the AWS/Lambda metrics."""
DIMENSIONS: Final = ("Stack", "FunctionName")
"""One dimension set: each metric exists once per function (custom metrics are billed each)."""
MAX_VALUES: Final = 100
"""EMF accepts at most 100 values per metric in one line."""


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), default=str)
"""Built once: json.dumps with options builds an encoder per call."""


class Unit:
    """CloudWatch units the handlers use."""

    COUNT: Final = "Count"
    MILLISECONDS: Final = "Milliseconds"


class METRIC:
    """Metric names (the Observability component builds alarms and the dashboard from these)."""

    TICKS_ACCEPTED: Final = "TicksAccepted"
    """Ticks acknowledged to the client (200 stored or 202 queued)."""
    TICKS_REJECTED: Final = "TicksRejected"
    """Ticks in requests refused with a 4xx (0 when the body had no tick shape)."""
    TICKS_QUEUED: Final = "TicksQueued"
    """Acknowledged ticks that went to the spill queue because the table refused them."""
    TICKS_REPLAYED: Final = "TicksReplayed"
    """Spilled ticks the replay function wrote to the table."""
    BLOCK_SIZE: Final = "BlockSize"
    """Ticks per block, one sample per block (its SampleCount is the number of blocks)."""
    WRITE_RETRIES: Final = "WriteRetries"
    """BatchWriteItem rounds retried because of throttling or UnprocessedItems."""
    REPLAY_FAILURES: Final = "ReplayFailures"
    """Spill messages the replay function could not write (they come back, then go to the DLQ)."""
    TICKS_PUBLISHED: Final = "TicksPublished"
    """Ticks the fan-out consumer published to the SNS topic."""
    FANOUT_FAILURES: Final = "FanoutFailures"
    """Stream batches in which the fan-out consumer reported a failed record (Lambda retries it)."""
    ROLLUP_FAILURES: Final = "RollupFailures"
    """Stream batches in which the fan-out consumer could not update a symbol's rollups."""
    MESSAGES_POSTED: Final = "MessagesPosted"
    """WebSocket messages the broadcaster delivered."""
    CONNECTIONS_PRUNED: Final = "ConnectionsPruned"
    """Gone WebSocket connections the broadcaster deleted."""


class MetricsLogger:
    """Collects one invocation's metrics and properties, then prints them as one EMF line."""

    def __init__(
        self,
        *,
        stack: str,
        function: str,
        emit: Callable[[str], None] | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._dimensions = {DIMENSIONS[0]: stack, DIMENSIONS[1]: function}
        self._emit = emit
        self._clock_ms = clock_ms
        self._units: dict[str, str] = {}
        self._values: dict[str, list[float]] = {}
        self._properties: dict[str, object] = {}

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> MetricsLogger:
        """A logger printing to stdout, dimensioned by the stack and function Lambda runs."""
        env = os.environ if environ is None else environ
        return cls(
            stack=env.get(STACK_ENV, "") or "local",
            # Outside Lambda (tests, the local cloud) the function name falls back to the role.
            function=env.get(FUNCTION_ENV, "") or service,
            emit=_print_line,
        )

    @classmethod
    def disabled(cls) -> MetricsLogger:
        """A logger that collects and drops everything (services built outside a handler)."""
        return cls(stack="", function="", emit=None)

    def count(self, name: str, value: int = 1) -> None:
        """Add `value` to the counter `name` (one value per line: a sum over the invocation)."""
        values = self._values.get(name)
        if values is None:  # units and values gain and lose names together
            self._units[name] = Unit.COUNT
            self._values[name] = [value]
        else:
            values[0] += value

    def record(self, name: str, value: float, unit: str = Unit.COUNT) -> None:
        """Add one sample of the distribution `name` (percentiles are taken over samples)."""
        self._units.setdefault(name, unit)
        self._values.setdefault(name, []).append(value)

    def set_property(self, key: str, value: object) -> None:
        """A field of the log line that is not a metric (searchable in Logs Insights, free)."""
        self._properties[key] = value

    def document(self) -> dict[str, object]:
        """The EMF document of what was collected so far."""
        metrics = [{"Name": name, "Unit": self._units[name]} for name in self._values]
        values: dict[str, object] = {
            name: _one_or_many(values) for name, values in self._values.items()
        }
        return {
            "_aws": {
                "Timestamp": self._clock_ms(),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [list(DIMENSIONS)],
                        "Metrics": metrics,
                    }
                ],
            },
            **self._properties,
            **self._dimensions,
            **values,
        }

    def flush(self) -> None:
        """Emit one line with everything collected, then start over (nothing if empty)."""
        if self._emit is not None and (self._values or self._properties):
            self._emit(_ENCODER.encode(self.document()))
        self._units.clear()
        self._values.clear()
        self._properties.clear()


def _one_or_many(values: list[float]) -> float | list[float]:
    if len(values) == 1:
        return values[0]
    if len(values) <= MAX_VALUES:
        return values
    # More samples than one line may carry (a request with >100 symbols): keep 100 evenly
    # spaced order statistics, so percentiles of the distribution stay close.
    ordered = sorted(values)
    last = len(ordered) - 1
    return [ordered[round(i * last / (MAX_VALUES - 1))] for i in range(MAX_VALUES)]


def _print_line(line: str) -> None:
    # One write + flush: Lambda turns each stdout line into one log event.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
