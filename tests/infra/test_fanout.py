"""The FanoutPath component, for each stack: stream sources, topic, subscriber queues, WebSocket.

Expected values come from the stack files (subscribers, retries, batch sizes), so a program that
ignored a stack setting fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.core.settings import ENV
from infra.config import ConfigError, StackConfig, parse_config
from tests.infra.pulumi_mocks import Recorded, StackRun, run_program, stack_file

FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ROUTE = "aws:apigatewayv2/route:Route"


def _config(run: StackRun) -> StackConfig:
    raw = {k.split(":", 1)[1]: v for k, v in run.config.items() if k.startswith("marketstream:")}
    return parse_config(raw)


def _function(run: StackRun, handler: str) -> Recorded:
    (found,) = [f for f in run.of_type(FUNCTION) if f.inputs["handler"] == handler]
    return found


def _topic(run: StackRun) -> Recorded:
    return run.one("aws:sns/topic:Topic", "fanout-topic")


def _stream_arn(run: StackRun) -> str:
    arn: str = run.one("aws:dynamodb/table:Table", "ticks-table").outputs["streamArn"]
    return arn


def test_fanout_consumer_mapping_is_bounded_and_reports_partial_failures(
    stack_run: StackRun,
) -> None:
    mapping = stack_run.one(MAPPING, "fanout-consumer-source").inputs
    consumer = _function(stack_run, "handlers.fanout.handler")
    failures = stack_run.one(QUEUE, "fanout-failures")
    retries, age = {"dev": (3, 3600), "prod": (5, 7200)}[stack_run.stack]
    assert mapping["eventSourceArn"] == _stream_arn(stack_run)
    assert mapping["functionName"] == consumer.outputs["arn"]
    assert mapping["startingPosition"] == "LATEST"
    # A second of blocks per batch: the rollups cost writes per symbol and batch.
    assert mapping["batchSize"] == 1_000
    assert mapping["maximumBatchingWindowInSeconds"] == 1
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["maximumRetryAttempts"] == retries
    assert mapping["maximumRecordAgeInSeconds"] == age
    assert mapping["maximumRetryAttempts"] >= 0 and mapping["maximumRecordAgeInSeconds"] >= 60
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["destinationConfig"] == {
        "onFailure": {"destinationArn": failures.outputs["arn"]}
    }
    (pattern,) = mapping["filterCriteria"]["filters"]
    assert json.loads(pattern["pattern"]) == {"eventName": ["INSERT", "MODIFY"]}


def test_broadcast_mapping_reads_the_same_stream_with_short_bounded_retries(
    stack_run: StackRun,
) -> None:
    mapping = stack_run.one(MAPPING, "fanout-broadcast-source").inputs
    broadcast = _function(stack_run, "handlers.broadcast.handler")
    assert mapping["eventSourceArn"] == _stream_arn(stack_run)
    assert mapping["functionName"] == broadcast.outputs["arn"]
    assert mapping["startingPosition"] == "LATEST"
    assert mapping["maximumRetryAttempts"] == 1
    assert mapping["maximumRecordAgeInSeconds"] == 60
    assert mapping["bisectBatchOnFunctionError"] is False
    assert "destinationConfig" not in mapping
    assert len(stack_run.of_type(MAPPING)) == 3  # replay, fan-out, broadcast


def test_one_filtered_raw_subscription_per_subscriber(stack_run: StackRun) -> None:
    subscribers = stack_run.config["marketstream:subscribers"]
    topic = _topic(stack_run)
    subscriptions = {
        s.name: s.inputs
        for s in stack_run.of_type(SUBSCRIPTION)
        if s.inputs["topic"] == topic.outputs["arn"]
    }
    assert sorted(subscriptions) == sorted(
        f"fanout-sub-{s['name']}-subscription" for s in subscribers
    )
    for subscriber in subscribers:
        name = subscriber["name"]
        queue = stack_run.one(QUEUE, f"fanout-sub-{name}")
        subscription = subscriptions[f"fanout-sub-{name}-subscription"]
        assert subscription["topic"] == topic.outputs["arn"]
        assert subscription["protocol"] == "sqs"
        assert subscription["endpoint"] == queue.outputs["arn"]
        assert subscription["rawMessageDelivery"] is True
        assert subscription["filterPolicyScope"] == "MessageAttributes"
        assert json.loads(subscription["filterPolicy"]) == {"symbol": sorted(subscriber["symbols"])}


def test_each_subscriber_queue_has_its_own_dlq(stack_run: StackRun) -> None:
    for subscriber in stack_run.config["marketstream:subscribers"]:
        name = subscriber["name"]
        queue = stack_run.one(QUEUE, f"fanout-sub-{name}").inputs
        dlq = stack_run.one(QUEUE, f"fanout-sub-{name}-dlq")
        assert json.loads(queue["redrivePolicy"]) == {
            "deadLetterTargetArn": dlq.outputs["arn"],
            "maxReceiveCount": subscriber.get("maxReceiveCount", 5),
        }


def test_queue_policies_let_only_the_topic_send(stack_run: StackRun) -> None:
    topic = _topic(stack_run).outputs["arn"]
    policies = stack_run.of_type(QUEUE_POLICY)
    assert len(policies) == len(stack_run.config["marketstream:subscribers"])
    for policy in policies:
        queue = next(
            q for q in stack_run.of_type(QUEUE) if q.outputs["url"] == policy.inputs["queueUrl"]
        )
        (statement,) = json.loads(policy.inputs["policy"])["Statement"]
        assert statement == {
            "Sid": "TopicSends",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.outputs["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
        }


def test_websocket_api_routes_integration_and_stage(stack_run: StackRun) -> None:
    api = stack_run.one("aws:apigatewayv2/api:Api", "fanout-ws")
    assert api.inputs["protocolType"] == "WEBSOCKET"
    assert api.inputs["routeSelectionExpression"] == "$request.body.action"
    ws = _function(stack_run, "handlers.ws.handler")
    integration = stack_run.one("aws:apigatewayv2/integration:Integration", "fanout-ws-integration")
    assert integration.inputs["apiId"] == api.id
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["integrationUri"] == ws.outputs["invokeArn"]
    routes = {
        r.inputs["routeKey"]: r for r in stack_run.of_type(ROUTE) if r.inputs["apiId"] == api.id
    }
    assert sorted(routes) == ["$connect", "$default", "$disconnect", "subscribe", "unsubscribe"]
    for route in routes.values():
        assert route.inputs["target"] == f"integrations/{integration.id}"
    responses = {
        r.inputs["routeId"]: r.inputs
        for r in stack_run.of_type("aws:apigatewayv2/routeResponse:RouteResponse")
    }
    replying = {"subscribe", "unsubscribe", "$default"}
    assert sorted(responses) == sorted(routes[k].id for k in replying)
    for key in replying:
        assert routes[key].inputs["routeResponseSelectionExpression"] == "$default"
        assert responses[routes[key].id]["routeResponseKey"] == "$default"
    stage = stack_run.one("aws:apigatewayv2/stage:Stage", "fanout-ws-stage").inputs
    rate, burst = {"dev": (100, 200), "prod": (500, 1000)}[stack_run.stack]
    assert stage["apiId"] == api.id
    assert stage["name"] == "live"
    assert stage["autoDeploy"] is True
    assert stage["defaultRouteSettings"] == {
        "throttlingRateLimit": rate,
        "throttlingBurstLimit": burst,
    }
    permission = stack_run.one("aws:lambda/permission:Permission", "fanout-invoke-ws").inputs
    assert permission["function"] == ws.outputs["name"]
    assert permission["sourceArn"] == f"{api.outputs['executionArn']}/live/*"


def test_connections_table_is_on_demand_with_ttl(stack_run: StackRun) -> None:
    table = stack_run.one("aws:dynamodb/table:Table", "fanout-connections").inputs
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["hashKey"] == "connection_id"
    assert "rangeKey" not in table
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert "streamEnabled" not in table


def test_function_environments(stack_run: StackRun) -> None:
    config = _config(stack_run)
    topic = _topic(stack_run).outputs["arn"]
    table = stack_run.one("aws:dynamodb/table:Table", "fanout-connections").outputs["name"]
    secret = stack_run.one("aws:secretsmanager/secret:Secret", "fanout-read-token-secret")
    assert secret.inputs["name"] == f"marketstream/{stack_run.stack}/read-token"
    api = stack_run.one("aws:apigatewayv2/api:Api", "fanout-ws").id
    env = {
        f.inputs["handler"]: f.inputs["environment"]["variables"]
        for f in stack_run.of_type(FUNCTION)
    }
    ticks = stack_run.one("aws:dynamodb/table:Table", "ticks-table").outputs["name"]
    bars = stack_run.one("aws:dynamodb/table:Table", "ticks-bars").outputs["name"]
    assert env["handlers.fanout.handler"] == {
        ENV.TOPIC_ARN: topic,
        ENV.STACK: stack_run.stack,
        ENV.TABLE_NAME: ticks,
        ENV.BARS_TABLE: bars,
        ENV.BAR_RETENTION_DAYS: json.dumps(
            config.bar_retention_days, sort_keys=True, separators=(",", ":")
        ),
    }
    assert env["handlers.ws.handler"] == {
        ENV.CONNECTIONS_TABLE: table,
        ENV.TOKEN_SECRET_ID: secret.outputs["arn"],
        ENV.CONNECTION_TTL_S: str(config.connection_ttl_s),
        ENV.STACK: stack_run.stack,
    }
    assert env["handlers.broadcast.handler"] == {
        ENV.CONNECTIONS_TABLE: table,
        ENV.WS_ENDPOINT: f"https://{api}.execute-api.us-east-1.amazonaws.com/live",
        ENV.STACK: stack_run.stack,
    }


def test_exports_ws_url_and_subscriber_queue_urls(stack_run: StackRun) -> None:
    api = stack_run.one("aws:apigatewayv2/api:Api", "fanout-ws").id
    assert stack_run.exports["ws_url"] == f"wss://{api}.execute-api.us-east-1.amazonaws.com/live"
    urls = json.loads(stack_run.exports["subscriber_queue_urls"])
    assert urls == {
        s["name"]: stack_run.one(QUEUE, f"fanout-sub-{s['name']}").outputs["url"]
        for s in stack_run.config["marketstream:subscribers"]
    }


def test_no_subscribers_means_no_queues_and_an_empty_map() -> None:
    config = {k: v for k, v in stack_file("dev").items() if k != "marketstream:subscribers"}
    run = run_program("dev", config)
    assert not [s for s in run.of_type(SUBSCRIPTION) if s.inputs["protocol"] == "sqs"]
    assert [q.name for q in run.of_type(QUEUE) if q.name.startswith("fanout-sub-")] == []
    assert json.loads(run.exports["subscriber_queue_urls"]) == {}


def test_subscriber_symbols_are_upper_cased_into_the_filter() -> None:
    config = {
        **stack_file("dev"),
        "marketstream:subscribers": [{"name": "one", "symbols": ["msft", "aapl"]}],
    }
    run = run_program("dev", config)
    subscription = run.one(SUBSCRIPTION, "fanout-sub-one-subscription").inputs
    assert json.loads(subscription["filterPolicy"]) == {"symbol": ["AAPL", "MSFT"]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"subscribers": [{"name": "a", "symbols": ["X"]}, {"name": "a", "symbols": ["Y"]}]},
            r"marketstream:subscribers\[1\]\.name: must be unique",
        ),
        (
            {"subscribers": [{"name": "a", "symbols": ["no spaces"]}]},
            r"marketstream:subscribers\[0\]\.symbols: 'no spaces' must be 1-16 characters",
        ),
        (
            {"subscribers": [{"name": "a", "symbols": ["X", "x"]}]},
            r"marketstream:subscribers\[0\]\.symbols: symbols must be unique",
        ),
        (
            {"subscribers": [{"name": "a", "symbols": []}]},
            r"marketstream:subscribers\[0\]\.symbols: must have at least 1 entry",
        ),
        (
            {"subscribers": [{"name": "Bad_Name", "symbols": ["X"]}]},
            r"marketstream:subscribers\[0\]\.name: must match",
        ),
        ({"fanoutMaxRetries": -1}, "marketstream:fanoutMaxRetries: must be between 0 and 10000"),
        (
            {"fanoutMaxRecordAgeS": -1},
            "marketstream:fanoutMaxRecordAgeS: must be between 60 and 604800",
        ),
        ({"streamBatchSize": 0}, "marketstream:streamBatchSize: must be between 1 and 10000"),
        ({"connectionTtlS": 60}, "marketstream:connectionTtlS: must be between 7200 and"),
    ],
)
def test_bad_fanout_config_names_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)
