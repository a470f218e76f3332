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
