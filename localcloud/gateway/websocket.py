"""API Gateway WebSocket APIs: connections, route selection, route responses, `@connections`.

Mounted by the gateway at `/<apiId>/<stage>` (the program's `ws_url` is `apiEndpoint/stage`, and
the provider answers `ws://127.0.0.1:<port>/<apiId>` as a WebSocket API's `apiEndpoint`). The
handshake invokes `$connect` with API Gateway's CONNECT event and refuses the upgrade with the
function's status if it is not 2xx. Each message is routed by the API's route selection
expression (`$request.body.<field>`) to its route or `$default`; the function's `body` goes back
to the client only when the route has a `$default` route response. Closing invokes `$disconnect`.

The management API is `<http base>/<apiId>/<stage>/@connections/<id>` on the same gateway,
SigV4-signed calls only (`_unsigned`): POST pushes the raw body to the client, GET describes the
connection, DELETE closes it; an unknown or closed connection answers 410 `GoneException`
(rest-json: botocore reads the code from the `x-amzn-ErrorType` header). A function's
environment value that equals a stage's derived management URL (`wss://` -> `https://`, as
programs write it) is replaced by this local URL when the function loads
(`management_endpoints`), since a `ws://` URL cannot be an HTTP endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import WSMsgType, web

from localcloud.deploy.program import Deployment
from localcloud.deploy.provision import ACCOUNT_ID, invoke_arn_function
from localcloud.errors import LocalCloudError
from localcloud.gateway.events import gateway_error, request_id, request_time
from localcloud.gateway.ratelimit import TokenBucket, stage_throttles
from localcloud.gateway.routing import route_integration
from localcloud.runtime.functions import FunctionError, FunctionThrottled, LambdaFunction

__all__ = ["WebSocketApi", "WsRoute", "build_websocket_apis", "management_endpoints"]

_log = logging.getLogger("localcloud.gateway.websocket")
_BODY_PREFIX: Final = "$request.body."
_MAX_MESSAGE_BYTES: Final = 128 * 1024
"""API Gateway's frame/message limit (PostToConnection answers 413 above it)."""
_INTEGRATION_TIMEOUT_S: Final = 29.0
_CONNECTIONS: Final = "@connections"
_SIGV4: Final = "AWS4-HMAC-SHA256"
_PRESIGNED: Final = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
"""Query parameters of a presigned (SigV4 in the URL) request."""


@dataclass
class WsRoute:
    """A route key -> function, and whether the function's reply goes back to the client."""

    route_key: str
    function: LambdaFunction
    replies: bool
    timeout_s: float = _INTEGRATION_TIMEOUT_S


@dataclass
class _Connection:
    connection_id: str
    stage: str
    socket: web.WebSocketResponse
    connected_at: float
    source_ip: str
    user_agent: str
    last_active: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Serialises sends: the route loop and `@connections` posts write to the same socket."""


@dataclass
class WebSocketApi:
    """One WebSocket API: routes, stages (with their throttle), open connections."""

    api_id: str
    region: str
    selection: str
    """Route selection expression, e.g. `$request.body.action`."""
    routes: dict[str, WsRoute]
    stages: dict[str, tuple[float, int] | None]
    connections: dict[str, _Connection] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    async def handle(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        """Serve `/<apiId>/<parts...>`: a handshake on the stage, or the management API."""
        if not parts or parts[0] not in self.stages:
            return gateway_error(403, "Forbidden")
        stage, rest = parts[0], parts[1:]
        if not rest:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return gateway_error(426, "Upgrade Required")
            return await self._connect(request, stage)
        if len(rest) == 2 and rest[0] == _CONNECTIONS:
            return await self._manage(request, stage, rest[1])
        return gateway_error(403, "Forbidden")

    def _admit(self, stage: str) -> bool:
        limits = self.stages.get(stage)
        if limits is None:
            return True
        bucket = self._buckets.get(stage)
        if bucket is None:
            bucket = self._buckets[stage] = TokenBucket(*limits)
        return bucket.take()

    # -- connections ----------------------------------------------------------------------

    async def _connect(self, request: web.Request, stage: str) -> web.StreamResponse:
        if not self._admit(stage):
            return gateway_error(429, "Too Many Requests")
        connection_id = _connection_id()
        now = time.time()
        route = self.routes.get("$connect")
        headers: dict[str, str] = {}
        if route is not None:
            event = self._event(request, stage, "$connect", connection_id, now)
            try:
                async with asyncio.timeout(route.timeout_s):
                    result = await route.function.invoke(event)
            except (FunctionError, FunctionThrottled, TimeoutError):
                return gateway_error(500, "Internal server error")
            status = result.get("statusCode", 200) if isinstance(result, dict) else 200
            if not isinstance(status, int) or not 200 <= status <= 299:
                body = result.get("body") if isinstance(result, dict) else None
                refused = status if isinstance(status, int) and 400 <= status <= 599 else 500
                return web.Response(
                    status=refused,
                    text=body if isinstance(body, str) else "",
                    content_type="application/json",
                )
            if isinstance(result, dict) and isinstance(result.get("headers"), dict):
                headers = {str(k).lower(): str(v) for k, v in result["headers"].items()}
        protocol = headers.get("sec-websocket-protocol")
        socket = web.WebSocketResponse(
            protocols=(protocol,) if protocol else (), max_msg_size=_MAX_MESSAGE_BYTES
        )
        await socket.prepare(request)
        connection = _Connection(
            connection_id,
            stage,
            socket,
            now,
            request.remote or "127.0.0.1",
            request.headers.get("User-Agent", ""),
            now,
        )
        self.connections[connection_id] = connection
        try:
            async for message in socket:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    connection.last_active = time.time()
                    await self._message(request, connection, message.data)
        finally:
            self.connections.pop(connection_id, None)
            await self._disconnect(request, connection)
        return socket

    async def _message(self, request: web.Request, connection: _Connection, data: Any) -> None:
        text = data if isinstance(data, str) else None
        rid = request_id()
        if not self._admit(connection.stage):
            await self._send_json(connection, _error("Too Many Requests", connection, rid))
            return
        route = self._select(text)
        if route is None:
            # No matching route and no $default: API Gateway answers on the socket.
            await self._send_json(connection, _error("Forbidden", connection, rid))
            return
        event = self._event(request, connection.stage, route.route_key, connection.connection_id)
        event["requestContext"]["requestId"] = rid
        if text is not None:
            event["body"], event["isBase64Encoded"] = text, False
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
        try:
            async with asyncio.timeout(route.timeout_s):
                result = await route.function.invoke(event)
        except (FunctionError, FunctionThrottled, TimeoutError):
            await self._send_json(connection, _error("Internal server error", connection, rid))
            return
        if route.replies and isinstance(result, dict) and isinstance(result.get("body"), str):
            await self._send(connection, result["body"])

    def _select(self, text: str | None) -> WsRoute | None:
        key: str | None = None
        if text is not None and self.selection.startswith(_BODY_PREFIX):
            try:
                document = json.loads(text)
            except ValueError:
                document = None
            for name in self.selection[len(_BODY_PREFIX) :].split("."):
                document = document.get(name) if isinstance(document, dict) else None
            if isinstance(document, str | int | float) and not isinstance(document, bool):
                key = str(document)
        route = self.routes.get(key) if key is not None else None
        if route is None or key in ("$connect", "$disconnect"):
            route = self.routes.get("$default")
        return route

    async def _disconnect(self, request: web.Request, connection: _Connection) -> None:
        route = self.routes.get("$disconnect")
        if route is None:
            return
        event = self._event(request, connection.stage, "$disconnect", connection.connection_id)
        code = connection.socket.close_code
        event["requestContext"]["disconnectStatusCode"] = code if code is not None else 1006
        event["requestContext"]["disconnectReason"] = ""
        try:
            async with asyncio.timeout(route.timeout_s):
                await route.function.invoke(event)
        except (FunctionError, FunctionThrottled, TimeoutError) as exc:
            _log.warning("$disconnect of %s failed: %s", connection.connection_id, exc)

    def _event(
        self,
        request: web.Request,
        stage: str,
        route_key: str,
        connection_id: str,
        connected_at: float | None = None,
    ) -> dict[str, Any]:
        """API Gateway's WebSocket proxy event (headers and query only on `$connect`)."""
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
        when, epoch = request_time()
        connection = self.connections.get(connection_id)
        started = connected_at if connection is None else connection.connected_at
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id(),
            "requestTime": when,
            "messageDirection": "IN",
            "stage": stage,
            "connectedAt": int((started or time.time()) * 1000),
            "requestTimeEpoch": epoch,
            "identity": {
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id(),
            "domainName": request.host,
            "connectionId": connection_id,
            "apiId": self.api_id,
            "accountId": ACCOUNT_ID,
        }
        if event_type == "MESSAGE":
            context["messageId"] = request_id()
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if event_type == "CONNECT":
            headers = dict(request.headers.items())  # repeated names: the last value
            multi: dict[str, list[str]] = {}
            for name, value in request.headers.items():
                multi.setdefault(name, []).append(value)
            event["headers"] = headers
            event["multiValueHeaders"] = multi
            if request.query:
                query: dict[str, list[str]] = {}
                for name, value in request.query.items():
                    query.setdefault(name, []).append(value)
                event["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
                event["multiValueQueryStringParameters"] = query
        return event

    async def _send(self, connection: _Connection, data: str | bytes) -> None:
        async with connection.lock:
            if isinstance(data, str):
                await connection.socket.send_str(data)
            else:
                await connection.socket.send_bytes(data)

    async def _send_json(self, connection: _Connection, document: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(connection, json.dumps(document))

    # -- @connections ---------------------------------------------------------------------

    async def _manage(self, request: web.Request, stage: str, connection_id: str) -> web.Response:
        unsigned = _unsigned(request)
        if unsigned is not None:
            return unsigned
        connection = self.connections.get(connection_id)
        if connection is None or connection.stage != stage or connection.socket.closed:
            return _management_error(410, "GoneException", None)
        if request.method == "POST":
            body = await request.read()
            if len(body) > _MAX_MESSAGE_BYTES:
                return _management_error(413, "PayloadTooLargeException", "Message too long")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            try:
                await self._send(connection, text if text is not None else body)
            except (ConnectionError, RuntimeError):
                return _management_error(410, "GoneException", None)
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response(
                {
                    "connectedAt": _iso(connection.connected_at),
                    "identity": {
                        "sourceIp": connection.source_ip,
                        "userAgent": connection.user_agent,
                    },
                    "lastActiveAt": _iso(connection.last_active),
                }
            )
        if request.method == "DELETE":
            await connection.socket.close()
            return web.Response(status=204)
        return _management_error(403, "ForbiddenException", "Forbidden")


def _unsigned(request: web.Request) -> web.Response | None:
    """API Gateway's 403 for a management call that is not SigV4-signed, else None.

    On AWS `@connections` takes IAM (SigV4) only. IAM is not emulated, so a signature is not
    verified (any credentials pass, as with moto); but an anonymous or bearer-token caller is
    refused as on AWS, so nothing on 127.0.0.1 pushes to or closes a client's socket unsigned.
    """
    header = request.headers.get("Authorization")
    if header is None:
        if set(request.query) >= _PRESIGNED:
            return None
        return _management_error(
            403, "MissingAuthenticationTokenException", "Missing Authentication Token"
        )
    scheme, _, params = header.partition(" ")
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if f"{name}=" not in params
    ]
    if scheme != _SIGV4:
        missing.insert(0, f"Authorization header requires the '{_SIGV4}' scheme.")
    if "X-Amz-Date" not in request.headers and "Date" not in request.headers:
        missing.append("Authorization header requires a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        return _management_error(403, "IncompleteSignatureException", " ".join(missing))
    return None


def _connection_id() -> str:
    """An id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`), safe in a URL path segment."""
    return base64.b64encode(os.urandom(10)).decode().replace("/", "_").replace("+", "-")


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def _error(message: str, connection: _Connection, rid: str) -> dict[str, Any]:
    """What API Gateway sends on the socket when it cannot route or integrate a message."""
    return {"message": message, "connectionId": connection.connection_id, "requestId": rid}


def _management_error(status: int, code: str, message: str | None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": code},
    )


def _is_websocket(api: Any) -> bool:
    return str(api.inputs.get("protocolType", "HTTP")).upper() == "WEBSOCKET"


def management_endpoints(deployment: Deployment, gateway_url: str) -> dict[str, str]:
    """Derived management URLs (as a program computes them) -> this gateway's local URL."""
    gateway = gateway_url.rstrip("/")
    stages: dict[str, list[str]] = {}
    for r in deployment.of_type("aws:apigatewayv2/stage:Stage"):
        stages.setdefault(str(r.inputs["apiId"]), []).append(str(r.inputs["name"]))
    endpoints: dict[str, str] = {}
    for api in deployment.of_type("aws:apigatewayv2/api:Api"):
        if not _is_websocket(api):
            continue
        base = str(api.outputs.get("apiEndpoint", ""))
        for stage in stages.get(api.id, []):
            local = f"{gateway}/{api.id}/{stage}"
            for scheme, http in (("wss://", "https://"), ("ws://", "http://")):
                if base.startswith(scheme):
                    endpoints[f"{base}/{stage}"] = local
                    endpoints[f"{http}{base[len(scheme) :]}/{stage}"] = local
    return endpoints


def build_websocket_apis(
    deployment: Deployment, functions: Mapping[str, LambdaFunction], region: str
) -> dict[str, WebSocketApi]:
    """The WebSocket APIs the program declared, keyed by API id."""
    apis: dict[str, WebSocketApi] = {}
    for r in deployment.of_type("aws:apigatewayv2/api:Api"):
        if _is_websocket(r):
            selection = str(r.inputs.get("routeSelectionExpression") or "$request.body.action")
            apis[r.id] = WebSocketApi(r.id, region, selection, routes={}, stages={})
    if not apis:
        return apis
    integrations = {r.id: r for r in deployment.of_type("aws:apigatewayv2/integration:Integration")}
    responses = {
        str(r.inputs.get("routeId"))
        for r in deployment.of_type("aws:apigatewayv2/routeResponse:RouteResponse")
        if r.inputs.get("routeResponseKey") == "$default"
    }
    for r in deployment.of_type("aws:apigatewayv2/route:Route"):
        api = apis.get(str(r.inputs["apiId"]))
        if api is None:
            continue
        integration = route_integration(r, integrations)
        uri = invoke_arn_function(str(integration.inputs.get("integrationUri", "")))
        function = functions.get(uri)
        if function is None:
            raise LocalCloudError(f"route {r.name}: integration target {uri!r} is not a function")
        timeout_ms = float(integration.inputs.get("timeoutMilliseconds") or 29_000)
        api.routes[str(r.inputs["routeKey"])] = WsRoute(
            route_key=str(r.inputs["routeKey"]),
            function=function,
            replies=r.id in responses,
            timeout_s=timeout_ms / 1000,
        )
    for api_id, stages in stage_throttles(deployment).items():
        if api_id in apis:
            apis[api_id].stages.update(stages)
    return apis
