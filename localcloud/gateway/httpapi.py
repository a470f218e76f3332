"""API Gateway HTTP APIs (v2): routes, Lambda proxy integrations (payload 2.0 or 1.0), Lambda
REQUEST authorizers with cached decisions, and stage route throttling.

Mounted by the gateway at `/<apiId>/...`; a named stage is `/<apiId>/<stage>/...`, the
`$default` stage is the API's root, as the program's `api_endpoint` outputs say.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from localcloud.deploy.program import Deployment
from localcloud.deploy.provision import ACCOUNT_ID, invoke_arn_function
from localcloud.errors import LocalCloudError
from localcloud.gateway.events import (
    Timing,
    encode_body,
    gateway_error,
    request_id,
    request_time,
    result_response,
)
from localcloud.gateway.ratelimit import TokenBucket, stage_throttles
from localcloud.gateway.routing import PathTemplate, route_integration
from localcloud.metrics.observers import ApiMetrics
from localcloud.runtime.functions import FunctionError, FunctionThrottled, LambdaFunction

__all__ = ["HttpApi", "HttpAuthorizer", "HttpRoute", "build_http_apis"]

_HEADER_PREFIX: Final = "$request.header."
_QUERY_PREFIX: Final = "$request.querystring."


@dataclass
class HttpAuthorizer:
    """A Lambda REQUEST authorizer and its decision cache (keyed by the identity values)."""

    function: LambdaFunction
    identity_sources: tuple[str, ...]
    ttl_s: float
    simple_responses: bool
    payload_version: str
    _cache: dict[tuple[str, ...], tuple[float, bool, dict[str, Any]]] = field(default_factory=dict)

    def identity(self, request: web.Request) -> tuple[str, ...] | None:
        """The identity source values, or None if one is missing (API Gateway answers 401)."""
        values = []
        for source in self.identity_sources:
            # A repeated header or parameter is its comma-joined copies, as in the event the
            # authorizer sees: caching on the first copy alone would let `right, wrong` in.
            if source.startswith(_HEADER_PREFIX):
                value = ",".join(request.headers.getall(source[len(_HEADER_PREFIX) :], ()))
            elif source.startswith(_QUERY_PREFIX):
                value = ",".join(request.query.getall(source[len(_QUERY_PREFIX) :], ()))
            else:
                value = ""  # $context / $stageVariables sources are not emulated
            if not value:
                return None
            values.append(value)
        return tuple(values)

    async def decide(
        self, identity: tuple[str, ...], event: dict[str, Any], route_arn: str
    ) -> tuple[bool, dict[str, Any]]:
        """(allowed, context), from the cache while it is fresh."""
        now = time.monotonic()
        cached = self._cache.get(identity) if self.ttl_s > 0 else None
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        auth_event = {
            key: value for key, value in event.items() if key not in ("body", "isBase64Encoded")
        }
        auth_event.update(
            {"type": "REQUEST", "routeArn": route_arn, "identitySource": list(identity)}
        )
        answer = await self.function.invoke(auth_event)
        allowed, context = _authorizer_answer(answer, self.simple_responses)
        if self.ttl_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()  # bounded: a flood of distinct tokens must not grow it forever
            self._cache[identity] = (now + self.ttl_s, allowed, context)
        return allowed, context


def _authorizer_answer(answer: Any, simple: bool) -> tuple[bool, dict[str, Any]]:
    if not isinstance(answer, dict):
        raise ValueError("authorizer reply is not an object")
    context = answer.get("context") or {}
    if simple and "isAuthorized" in answer:
        return answer["isAuthorized"] is True, dict(context)
    statements = (answer.get("policyDocument") or {}).get("Statement") or []
    allowed = any(s.get("Effect") == "Allow" for s in statements) and not any(
        s.get("Effect") == "Deny" for s in statements
    )
    return allowed, dict(context)


@dataclass
class HttpRoute:
    """`METHOD /path` (or `$default`) -> a function, with its authorizer and throttle."""

    route_key: str
    method: str
    """Upper-case method, `ANY`, or `$default`."""
    template: PathTemplate | None
    function: LambdaFunction
    payload_version: str
    timeout_s: float
    authorizer: HttpAuthorizer | None
    throttle: TokenBucket | None = None


@dataclass
class HttpApi:
    """One HTTP API: its routes and stages."""

    api_id: str
    region: str
    routes: list[HttpRoute]
    stages: dict[str, tuple[float, int] | None]
    """Stage name -> default route throttle (rate, burst), or None if unthrottled."""
    route_throttles: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    metrics: ApiMetrics | None = None
    """Where each answered request is recorded (AWS/ApiGateway, by ApiId and Stage)."""

    def __post_init__(self) -> None:
        def key(route: HttpRoute) -> tuple[int, tuple[int, int, int], int]:
            default = route.method == "$default"
            spec = route.template.specificity if route.template else (9, 0, 0)
            return (int(default), spec, int(route.method == "ANY"))

        self.routes.sort(key=key)

    def _match(self, method: str, parts: list[str]) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self.routes:
            if route.method == "$default":
                return route, {}
            if route.method not in (method, "ANY") or route.template is None:
                continue
            params = route.template.match(parts)
            if params is not None:
                return route, params
        return None

    def _throttle(self, stage: str, route: HttpRoute) -> TokenBucket | None:
        limits = self.stages.get(stage)
        if limits is None:
            return None
        bucket = self.route_throttles.get((stage, route.route_key))
        if bucket is None:
            bucket = self.route_throttles[(stage, route.route_key)] = TokenBucket(*limits)
        return bucket

    async def handle(self, request: web.Request, parts: list[str]) -> web.Response:
        """Serve a request whose path after `/<apiId>` is `parts`."""
        stage = "$default"
        if parts and parts[0] in self.stages and parts[0] != "$default":
            stage, parts = parts[0], parts[1:]
        elif "$default" not in self.stages:
            return gateway_error(404, "Not Found")
        timing = Timing()
        response = await self._serve(request, stage, parts, timing)
        if self.metrics is not None:
            self.metrics.request(stage, response.status, timing.total_ms(), timing.integration_ms)
        return response

    async def _serve(
        self, request: web.Request, stage: str, parts: list[str], timing: Timing
    ) -> web.Response:
        found = self._match(request.method, parts)
        if found is None:
            return gateway_error(404, "Not Found")
        route, params = found
        bucket = self._throttle(stage, route)
        if bucket is not None and not bucket.take():
            return gateway_error(429, "Too Many Requests")
        rid = request_id()
        body = await request.read()
        event = self._event(request, body, stage, route, params, rid)
        if route.authorizer is not None:
            denied = await self._authorize(request, route, stage, event)
            if denied is not None:
                return denied
        try:
            async with asyncio.timeout(route.timeout_s), timing.integration():
                result = await route.function.invoke(event)
        except TimeoutError:
            return gateway_error(503, "Service Unavailable")
        except FunctionThrottled:
            return gateway_error(429, "Too Many Requests")
        except FunctionError:
            return gateway_error(500, "Internal Server Error")
        return _reply(result, rid, route.payload_version)

    async def _authorize(
        self, request: web.Request, route: HttpRoute, stage: str, event: dict[str, Any]
    ) -> web.Response | None:
        authorizer = route.authorizer
        assert authorizer is not None
        identity = authorizer.identity(request)
        if identity is None:
            return gateway_error(401, "Unauthorized")
        route_arn = (
            f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self.api_id}/{stage}/"
            f"{request.method}{event['rawPath']}"
        )
        try:
            allowed, context = await authorizer.decide(identity, event, route_arn)
        except (FunctionError, FunctionThrottled, ValueError, TimeoutError):
            return gateway_error(500, "Internal Server Error")
        if not allowed:
            return gateway_error(403, "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": context}
        return None

    def _event(
        self,
        request: web.Request,
        body: bytes,
        stage: str,
        route: HttpRoute,
        params: dict[str, str],
        rid: str,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers.items():
            lower = name.lower()
            if lower == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
            elif lower in headers:
                headers[lower] += "," + value
            else:
                headers[lower] = value
        path = request.path
        raw_path = path[len(self.api_id) + 1 :] or "/"
        when, epoch = request_time()
        host = request.host
        if route.payload_version == "1.0":
            return _v1_event(
                request, body, headers, stage, route, params, rid, raw_path, self.api_id
            )
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": request.query_string,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": self.api_id,
                "domainName": host,
                "domainPrefix": host.split(".", 1)[0],
                "http": {
                    "method": request.method,
                    "path": raw_path,
                    "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                    "sourceIp": request.remote or "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": rid,
                "routeKey": route.route_key,
                "stage": stage,
                "time": when,
                "timeEpoch": epoch,
            },
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if request.query:
            query: dict[str, str] = {}
            for name, value in request.query.items():
                query[name] = f"{query[name]},{value}" if name in query else value
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = params
        if body:
            event["body"], event["isBase64Encoded"] = encode_body(
                body, headers.get("content-type", "")
            )
        return event


def _v1_event(
    request: web.Request,
    body: bytes,
    headers: dict[str, str],
    stage: str,
    route: HttpRoute,
    params: dict[str, str],
    rid: str,
    raw_path: str,
    api_id: str,
) -> dict[str, Any]:
    """The payload 1.0 event an HTTP API sends when an integration asks for it."""
    when, epoch = request_time()
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query.items():
        multi_query.setdefault(name, []).append(value)
    text, is_b64 = encode_body(body, headers.get("content-type", "")) if body else (None, False)
    return {
        "version": "1.0",
        "resource": route.template.text if route.template else "$default",
        "path": raw_path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": request.host,
            "httpMethod": request.method,
            "path": raw_path,
            "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
            "identity": {
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": rid,
            "requestTime": when,
            "requestTimeEpoch": epoch,
            "resourcePath": route.template.text if route.template else "$default",
            "stage": stage,
        },
        "pathParameters": params or None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": is_b64,
    }


def _reply(result: Any, rid: str, payload_version: str) -> web.Response:
    header = ("apigw-requestid", rid)
    if payload_version == "2.0" and not (isinstance(result, dict) and "statusCode" in result):
        # Payload 2.0: a reply without statusCode is the body of a 200 (API Gateway's rule).
        try:
            text = result if isinstance(result, str) else json.dumps(result)
        except (TypeError, ValueError):
            return gateway_error(500, "Internal Server Error")
        return web.Response(
            status=200, text=text, content_type="application/json", headers=dict([header])
        )
    try:
        return result_response(
            result, request_id_header=header, multi_value=payload_version == "1.0"
        )
    except ValueError:
        return gateway_error(500, "Internal Server Error")


def build_http_apis(
    deployment: Deployment, functions: Mapping[str, LambdaFunction], region: str
) -> dict[str, HttpApi]:
    """The HTTP APIs the program declared, keyed by API id."""
    apis: dict[str, HttpApi] = {}
    integrations = {r.id: r for r in deployment.of_type("aws:apigatewayv2/integration:Integration")}
    authorizers: dict[str, HttpAuthorizer] = {}
    for r in deployment.of_type("aws:apigatewayv2/authorizer:Authorizer"):
        if r.inputs.get("authorizerType") != "REQUEST":
            raise LocalCloudError(
                f"authorizer {r.name}: only Lambda REQUEST authorizers are emulated"
            )
        authorizers[r.id] = HttpAuthorizer(
            function=_function(functions, str(r.inputs["authorizerUri"]), r.name),
            identity_sources=tuple(r.inputs.get("identitySources") or ()),
            ttl_s=float(r.inputs.get("authorizerResultTtlInSeconds") or 0),
            simple_responses=bool(r.inputs.get("enableSimpleResponses")),
            payload_version=str(r.inputs.get("authorizerPayloadFormatVersion") or "2.0"),
        )
    for r in deployment.of_type("aws:apigatewayv2/api:Api"):
        if r.inputs.get("protocolType", "HTTP") != "HTTP":
            continue  # WebSocket APIs: not emulated yet (listed at start-up)
        apis[r.id] = HttpApi(api_id=r.id, region=region, routes=[], stages={})
    for r in deployment.of_type("aws:apigatewayv2/route:Route"):
        api = apis.get(str(r.inputs["apiId"]))
        if api is None:
            continue
        integration = route_integration(r, integrations)
        route_key = str(r.inputs["routeKey"])
        method, _, path = route_key.partition(" ")
        auth = None
        if r.inputs.get("authorizationType") == "CUSTOM":
            auth = authorizers.get(str(r.inputs.get("authorizerId")))
        timeout_ms = float(integration.inputs.get("timeoutMilliseconds") or 30_000)
        api.routes.append(
            HttpRoute(
                route_key=route_key,
                method=method.upper() if path else "$default",
                template=PathTemplate.parse(path) if path else None,
                function=_function(functions, str(integration.inputs["integrationUri"]), r.name),
                payload_version=str(integration.inputs.get("payloadFormatVersion") or "1.0"),
                timeout_s=timeout_ms / 1000,
                authorizer=auth,
            )
        )
    for api_id, stages in stage_throttles(deployment).items():
        if api_id in apis:
            apis[api_id].stages.update(stages)
    for api in apis.values():
        api.__post_init__()
    return apis


def _function(functions: Mapping[str, LambdaFunction], uri: str, owner: str) -> LambdaFunction:
    target = invoke_arn_function(uri)
    function = functions.get(target)
    if function is None:
        raise LocalCloudError(f"{owner}: integration target {target!r} is not a declared function")
    return function
