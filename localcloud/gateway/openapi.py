"""`GET /openapi.json` on the gateway: the APIs' OpenAPI document, servers set to this gateway.

Each documented path gets the URL of the local API that serves it (found by matching the path
and method against the declared HTTP API routes and REST API methods, as a request would be),
so a client such as schemathesis can fuzz the local cloud straight from this document. Paths no
local API serves keep the document's placeholder servers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any, Final

from aiohttp import web

from localcloud.gateway.httpapi import HttpApi
from localcloud.gateway.restapi import RestApi

__all__ = ["OPENAPI_PATH", "local_servers", "openapi_handler"]

OPENAPI_PATH: Final = "/openapi.json"
_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@cache
def _document() -> dict[str, Any]:
    # Imported here: the generator pulls in the program's modules, which only this route needs.
    from apispec import build_document

    return build_document()


def _http_base(api: HttpApi, method: str, parts: list[str], origin: str) -> str | None:
    for route in api.routes:
        if route.template is None or route.method not in (method, "ANY"):
            continue
        if route.template.match(parts) is not None:
            if "$default" in api.stages:
                return f"{origin}/{api.api_id}"
            named = sorted(api.stages)
            return f"{origin}/{api.api_id}/{named[0]}" if named else None
    return None


def _rest_base(api: RestApi, method: str, parts: list[str], origin: str) -> str | None:
    for candidate in api.methods:
        if candidate.http_method not in (method, "ANY") or not api.stages:
            continue
        if candidate.template.match(parts) is not None:
            return f"{origin}/{api.api_id}/{sorted(api.stages)[0]}"
    return None


def local_servers(
    document: Mapping[str, Any],
    http_apis: Mapping[str, HttpApi],
    rest_apis: Mapping[str, RestApi],
    origin: str,
) -> dict[str, str]:
    """Path -> base URL of the local API serving its first operation, for the paths served."""
    bases: dict[str, str] = {}
    for path, item in document["paths"].items():
        methods = sorted(m.upper() for m in item if m in _METHODS)
        if not methods:
            continue
        parts = [part for part in path.split("/") if part]
        found = [_http_base(api, methods[0], parts, origin) for api in http_apis.values()]
        found += [_rest_base(api, methods[0], parts, origin) for api in rest_apis.values()]
        base = next((url for url in found if url is not None), None)
        if base is not None:
            bases[path] = base
    return bases


def openapi_handler(
    http_apis: dict[str, HttpApi], rest_apis: dict[str, RestApi]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The route handler serving the document for these APIs (the gateway's own dicts)."""

    async def serve(request: web.Request) -> web.Response:
        from apispec import with_servers

        document = _document()
        origin = f"{request.scheme}://{request.host}"
        bases = local_servers(document, http_apis, rest_apis, origin)
        return web.json_response(with_servers(document, bases))

    return serve
