"""Local alarm evaluation: CloudWatch's decision rules, what is observed, and the actions taken."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import boto3
import pytest
from aiohttp.test_utils import TestServer
from moto import mock_aws

from localcloud.alarms.definition import ALARM, INSUFFICIENT_DATA, OK, AlarmDefinition
from localcloud.alarms.evaluator import AlarmEvaluator, AlarmPublisher, LocalAlarm, build_alarms
from localcloud.alarms.probes import probe_for
from localcloud.alarms.rules import Datapoint, decide
from localcloud.deploy.program import Deployment, Resource
from localcloud.faults import FaultInjector
from localcloud.gateway.app import build_app
from localcloud.metrics.store import MetricStore, metric_key

REGION = "us-east-1"
DLQ_DEPTH: dict[str, Any] = {
    "name": "stack-dlq-depth",
    "arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:stack-dlq-depth",
    "alarmDescription": "Messages in the dead-letter queue.",
    "namespace": "AWS/SQS",
    "metricName": "ApproximateNumberOfMessagesVisible",
    "dimensions": {"QueueName": "dlq"},
    "statistic": "Maximum",
    "extendedStatistic": None,
    "period": 60,
    "evaluationPeriods": 3,
    "datapointsToAlarm": 1,
    "threshold": 0,
    "comparisonOperator": "GreaterThanThreshold",
    "treatMissingData": "notBreaching",
    "alarmActions": [],
    "okActions": [],
}


def definition(**changes: Any) -> AlarmDefinition:
    return AlarmDefinition.model_validate({**DLQ_DEPTH, **changes})


def window(*values: float | None) -> list[Datapoint]:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return [Datapoint(at, value) for value in values]


class Level:
    """A probe that reads whatever level the test sets, and counts its reads."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.reads = 0

    def __call__(self) -> float | None:
        self.reads += 1
        return self.value


NO_SQS: Any = None
"""No SQS client: the probes under test never call it."""


# -- definitions -------------------------------------------------------------------------------


def test_a_definition_reads_pulumis_inputs_with_aws_defaults_for_unset_ones() -> None:
    # GIVEN the inputs of an alarm that leaves datapointsToAlarm and treatMissingData unset
    alarm = definition(datapointsToAlarm=None, treatMissingData=None, okActions=None)
    # THEN CloudWatch's defaults apply: M = N, missing data is "missing", no OK actions
    assert (alarm.datapoints, alarm.treat_missing_data, alarm.ok_actions) == (3, "missing", ())
    assert alarm.dimensions == {"QueueName": "dlq"}
    assert alarm.put_request() == {
        "AlarmName": "stack-dlq-depth",
        "AlarmDescription": "Messages in the dead-letter queue.",
        "ActionsEnabled": True,
        "AlarmActions": [],
        "OKActions": [],
        "InsufficientDataActions": [],
        "EvaluationPeriods": 3,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Statistic": "Maximum",
        "Threshold": 0.0,
        "Period": 60,
        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}],
    }


def test_a_metric_math_alarm_becomes_a_put_request_with_metrics() -> None:
    alarm = definition(
        namespace=None,
        metricName=None,
        statistic=None,
        dimensions=None,
        metricQueries=[
            {"id": "e1", "expression": "m1 / 60", "label": "rate", "returnData": True},
            {
                "id": "m1",
                "metric": {
                    "metricName": "Errors",
                    "namespace": "AWS/Lambda",
                    "period": 60,
                    "stat": "Sum",
                    "dimensions": {"FunctionName": "f"},
                },
            },
        ],
    )
    request = alarm.put_request()
    assert "Period" not in request
    assert "MetricName" not in request
    assert request["Metrics"] == [
        {"Id": "e1", "ReturnData": True, "Expression": "m1 / 60", "Label": "rate"},
        {
            "Id": "m1",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        },
    ]


# -- decisions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((0, 0, 0), OK),
        ((1, 0, 0), OK),  # 1 of 3 breaching, 2 needed
        ((1, 0, 1), ALARM),
        ((None, 2, 3), ALARM),
    ],
)
def test_datapoints_to_alarm_out_of_evaluation_periods(
    values: tuple[float | None, ...], expected: str
) -> None:
    alarm = definition(datapointsToAlarm=2)
    verdict = decide(alarm, window(*values), OK)
    assert verdict is not None
    assert verdict.state == expected


def test_the_reason_names_the_breaching_datapoints_like_cloudwatch() -> None:
    verdict = decide(definition(), window(0, 4, None), OK)
    assert verdict is not None
    assert verdict.reason == (
        "Threshold Crossed: 1 out of the last 3 datapoints [4.0 (02/01/26 03:04:05)] was "
        "greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )


@pytest.mark.parametrize(
    ("treat", "expected"),
    [
        ("missing", INSUFFICIENT_DATA),
        ("notBreaching", OK),
        ("breaching", ALARM),
        ("ignore", None),  # the state is kept
    ],
)
def test_a_window_without_data_follows_treat_missing_data(treat: str, expected: str) -> None:
    verdict = decide(definition(treatMissingData=treat), window(None, None, None), ALARM)
    assert (verdict.state if verdict else None) == expected


def test_missing_datapoints_treated_as_breaching_count_towards_the_alarm() -> None:
    alarm = definition(datapointsToAlarm=3, treatMissingData="breaching")
    verdict = decide(alarm, window(None, 5, None), OK)
    assert verdict is not None
    assert verdict.state == ALARM
    assert "and 2 missing treated as [Breaching]" in verdict.reason
    verdict = decide(alarm, window(None, 0, None), OK)
    assert verdict is not None
    assert verdict.state == OK  # 2 missing + 0 breaching < 3


@pytest.mark.parametrize(
    ("comparison", "value", "expected"),
    [
        ("GreaterThanThreshold", 10, OK),
        ("GreaterThanOrEqualToThreshold", 10, ALARM),
        ("LessThanThreshold", 9.5, ALARM),
        ("LessThanThreshold", 10, OK),
        ("LessThanOrEqualToThreshold", 10, ALARM),
    ],
)
def test_comparison_operators(comparison: str, value: float, expected: str) -> None:
    alarm = definition(comparisonOperator=comparison, threshold=10, evaluationPeriods=1)
    verdict = decide(alarm, window(value), OK)
    assert verdict is not None
    assert verdict.state == expected


# -- what is observed --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"metricName": "ApproximateAgeOfOldestMessage"}, "moto's queues do not report it"),
        ({"dimensions": {"QueueName": "elsewhere"}}, "name no queue of the program"),
        ({"comparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "anomaly band"),
        ({"metricQueries": [{"id": "e1", "expression": "1"}]}, "metric math"),
        ({"statistic": "Median"}, "statistic 'Median'"),
        ({"statistic": None, "extendedStatistic": "tm99"}, "statistic 'tm99'"),
    ],
)
def test_metrics_the_local_cloud_cannot_observe_say_why(changes: dict[str, Any], why: str) -> None:
    probe = probe_for(definition(**changes), queues={"dlq": "url"}, store=MetricStore(), sqs=NO_SQS)
    assert isinstance(probe, str)
    assert why in probe


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_recorded_metrics_give_one_datapoint_per_period_from_the_seconds_since_the_last() -> None:
    clock = Clock(100.5)
    store = MetricStore(clock=clock)
    errors = metric_key("AWS/Lambda", "Errors", {"FunctionName": "replay"})
    store.add(errors, 1)  # before the alarm existed: not its data
    clock.now = 101.2
    alarm = definition(
        namespace="AWS/Lambda", metricName="Errors", dimensions={"FunctionName": "replay"}
    )
    probes = {
        stat: probe_for(
            alarm.model_copy(update={"statistic": stat}), queues={}, store=store, sqs=NO_SQS
        )
        for stat in ("Sum", "Average", "Maximum", "Minimum", "SampleCount")
    }
    assert all(callable(p) for p in probes.values())
    # No invocation in a period: no datapoint (missing), as AWS/Lambda publishes none
    clock.now = 102.1
    assert {stat: p() for stat, p in probes.items() if callable(p)} == dict.fromkeys(probes)
    # 4 invocations in second 102, 1 of them failed
    for value in (0, 1, 0, 0):
        store.add(errors, value)
    clock.now = 103.3
    assert {stat: p() for stat, p in probes.items() if callable(p)} == {
        "Sum": 1.0,
        "Average": 0.25,
        "Maximum": 1.0,
        "Minimum": 0.0,
        "SampleCount": 4.0,
    }


def test_percentile_alarms_read_the_distribution_of_their_period() -> None:
    clock = Clock(10.0)
    store = MetricStore(clock=clock)
    alarm = definition(
        namespace="AWS/Lambda",
        metricName="Duration",
        dimensions={"FunctionName": "ingest"},
        statistic=None,
        extendedStatistic="p95",
    )
    probe = probe_for(alarm, queues={}, store=store, sqs=NO_SQS)
    assert callable(probe)
    key = metric_key("AWS/Lambda", "Duration", {"FunctionName": "ingest"})
    for value in range(1, 101):
        store.add(key, float(value), "Milliseconds")
    clock.now = 11.5
    assert probe() == 95.0
    clock.now = 12.5
    assert probe() is None


def test_build_alarms_evaluates_every_alarm_it_can_and_notes_the_rest() -> None:
    deployment = Deployment("dev")
    queue = {"name": "dlq", "url": "http://moto/123456789012/dlq"}
    deployment.resources.append(Resource("aws:sqs/queue:Queue", "dlq", "u", True, {}, queue))
    for name, changes in (
        ("depth", {}),
        ("5xx", {"namespace": "AWS/ApiGateway", "metricName": "5xx", "dimensions": {}}),
        ("math", {"metricQueries": [{"id": "e1", "expression": "1"}]}),
    ):
        outputs = {**DLQ_DEPTH, **changes, "name": name}
        deployment.resources.append(
            Resource("aws:cloudwatch/metricAlarm:MetricAlarm", name, name, True, {}, outputs)
        )
    evaluator, notes = build_alarms(deployment, MetricStore(), lambda service: object(), REGION)
    assert [(a.definition.name, a.probe is not None) for a in evaluator.alarms] == [
        ("depth", True),
        ("5xx", True),
        ("math", False),
    ]
    assert notes == [
        "alarms: 2 of 3 evaluated every 1 s (one period); "
        "INSUFFICIENT_DATA, not evaluated locally: math"
    ]


# -- the evaluator against moto: states in CloudWatch, notifications on SNS ---------------------


@dataclass
class Aws:
    sqs: Any
    sns: Any
    cloudwatch: Any
    dlq_url: str
    inbox_url: str
    topic_arn: str

    def notifications(self) -> list[dict[str, Any]]:
        """Alarm messages delivered to the inbox queue (subscribed to the topic) so far."""
        answer = self.sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10)
        messages = answer.get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]

    def moto_state(self, name: str) -> tuple[str, str]:
        alarm = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        return alarm["StateValue"], alarm["StateReason"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        inbox_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])
        topic_arn = sns.create_topic(Name="alarms")["TopicArn"]
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn["Attributes"]["QueueArn"]
        )
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        yield Aws(sqs, sns, cloudwatch, dlq_url, inbox_url, topic_arn)


def dlq_alarm(aws: Aws, **changes: Any) -> tuple[AlarmEvaluator, LocalAlarm]:
    alarm = definition(alarmActions=[aws.topic_arn], okActions=[aws.topic_arn], **changes)
    aws.cloudwatch.put_metric_alarm(**alarm.put_request())
    probe = probe_for(alarm, queues={"dlq": aws.dlq_url}, store=MetricStore(), sqs=aws.sqs)
    assert callable(probe)
    local = LocalAlarm(alarm, probe)
    publisher = AlarmPublisher(aws.cloudwatch, aws.sns, REGION)
    return AlarmEvaluator([local], publisher), local


def test_a_dlq_message_alarms_notifies_the_topic_and_clears_after_quiet_periods(aws: Aws) -> None:
    evaluator, alarm = dlq_alarm(aws)
    # GIVEN an empty DLQ: the first period puts the new alarm in OK, and notifies OK
    assert [(t.old, t.new) for t in evaluator.evaluate()] == [(INSUFFICIENT_DATA, OK)]
    assert [(n["OldStateValue"], n["NewStateValue"]) for n in aws.notifications()] == [
        (INSUFFICIENT_DATA, OK)
    ]
    # WHEN a message lands in the DLQ
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody="poison")
    # THEN the next period alarms: in the endpoint's view, in CloudWatch, and on the topic
    assert [(t.old, t.new) for t in evaluator.evaluate()] == [(OK, ALARM)]
    [notification] = aws.notifications()
    assert notification["AlarmName"] == "stack-dlq-depth"
    assert notification["AlarmArn"] == DLQ_DEPTH["arn"]
    assert notification["AWSAccountId"] == "123456789012"
    assert (notification["OldStateValue"], notification["NewStateValue"]) == (OK, ALARM)
    assert notification["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 3")
    assert notification["Region"] == "US East (N. Virginia)"
    assert notification["Trigger"] == {
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Namespace": "AWS/SQS",
        "StatisticType": "Statistic",
        "Statistic": "MAXIMUM",
        "Unit": None,
        "Dimensions": [{"value": "dlq", "name": "QueueName"}],
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
    }
    assert aws.moto_state("stack-dlq-depth") == (ALARM, alarm.reason)
    snapshot = evaluator.snapshot()[0]
    assert (snapshot["state"], snapshot["datapoints"], snapshot["notifications"]) == (
        ALARM,
        [None, 0.0, 1.0],
        2,
    )
    # WHEN the message is removed (the runbook: inspect, then redrive or delete)
    aws.sqs.purge_queue(QueueUrl=aws.dlq_url)
    # THEN the alarm stays until the breaching datapoint leaves the 3-period window
    assert evaluator.evaluate() == []
    assert evaluator.evaluate() == []
    assert [(t.old, t.new) for t in evaluator.evaluate()] == [(ALARM, OK)]
    assert [n["NewStateValue"] for n in aws.notifications()] == [OK]
    assert aws.moto_state("stack-dlq-depth")[0] == OK


def test_actions_disabled_change_the_state_but_notify_no_one(aws: Aws) -> None:
    evaluator, _ = dlq_alarm(aws, actionsEnabled=False)
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody="poison")
    assert [t.new for t in evaluator.evaluate()] == [ALARM]
    assert aws.moto_state("stack-dlq-depth")[0] == ALARM
    assert aws.notifications() == []


def test_an_alarm_not_observable_stays_insufficient_data_and_says_why(aws: Aws) -> None:
    alarm = definition(
        namespace="AWS/DynamoDB",
        metricName="WriteThrottleEvents",
        insufficientDataActions=[aws.topic_arn],
    )
    aws.cloudwatch.put_metric_alarm(**alarm.put_request())
    publisher = AlarmPublisher(aws.cloudwatch, aws.sns, REGION)
    evaluator = AlarmEvaluator([LocalAlarm(alarm, None, unobserved="not here")], publisher)
    assert evaluator.evaluate() == []
    assert evaluator.evaluate() == []
    assert aws.moto_state("stack-dlq-depth") == (
        INSUFFICIENT_DATA,
        "Not evaluated locally: not here",
    )
    assert aws.notifications() == []
    assert evaluator.snapshot()[0]["evaluated"] is False


def test_a_failing_source_is_a_missing_datapoint_not_a_crash() -> None:
    def broken() -> float | None:
        raise ConnectionError("moto is gone")

    alarm = LocalAlarm(definition(treatMissingData="missing"), broken)
    evaluator = AlarmEvaluator([alarm])
    assert evaluator.evaluate() == []
    assert (alarm.state, list(alarm.window)[-1].value) == (INSUFFICIENT_DATA, None)


# -- the gateway: route and background task ----------------------------------------------------


async def test_the_gateway_evaluates_in_the_background_and_serves_the_states() -> None:
    # GIVEN a gateway with one alarm over a level the test sets (no moto: no publisher)
    level = Level(0.0)
    evaluator = AlarmEvaluator([LocalAlarm(definition(), level)], period_s=0.05)
    app = build_app(
        http_apis={},
        rest_apis={},
        functions={},
        faults=FaultInjector(),
        pollers=[],
        alarms=evaluator,
    )
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        url = str(server.make_url("/_localcloud/alarms"))

        async def state_becomes(state: str) -> dict[str, Any]:
            deadline = time.monotonic() + 10
            while True:
                async with session.get(url) as reply:
                    assert reply.status == 200
                    body: dict[str, Any] = await reply.json()
                if body["alarms"][0]["state"] == state:
                    return body
                assert time.monotonic() < deadline, f"never {state}: {body}"
                await asyncio.sleep(0.02)  # polling interval of a bounded wait

        # THEN without anyone calling evaluate(), the alarm goes OK, ALARM, OK with the level
        body = await state_becomes(OK)
        level.value = 1.0
        body = await state_becomes(ALARM)
        assert body["alarms"][0]["reason"].startswith("Threshold Crossed: 1 out of the last 3")
        level.value = 0.0
        body = await state_becomes(OK)
        assert body["local_period_s"] == 0.05
        assert body["alarms"][0]["name"] == "stack-dlq-depth"
        assert body["alarms"][0]["metric"]["dimensions"] == {"QueueName": "dlq"}
        assert body["alarms"][0]["evaluated"] is True
    # AND the app's shutdown stopped the evaluator's task
    assert level.reads > 3
    assert [t for t in asyncio.all_tasks() if t.get_name() == "alarms"] == []
