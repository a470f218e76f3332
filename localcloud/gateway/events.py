"""Shared pieces of API Gateway emulation: JSON error replies, ids, times, body encoding."""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from typing import Any, Final

from aiohttp import web

__all__ = [
    "Timing",
    "decode_body",
    "encode_body",
    "gateway_error",
    "is_text",
    "request_id",
    "request_time",
    "result_response",
]

_TEXT_TYPES: Final = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/graphql",
)
_JSON: Final = "application/json"


def gateway_error(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    """A reply API Gateway itself gives (not the function): `{"message": ...}` as JSON."""
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type=_JSON,
        headers=headers,
    )


def request_id() -> str:
    """A request id shaped like API Gateway's."""
    return base64.b64encode(os.urandom(10)).decode()


def request_time(now: float | None = None) -> tuple[str, int]:
    """(`23/Nov/2026:00:00:00 +0000`, epoch ms) for the request context."""
    now = time.time() if now is None else now
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), int(now * 1000)


def is_text(content_type: str) -> bool:
    """Whether API Gateway passes a body of this media type as text rather than base64."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith("+json")


def encode_body(body: bytes, content_type: str) -> tuple[str, bool]:
    """(body for the event, isBase64Encoded)."""
    if is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def decode_body(body: Any, is_base64: Any) -> bytes:
    """The bytes of a proxy-integration reply's body; ValueError if it is malformed."""
    if body is None:
        return b""
    if not isinstance(body, str):
        raise ValueError("body must be a string")
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"bad base64 body: {exc}") from None
    return body.encode("utf-8")


def result_response(
    result: Any, *, request_id_header: tuple[str, str], multi_value: bool
) -> web.Response:
    """A proxy-integration reply (`statusCode`, headers, body) as an HTTP response.

    ValueError if it is not well-formed (the caller answers 502/500 like API Gateway).
    """
    if not isinstance(result, dict):
        raise ValueError("the function's reply is not an object")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("statusCode is missing or not an HTTP status")
    body = decode_body(result.get("body"), result.get("isBase64Encoded", False))
    response = web.Response(status=status, body=body)
    headers = result.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError("headers must be an object")
    for name, value in headers.items():
        response.headers[str(name)] = str(value)
    if multi_value:
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response.headers.popall(str(name), None)
            for value in values or []:
                response.headers.add(str(name), str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = _JSON
    response.headers[request_id_header[0]] = request_id_header[1]
    return response


class Timing:
    """One request's times: from arrival, and around the integration (the backend call)."""

    __slots__ = ("_entered", "integration_ms", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.integration_ms: float | None = None
        self._entered = 0.0

    def total_ms(self) -> float:
        """Milliseconds since the request arrived (API Gateway's Latency)."""
        return (time.perf_counter() - self.started) * 1000.0

    def integration(self) -> Timing:
        """`async with timing.integration():` around the backend call (IntegrationLatency)."""
        return self

    async def __aenter__(self) -> None:
        self._entered = time.perf_counter()

    async def __aexit__(self, *exc: object) -> None:
        self.integration_ms = (time.perf_counter() - self._entered) * 1000.0
