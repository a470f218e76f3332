"""The stream poller's pure parts: Lambda's record shape and event filtering."""

from __future__ import annotations

import datetime as dt
import json

from localcloud.sources.filters import matches_filters
from localcloud.sources.streams import wire_record

NEW_TICKS = [json.loads('{"eventName": ["INSERT", "MODIFY"]}')]


def test_a_parsed_record_goes_back_to_lambdas_json_shape() -> None:
    # GIVEN a record as boto3 parses it (binary as bytes, time as datetime, moto's region)
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    record = {
        "eventID": "e1",
        "eventName": "INSERT",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"symbol": {"S": "AAPL"}},
            "NewImage": {"b": {"B": b"\x00\xff"}, "l": {"L": [{"BS": [b"a"]}]}},
            "SequenceNumber": "7",
            "ApproximateCreationDateTime": created,
        },
    }
    # WHEN it is put in an event
    event = wire_record(record, region="eu-west-1", source_arn="arn:stream")
    # THEN binary is base64 text, time is epoch seconds, region and source are the mapping's
    assert event["dynamodb"]["NewImage"] == {"b": {"B": "AP8="}, "l": {"L": [{"BS": ["YQ=="]}]}}
    assert event["dynamodb"]["ApproximateCreationDateTime"] == int(created.timestamp())
    assert (event["awsRegion"], event["eventSourceARN"], event["eventSource"]) == (
        "eu-west-1",
        "arn:stream",
        "aws:dynamodb",
    )
    json.dumps(event)  # JSON all the way down


def test_filters_match_like_lambdas_event_filtering() -> None:
    assert matches_filters(NEW_TICKS, {"eventName": "MODIFY"})
    assert not matches_filters(NEW_TICKS, {"eventName": "REMOVE"})
    assert matches_filters([], {"eventName": "REMOVE"})
    nested = [{"dynamodb": {"NewImage": {"symbol": {"S": [{"prefix": "AA"}]}}}}]
    assert matches_filters(nested, {"dynamodb": {"NewImage": {"symbol": {"S": "AAPL"}}}})
    assert not matches_filters(nested, {"dynamodb": {"NewImage": {"symbol": {"S": "MSFT"}}}})
    assert matches_filters([{"x": [{"exists": False}]}], {"eventName": "INSERT"})
    assert matches_filters([{"eventName": [{"anything-but": ["REMOVE"]}]}], {"eventName": "INSERT"})
