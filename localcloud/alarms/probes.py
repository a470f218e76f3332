"""How an alarm's metric is observed locally: SQS depths and Lambda counters, one per period."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, Protocol, cast

from localcloud.alarms.definition import COMPARISONS, AlarmDefinition

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

__all__ = ["FunctionCounters", "Probe", "probe_for"]

_SQS_ATTRIBUTES: Final = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
_STATISTICS: Final = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
# Lambda metric -> (counter of events, counter of the samples they are among): an Errors
# datapoint is 0 or 1 per invocation, a Throttles or Invocations datapoint is 1 per event.
_LAMBDA_COUNTERS: Final = {
    "Errors": ("errors", "invocations"),
    "Throttles": ("throttles", "throttles"),
    "Invocations": ("invocations", "invocations"),
}

Probe = Callable[[], float | None]
"""The datapoint of the period that just ended; None when CloudWatch would have none."""


class FunctionCounters(Protocol):
    """What the alarms read from a local function (`runtime.functions.LambdaFunction`)."""

    invocations: int
    errors: int
    throttles: int


class _QueueGauge:
    """An SQS depth metric: moto's queue attribute, sampled once per period."""

    def __init__(self, sqs: SQSClient, url: str, attribute: str, statistic: str) -> None:
        self._sqs = sqs
        self._url = url
        self._attribute = cast("QueueAttributeNameType", attribute)
        self._sample_count = statistic == "SampleCount"

    def __call__(self) -> float | None:
        name = self._attribute
        answer = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=[name])
        value = float(answer["Attributes"][name])
        return 1.0 if self._sample_count else value


class _FunctionCounter:
    """A Lambda count metric over one period: `events` new events among `samples` new samples."""

    def __init__(
        self, function: FunctionCounters, events: str, samples: str, statistic: str
    ) -> None:
        self._function = function
        self._counters = (events, samples)
        self._statistic = statistic
        self._last = self._read()

    def _read(self) -> tuple[int, int]:
        events, samples = self._counters
        return int(getattr(self._function, events)), int(getattr(self._function, samples))

    def __call__(self) -> float | None:
        now = self._read()
        events, samples = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        # A timeout is counted when it fires, possibly a period after its invocation started.
        samples = max(samples, events)
        if samples == 0:
            return None
        return {
            "Sum": float(events),
            "SampleCount": float(samples),
            "Average": events / samples,
            "Maximum": 1.0 if events else 0.0,
            "Minimum": 1.0 if events == samples else 0.0,
        }[self._statistic]


def probe_for(
    definition: AlarmDefinition,
    *,
    queues: Mapping[str, str],
    functions: Mapping[str, FunctionCounters],
    sqs: SQSClient,
) -> Probe | str:
    """How to observe the alarm's metric locally, or why it cannot be observed."""
    if definition.metric_queries:
        return "metric math is not evaluated locally"
    if definition.comparison_operator not in COMPARISONS:
        return f"{definition.comparison_operator} (an anomaly band) is not evaluated locally"
    if definition.threshold is None:
        return "no static threshold"
    if definition.extended_statistic is not None:
        return f"extended statistic {definition.extended_statistic} is not observed locally"
    statistic = definition.statistic or ""
    metric = f"{definition.namespace} {definition.metric_name}"
    if statistic not in _STATISTICS:
        return f"{metric}: statistic {statistic!r} is not observed locally"
    dimensions = definition.dimensions
    if definition.namespace == "AWS/SQS":
        attribute = _SQS_ATTRIBUTES.get(definition.metric_name)
        if attribute is None:
            return f"{metric} is not observed locally (moto's queues do not report it)"
        url = queues.get(dimensions.get("QueueName", ""))
        if set(dimensions) != {"QueueName"} or url is None:
            return f"{metric}: dimensions {dimensions} name no queue of the program"
        return _QueueGauge(sqs, url, attribute, statistic)
    if definition.namespace == "AWS/Lambda" and definition.metric_name in _LAMBDA_COUNTERS:
        function = functions.get(dimensions.get("FunctionName", ""))
        if set(dimensions) != {"FunctionName"} or function is None:
            return f"{metric}: dimensions {dimensions} name no function of the program"
        events, samples = _LAMBDA_COUNTERS[definition.metric_name]
        return _FunctionCounter(function, events, samples, statistic)
    return f"{metric} is not observed locally"
