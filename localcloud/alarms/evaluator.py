"""Local CloudWatch alarms: the program's `MetricAlarm`s, evaluated on what the cloud can observe.

Time scale: CloudWatch evaluates an alarm once per period over its last `evaluationPeriods`
datapoints. Locally, a period of any declared length lasts `LOCAL_PERIOD_S` (1 s): every second
each alarm takes one datapoint and decides, so a 3 x 60 s alarm looks back 3 s. A DLQ message
therefore alarms within about a second, and a count alarm clears after `evaluationPeriods` quiet
seconds, which is what lets a test watch both transitions. Threshold, comparison,
`datapointsToAlarm` and `treatMissingData` are honoured as declared.

What a datapoint is (what CloudWatch would record for the period):

- `AWS/SQS` ApproximateNumberOfMessages{Visible,NotVisible,Delayed} by `QueueName`: moto's queue
  attributes, sampled once per period (one sample: every statistic but SampleCount is the value).
- Every other metric (AWS/Lambda, AWS/ApiGateway, AWS/DynamoDB, the handlers' EMF metrics): the
  local cloud's metric store (`localcloud.metrics`), the samples of the seconds since the
  previous datapoint, with any basic statistic or percentile; a period without samples has no
  datapoint, as on AWS (the alarms' `treatMissingData` decides).

Not evaluated, with a reason that says why: metric math, anomaly bands, statistics other than
the basic ones and percentiles (trimmed means, ...), and SQS's ApproximateAgeOfOldestMessage
(moto does not report it; reading the oldest message to find out would count as a receive and
move poison messages towards the DLQ). This program declares none of those.

On each state change the alarm's state is set in moto's CloudWatch (`describe_alarms` shows it)
and, with actions enabled, CloudWatch's notification JSON is published to every SNS topic among
the new state's actions; other action types (Auto Scaling, EC2, Lambda) are not emulated.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import botocore.session

from localcloud.alarms.definition import (
    ALARM,
    INITIAL_REASON,
    INSUFFICIENT_DATA,
    LOCAL_PERIOD_S,
    METRIC_ALARM,
    OK,
    AlarmDefinition,
    State,
)
from localcloud.alarms.probes import Probe, probe_for
from localcloud.alarms.rules import Datapoint, decide

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

    from localcloud.deploy.program import Deployment
    from localcloud.metrics.store import MetricStore

__all__ = ["AlarmEvaluator", "AlarmPublisher", "LocalAlarm", "Transition", "build_alarms"]

_log = logging.getLogger(__name__)
_SUBJECT_MAX: Final = 100
"""SNS's limit on a subject's length."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aws_time(at: datetime) -> str:
    """CloudWatch's timestamp format in alarm notifications."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


@dataclass
class LocalAlarm:
    """One declared alarm, how it is observed (or why not), and its current state."""

    definition: AlarmDefinition
    probe: Probe | None
    unobserved: str = ""
    """Why the alarm is not evaluated locally (empty when it is)."""
    state: State = INSUFFICIENT_DATA
    reason: str = INITIAL_REASON
    since: datetime = field(default_factory=_now)
    notifications: int = 0
    window: deque[Datapoint] = field(init=False)

    def __post_init__(self) -> None:
        periods = self.definition.evaluation_periods
        created = self.since
        # Periods before the alarm existed have no data.
        self.window = deque((Datapoint(created, None) for _ in range(periods)), maxlen=periods)
        if self.probe is None:
            self.reason = f"Not evaluated locally: {self.unobserved}"

    def reason_data(self) -> dict[str, Any]:
        """CloudWatch's `StateReasonData` for the current window."""
        definition = self.definition
        return {
            "version": "1.0",
            "queryDate": _aws_time(_now()),
            "statistic": definition.statistic,
            "period": definition.period,
            "recentDatapoints": [p.value for p in self.window if p.value is not None],
            "threshold": definition.threshold,
            "evaluatedDatapoints": [
                {"timestamp": _aws_time(p.at), "value": p.value}
                for p in reversed(self.window)
                if p.value is not None
            ],
        }

    def snapshot(self) -> dict[str, Any]:
        """The alarm for `GET /_localcloud/alarms`."""
        d = self.definition
        return {
            "name": d.name,
            "arn": d.arn,
            "description": d.alarm_description,
            "metric": {
                "namespace": d.namespace,
                "name": d.metric_name,
                "dimensions": d.dimensions,
                "statistic": d.extended_statistic or d.statistic,
            },
            "comparison": d.comparison_operator,
            "threshold": d.threshold,
            "period_s": d.period,
            "evaluation_periods": d.evaluation_periods,
            "datapoints_to_alarm": d.datapoints,
            "treat_missing_data": d.treat_missing_data,
            "evaluated": self.probe is not None,
            "state": self.state,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "datapoints": [p.value for p in self.window],
            "actions_enabled": d.actions_enabled,
            "actions": {state: list(d.actions(state)) for state in (ALARM, OK, INSUFFICIENT_DATA)},
            "notifications": self.notifications,
        }


@dataclass(frozen=True)
class Transition:
    """A state change of one alarm."""

    alarm: str
    old: State
    new: State
    reason: str


@functools.cache
def _region_name(region: str) -> str:
    """`US East (N. Virginia)` for `us-east-1`, as alarm notifications name regions."""
    endpoints = botocore.session.get_session().get_data("endpoints")
    for partition in endpoints.get("partitions", []):
        described = partition.get("regions", {}).get(region)
        if described and described.get("description"):
            return str(described["description"])
    return region


class AlarmPublisher:
    """Puts state changes where AWS would: the alarm's state in CloudWatch, its SNS actions."""

    def __init__(self, cloudwatch: Any, sns: SNSClient, region: str) -> None:
        self._cloudwatch = cloudwatch
        self._sns = sns
        self._region = region

    def record(self, alarm: LocalAlarm) -> None:
        """Set the alarm's current state and reason in CloudWatch (moto)."""
        self._cloudwatch.set_alarm_state(
            AlarmName=alarm.definition.name,
            StateValue=alarm.state,
            StateReason=alarm.reason[:1023],
            StateReasonData=json.dumps(alarm.reason_data()),
        )

    def notify(self, alarm: LocalAlarm, old: State) -> int:
        """Publish the change to the SNS topics among the new state's actions; how many."""
        definition = alarm.definition
        if not definition.actions_enabled:
            return 0
        topics = [a for a in definition.actions(alarm.state) if a.startswith("arn:aws:sns:")]
        if not topics:
            return 0
        message = json.dumps(self.message(alarm, old))
        region = _region_name(self._region)
        subject = f'{alarm.state}: "{definition.name}" in {region}'[:_SUBJECT_MAX]
        for topic in topics:
            self._sns.publish(TopicArn=topic, Subject=subject, Message=message)
        return len(topics)

    def message(self, alarm: LocalAlarm, old: State) -> dict[str, Any]:
        """CloudWatch's alarm notification (the SNS message body) for a change from `old`."""
        d = alarm.definition
        parts = d.arn.split(":")
        statistic: dict[str, Any] = (
            {"StatisticType": "ExtendedStatistic", "ExtendedStatistic": d.extended_statistic}
            if d.extended_statistic
            else {"StatisticType": "Statistic", "Statistic": (d.statistic or "").upper()}
        )
        return {
            "AlarmName": d.name,
            "AlarmDescription": d.alarm_description or None,
            "AWSAccountId": parts[4] if len(parts) > 4 else "",
            "AlarmConfigurationUpdatedTimestamp": _aws_time(alarm.since),
            "NewStateValue": alarm.state,
            "NewStateReason": alarm.reason,
            "StateChangeTime": _aws_time(alarm.since),
            "Region": _region_name(self._region),
            "AlarmArn": d.arn,
            "OldStateValue": old,
            "OKActions": list(d.ok_actions),
            "AlarmActions": list(d.alarm_actions),
            "InsufficientDataActions": list(d.insufficient_data_actions),
            "Trigger": {
                "MetricName": d.metric_name,
                "Namespace": d.namespace,
                **statistic,
                "Unit": d.unit,
                "Dimensions": [{"value": v, "name": k} for k, v in d.dimensions.items()],
                "Period": d.period,
                "EvaluationPeriods": d.evaluation_periods,
                "DatapointsToAlarm": d.datapoints,
                "ComparisonOperator": d.comparison_operator,
                "Threshold": d.threshold,
                "TreatMissingData": d.treat_missing_data,
                "EvaluateLowSampleCountPercentile": d.evaluate_low_sample_count_percentiles or "",
            },
        }


class AlarmEvaluator:
    """Evaluates every alarm once per local period and acts on each state change."""

    def __init__(
        self,
        alarms: Sequence[LocalAlarm],
        publisher: AlarmPublisher | None = None,
        *,
        period_s: float = LOCAL_PERIOD_S,
    ) -> None:
        self.alarms = list(alarms)
        self.period_s = period_s
        self._publisher = publisher
        self._lock = threading.Lock()
        self._recorded = False
        self._stopping = False

    def evaluate(self) -> list[Transition]:
        """One period: a datapoint per evaluated alarm, a decision, actions on changes."""
        publisher = self._publisher
        if publisher is not None and not self._recorded:
            self._recorded = True
            # describe_alarms should say why an alarm is not evaluated, as the endpoint does.
            for alarm in self.alarms:
                if alarm.probe is None:
                    self._act(functools.partial(publisher.record, alarm))
        transitions = []
        for alarm in self.alarms:
            if alarm.probe is None:
                continue
            if self._stopping:
                break  # the round outlived its task: moto may be going away, do not touch it
            value: float | None = None
            try:
                value = alarm.probe()
            except Exception as exc:  # the source failed: CloudWatch would have no datapoint
                _log.warning("alarm %s: no datapoint: %s", alarm.definition.name, exc)
            with self._lock:
                alarm.window.append(Datapoint(_now(), value))
                verdict = decide(alarm.definition, alarm.window, alarm.state)
                if verdict is None or verdict.state == alarm.state:
                    continue
                old = alarm.state
                alarm.state, alarm.reason, alarm.since = verdict.state, verdict.reason, _now()
            change = Transition(alarm.definition.name, old, alarm.state, alarm.reason)
            transitions.append(change)
            level = logging.WARNING if change.new == ALARM else logging.INFO
            _log.log(level, "alarm %s: %s -> %s: %s", change.alarm, old, change.new, change.reason)
            if publisher is not None:
                self._act(functools.partial(publisher.record, alarm))
                self._act(functools.partial(self._notify, publisher, alarm, old))
        return transitions

    def _notify(self, publisher: AlarmPublisher, alarm: LocalAlarm, old: State) -> None:
        sent = publisher.notify(alarm, old)
        with self._lock:
            alarm.notifications += sent

    def _act(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # moto stopping or refusing: the local state stays right
            _log.warning("alarm action failed: %s: %s", type(exc).__name__, exc)

    async def run(self) -> None:
        """Evaluate once per period until cancelled (once only if no alarm is observable)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        try:
            while True:
                await asyncio.to_thread(self.evaluate)
                if all(alarm.probe is None for alarm in self.alarms):
                    return
                next_at += self.period_s
                # A slow round (a busy moto) skips periods rather than running them back to back.
                next_at = max(next_at, loop.time())
                await asyncio.sleep(next_at - loop.time())
        except asyncio.CancelledError:
            self._stopping = True
            raise

    def snapshot(self) -> list[dict[str, Any]]:
        """Every alarm's definition summary and state, in declaration order."""
        with self._lock:
            return [alarm.snapshot() for alarm in self.alarms]


def build_alarms(
    deployment: Deployment,
    store: MetricStore,
    clients: Callable[[str], Any],
    region: str,
    *,
    period_s: float = LOCAL_PERIOD_S,
) -> tuple[AlarmEvaluator, list[str]]:
    """The evaluator for the program's alarms, and a start-up note on those not evaluated."""
    queues = {
        str(q.outputs.get("name")): str(q.outputs.get("url"))
        for q in deployment.of_type("aws:sqs/queue:Queue")
    }
    alarms = []
    for resource in deployment.of_type(METRIC_ALARM):
        definition = AlarmDefinition.model_validate(resource.outputs)
        probe = probe_for(definition, queues=queues, store=store, sqs=clients("sqs"))
        if isinstance(probe, str):
            alarms.append(LocalAlarm(definition, None, unobserved=probe))
        else:
            alarms.append(LocalAlarm(definition, probe))
    notes = []
    skipped = [a.definition.name for a in alarms if a.probe is None]
    if alarms:
        notes.append(
            f"alarms: {len(alarms) - len(skipped)} of {len(alarms)} evaluated every "
            f"{period_s:g} s (one period)"
            + (
                f"; INSUFFICIENT_DATA, not evaluated locally: {', '.join(skipped)}"
                if skipped
                else ""
            )
        )
    publisher = AlarmPublisher(clients("cloudwatch"), clients("sns"), region) if alarms else None
    return AlarmEvaluator(alarms, publisher, period_s=period_s), notes
