"""JSON replies in the shape API Gateway's Lambda proxy integrations expect (1.0 and 2.0)."""

from __future__ import annotations

import json
from typing import Any

from handlers.core.errors import RequestError

__all__ = ["error_response", "json_response"]

_HEADERS = {"content-type": "application/json"}
_ENCODER = json.JSONEncoder(separators=(",", ":"))
"""Built once: json.dumps with options builds an encoder per call."""


def json_response(status: int, body: Any) -> dict[str, Any]:
    """A proxy-integration reply with a JSON body."""
    return {
        "statusCode": status,
        "headers": dict(_HEADERS),
        "body": _ENCODER.encode(body),
        "isBase64Encoded": False,
    }


def error_response(error: RequestError) -> dict[str, Any]:
    """The 4xx reply for a request error."""
    return json_response(error.status, error.as_json())
