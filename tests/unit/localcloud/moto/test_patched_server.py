"""The patched moto process answers the calls the local cloud relies on as moto itself does."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from localcloud.moto.server import MotoServer
from localcloud.sources.records import GetRecordsError, RecordReader

REGION = "us-east-1"
# Two partitions; AAA has 50 items (two BatchWriteItem calls of 25), BBB 10.
PARTITIONS = {"AAA": 50, "BBB": 10}


@pytest.fixture(scope="module")
def patched_moto() -> Iterator[str]:
    """`python -m localcloud.moto.process`, patched, as the local cloud runs it: its URL."""
    server = MotoServer()
    server.start()
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _pages(
    dynamodb: Any, symbol: str, table: str = "ticks", **condition: Any
) -> list[tuple[list[str], str | None]]:
    """Every page of a Query over one partition: (its sort keys, its LastEvaluatedKey's)."""
    pages: list[tuple[list[str], str | None]] = []
    request: dict[str, Any] = {"TableName": table, "Limit": 7, **condition}
    request.setdefault("KeyConditionExpression", "symbol = :s")
    request.setdefault("ExpressionAttributeValues", {})[":s"] = {"S": symbol}
    while True:
        page = dynamodb.query(**request)
        last = page.get("LastEvaluatedKey")
        pages.append(([i["sk"]["S"] for i in page["Items"]], last and last["sk"]["S"]))
        if not last or len(pages) > 20:
            return pages
        request["ExclusiveStartKey"] = last


def _scenario(endpoint: str) -> dict[str, Any]:
    """Run the calls the local cloud makes; what moto answered, without what is random."""
    seen: dict[str, Any] = {}
    dynamodb, streams, sqs = (_client(endpoint, s) for s in ("dynamodb", "dynamodbstreams", "sqs"))
    table = dynamodb.create_table(
        TableName="ticks",
        KeySchema=[
            {"AttributeName": "symbol", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "symbol", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    seen["batch_writes"] = []
    for symbol, count in PARTITIONS.items():
        items = [
            {"symbol": {"S": symbol}, "sk": {"S": f"t#{n:04d}"}, "px": {"N": str(n * 1.5)}}
            for n in reversed(range(count))  # not in key order: moto must sort
        ]
        for start in range(0, count, 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            answer = dynamodb.batch_write_item(RequestItems={"ticks": batch})
            seen["batch_writes"].append(answer["UnprocessedItems"])
    dynamodb.delete_item(TableName="ticks", Key={"symbol": {"S": "BBB"}, "sk": {"S": "t#0003"}})
    between: dict[str, Any] = {
        "KeyConditionExpression": "symbol = :s AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":lo": {"S": "t#0005"}, ":hi": {"S": "t#0029"}},
    }
    seen["query_between"] = _pages(dynamodb, "AAA", **between)
    seen["query_between_back"] = _pages(dynamodb, "AAA", ScanIndexForward=False, **between)
    seen["query_all"] = _pages(dynamodb, "AAA")
    seen["query_other"] = _pages(dynamodb, "BBB", ScanIndexForward=False)
    seen["query_begins"] = _pages(
        dynamodb,
        "AAA",
        KeyConditionExpression="symbol = :s AND begins_with(sk, :p)",
        ExpressionAttributeValues={":p": {"S": "t#001"}},
    )
    seen["query_none"] = _pages(dynamodb, "ZZZ")

    queue = sqs.create_queue(
        QueueName="fanout.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for body in ("tick-1", "tick-1", "tick-2"):  # the second is a duplicate: dropped
        sent = sqs.send_message(QueueUrl=queue, MessageBody=body, MessageGroupId="AAA")
        assert sent["MessageId"]
    seen["sqs_attributes"] = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ContentBasedDeduplication", "FifoQueue"],
    )["Attributes"]
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    seen["sqs_received"] = [(m["Body"], m["MD5OfBody"]) for m in received]

    shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"][
        "Shards"
    ][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=table["LatestStreamArn"], ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[Any] = []
    while iterator and len(records) < 61:
        answer = streams.get_records(ShardIterator=iterator, Limit=25)
        records.extend(answer["Records"])
        iterator = answer["NextShardIterator"] if answer["Records"] else None
    # moto's SizeBytes is the length of the record's JSON, its creation time included: it
    # varies with the clock, so it is not compared.
    seen["records"] = [
        {
            **{k: v for k, v in r["dynamodb"].items() if k != "SizeBytes"},
            "ApproximateCreationDateTime": type(r["dynamodb"]["ApproximateCreationDateTime"]),
            "eventName": r["eventName"],
        }
        for r in records
    ]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence)

    # Whole items of every attribute type, as the item operations answer them.
    key = {"symbol": {"S": "CCC"}, "sk": {"S": "t#0001"}}
    rich = {
        **key,
        "b": {"B": b"\x00\xff"},
        "bs": {"BS": [b"a", b"\x01"]},
        "n": {"N": "1.25"},
        "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"SS": ["x", "y"]}]}}},
    }
    dynamodb.put_item(TableName="ticks", Item=rich)
    seen["put_old"] = dynamodb.put_item(TableName="ticks", Item=rich, ReturnValues="ALL_OLD")
    seen["get_item"] = dynamodb.get_item(TableName="ticks", Key=key, ConsistentRead=True)
    seen["batch_get"] = dynamodb.batch_get_item(RequestItems={"ticks": {"Keys": [key]}})
    seen["query_items"] = dynamodb.query(
        TableName="ticks",
        KeyConditionExpression="symbol = :s",
        ExpressionAttributeValues={":s": {"S": "CCC"}},
        ReturnConsumedCapacity="TOTAL",
    )
    for answer in ("put_old", "get_item", "batch_get", "query_items"):
        del seen[answer]["ResponseMetadata"]  # request ids and dates
    assert seen["get_item"]["Item"] == rich
    return seen


def test_the_patched_process_answers_like_moto(patched_moto: str, unpatched_moto: str) -> None:
    patched, unpatched = _scenario(patched_moto), _scenario(unpatched_moto)
    assert len(patched["records"]) == sum(PARTITIONS.values()) + 1
    assert patched["sqs_received"] == unpatched["sqs_received"]
    assert [body for body, _ in patched["sqs_received"]] == ["tick-1", "tick-2"]
    assert patched["query_all"][-1] == ([f"t#{n:04d}" for n in range(49, 50)], None)
    # 25 items in range, pages of 7: no exactly full last page (see the next test).
    assert patched == unpatched


def test_a_full_last_page_of_a_range_ends_one_page_sooner_patched(
    patched_moto: str, unpatched_moto: str
) -> None:
    """The one known difference (the patch's, not this refactoring's): when the last page of a
    BETWEEN Query is exactly full and the partition holds items past the range, moto reports a
    LastEvaluatedKey and a next, empty page; the patched Query hands moto only in-range items,
    so it does not. Both end the handlers' paging loop with the same items."""
    pages = {}
    for name, endpoint in (("patched", patched_moto), ("unpatched", unpatched_moto)):
        dynamodb = _client(endpoint, "dynamodb")
        dynamodb.create_table(
            TableName="ranges",
            KeySchema=[
                {"AttributeName": "symbol", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "symbol", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(20):
            item = {"symbol": {"S": "AAA"}, "sk": {"S": f"t#{n:04d}"}}
            dynamodb.put_item(TableName="ranges", Item=item)
        pages[name] = _pages(
            dynamodb,
            "AAA",
            "ranges",
            KeyConditionExpression="symbol = :s AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":lo": {"S": "t#0000"}, ":hi": {"S": "t#0013"}},
        )
    first, second = [f"t#{n:04d}" for n in range(7)], [f"t#{n:04d}" for n in range(7, 14)]
    assert pages["patched"] == [(first, "t#0006"), (second, None)]
    assert pages["unpatched"] == [(first, "t#0006"), (second, "t#0013"), ([], None)]


def test_the_patched_process_keeps_connections_alive_and_sends_no_cors_headers(
    patched_moto: str,
) -> None:
    connection = http.client.HTTPConnection(urlsplit(patched_moto).netloc, timeout=10)
    try:
        sockets = []
        for _ in range(2):
            connection.request(
                "POST",
                "/",
                body=json.dumps({}),
                headers={
                    "Content-Type": "application/x-amz-json-1.0",
                    "X-Amz-Target": "DynamoDB_20120810.ListTables",
                    "Authorization": f"AWS4-HMAC-SHA256 Credential=AKID/20250101/{REGION}/"
                    "dynamodb/aws4_request, SignedHeaders=host, Signature=00",
                    "Origin": "http://127.0.0.1:1",
                },
            )
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Access-Control-Allow-Origin") is None
            assert "TableNames" in json.loads(response.read())
            assert response.getheader("Connection") is None
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1] is not None  # the second request reused the connection
    finally:
        connection.close()


def test_cloudwatch_distributions_answer_percentiles(patched_moto: str) -> None:
    """GIVEN two seconds of a distribution put as Values/Counts (and one StatisticValues datum
    of another metric), WHEN read back, THEN exact sums and counts, and nearest-rank percentiles.
    """
    import datetime as dt

    cloudwatch = _client(patched_moto, "cloudwatch")
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=2)
    dims = [{"Name": "FunctionName", "Value": "f"}]
    values = [float(v) for v in range(1, 101)]  # 1..100 ms, once each
    for second, chunk in ((0, values[:50]), (1, values[50:])):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Duration",
                    "Dimensions": dims,
                    "Timestamp": at + dt.timedelta(seconds=second),
                    "Values": chunk,
                    "Counts": [1.0] * len(chunk),
                    "Unit": "Milliseconds",
                }
            ],
        )
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": dims,
                "Timestamp": at,
                "StatisticValues": {"SampleCount": 4, "Sum": 1, "Minimum": 0, "Maximum": 1},
            }
        ],
    )

    def query(metric: str, stat: str) -> list[float]:
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "q",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "MetricName": metric,
                            "Dimensions": dims,
                        },
                        "Period": 60,
                        "Stat": stat,
                    },
                }
            ],
            StartTime=at - dt.timedelta(minutes=1),
            EndTime=at + dt.timedelta(minutes=2),
        )
        return [float(v) for v in answer["MetricDataResults"][0]["Values"]]

    # Periods start at StartTime: both seconds fall in the second minute.
    assert query("Duration", "SampleCount") == [100.0]
    assert query("Duration", "Sum") == [sum(values)]
    assert query("Duration", "p95") == [95.0]
    assert query("Duration", "p50") == [50.0]
    assert query("Duration", "Maximum") == [100.0]
    assert query("Errors", "Sum") == [1.0]
    assert query("Errors", "p50") == []  # no percentile of a StatisticValues datum (AWS too)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=dims,
        StartTime=at - dt.timedelta(seconds=1),
        EndTime=at + dt.timedelta(seconds=5),
        Period=10,
        Statistics=["SampleCount"],
        ExtendedStatistics=["p99", "p10"],
    )["Datapoints"]
    assert [p["ExtendedStatistics"] for p in points] == [{"p99": 99.0, "p10": 10.0}]
    assert points[0]["SampleCount"] == 100.0


def test_the_record_reader_gets_the_records_botocore_gets(patched_moto: str) -> None:
    """GIVEN a table with a stream and a write holding binary WHEN its shard is read with the
    local cloud's RecordReader and with boto3 THEN the records are the same, the reader's in
    the wire's JSON; a bad iterator is a GetRecordsError with moto's status."""
    dynamodb, streams = _client(patched_moto, "dynamodb"), _client(patched_moto, "dynamodbstreams")
    arn = dynamodb.create_table(
        TableName="streamed",
        KeySchema=[{"AttributeName": "symbol", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "symbol", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName="streamed", Item={"symbol": {"S": "AAA"}, "b": {"B": b"\x00\xff"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def iterator() -> str:
        return str(
            streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        )

    reader = RecordReader(patched_moto, region=REGION, access_key="testing")
    raw = reader.get_records(iterator(), 100)["Records"]
    parsed = streams.get_records(ShardIterator=iterator(), Limit=100)["Records"]
    assert len(raw) == len(parsed) == 1
    assert raw[0]["dynamodb"]["NewImage"] == {"symbol": {"S": "AAA"}, "b": {"B": "AP8="}}
    created = parsed[0]["dynamodb"].pop("ApproximateCreationDateTime")
    assert raw[0]["dynamodb"].pop("ApproximateCreationDateTime") == pytest.approx(
        created.timestamp(), abs=0.001
    )
    parsed[0]["dynamodb"]["NewImage"]["b"]["B"] = "AP8="
    assert raw == parsed
    with pytest.raises(GetRecordsError, match="GetRecords answered 500"):  # moto: KeyError
        reader.get_records("not-an-iterator", 100)
