"""The stream poller's pure parts: Lambda's record shape and event filtering."""

from __future__ import annotations

import json

from localcloud.sources.filters import matches_filters
from localcloud.sources.records import event_record

NEW_TICKS = [json.loads('{"eventName": ["INSERT", "MODIFY"]}')]


def test_a_get_records_record_goes_into_the_event_as_moto_wrote_it() -> None:
    # GIVEN a record of a GetRecords answer (binary as base64 text, time as epoch seconds with
    # microseconds, moto's region)
    record = {
        "eventID": "e1",
        "eventName": "INSERT",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"symbol": {"S": "AAPL"}},
            "NewImage": {"b": {"B": "AP8="}, "l": {"L": [{"BS": ["YQ=="]}]}},
            "SequenceNumber": "7",
            "ApproximateCreationDateTime": 1767225600.123456,
        },
    }
    # WHEN it is put in an event
    event = event_record(record, region="eu-west-1", source_arn="arn:stream")
    # THEN the attribute values are untouched, time is whole seconds, region and source are the
    # mapping's, and the answer's record is left as it was
    assert event["dynamodb"]["NewImage"] == record["dynamodb"]["NewImage"]  # type: ignore[index]
    assert event["dynamodb"]["ApproximateCreationDateTime"] == 1767225600
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1767225600.123456  # type: ignore[index]
    assert (event["awsRegion"], event["eventSourceARN"], event["eventSource"]) == (
        "eu-west-1",
        "arn:stream",
        "aws:dynamodb",
    )


def test_filters_match_like_lambdas_event_filtering() -> None:
    assert matches_filters(NEW_TICKS, {"eventName": "MODIFY"})
    assert not matches_filters(NEW_TICKS, {"eventName": "REMOVE"})
    assert matches_filters([], {"eventName": "REMOVE"})
    nested = [{"dynamodb": {"NewImage": {"symbol": {"S": [{"prefix": "AA"}]}}}}]
    assert matches_filters(nested, {"dynamodb": {"NewImage": {"symbol": {"S": "AAPL"}}}})
    assert not matches_filters(nested, {"dynamodb": {"NewImage": {"symbol": {"S": "MSFT"}}}})
    assert matches_filters([{"x": [{"exists": False}]}], {"eventName": "INSERT"})
    assert matches_filters([{"eventName": [{"anything-but": ["REMOVE"]}]}], {"eventName": "INSERT"})
