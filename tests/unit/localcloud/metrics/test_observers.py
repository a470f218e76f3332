"""Observers record what AWS would: Lambda per invocation, DynamoDB per call, EMF per line."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.core.metrics import MetricsLogger
from localcloud.faults import FaultInjector
from localcloud.metrics.observers import ApiMetrics, DynamoDBMetrics, EmfMetrics, LambdaMetrics
from localcloud.metrics.store import MetricStore, metric_key
from localcloud.runtime.functions import FunctionError, FunctionSpec, LambdaFunction

CODE = """
def ok(event, context):
    return {}


def boom(event, context):
    raise ValueError("boom")
"""


def _sum(store: MetricStore, namespace: str, name: str, **dimensions: str) -> float | None:
    now = int(store.now())
    cell = store.cell(metric_key(namespace, name, dimensions), now - 60, now + 1)
    return None if cell is None else cell.statistic("Sum")


async def test_each_invocation_is_counted_with_its_duration_and_errors(tmp_path: Path) -> None:
    (tmp_path / "obsfn.py").write_text(CODE, encoding="utf-8")
    store = MetricStore()
    with ThreadPoolExecutor(2) as pool:
        functions = {}
        for handler in ("ok", "boom"):
            spec = FunctionSpec(
                name=f"fn-{handler}",
                arn=f"arn:aws:lambda:us-east-1:123456789012:function:fn-{handler}",
                handler=f"obsfn.{handler}",
                code_dir=tmp_path,
            )
            functions[handler] = LambdaFunction(spec, {}, pool)
            functions[handler].load()
            functions[handler].observer = LambdaMetrics(store)
        # GIVEN 3 good invocations and 2 failing ones
        for _ in range(3):
            await functions["ok"].invoke({})
        for _ in range(2):
            with pytest.raises(FunctionError):
                await functions["boom"].invoke({})
        functions["ok"].observe_iterator_age(1234.0)
    # THEN Invocations, Errors, Duration samples and IteratorAge are what happened
    assert _sum(store, "AWS/Lambda", "Invocations", FunctionName="fn-ok") == 3
    assert _sum(store, "AWS/Lambda", "Errors", FunctionName="fn-ok") == 0
    assert _sum(store, "AWS/Lambda", "Invocations", FunctionName="fn-boom") == 2
    assert _sum(store, "AWS/Lambda", "Errors", FunctionName="fn-boom") == 2
    now = int(store.now())
    duration = store.cell(
        metric_key("AWS/Lambda", "Duration", {"FunctionName": "fn-ok"}), now - 60, now + 1
    )
    assert duration is not None and duration.count == 3
    assert _sum(store, "AWS/Lambda", "IteratorAge", FunctionName="fn-ok") == 1234.0


def test_api_metrics_use_each_kind_s_names_and_dimensions() -> None:
    store = MetricStore()
    http = ApiMetrics(store, kind="http", dimensions={"ApiId": "abc"})
    rest = ApiMetrics(store, kind="rest", dimensions={"ApiName": "q"})
    for status in (200, 404, 500):
        http.request("$default", status, 10.0, 5.0)
        rest.request("v1", status, 10.0, None)
    assert _sum(store, "AWS/ApiGateway", "Count", ApiId="abc", Stage="$default") == 3
    assert _sum(store, "AWS/ApiGateway", "4xx", ApiId="abc", Stage="$default") == 1
    assert _sum(store, "AWS/ApiGateway", "5xx", ApiId="abc", Stage="$default") == 1
    assert _sum(store, "AWS/ApiGateway", "IntegrationLatency", ApiId="abc", Stage="$default") == 15
    assert _sum(store, "AWS/ApiGateway", "4XXError", ApiName="q", Stage="v1") == 1
    assert _sum(store, "AWS/ApiGateway", "5XXError", ApiName="q", Stage="v1") == 1
    assert _sum(store, "AWS/ApiGateway", "IntegrationLatency", ApiName="q", Stage="v1") is None


def test_dynamodb_calls_give_latency_capacity_and_throttle_events(fake_aws_env: None) -> None:
    store = MetricStore()
    faults = FaultInjector(seed=1)
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        DynamoDBMetrics(store).install(session._session)
        faults.install(session._session)
        client = session.client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        items: list[Any] = [
            {"PutRequest": {"Item": {"k": {"S": f"k{i}"}, "b": {"B": b"x" * 1500}}}}
            for i in range(4)
        ]
        # GIVEN a batch of 4 items of 1.5 KB (2 WCUs each) written
        client.batch_write_item(RequestItems={"t": items})
        # AND the same batch throttled (an injected fault)
        faults.fail_writes = 1.0
        with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
            client.batch_write_item(RequestItems={"t": items})
        faults.fail_writes = 0.0
        client.scan(TableName="t")
    dims = {"TableName": "t"}
    assert _sum(store, "AWS/DynamoDB", "ConsumedWriteCapacityUnits", **dims) == 8
    assert _sum(store, "AWS/DynamoDB", "WriteThrottleEvents", **dims) == 4
    assert (
        _sum(store, "AWS/DynamoDB", "ThrottledRequests", TableName="t", Operation="BatchWriteItem")
        == 1
    )
    # 4 items of ~1.5 KB in one eventually consistent Scan: ceil(6 KB / 4 KB) / 2
    assert _sum(store, "AWS/DynamoDB", "ConsumedReadCapacityUnits", **dims) == 1.0
    latency = metric_key(
        "AWS/DynamoDB", "SuccessfulRequestLatency", {"TableName": "t", "Operation": "Scan"}
    )
    now = int(store.now())
    assert store.cell(latency, now - 60, now + 1) is not None


def test_emf_lines_become_metrics_and_other_lines_do_not() -> None:
    store = MetricStore()
    emf = EmfMetrics(store)
    lines: list[str] = []
    logger = MetricsLogger(stack="dev", function="fn", emit=lines.append)
    logger.count("TicksAccepted", 7)
    logger.record("BlockSize", 3)
    logger.record("BlockSize", 5)
    logger.flush()
    for line in [*lines, "not json", '{"_aws": {"CloudWatchMetrics": 5}}', json.dumps({"a": 1})]:
        emf.line(line)
    dims = {"Stack": "dev", "FunctionName": "fn"}
    assert _sum(store, "MarketStream", "TicksAccepted", **dims) == 7
    assert _sum(store, "MarketStream", "BlockSize", **dims) == 8
    assert (emf.lines, emf.rejected) == (1, 1)


def test_throttled_invocations_count(tmp_path: Path) -> None:
    (tmp_path / "obsfn2.py").write_text(CODE, encoding="utf-8")
    store = MetricStore()

    async def run() -> None:
        with ThreadPoolExecutor(1) as pool:
            spec = FunctionSpec(
                name="fn-r",
                arn="arn:aws:lambda:us-east-1:123456789012:function:fn-r",
                handler="obsfn2.ok",
                code_dir=tmp_path,
                reserved_concurrency=0,
            )
            function = LambdaFunction(spec, {}, pool)
            function.load()
            function.observer = LambdaMetrics(store)
            with pytest.raises(Exception, match="reserved concurrency"):
                await function.invoke({})

    asyncio.run(run())
    assert _sum(store, "AWS/Lambda", "Throttles", FunctionName="fn-r") == 1


def test_only_queues_the_alarms_or_dashboards_read_are_sampled() -> None:
    from localcloud.deploy.program import Deployment, Resource
    from localcloud.metrics.observers import watched_queues

    deployment = Deployment("dev")
    alarm = {"namespace": "AWS/SQS", "dimensions": {"QueueName": "dlq"}}
    other = {"namespace": "AWS/Lambda", "dimensions": {"FunctionName": "f"}}
    body = {
        "widgets": [
            {"properties": {"metrics": [["AWS/SQS", "X", "QueueName", "spill", {"label": "s"}]]}},
            {"properties": {"metrics": [["AWS/Lambda", "Errors", "FunctionName", "f"]]}},
        ]
    }
    for name, typ, outputs in (
        ("a", "aws:cloudwatch/metricAlarm:MetricAlarm", alarm),
        ("b", "aws:cloudwatch/metricAlarm:MetricAlarm", other),
        ("d", "aws:cloudwatch/dashboard:Dashboard", {"dashboardBody": json.dumps(body)}),
    ):
        deployment.resources.append(Resource(typ, name, name, True, {}, outputs))
    assert watched_queues(deployment) == {"dlq", "spill"}
