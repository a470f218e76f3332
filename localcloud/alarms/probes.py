"""How an alarm's metric is observed locally: the metric store, or an SQS depth, per period.

Every metric but the SQS depths is read from the local cloud's metric store
(`localcloud.metrics`): the alarm's namespace, metric name and exact dimension set, over the
seconds since its last datapoint, with any basic statistic or a percentile (`p95`). SQS depths
are moto's queue attributes, sampled when the alarm takes its datapoint (a gauge has no
"since": the depth now is the datapoint).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, cast

from localcloud.alarms.definition import COMPARISONS, AlarmDefinition
from localcloud.metrics.stats import BASIC_STATISTICS, percentile_of
from localcloud.metrics.store import MetricStore, metric_key

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

__all__ = ["Probe", "probe_for"]

_SQS_ATTRIBUTES: Final = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}

Probe = Callable[[], float | None]
"""The datapoint of the period that just ended; None when CloudWatch would have none."""


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


class _StoredMetric:
    """A recorded metric: its samples since the last datapoint, as one statistic."""

    def __init__(self, store: MetricStore, definition: AlarmDefinition, statistic: str) -> None:
        self._store = store
        self._key = metric_key(definition.namespace, definition.metric_name, definition.dimensions)
        self._statistic = statistic
        self._last = math.floor(store.now()) - 1
        """The last second read (seconds before the alarm existed are not its data)."""

    def __call__(self) -> float | None:
        # Whole seconds only: the current one is still being recorded.
        upto = math.floor(self._store.now()) - 1
        first, self._last = self._last + 1, max(self._last, upto)
        if upto < first:
            return None
        cell = self._store.cell(self._key, first, upto)
        return None if cell is None else cell.statistic(self._statistic)


def probe_for(
    definition: AlarmDefinition,
    *,
    queues: Mapping[str, str],
    store: MetricStore,
    sqs: SQSClient,
) -> Probe | str:
    """How to observe the alarm's metric locally, or why it cannot be observed."""
    if definition.metric_queries:
        return "metric math is not evaluated locally"
    if definition.comparison_operator not in COMPARISONS:
        return f"{definition.comparison_operator} (an anomaly band) is not evaluated locally"
    if definition.threshold is None:
        return "no static threshold"
    statistic = definition.extended_statistic or definition.statistic or ""
    metric = f"{definition.namespace} {definition.metric_name}"
    if statistic not in BASIC_STATISTICS and percentile_of(statistic) is None:
        return f"{metric}: statistic {statistic!r} is not computed locally"
    dimensions = definition.dimensions
    if definition.namespace == "AWS/SQS" and definition.metric_name in _SQS_ATTRIBUTES:
        url = queues.get(dimensions.get("QueueName", ""))
        if set(dimensions) != {"QueueName"} or url is None:
            return f"{metric}: dimensions {dimensions} name no queue of the program"
        return _QueueGauge(sqs, url, _SQS_ATTRIBUTES[definition.metric_name], statistic)
    if definition.namespace == "AWS/SQS":
        return f"{metric} is not observed locally (moto's queues do not report it)"
    return _StoredMetric(store, definition, statistic)
