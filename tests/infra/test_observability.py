"""The Observability component, for each stack: alarms, topic, email, budget, dashboard, queries.

Expected values are literals per stack (the stack files set them), so a changed threshold, a
dropped dimension or an ignored config key fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import ConfigError, parse_config
from tests.infra.pulumi_mocks import Recorded, StackRun, run_program, stack_file

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
BUDGET = "aws:budgets/budget:Budget"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUERY = "aws:cloudwatch/queryDefinition:QueryDefinition"
FUNCTION = "aws:lambda/function:Function"

SLO_MS = {"dev": 250, "prod": 200}
PERIODS = {"dev": 3, "prod": 5}
BUDGET_USD = {"dev": "5.00", "prod": "50.00"}
BUDGET_PERCENT = {"dev": 100, "prod": 80}
ITERATOR_AGE_MS = {"dev": 60_000, "prod": 30_000}
ROLES = ("ingest", "replay", "query", "authorizer", "fanout", "ws", "broadcast")


def _fn(run: StackRun, role: str) -> str:
    (function,) = [
        f for f in run.of_type(FUNCTION) if f.inputs["handler"] == f"handlers.{role}.handler"
    ]
    name: str = function.outputs["name"]
    return name


def _expected_alarms(run: StackRun) -> dict[str, tuple[str, str, dict[str, str], str, float]]:
    """Alarm name -> (namespace, metric, dimensions, statistic, threshold)."""
    api = run.one("aws:apigatewayv2/api:Api", "ingest-api").id
    rest = run.one("aws:apigateway/restApi:RestApi", "query-api").outputs["name"]
    table = run.one("aws:dynamodb/table:Table", "ticks-table").outputs["name"]
    dlq = run.one("aws:sqs/queue:Queue", "ingest-dlq").outputs["name"]
    prefix = f"marketstream-{run.stack}"
    alarms: dict[str, tuple[str, str, dict[str, str], str, float]] = {
        f"{prefix}-ingest-5xx": (
            "AWS/ApiGateway",
            "5xx",
            {"ApiId": api, "Stage": "$default"},
            "Sum",
            0,
        ),
        f"{prefix}-query-5xx": (
            "AWS/ApiGateway",
            "5XXError",
            {"ApiName": rest, "Stage": "v1"},
            "Sum",
            0,
        ),
        f"{prefix}-dlq-depth": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": dlq},
            "Maximum",
            0,
        ),
        f"{prefix}-table-write-throttles": (
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            {"TableName": table},
            "Sum",
            0,
        ),
        f"{prefix}-table-read-throttles": (
            "AWS/DynamoDB",
            "ReadThrottleEvents",
            {"TableName": table},
            "Sum",
            0,
        ),
        f"{prefix}-ingest-p95-duration": (
            "AWS/Lambda",
            "Duration",
            {"FunctionName": _fn(run, "ingest")},
            "p95",
            SLO_MS[run.stack],
        ),
        f"{prefix}-replay-failures": (
            "MarketStream",
            "ReplayFailures",
            {"Stack": run.stack, "FunctionName": _fn(run, "replay")},
            "Sum",
            0,
        ),
        f"{prefix}-rollup-failures": (
            "MarketStream",
            "RollupFailures",
            {"Stack": run.stack, "FunctionName": _fn(run, "fanout")},
            "Sum",
            0,
        ),
    }
    for role in ("fanout", "broadcast"):
        alarms[f"{prefix}-{role}-iterator-age"] = (
            "AWS/Lambda",
            "IteratorAge",
            {"FunctionName": _fn(run, role)},
            "Maximum",
            ITERATOR_AGE_MS[run.stack],
        )
    alarms[f"{prefix}-fanout-failures-depth"] = (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": run.one("aws:sqs/queue:Queue", "fanout-failures").outputs["name"]},
        "Maximum",
        0,
    )
    for role in ROLES:
        alarms[f"{prefix}-{role}-errors"] = (
            "AWS/Lambda",
            "Errors",
            {"FunctionName": _fn(run, role)},
            "Sum",
            0,
        )
    return alarms


def _topic(run: StackRun) -> Recorded:
    return run.one(TOPIC, "ops-alarms")


def test_every_alarm_watches_its_metric_and_notifies_the_topic(stack_run: StackRun) -> None:
    topic_arn = _topic(stack_run).outputs["arn"]
    alarms = {a.inputs["name"]: a.inputs for a in stack_run.of_type(ALARM)}
    expected = _expected_alarms(stack_run)
    assert sorted(alarms) == sorted(expected)
    periods = PERIODS[stack_run.stack]
    for name, (namespace, metric, dimensions, statistic, threshold) in expected.items():
        alarm = alarms[name]
        assert (alarm["namespace"], alarm["metricName"]) == (namespace, metric), name
        assert alarm["dimensions"] == dimensions, name
        if statistic.startswith("p"):
            assert alarm["extendedStatistic"] == statistic, name
            assert "statistic" not in alarm
            assert alarm["datapointsToAlarm"] == periods, "latency must breach every period"
        else:
            assert alarm["statistic"] == statistic, name
            assert "extendedStatistic" not in alarm
            assert alarm["datapointsToAlarm"] == 1, "count alarms fire on the first bad minute"
        assert alarm["threshold"] == threshold, name
        assert alarm["comparisonOperator"] == "GreaterThanThreshold", name
        assert alarm["period"] == 60
        assert alarm["evaluationPeriods"] == periods
        assert alarm["treatMissingData"] == "notBreaching"
        assert alarm["alarmActions"] == [topic_arn], name
        assert alarm["okActions"] == [topic_arn], name
        assert alarm["alarmDescription"]


def test_every_stream_consumer_has_an_iterator_age_alarm(stack_run: StackRun) -> None:
    stream = stack_run.one("aws:dynamodb/table:Table", "ticks-table").outputs["streamArn"]
    consumers = {
        m.inputs["functionName"]
        for m in stack_run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        if m.inputs["eventSourceArn"] == stream
    }
    functions = {f.outputs["arn"]: f.outputs["name"] for f in stack_run.of_type(FUNCTION)}
    watched = {
        a.inputs["dimensions"]["FunctionName"]
        for a in stack_run.of_type(ALARM)
        if a.inputs["metricName"] == "IteratorAge"
    }
    assert len(consumers) == 2
    assert watched == {functions[arn] for arn in consumers}


def test_email_subscription_only_where_alarm_email_is_set(stack_run: StackRun) -> None:
    topic = _topic(stack_run).outputs["arn"]
    subscriptions = [
        s.inputs for s in stack_run.of_type(SUBSCRIPTION) if s.inputs["topic"] == topic
    ]
    if stack_run.stack == "prod":
        assert subscriptions == [
            {
                "topic": _topic(stack_run).outputs["arn"],
                "protocol": "email",
                "endpoint": "oncall@example.com",
            }
        ]
    else:
        assert subscriptions == []


def test_budget_amount_threshold_and_recipient(stack_run: StackRun) -> None:
    (budget,) = stack_run.of_type(BUDGET)
    inputs = budget.inputs
    assert inputs["name"] == f"marketstream-{stack_run.stack}-monthly"
    assert (inputs["budgetType"], inputs["timeUnit"], inputs["limitUnit"]) == (
        "COST",
        "MONTHLY",
        "USD",
    )
    assert inputs["limitAmount"] == BUDGET_USD[stack_run.stack]
    (notification,) = inputs["notifications"]
    recipient = (
        {"subscriberEmailAddresses": ["oncall@example.com"]}
        if stack_run.stack == "prod"
        else {"subscriberSnsTopicArns": [_topic(stack_run).outputs["arn"]]}
    )
    assert notification == {
        "comparisonOperator": "GREATER_THAN",
        "notificationType": "ACTUAL",
        "threshold": BUDGET_PERCENT[stack_run.stack],
        "thresholdType": "PERCENTAGE",
        **recipient,
    }


def test_topic_policy_lets_exactly_this_stacks_alarms_and_budget_publish(
    stack_run: StackRun,
) -> None:
    topic = _topic(stack_run)
    (policy,) = stack_run.of_type("aws:sns/topicPolicy:TopicPolicy")
    assert policy.inputs["arn"] == topic.outputs["arn"]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    alarm_arns = sorted(a.outputs["arn"] for a in stack_run.of_type(ALARM))
    (budget,) = stack_run.of_type(BUDGET)
    expected = {"AlarmsPublish": ("cloudwatch.amazonaws.com", alarm_arns)}
    if stack_run.stack == "dev":  # no email: the budget publishes to the topic
        expected["BudgetPublish"] = ("budgets.amazonaws.com", [budget.outputs["arn"]])
    assert sorted(statements) == sorted(expected)
    for sid, (service, sources) in expected.items():
        statement = statements[sid]
        assert statement["Principal"] == {"Service": service}
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == topic.outputs["arn"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnEquals": {"aws:SourceArn": sources},
        }


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def test_dashboard_is_json_over_the_real_names(stack_run: StackRun) -> None:
    (dashboard,) = stack_run.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == f"marketstream-{stack_run.stack}"
    body = json.loads(dashboard.inputs["dashboardBody"])
    widgets = {w["properties"]["title"]: w for w in body["widgets"]}
    assert sorted(widgets) == [
        "Alarms",
        "Duration p95 (ms)",
        "DynamoDB consumed capacity and throttles",
        "Errors",
        "Fan-out and broadcast",
        "Ingest rate (ticks and requests per minute)",
        "Spill queue and DLQ depth",
        "Stream consumer lag (IteratorAge max, ms)",
        "Ticks per block and write retries",
    ]
    names = _strings(body)
    table = stack_run.one("aws:dynamodb/table:Table", "ticks-table").outputs["name"]
    spill = stack_run.one("aws:sqs/queue:Queue", "ingest-spill").outputs["name"]
    dlq = stack_run.one("aws:sqs/queue:Queue", "ingest-dlq").outputs["name"]
    api = stack_run.one("aws:apigatewayv2/api:Api", "ingest-api").id
    functions = {_fn(stack_run, r) for r in ROLES}
    assert {table, spill, dlq, api, *functions} <= names
    for title, widget in widgets.items():
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "us-east-1", title

    def rows(title: str) -> list[list[Any]]:
        metrics: list[list[Any]] = widgets[title]["properties"]["metrics"]
        return metrics

    duration = widgets["Duration p95 (ms)"]["properties"]
    assert duration["stat"] == "p95"
    assert duration["annotations"]["horizontal"][0]["value"] == SLO_MS[stack_run.stack]
    assert {r[3] for r in rows("Duration p95 (ms)")} == functions
    capacity = {r[1] for r in rows("DynamoDB consumed capacity and throttles")}
    assert {"ConsumedWriteCapacityUnits", "WriteThrottleEvents"} <= capacity
    depth = rows("Spill queue and DLQ depth")
    assert [(r[1], r[3]) for r in depth] == [
        ("ApproximateNumberOfMessagesVisible", spill),
        ("ApproximateNumberOfMessagesVisible", dlq),
    ]
    ingest_rows = rows("Ingest rate (ticks and requests per minute)")
    assert ["MarketStream", "TicksAccepted", "Stack", stack_run.stack, "FunctionName"] == (
        ingest_rows[0][:5]
    )
    assert ingest_rows[0][5] == _fn(stack_run, "ingest")
    alarm_arns = sorted(a.outputs["arn"] for a in stack_run.of_type(ALARM))
    assert widgets["Alarms"]["properties"]["alarms"] == alarm_arns
    lag = widgets["Stream consumer lag (IteratorAge max, ms)"]["properties"]
    assert lag["stat"] == "Maximum"
    assert sorted(r[3] for r in lag["metrics"]) == sorted(
        _fn(stack_run, r) for r in ("fanout", "broadcast")
    )
    activity = {(r[1], r[5]) for r in rows("Fan-out and broadcast")}
    assert ("TicksPublished", _fn(stack_run, "fanout")) in activity
    assert ("ConnectionsPruned", _fn(stack_run, "broadcast")) in activity


def test_query_definitions_target_the_function_log_groups(stack_run: StackRun) -> None:
    groups = sorted(f.inputs["loggingConfig"]["logGroup"] for f in stack_run.of_type(FUNCTION))
    assert len(groups) == 7
    queries = {q.inputs["name"]: q.inputs for q in stack_run.of_type(QUERY)}
    folder = f"marketstream/{stack_run.stack}"
    assert sorted(queries) == [
        f"{folder}/errors-by-code",
        f"{folder}/p95-by-function",
        f"{folder}/slowest-requests",
    ]
    for query in queries.values():
        assert sorted(query["logGroupNames"]) == groups
    assert "pct(DurationMs, 95)" in queries[f"{folder}/p95-by-function"]["queryString"]
    assert "by FunctionName" in queries[f"{folder}/p95-by-function"]["queryString"]
    assert "ErrorCode" in queries[f"{folder}/errors-by-code"]["queryString"]
    assert "sort DurationMs desc" in queries[f"{folder}/slowest-requests"]["queryString"]


def test_config_flows_into_alarms_and_budget() -> None:
    config = {
        **stack_file("dev"),
        "marketstream:ingestP95SloMs": 123,
        "marketstream:alarmEvaluationPeriods": 2,
        "marketstream:monthlyBudgetUsd": 12.5,
        "marketstream:budgetAlertPercent": 90,
        "marketstream:alarmEmail": "ops@example.org",
    }
    run = run_program("dev", config)
    p95 = run.one(ALARM, "ops-ingest-p95-duration").inputs
    assert (p95["threshold"], p95["evaluationPeriods"], p95["datapointsToAlarm"]) == (123, 2, 2)
    assert run.one(ALARM, "ops-dlq-depth").inputs["evaluationPeriods"] == 2
    (budget,) = run.of_type(BUDGET)
    assert budget.inputs["limitAmount"] == "12.50"
    (notification,) = budget.inputs["notifications"]
    assert notification["threshold"] == 90
    assert notification["subscriberEmailAddresses"] == ["ops@example.org"]
    (subscription,) = [s for s in run.of_type(SUBSCRIPTION) if s.inputs["protocol"] == "email"]
    assert subscription.inputs["endpoint"] == "ops@example.org"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"ingestP95SloMs": 0}, "marketstream:ingestP95SloMs: must be between 1 and 30000"),
        ({"alarmEvaluationPeriods": 61}, "marketstream:alarmEvaluationPeriods: must be between"),
        ({"monthlyBudgetUsd": 0}, "marketstream:monthlyBudgetUsd: must be between 1 and"),
        ({"budgetAlertPercent": 0}, "marketstream:budgetAlertPercent: must be between 1 and"),
    ],
)
def test_bad_observability_config_names_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)
