"""A `MetricAlarm` as the program declares it, and the states and comparisons CloudWatch knows."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "ALARM",
    "COMPARISONS",
    "INITIAL_REASON",
    "INSUFFICIENT_DATA",
    "LOCAL_PERIOD_S",
    "METRIC_ALARM",
    "OK",
    "AlarmDefinition",
    "State",
]

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
OK: Final[State] = "OK"
ALARM: Final[State] = "ALARM"
INSUFFICIENT_DATA: Final[State] = "INSUFFICIENT_DATA"
METRIC_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOCAL_PERIOD_S: Final = 1.0
"""How long one alarm period lasts locally, whatever the program declares."""
INITIAL_REASON: Final = "Unchecked: Initial alarm creation"

COMPARISONS: Final[dict[str, tuple[Callable[[float, float], bool], str]]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


class AlarmDefinition(BaseModel):
    """A `MetricAlarm` as the program declared it (Pulumi's camelCase inputs, plus name and arn)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    name: str
    arn: str = ""
    alarm_description: str = ""
    namespace: str = ""
    metric_name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: str | None = None
    extended_statistic: str | None = None
    unit: str | None = None
    period: int = Field(60, ge=1)
    evaluation_periods: int = Field(1, ge=1)
    datapoints_to_alarm: int | None = Field(None, ge=1)
    threshold: float | None = None
    threshold_metric_id: str | None = None
    comparison_operator: str
    treat_missing_data: str = "missing"
    evaluate_low_sample_count_percentiles: str | None = None
    actions_enabled: bool = True
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    metric_queries: tuple[dict[str, Any], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # An input the program left unset arrives as None (or not at all): use the default.
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @property
    def datapoints(self) -> int:
        """Breaching datapoints in the window that put the alarm in ALARM."""
        return self.datapoints_to_alarm or self.evaluation_periods

    def actions(self, state: State) -> tuple[str, ...]:
        """The actions of a transition into `state`."""
        return {
            ALARM: self.alarm_actions,
            OK: self.ok_actions,
            INSUFFICIENT_DATA: self.insufficient_data_actions,
        }[state]

    def put_request(self) -> dict[str, Any]:
        """The PutMetricAlarm request that creates this alarm."""
        request: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmDescription": self.alarm_description,
            "ActionsEnabled": self.actions_enabled,
            "AlarmActions": list(self.alarm_actions),
            "OKActions": list(self.ok_actions),
            "InsufficientDataActions": list(self.insufficient_data_actions),
            "EvaluationPeriods": self.evaluation_periods,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
        }
        optional: dict[str, Any] = {
            "Namespace": self.namespace or None,
            "MetricName": self.metric_name or None,
            "Statistic": self.statistic,
            "ExtendedStatistic": self.extended_statistic,
            "Unit": self.unit,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ThresholdMetricId": self.threshold_metric_id,
            "EvaluateLowSampleCountPercentile": self.evaluate_low_sample_count_percentiles,
        }
        request.update({key: value for key, value in optional.items() if value is not None})
        if self.metric_queries:
            request["Metrics"] = [_metric_query(query) for query in self.metric_queries]
        else:
            request["Period"] = self.period
            request["Dimensions"] = [{"Name": k, "Value": v} for k, v in self.dimensions.items()]
        return request


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """One `metricQueries` entry of the program as a `Metrics` entry of PutMetricAlarm."""
    out: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    for source, target in (("expression", "Expression"), ("label", "Label")):
        if query.get(source):
            out[target] = query[source]
    if query.get("period"):
        out["Period"] = int(query["period"])
    metric = query.get("metric")
    if metric:
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": metric.get("namespace", ""),
                "MetricName": metric["metricName"],
                "Dimensions": [
                    {"Name": k, "Value": v} for k, v in (metric.get("dimensions") or {}).items()
                ],
            },
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        out["MetricStat"] = stat
    return out
