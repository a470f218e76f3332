"""Real API Gateway event shapes (HTTP API 2.0, REST 1.0, SQS) for handler tests."""

from __future__ import annotations

import base64
import json
from typing import Any


def http_v2(
    body: str | bytes | Any,
    *,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for POST /ingest, as API Gateway sends it."""
    if not isinstance(body, str | bytes):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    hdrs = {"content-type": "application/json", "authorization": "Bearer t"}
    hdrs.update(headers or {})
    return {
        "version": "2.0",
        "routeKey": "POST /ingest",
        "rawPath": "/ingest",
        "rawQueryString": "",
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": "POST",
                "path": "/ingest",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "req",
            "routeKey": "POST /ingest",
            "stage": "$default",
            "time": "23/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": base64.b64encode(raw).decode() if base64_body else raw.decode(),
        "isBase64Encoded": base64_body,
    }


def rest_v1(resource: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """A REST API payload 1.0 (Lambda proxy) event for GET <resource>."""
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": "GET",
        "headers": {"x-api-key": "k"},
        "multiValueHeaders": {"x-api-key": ["k"]},
        "queryStringParameters": params or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (params or {}).items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": "GET",
            "stage": "api",
            "identity": {"apiKey": "k", "sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def sqs(bodies: list[str]) -> dict[str, Any]:
    """An SQS event source batch with one record per body."""
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:spill",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/ticks/stream/2026-01-01T00:00:00.000"


def stream_record(
    item: dict[str, Any] | None, sequence: int, *, event_name: str = "INSERT"
) -> dict[str, Any]:
    """One DynamoDB stream record as Lambda delivers it (NEW_IMAGE view; binary as base64)."""
    image = None
    if item is not None:
        image = {
            name: {"B": base64.b64encode(value["B"]).decode()} if "B" in value else value
            for name, value in item.items()
        }
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": 1_767_225_600,
        "SequenceNumber": f"{sequence:030d}",
        "SizeBytes": 100,
        "StreamViewType": "NEW_IMAGE",
    }
    if image is not None:
        body["Keys"] = {"symbol": image["symbol"], "sk": image["sk"]}
        body["NewImage"] = image
    return {
        "eventID": f"e{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": body,
        "eventSourceARN": STREAM_ARN,
    }


def stream(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A DynamoDB stream event source batch."""
    return {"Records": records}


def ws_event(
    route: str,
    connection_id: str = "conn-1",
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A WebSocket API event (Lambda proxy) for `route`, as API Gateway sends it."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": connection_id,
            "apiId": "wsapi",
            "stage": "live",
            "domainName": "wsapi.execute-api.us-east-1.amazonaws.com",
            "requestId": "req",
            "connectedAt": 1_767_225_600_000,
            "requestTimeEpoch": 1_767_225_600_000,
            "messageDirection": "IN",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "isBase64Encoded": False,
    }
    if event_type == "CONNECT":
        event["headers"] = {"Host": "wsapi.execute-api.us-east-1.amazonaws.com", **(headers or {})}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        if query:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    elif event_type == "MESSAGE":
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event
