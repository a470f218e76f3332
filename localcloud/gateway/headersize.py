"""API Gateway's limit on the size of a request's headers, enforced by the local gateway.

API Gateway refuses a request whose request line and header values exceed 10,240 bytes (an HTTP
API quota that cannot be raised; REST and WebSocket APIs have the same header budget) with 431
before any authorizer or function runs. aiohttp's own parser stops at 8,190 bytes per line or
field with a plain-text 400, below that limit: a 9 KB bearer token that API Gateway would hand
to the authorizer never reached it. `PARSER_LIMIT_BYTES` lifts aiohttp's limits above API
Gateway's so that `oversized` decides, with API Gateway's JSON answer.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from localcloud.gateway.events import gateway_error

__all__ = ["HEADER_BYTES_LIMIT", "PARSER_LIMIT_BYTES", "oversized"]

HEADER_BYTES_LIMIT: Final = 10_240
"""Request line + header values, in bytes."""
PARSER_LIMIT_BYTES: Final = 65_536
"""aiohttp `RequestHandler` `max_line_size` and `max_field_size` for the gateway."""
_VERSION_BYTES: Final = len(" HTTP/1.1")


def oversized(request: web.Request) -> web.Response | None:
    """API Gateway's 431 if the request's line and header values exceed the limit, else None."""
    size = len(request.method) + 1 + len(request.raw_path.encode()) + _VERSION_BYTES
    size += sum(len(value) for _, value in request.raw_headers)
    if size > HEADER_BYTES_LIMIT:
        return gateway_error(431, "Request Header Fields Too Large")
    return None
