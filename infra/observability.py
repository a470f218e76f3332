"""`Observability`: alarms to an SNS topic, a dashboard, a monthly budget, Logs Insights queries.

See docs/architecture.md. What each alarm means and what to do about it is in `docs/operations.md`;
the metric names of the handlers' EMF lines come from `handlers.core.metrics`, so the two cannot
disagree. Stream consumers (fan-out, broadcast) get an IteratorAge alarm — how far behind the
stream they are — and a lag widget; records the fan-out consumer gave up on alarm through its
failure queue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi_aws import budgets, cloudwatch, sns

from handlers.core.metrics import DIMENSIONS, METRIC, NAMESPACE
from infra.config import StackConfig
from infra.function import PythonFunction

__all__ = [
    "ALARM_PERIOD_S",
    "AlarmSpec",
    "Observability",
    "ObservabilityArgs",
    "WatchedFunction",
]

ALARM_PERIOD_S: Final = 60
"""Every alarm looks at one-minute periods (the finest the AWS service metrics have)."""
_VERSION: Final = "2012-10-17"
_GREATER: Final = "GreaterThanThreshold"


@dataclass(frozen=True)
class WatchedFunction:
    """A function the component watches: its metrics by name, its logs by group."""

    function_name: pulumi.Input[str]
    log_group_name: pulumi.Input[str]

    @classmethod
    def of(cls, function: PythonFunction) -> WatchedFunction:
        """The watched view of a `PythonFunction`."""
        return cls(function.function_name, function.log_group_name)


@dataclass(frozen=True)
class ObservabilityArgs:
    """What the component watches; every name comes from the component that owns it."""

    config: StackConfig
    """SLO, evaluation periods, budget and alarm email come from the stack."""
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    """The table's ARN also gives the account and region of the stack."""
    functions: Mapping[str, WatchedFunction]
    """By role: must hold `ingest` and `replay`; every function gets an Errors alarm."""
    spill_queue_name: pulumi.Input[str]
    dlq_name: pulumi.Input[str]
    ingest_api_id: pulumi.Input[str]
    ingest_stage: pulumi.Input[str]
    query_api_name: pulumi.Input[str]
    query_stage: pulumi.Input[str]
    stream_consumers: Sequence[str] = ()
    """Roles in `functions` that read the table's stream: each gets an IteratorAge alarm."""
    fanout_failure_queue_name: pulumi.Input[str] | None = None
    """The fan-out consumer's on-failure queue: any message in it alarms."""


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: a metric, a statistic, and the threshold it must stay at or under."""

    key: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    threshold: float
    statistic: str = "Sum"
    """A basic statistic, or a percentile such as `p95` (sent as an extended statistic)."""
    datapoints: int = 1
    """Bad periods out of the evaluation window that fire the alarm."""


class Observability(pulumi.ComponentResource):
    """Alarms -> SNS (optional email), a CloudWatch dashboard, a budget, saved log queries."""

    topic_arn: pulumi.Output[str]
    """The SNS topic every alarm notifies."""
    alarm_names: list[pulumi.Output[str]]
    """Names of the alarms, in declaration order."""
    dashboard_name: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    """Console URL of the dashboard."""

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:Observability", name, None, opts)
        config = args.config
        stack = pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"marketstream-{stack}"
        # arn:aws:dynamodb:<region>:<account>:table/<name>; no provider call needed (the mock
        # runtime answers none), and the table is always in the stack's account and region.
        region = pulumi.Output.from_input(args.table_arn).apply(lambda arn: arn.split(":")[3])
        account = pulumi.Output.from_input(args.table_arn).apply(lambda arn: arn.split(":")[4])

        specs = _alarm_specs(args)
        alarm_names = [f"{prefix}-{spec.key}" for spec in specs]
        budget_name = f"{prefix}-monthly"
        # The budget emails the address directly when there is one (no duplicate via the topic),
        # else it publishes to the topic.
        budget_to_topic = not config.alarm_email

        topic = sns.Topic(f"{name}-alarms", name=f"{prefix}-alarms", opts=child)
        # The alarm and budget ARNs are known from their names before they exist, so the policy
        # can name exactly the publishers, and be in place before any of them first fires.
        topic_policy = sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account, region).apply(
                lambda v: _topic_policy(
                    v[0], v[1], v[2], alarm_names, budget_name if budget_to_topic else None
                )
            ),
            opts=child,
        )
        if config.alarm_email:
            # Email subscriptions stay pending until the recipient clicks the confirmation link.
            sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=topic.arn,
                protocol="email",
                endpoint=config.alarm_email,
                opts=child,
            )

        after_policy = pulumi.ResourceOptions(parent=self, depends_on=[topic_policy])
        alarms = [
            _alarm(f"{name}-{spec.key}", alarm_name, spec, config, topic.arn, after_policy)
            for spec, alarm_name in zip(specs, alarm_names, strict=True)
        ]

        notification = budgets.BudgetNotificationArgs(
            comparison_operator="GREATER_THAN",
            notification_type="ACTUAL",
            threshold=config.budget_alert_percent,
            threshold_type="PERCENTAGE",
            subscriber_sns_topic_arns=[topic.arn] if budget_to_topic else None,
            subscriber_email_addresses=None if budget_to_topic else [config.alarm_email],
        )
        # Account-wide, like the original's "cost > $5": a cost filter needs activated cost
        # allocation tags, which a stack cannot switch on by itself.
        budgets.Budget(
            f"{name}-budget",
            name=budget_name,
            budget_type="COST",
            limit_amount=f"{config.monthly_budget_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            notifications=[notification],
            opts=after_policy,
        )

        dashboard = cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=prefix,
            dashboard_body=_dashboard_body(
                args, region, [alarm.arn for alarm in alarms], config.ingest_p95_slo_ms
            ),
            opts=child,
        )
        _query_definitions(name, prefix, args, child)

        self.topic_arn = topic.arn
        self.alarm_names = [alarm.name for alarm in alarms]
        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_url = pulumi.Output.all(region, dashboard.dashboard_name).apply(
            lambda v: (
                f"https://{v[0]}.console.aws.amazon.com/cloudwatch/home?region={v[0]}"
                f"#dashboards/dashboard/{v[1]}"
            )
        )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "dashboard_name": self.dashboard_name,
                "dashboard_url": self.dashboard_url,
            }
        )


def _alarm_specs(args: ObservabilityArgs) -> list[AlarmSpec]:
    """Every alarm of the stack (docs/operations.md explains each, by key)."""
    config = args.config
    functions = args.functions
    specs = [
        AlarmSpec(
            "ingest-5xx",
            "The ingest API answered 5xx: requests not acknowledged (ticks not stored).",
            "AWS/ApiGateway",
            "5xx",
            {"ApiId": args.ingest_api_id, "Stage": args.ingest_stage},
            0,
        ),
        AlarmSpec(
            "query-5xx",
            "The query API answered 5xx.",
            "AWS/ApiGateway",
            "5XXError",
            {"ApiName": args.query_api_name, "Stage": args.query_stage},
            0,
        ),
    ]
    specs += [
        AlarmSpec(
            f"{role}-errors",
            f"The {role} function failed (unhandled exception, timeout or out of memory).",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": function.function_name},
            0,
        )
        for role, function in sorted(functions.items())
    ]
    specs += [
        AlarmSpec(
            "dlq-depth",
            "Messages in the dead-letter queue: spilled ticks replay could not store.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": args.dlq_name},
            0,
            statistic="Maximum",
        ),
        AlarmSpec(
            "table-write-throttles",
            "DynamoDB throttled writes to the tick table (retried, then spilled).",
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            {"TableName": args.table_name},
            0,
        ),
        AlarmSpec(
            "table-read-throttles",
            "DynamoDB throttled reads of the tick table (queries answer 503).",
            "AWS/DynamoDB",
            "ReadThrottleEvents",
            {"TableName": args.table_name},
            0,
        ),
        AlarmSpec(
            "ingest-p95-duration",
            f"Ingest p95 duration above the {config.ingest_p95_slo_ms} ms SLO "
            f"for {config.alarm_evaluation_periods} minute(s).",
            "AWS/Lambda",
            "Duration",
            {"FunctionName": functions["ingest"].function_name},
            config.ingest_p95_slo_ms,
            statistic="p95",
            datapoints=config.alarm_evaluation_periods,
        ),
        AlarmSpec(
            "replay-failures",
            "The replay function could not store spilled messages (they will be retried).",
            NAMESPACE,
            METRIC.REPLAY_FAILURES,
            {
                DIMENSIONS[0]: pulumi.get_stack(),
                DIMENSIONS[1]: functions["replay"].function_name,
            },
            0,
        ),
    ]
    if "fanout" in functions:
        specs.append(
            AlarmSpec(
                "rollup-failures",
                "The fan-out consumer could not update a symbol's bar rollups (the batch is "
                "retried; /bars reads raw ticks past the rollups meanwhile).",
                NAMESPACE,
                METRIC.ROLLUP_FAILURES,
                {
                    DIMENSIONS[0]: pulumi.get_stack(),
                    DIMENSIONS[1]: functions["fanout"].function_name,
                },
                0,
            )
        )
    specs += [
        AlarmSpec(
            f"{role}-iterator-age",
            f"The {role} stream consumer is more than {config.iterator_age_alarm_ms} ms behind "
            "the tick table's stream (failing batches being retried, or too slow).",
            "AWS/Lambda",
            "IteratorAge",
            {"FunctionName": functions[role].function_name},
            config.iterator_age_alarm_ms,
            statistic="Maximum",
        )
        for role in sorted(args.stream_consumers)
    ]
    if args.fanout_failure_queue_name is not None:
        specs.append(
            AlarmSpec(
                "fanout-failures-depth",
                "Stream records the fan-out consumer gave up on (their ticks were not published "
                "or rolled up).",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": args.fanout_failure_queue_name},
                0,
                statistic="Maximum",
            )
        )
    return specs


def _alarm(
    name: str,
    alarm_name: str,
    spec: AlarmSpec,
    config: StackConfig,
    topic_arn: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
) -> cloudwatch.MetricAlarm:
    percentile = spec.statistic.startswith("p")
    return cloudwatch.MetricAlarm(
        name,
        name=alarm_name,
        alarm_description=spec.description,
        namespace=spec.namespace,
        metric_name=spec.metric,
        dimensions=dict(spec.dimensions),
        statistic=None if percentile else spec.statistic,
        extended_statistic=spec.statistic if percentile else None,
        period=ALARM_PERIOD_S,
        evaluation_periods=config.alarm_evaluation_periods,
        datapoints_to_alarm=spec.datapoints,
        threshold=spec.threshold,
        comparison_operator=_GREATER,
        # No traffic is not a failure: a quiet stack stays OK instead of INSUFFICIENT_DATA.
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        opts=opts,
    )


def _topic_policy(
    topic_arn: str, account: str, region: str, alarm_names: Sequence[str], budget: str | None
) -> str:
    """Publish rights on the topic for exactly this stack's alarms (and budget)."""
    statements: list[dict[str, Any]] = [
        _publish(
            "AlarmsPublish",
            "cloudwatch.amazonaws.com",
            topic_arn,
            account,
            sorted(f"arn:aws:cloudwatch:{region}:{account}:alarm:{n}" for n in alarm_names),
        )
    ]
    if budget is not None:
        statements.append(
            _publish(
                "BudgetPublish",
                "budgets.amazonaws.com",
                topic_arn,
                account,
                [f"arn:aws:budgets::{account}:budget/{budget}"],
            )
        )
    return json.dumps({"Version": _VERSION, "Statement": statements}, sort_keys=True)


def _publish(
    sid: str, service: str, topic_arn: str, account: str, sources: list[str]
) -> dict[str, Any]:
    # Source conditions stop another account's alarm or budget from using this topic.
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnEquals": {"aws:SourceArn": sources},
        },
    }


def _dashboard_body(
    args: ObservabilityArgs,
    region: pulumi.Output[str],
    alarm_arns: list[pulumi.Output[str]],
    slo_ms: int,
) -> pulumi.Output[str]:
    """The dashboard JSON, rendered once every name and ARN is known."""
    roles = sorted(args.functions)
    names = pulumi.Output.all(
        region=region,
        table=args.table_name,
        spill=args.spill_queue_name,
        dlq=args.dlq_name,
        api=args.ingest_api_id,
        stage=args.ingest_stage,
        alarms=pulumi.Output.all(*alarm_arns),
        functions=pulumi.Output.all(*(args.functions[role].function_name for role in roles)),
    )
    stack = pulumi.get_stack()

    def render(v: dict[str, Any]) -> str:
        by_role = dict(zip(roles, v["functions"], strict=True))
        ingest, replay = by_role["ingest"], by_role["replay"]
        consumers = sorted(args.stream_consumers)
        dims = [DIMENSIONS[0], stack, DIMENSIONS[1]]

        def widget(
            x: int, y: int, title: str, metrics: list[list[Any]], **extra: Any
        ) -> dict[str, Any]:
            return {
                "type": "metric",
                "x": x,
                "y": y,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": v["region"],
                    "view": "timeSeries",
                    "stacked": False,
                    "period": ALARM_PERIOD_S,
                    "stat": "Sum",
                    "metrics": metrics,
                    **extra,
                },
            }

        def custom(metric: str, function: str, label: str, **options: str) -> list[Any]:
            """A row of one of the handlers' EMF metrics."""
            return [NAMESPACE, metric, *dims, function, {"label": label, **options}]

        activity = []
        if "fanout" in by_role:
            fanout = by_role["fanout"]
            activity += [
                custom(METRIC.TICKS_PUBLISHED, fanout, "ticks published"),
                custom(METRIC.FANOUT_FAILURES, fanout, "batches with a failed record"),
            ]
        if "broadcast" in by_role:
            broadcast = by_role["broadcast"]
            activity += [
                custom(METRIC.MESSAGES_POSTED, broadcast, "WebSocket messages"),
                custom(METRIC.CONNECTIONS_PRUNED, broadcast, "gone connections pruned"),
            ]
        lag = [
            ["AWS/Lambda", "IteratorAge", "FunctionName", by_role[r], {"label": r}]
            for r in consumers
        ]
        stream_widgets = (
            [
                widget(0, 18, "Stream consumer lag (IteratorAge max, ms)", lag, stat="Maximum"),
                widget(12, 18, "Fan-out and broadcast", activity),
            ]
            if consumers
            else []
        )
        widgets = [
            widget(
                0,
                0,
                "Ingest rate (ticks and requests per minute)",
                [
                    custom(METRIC.TICKS_ACCEPTED, ingest, "accepted"),
                    custom(METRIC.TICKS_QUEUED, ingest, "queued (spilled)"),
                    custom(METRIC.TICKS_REJECTED, ingest, "rejected"),
                    custom(METRIC.TICKS_REPLAYED, replay, "replayed"),
                    [
                        "AWS/ApiGateway",
                        "Count",
                        "ApiId",
                        v["api"],
                        "Stage",
                        v["stage"],
                        {"label": "requests", "yAxis": "right"},
                    ],
                ],
            ),
            widget(
                12,
                0,
                "Errors",
                [
                    *(
                        ["AWS/Lambda", "Errors", "FunctionName", by_role[r], {"label": r}]
                        for r in roles
                    ),
                    ["AWS/ApiGateway", "5xx", "ApiId", v["api"], "Stage", v["stage"]],
                    ["AWS/ApiGateway", "4xx", "ApiId", v["api"], "Stage", v["stage"]],
                    custom(METRIC.REPLAY_FAILURES, replay, "replay failures"),
                ],
            ),
            widget(
                0,
                6,
                "Duration p95 (ms)",
                [
                    ["AWS/Lambda", "Duration", "FunctionName", by_role[r], {"label": r}]
                    for r in roles
                ],
                stat="p95",
                annotations={"horizontal": [{"label": "ingest SLO", "value": slo_ms}]},
            ),
            widget(
                12,
                6,
                "DynamoDB consumed capacity and throttles",
                [
                    ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", v["table"]],
                    ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", v["table"]],
                    [
                        "AWS/DynamoDB",
                        "WriteThrottleEvents",
                        "TableName",
                        v["table"],
                        {"yAxis": "right"},
                    ],
                    [
                        "AWS/DynamoDB",
                        "ReadThrottleEvents",
                        "TableName",
                        v["table"],
                        {"yAxis": "right"},
                    ],
                ],
            ),
            widget(
                0,
                12,
                "Spill queue and DLQ depth",
                [
                    [
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        v["spill"],
                        {"label": "spill"},
                    ],
                    [
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        v["dlq"],
                        {"label": "DLQ"},
                    ],
                ],
                stat="Maximum",
            ),
            widget(
                12,
                12,
                "Ticks per block and write retries",
                [
                    custom(METRIC.BLOCK_SIZE, ingest, "ticks per block (avg)", stat="Average"),
                    custom(METRIC.WRITE_RETRIES, ingest, "ingest write retries"),
                    custom(METRIC.WRITE_RETRIES, replay, "replay write retries"),
                ],
            ),
            *stream_widgets,
            {
                "type": "alarm",
                "x": 0,
                "y": 24,
                "width": 24,
                "height": 4,
                "properties": {"title": "Alarms", "alarms": sorted(v["alarms"])},
            },
        ]
        return json.dumps({"widgets": widgets}, sort_keys=True)

    return names.apply(render)


_QUERIES: Final = {
    "p95-by-function": (
        # DurationMs is the handler's own time, from the EMF line (REPORT lines are not
        # logged: the system log level is WARN).
        "filter ispresent(DurationMs)\n"
        "| stats count(*) as invocations, pct(DurationMs, 50) as p50, "
        "pct(DurationMs, 95) as p95, pct(DurationMs, 99) as p99, max(DurationMs) as max "
        "by FunctionName"
    ),
    "errors-by-code": (
        'filter ispresent(ErrorCode) or level = "ERROR" or ispresent(errorType)\n'
        '| fields coalesce(ErrorCode, errorType, "logged-error") as code\n'
        "| stats count(*) as n by @log, code\n"
        "| sort n desc"
    ),
    "slowest-requests": (
        "filter ispresent(DurationMs)\n"
        "| sort DurationMs desc\n"
        "| limit 25\n"
        "| fields @timestamp, FunctionName, RequestId, Status, DurationMs, TicksAccepted, "
        "TicksQueued, WriteRetries, Messages"
    ),
}


def _query_definitions(
    name: str, prefix: str, args: ObservabilityArgs, child: pulumi.ResourceOptions
) -> None:
    """Saved Logs Insights queries over every function's log group."""
    groups = [args.functions[role].log_group_name for role in sorted(args.functions)]
    for key, query in _QUERIES.items():
        cloudwatch.QueryDefinition(
            f"{name}-query-{key}",
            # A slash in the name files the query in a folder of the console.
            name=f"{prefix.replace('-', '/', 1)}/{key}",
            log_group_names=groups,
            query_string=query,
            opts=child,
        )
