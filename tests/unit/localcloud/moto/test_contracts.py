"""What each patch relies on in moto's own (unpatched) behaviour: one contract test per patch.

A moto upgrade that breaks an assumption fails `test_contract_<patch>`, named after the patch in
localcloud/moto/patches.py whose docstring says what to do about it.
"""

from __future__ import annotations

import datetime
import http.client
import json
import random
import sys
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlsplit

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.moto_server import threaded_moto_server, werkzeug_app
from moto.sqs.models import Queue, sqs_backends
from werkzeug.test import EnvironBuilder

from localcloud.moto.patches import _CACHEABLE, _ITEM_OPERATIONS, PATCHES, _item_answer, _wire_json

REGION = "us-east-1"


def test_every_patch_has_a_contract_test() -> None:
    module = sys.modules[__name__]
    tests = [name for name in dir(module) if name.startswith("test_contract_")]
    missing = [
        p.name for p in PATCHES if not any(t.startswith(f"test_contract_{p.name}") for t in tests)
    ]
    assert missing == []


# -- speed_up_dispatch ---------------------------------------------------------------------------

# A signed request of each cached service: (signing service, X-Amz-Target prefix or "").
_SIGNED = {
    "dynamodb": "DynamoDB_20120810",
    "sqs": "AmazonSQS",
    "secretsmanager": "secretsmanager",
    "ssm": "AmazonSSM",
    "sns": "",
    "sts": "",
    "logs": "Logs_20140328",
    "events": "AWSEvents",
    "kinesis": "Kinesis_20131202",
}


def _environ(service: str, target: str, *, path: str, host: str, body: str) -> dict[str, Any]:
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKID/20250101/{REGION}/{service}/"
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd",
        "Host": host,
        "Content-Type": f"application/{'x-amz-json-1.0' if target else 'x-www-form-urlencoded'}",
    }
    if target:
        headers["X-Amz-Target"] = target
    builder = EnvironBuilder(path=path, method="POST", headers=list(headers.items()), data=body)
    return builder.get_environ()


def test_contract_speed_up_dispatch_app_depends_only_on_service_region_and_target() -> None:
    assert set(_SIGNED) == _CACHEABLE
    dispatcher = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
    apps = {}
    for service, prefix in _SIGNED.items():
        variants = [
            _environ(
                service,
                f"{prefix}.{action}" if prefix else "",
                path=path,
                host=host,
                body=json.dumps({"Action": action}) if prefix else f"Action={action}&Version=1",
            )
            for action in ("ListThings", "PutThing")
            for path in ("/", f"/{DEFAULT_ACCOUNT_ID}/thing")
            for host in ("127.0.0.1:5000", f"{service}.{REGION}.amazonaws.com")
        ]
        found = {id(dispatcher.get_application(environ)) for environ in variants}
        assert len(found) == 1, service  # the rest of the request never matters
        apps[service] = found.pop()
    # The target prefix is part of the key because it does matter: Streams signs as dynamodb.
    streams = _environ(
        "dynamodb", "DynamoDBStreams_20120810.GetRecords", path="/", host="h", body="{}"
    )
    assert id(dispatcher.get_application(streams)) != apps["dynamodb"]
    assert len(set(apps.values())) == len(apps)


def test_contract_speed_up_dispatch_method_names_are_fixed_per_class() -> None:
    from moto.core import responses

    listed = getattr(responses, "method_names_from_class")  # noqa: B009 (not exported)
    assert getattr(listed, "cache_info", None) is None  # unpatched here
    names = listed(DynamoHandler)
    assert "batch_write_item" in names and "query" in names
    handler = DynamoHandler()
    assert listed(type(handler)) == names  # an instance adds nothing: the class decides
    assert listed(DynamoDBStreamsHandler) != names


# -- serialise_dynamodb --------------------------------------------------------------------------


@pytest.fixture
def dynamodb(fake_aws_env: None) -> Iterator[Any]:
    """A client on moto in-process, with a table `ticks` (symbol/sk strings, one GSI `by_sk`)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="ticks",
            KeySchema=[
                {"AttributeName": "symbol", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "symbol", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_sk",
                    "KeySchema": [{"AttributeName": "sk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for symbol in ("AAA", "BBB"):
            for n in range(20):
                client.put_item(
                    TableName="ticks", Item={"symbol": {"S": symbol}, "sk": {"S": f"{n:03d}"}}
                )
        yield client


def _table() -> Table:
    table: Table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table("ticks")
    return table


def test_contract_serialise_dynamodb_query_arguments_and_item_layout(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any], int]] = []
    original_query, original_all = Table.query, Table.all_items
    all_items_calls = 0

    def all_items(self: Table) -> Any:
        nonlocal all_items_calls
        all_items_calls += 1
        return original_all(self)

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        before = all_items_calls
        result = original_query(self, hash_key, *args, **kwargs)
        calls.append(((hash_key, *args), kwargs, all_items_calls - before))
        return result

    monkeypatch.setattr(Table, "all_items", all_items)
    monkeypatch.setattr(Table, "query", query)
    start = {"symbol": {"S": "AAA"}, "sk": {"S": "015"}}
    dynamodb.query(
        TableName="ticks",
        KeyConditionExpression="symbol = :s AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={":s": {"S": "AAA"}, ":lo": {"S": "003"}, ":hi": {"S": "017"}},
        Limit=4,
        ExclusiveStartKey=start,
        ScanIndexForward=False,
    )
    dynamodb.query(
        TableName="ticks",
        IndexName="by_sk",
        KeyConditionExpression="sk = :k",
        ExpressionAttributeValues={":k": {"S": "003"}},
    )
    (base_args, _, base_scans), (index_args, index_kwargs, _) = calls
    # The positions `serialise_dynamodb`'s query and `_page_candidates` read (after hash_key).
    hash_key, comparison, objs, limit, start_key, forward, _projection, index_name = base_args[:8]
    assert hash_key == DynamoType({"S": "AAA"})
    assert (comparison, [o.value for o in objs], limit) == ("BETWEEN", ["003", "017"], 4)
    assert (start_key, forward, index_name) == (start, False, None)
    assert base_scans == 1  # the one call the patch answers with the narrowed partition
    assert len(index_args) > 7 and index_args[7] == "by_sk"
    assert "index_name" not in index_kwargs
    # The layout the patch reads directly: items[hash DynamoType][range DynamoType] -> item.
    table = _table()
    assert table.range_key_attr == "sk"
    partition = table.items[DynamoType({"S": "AAA"})]
    assert sorted(k.value for k in partition) == [f"{n:03d}" for n in range(20)]
    assert all(k.type == "S" and item.range_key == k for k, item in partition.items())


def test_contract_serialise_dynamodb_query_sorts_what_all_items_hands_it(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _table()
    shuffled = list(table.items[DynamoType({"S": "AAA"})].values())
    random.Random(7).shuffle(shuffled)
    monkeypatch.setattr(table, "all_items", lambda: shuffled)
    hash_key = DynamoType({"S": "AAA"})
    items, _, last = table.query(hash_key, None, [], 5, cast(Any, None), False, None)
    assert [cast(DynamoType, i.range_key).value for i in items] == [
        "019",
        "018",
        "017",
        "016",
        "015",
    ]
    assert last == {"symbol": hash_key, "sk": DynamoType({"S": "015"})}


def test_contract_serialise_dynamodb_every_call_goes_through_call_action(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action

        def call_action(self: Any, _original: Any = original) -> Any:
            seen.append(type(self).__name__)
            return _original(self)

        monkeypatch.setattr(handler, "call_action", call_action)
    dynamodb.get_item(TableName="ticks", Key={"symbol": {"S": "AAA"}, "sk": {"S": "001"}})
    boto3.client("dynamodbstreams", region_name=REGION).list_streams(TableName="ticks")
    assert seen == ["DynamoHandler", "DynamoDBStreamsHandler"]


# -- fast_get_records ----------------------------------------------------------------------------


def _without_times(answer: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    """The answer without its iterator (new and random on every call), and its records' times."""
    times = [r["dynamodb"].pop("ApproximateCreationDateTime") for r in answer["Records"]]
    return {k: v for k, v in answer.items() if k != "NextShardIterator"}, times


def test_contract_fast_get_records_answer_is_what_moto_serialises(dynamodb: Any) -> None:
    key = {"symbol": {"S": "CCC"}, "sk": {"S": "001"}}
    dynamodb.put_item(
        TableName="ticks",
        Item={
            **key,
            "b": {"B": b"\x00\xff\x10"},
            "bs": {"BS": [b"a", b"\x01"]},
            "n": {"N": "1.5"},
            "ns": {"NS": ["1", "2"]},
            "ss": {"SS": ["x", "y"]},
            "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"S": "é"}]}}},
        },
    )
    dynamodb.put_item(TableName="ticks", Item={**key, "n": {"N": "2"}})
    dynamodb.delete_item(TableName="ticks", Key=key)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName="ticks")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    bodies: list[bytes] = []
    streams.meta.events.register(
        "before-parse.*.GetRecords", lambda response_dict, **_: bodies.append(response_dict["body"])
    )
    streams.get_records(ShardIterator=iterator, Limit=100)
    backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][REGION]
    fast = json.dumps(backend.get_records(iterator, 100), default=_wire_json)
    moto_answer, fast_answer = json.loads(bodies[0]), json.loads(fast)
    assert "NextShardIterator" in moto_answer and "NextShardIterator" in fast_answer
    assert [r["eventName"] for r in fast_answer["Records"]][-3:] == ["INSERT", "MODIFY", "REMOVE"]
    fast_rest, fast_times = _without_times(fast_answer)
    moto_rest, moto_times = _without_times(moto_answer)
    assert fast_rest == moto_rest
    # Epoch seconds both; moto's serializer truncates to the millisecond, the fast writer does not.
    assert len(fast_times) == len(moto_times)
    assert all(0 <= f - m < 0.001 + 1e-6 for f, m in zip(fast_times, moto_times, strict=True))


# -- fast_item_answers ---------------------------------------------------------------------------

_scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=8)),
    st.builds(
        lambda n: {"N": str(n)}, st.decimals(allow_nan=False, allow_infinity=False, places=3)
    ),
    st.builds(lambda b: {"B": b}, st.binary(min_size=1, max_size=8)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(
        lambda s: {"SS": sorted(s)},
        st.sets(st.text(min_size=1, max_size=4), min_size=1, max_size=3),
    ),
    st.builds(
        lambda s: {"BS": sorted(s)},
        st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=3),
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
        st.builds(
            lambda m: {"M": m}, st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=3)
        ),
    ),
    max_leaves=6,
)
_attributes = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3), _values, max_size=4
)


class _Answers:
    """What moto's serializer wrote for each DynamoResult, beside what `_item_answer` writes."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any], bytes]] = []

    def execute_result(self, original: Any) -> Any:
        def execute_result(result: DynamoResult, context: Any) -> Any:
            status, headers, body = original(result, context)
            name, members = (
                context.operation_model.name,
                context.operation_model.output_shape.members,
            )
            direct = (
                _item_answer(cast(dict[str, Any], result.result), members)
                if name in _ITEM_OPERATIONS
                else ""
            )
            self.seen.append((name, direct, dict(headers), body))
            return status, headers, body

        return execute_result


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(_attributes, min_size=1, max_size=4))
def test_contract_fast_item_answers_json_dumps_writes_what_moto_serialises(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, items: list[dict[str, Any]]
) -> None:
    answers = _Answers()
    monkeypatch.setattr(
        DynamoResult, "execute_result", answers.execute_result(DynamoResult.execute_result)
    )
    keys = [{"symbol": {"S": "CCC"}, "sk": {"S": f"{n:03d}"}} for n in range(len(items))]
    dynamodb.batch_write_item(
        RequestItems={
            "ticks": [
                {"PutRequest": {"Item": {**item, **key}}}
                for item, key in zip(items, keys, strict=True)
            ]
        }
    )
    dynamodb.query(
        TableName="ticks",
        KeyConditionExpression="symbol = :s",
        ExpressionAttributeValues={":s": {"S": "CCC"}},
        Limit=max(1, len(items) - 1),
        ReturnConsumedCapacity="TOTAL",
    )
    dynamodb.get_item(TableName="ticks", Key=keys[0])
    dynamodb.batch_get_item(RequestItems={"ticks": {"Keys": keys}})
    dynamodb.put_item(TableName="ticks", Item={**items[0], **keys[0]}, ReturnValues="ALL_OLD")
    dynamodb.delete_item(TableName="ticks", Key=keys[-1], ReturnValues="ALL_OLD")
    dynamodb.describe_table(TableName="ticks")  # not an item answer: left to moto
    operations = {name for name, *_ in answers.seen}
    assert operations == {
        "Query",
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "DeleteItem",
        "DescribeTable",
    }
    for name, direct, headers, body in answers.seen:
        if name in _ITEM_OPERATIONS:
            assert json.loads(direct) == json.loads(body), name
            assert headers == {"Content-Type": "application/x-amz-json-1.0"}
    assert operations - _ITEM_OPERATIONS == {"DescribeTable"}


# -- cheap_sqs_send ------------------------------------------------------------------------------


class _Reads(dict[str, Any]):
    """A queue's attributes that note every key read from them."""

    reads: list[str]

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.append(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.reads.append(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.reads.append(str(key))
        return super().__contains__(key)


def test_contract_cheap_sqs_send_reads_only_the_dedup_flag_and_attributes_count(
    fake_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        urls: dict[str, dict[Any, str]] = {
            "dedup.fifo": {"FifoQueue": "true", "ContentBasedDeduplication": "true"},
            "nodedup.fifo": {"FifoQueue": "true"},
            "standard": {},
        }
        for name, attributes in urls.items():
            sqs.create_queue(QueueName=name, Attributes=attributes)
        queues: dict[str, Queue] = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues
        # What the patched property answers during a send must be what moto's answers.
        for queue in queues.values():
            full = queue.attributes
            flag = getattr(queue, "content_based_deduplication", False)
            assert queue.fifo_queue == queue.name.endswith(".fifo")
            expected = {"ContentBasedDeduplication": str(flag).lower()} if queue.fifo_queue else {}
            assert {k: full[k] for k in expected} == expected
            assert queue.fifo_queue or "ContentBasedDeduplication" not in full
        assert queues["dedup.fifo"].attributes["ContentBasedDeduplication"] == "true"

        reads: list[str] = []
        full_attributes = Queue.attributes

        def noted(self: Queue) -> _Reads:
            attributes = _Reads(full_attributes.fget(self))  # type: ignore[attr-defined]
            attributes.reads = reads
            return attributes

        monkeypatch.setattr(Queue, "attributes", property(noted))
        for name in urls:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            for body in ("same", "same", "other"):
                options: dict[str, Any] = {"MessageGroupId": "g"} if name.endswith(".fifo") else {}
                if name == "nodedup.fifo":
                    options["MessageDeduplicationId"] = body
                sqs.send_message(QueueUrl=url, MessageBody=body, **options)
        assert set(reads) == {"ContentBasedDeduplication"}
        monkeypatch.undo()

        # Why the patch exists: moto's property counts the queue's messages on every read.
        counts = {name: queues[name].attributes["ApproximateNumberOfMessages"] for name in urls}
        assert counts == {"dedup.fifo": 2, "nodedup.fifo": 2, "standard": 3}


# -- keep_alive ----------------------------------------------------------------------------------


def test_contract_keep_alive_moto_closes_every_connection(unpatched_moto: str) -> None:
    assert vars(threaded_moto_server)["MotoRequestHandler"] is werkzeug_app.MotoRequestHandler
    netloc = urlsplit(unpatched_moto).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        body = "Action=GetCallerIdentity&Version=2011-06-15"
        connection.request(
            "POST",
            "/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sts/"
                "aws4_request, SignedHeaders=host, Signature=00",
            },
        )
        response = connection.getresponse()
        assert response.status == 200
        assert b"GetCallerIdentityResponse" in response.read()
        # HTTP/1.1 (keep-alive by default) with the header the patch's handler drops.
        assert response.version == 11
        assert response.getheader("Connection") == "close"
        assert response.getheader("Content-Length") is not None
    finally:
        connection.close()


# -- cloudwatch_metrics --------------------------------------------------------------------------


def test_contract_cloudwatch_metrics_moto_expands_counts_and_knows_no_percentile(
    fake_aws_env: None,
) -> None:
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

    at = datetime.datetime(2026, 1, 1, 0, 0, 1, tzinfo=datetime.UTC)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        metric = {"MetricName": "Duration", "Dimensions": [{"Name": "F", "Value": "f"}]}
        cloudwatch.put_metric_data(
            Namespace="N",
            MetricData=[{**metric, "Timestamp": at, "Values": [1.0, 5.0], "Counts": [3.0, 1.0]}],
        )
        cloudwatch.put_metric_data(
            Namespace="N",
            MetricData=[
                {
                    **metric,
                    "Timestamp": at,
                    "StatisticValues": {
                        "SampleCount": 2.0,
                        "Sum": 4.0,
                        "Minimum": 1.0,
                        "Maximum": 3.0,
                    },
                }
            ],
        )
        backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][REGION]
        # Values/Counts: one datum per count (what the patch replaces with one datum).
        kinds = [type(d) for d in backend.metric_data]
        assert kinds == [MetricDatum] * 4 + [MetricAggregatedDatum]
        # The shapes the patch builds on: parsed timestamps, Dimension objects, the attributes.
        datum = backend.metric_data[-1]
        assert isinstance(datum, MetricAggregatedDatum)
        assert datum.timestamp == at.replace(tzinfo=None)  # naive UTC, as the queries
        assert [(d.name, d.value) for d in datum.dimensions] == [("F", "f")]
        assert (datum.min, datum.max, datum.sample_count, datum.sum) == (1.0, 3.0, 2.0, 4.0)
        first = backend.metric_data[0]
        assert isinstance(first, MetricDatum)
        assert first.value == 1.0
        query = {
            "Id": "q",
            "MetricStat": {"Metric": {"Namespace": "N", **metric}, "Period": 60, "Stat": "Sum"},
        }
        window = {
            "StartTime": at - datetime.timedelta(minutes=1),
            "EndTime": at + datetime.timedelta(minutes=1),
        }
        answer = cloudwatch.get_metric_data(MetricDataQueries=[query], **window)
        assert answer["MetricDataResults"][0]["Values"] == [12.0]
        # No percentile: GetMetricStatistics drops ExtendedStatistics, datapoints carry their
        # datums as `metric_data` (the patch computes percentiles from them).
        points = cloudwatch.get_metric_statistics(
            Namespace="N",
            MetricName="Duration",
            Dimensions=metric["Dimensions"],
            Period=60,
            ExtendedStatistics=["p50"],
            **window,
        )["Datapoints"]
        assert len(points) == 1
        assert "ExtendedStatistics" not in points[0]
        start, end = (window[k].replace(tzinfo=None) for k in ("StartTime", "EndTime"))
        stats = backend.get_metric_statistics("N", "Duration", start, end, 60, ["Sum"], [])
        assert len(stats[0].metric_data) == 5
        # ...and a datapoint object's `extended_statistics` is what the serializer would send.
        assert _serialised_extended_statistics() == {"p50": 1.0}


def _serialised_extended_statistics() -> dict[str, float]:
    from moto.cloudwatch.models import Statistics
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    point = Statistics(["Sum"], datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    point.extended_statistics = {"p50": 1.0}  # type: ignore[attr-defined]
    original = CloudWatchResponse.get_metric_statistics
    try:
        CloudWatchResponse.get_metric_statistics = (  # type: ignore[method-assign]
            lambda self: ActionResult({"Label": "Duration", "Datapoints": [point]})
        )
        with mock_aws():
            cloudwatch = boto3.client("cloudwatch", region_name=REGION)
            answer = cloudwatch.get_metric_statistics(
                Namespace="N",
                MetricName="Duration",
                StartTime=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                EndTime=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
                Period=60,
                Statistics=["Sum"],
            )
    finally:
        CloudWatchResponse.get_metric_statistics = original  # type: ignore[method-assign]
    return dict(answer["Datapoints"][0]["ExtendedStatistics"])
