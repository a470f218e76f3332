"""API Gateway REST APIs (v1): resources, methods, Lambda proxy integrations (payload 1.0),
API keys, usage plans (per-key throttle and quota) and stage/method throttling.

Mounted by the gateway at `/<restApiId>/<stage>/...`, the program's stage `invoke_url`. API keys
come from the `x-api-key` header (`api_key_source = HEADER`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
from localcloud.gateway.ratelimit import Quota, TokenBucket
from localcloud.gateway.routing import PathTemplate
from localcloud.metrics.observers import ApiMetrics
from localcloud.runtime.functions import FunctionError, FunctionThrottled, LambdaFunction

__all__ = ["ApiKey", "RestApi", "RestMethod", "UsagePlan", "build_rest_apis"]

_INTEGRATION_TIMEOUT_S = 29.0


@dataclass
class UsagePlan:
    """Throttle and quota per API key, for the API stages the plan lists."""

    plan_id: str
    name: str
    stages: set[tuple[str, str]]
    throttle: tuple[float, int] | None
    quota: tuple[int, str] | None
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _quotas: dict[str, Quota] = field(default_factory=dict)

    def admit(self, key_id: str) -> str | None:
        """None if the key may make this request, else the 429 message."""
        if self.throttle is not None:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = TokenBucket(*self.throttle)
            if not bucket.take():
                return "Too Many Requests"
        if self.quota is not None:
            quota = self._quotas.get(key_id)
            if quota is None:
                quota = self._quotas[key_id] = Quota(*self.quota)
            if not quota.take():
                return "Limit Exceeded"
        return None


@dataclass
class ApiKey:
    """An API key and the usage plans it is bound to."""

    key_id: str
    name: str
    value: str
    enabled: bool
    plans: list[UsagePlan] = field(default_factory=list)


@dataclass
class RestMethod:
    """A method of a resource and the function behind it."""

    resource_id: str
    template: PathTemplate
    http_method: str
    api_key_required: bool
    function: LambdaFunction | None


@dataclass
class RestApi:
    """One REST API: its methods, stages (with method throttles) and the keys that may call it."""

    api_id: str
    methods: list[RestMethod]
    stages: dict[str, dict[str, TokenBucket]]
    """Stage name -> method path (`*/*`, `/query/GET`) -> throttle."""
    keys: dict[str, ApiKey]
    """By key value."""
    name: str = ""
    """The API's name (its metrics' ApiName dimension)."""
    metrics: ApiMetrics | None = None
    """Where each answered request is recorded (AWS/ApiGateway, by ApiName and Stage)."""

    def __post_init__(self) -> None:
        self.methods.sort(key=lambda m: (m.template.specificity, m.http_method == "ANY"))

    def _match(self, method: str, parts: list[str]) -> tuple[RestMethod, dict[str, str]] | None:
        for candidate in self.methods:
            if candidate.http_method not in (method, "ANY"):
                continue
            params = candidate.template.match(parts)
            if params is not None:
                return candidate, params
        return None

    def _stage_throttle(self, stage: str, method: RestMethod) -> TokenBucket | None:
        buckets = self.stages.get(stage) or {}
        specific = buckets.get(f"{method.template.text}/{method.http_method}")
        return specific or buckets.get("*/*")

    async def handle(self, request: web.Request, parts: list[str]) -> web.Response:
        """Serve a request whose path after `/<restApiId>` is `parts` (stage first)."""
        if not parts or parts[0] not in self.stages:
            return gateway_error(403, "Forbidden")  # what AWS answers for an unknown stage
        stage, parts = parts[0], parts[1:]
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
            # AWS answers an unknown path of a key-protected API like a missing key.
            return gateway_error(403, "Missing Authentication Token")
        method, params = found
        key: ApiKey | None = None
        if method.api_key_required:
            # Repeated x-api-key headers are one comma-joined value (no key): never pick one.
            key = self.keys.get(",".join(request.headers.getall("x-api-key", ())))
            plans = [p for p in key.plans if (self.api_id, stage) in p.stages] if key else []
            if key is None or not key.enabled or not plans:
                return gateway_error(403, "Forbidden")
        bucket = self._stage_throttle(stage, method)
        if bucket is not None and not bucket.take():
            return gateway_error(429, "Too Many Requests")
        if key is not None:
            for plan in (p for p in key.plans if (self.api_id, stage) in p.stages):
                refused = plan.admit(key.key_id)
                if refused is not None:
                    return gateway_error(429, refused)
        if method.function is None:
            return gateway_error(500, "Internal server error")
        rid = request_id()
        body = await request.read()
        event = self._event(request, body, stage, method, params, rid, key)
        try:
            async with asyncio.timeout(_INTEGRATION_TIMEOUT_S), timing.integration():
                result = await method.function.invoke(event)
        except TimeoutError:
            return gateway_error(504, "Endpoint request timed out")
        except FunctionThrottled:
            return gateway_error(429, "Too Many Requests")
        except FunctionError:
            return gateway_error(502, "Internal server error")
        try:
            return result_response(
                result, request_id_header=("x-amzn-RequestId", rid), multi_value=True
            )
        except ValueError:
            return gateway_error(502, "Internal server error")

    def _event(
        self,
        request: web.Request,
        body: bytes,
        stage: str,
        method: RestMethod,
        params: dict[str, str],
        rid: str,
        key: ApiKey | None,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query.items():
            multi_query.setdefault(name, []).append(value)
        path = "/" + "/".join(request.path.split("/")[3:])
        when, epoch = request_time()
        content_type = request.headers.get("Content-Type", "")
        text, is_b64 = encode_body(body, content_type) if body else (None, False)
        user_agent = request.headers.get("User-Agent", "")
        return {
            "resource": method.template.text,
            "path": path,
            "httpMethod": request.method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": method.resource_id,
                "resourcePath": method.template.text,
                "httpMethod": request.method,
                "extendedRequestId": rid,
                "requestTime": when,
                "path": f"/{stage}{path}",
                "accountId": ACCOUNT_ID,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "stage": stage,
                "domainPrefix": request.host.split(".", 1)[0],
                "requestTimeEpoch": epoch,
                "requestId": rid,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "apiKey": key.value if key else None,
                    "apiKeyId": key.key_id if key else None,
                    "sourceIp": request.remote or "127.0.0.1",
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": user_agent,
                    "user": None,
                },
                "domainName": request.host,
                "apiId": self.api_id,
            },
            "body": text,
            "isBase64Encoded": is_b64,
        }


def build_rest_apis(
    deployment: Deployment, functions: Mapping[str, LambdaFunction]
) -> dict[str, RestApi]:
    """The REST APIs the program declared, keyed by API id."""
    paths: dict[str, str] = {}
    for r in deployment.of_type("aws:apigateway/restApi:RestApi"):
        paths[str(r.outputs["rootResourceId"])] = "/"
    for r in deployment.of_type("aws:apigateway/resource:Resource"):
        paths[r.id] = str(r.outputs.get("path") or "/" + str(r.inputs["pathPart"]))
    integrations = {
        (str(r.inputs["restApi"]), str(r.inputs["resourceId"]), str(r.inputs["httpMethod"])): r
        for r in deployment.of_type("aws:apigateway/integration:Integration")
    }
    apis = {
        r.id: RestApi(
            api_id=r.id, methods=[], stages={}, keys={}, name=str(r.outputs.get("name") or r.name)
        )
        for r in deployment.of_type("aws:apigateway/restApi:RestApi")
    }
    for r in deployment.of_type("aws:apigateway/method:Method"):
        api_id, resource_id = str(r.inputs["restApi"]), str(r.inputs["resourceId"])
        http_method = str(r.inputs["httpMethod"]).upper()
        integration = integrations.get((api_id, resource_id, http_method))
        function = None
        if integration is not None and integration.inputs.get("type") in ("AWS_PROXY",):
            target = invoke_arn_function(str(integration.inputs.get("uri", "")))
            function = functions.get(target)
            if function is None:
                raise LocalCloudError(f"{integration.name}: {target!r} is not a declared function")
        apis[api_id].methods.append(
            RestMethod(
                resource_id=resource_id,
                template=PathTemplate.parse(paths.get(resource_id, "/")),
                http_method=http_method,
                api_key_required=bool(r.inputs.get("apiKeyRequired")),
                function=function,
            )
        )
    for r in deployment.of_type("aws:apigateway/stage:Stage"):
        apis[str(r.inputs["restApi"])].stages[str(r.inputs["stageName"])] = {}
    for r in deployment.of_type("aws:apigateway/methodSettings:MethodSettings"):
        settings = r.inputs.get("settings") or {}
        rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
        stage = apis[str(r.inputs["restApi"])].stages.setdefault(str(r.inputs["stageName"]), {})
        if rate is not None and burst is not None and float(rate) >= 0:
            stage[str(r.inputs["methodPath"])] = TokenBucket(float(rate), int(burst))
    plans: dict[str, UsagePlan] = {}
    for r in deployment.of_type("aws:apigateway/usagePlan:UsagePlan"):
        throttle = r.inputs.get("throttleSettings") or {}
        quota = r.inputs.get("quotaSettings") or {}
        plans[r.id] = UsagePlan(
            plan_id=r.id,
            name=str(r.inputs.get("name") or r.name),
            stages={(str(s["apiId"]), str(s["stage"])) for s in r.inputs.get("apiStages") or []},
            throttle=(float(throttle["rateLimit"]), int(throttle.get("burstLimit") or 0))
            if "rateLimit" in throttle
            else None,
            quota=(int(quota["limit"]), str(quota.get("period") or "DAY"))
            if "limit" in quota
            else None,
        )
    keys: dict[str, ApiKey] = {}
    for r in deployment.of_type("aws:apigateway/apiKey:ApiKey"):
        keys[r.id] = ApiKey(
            key_id=r.id,
            name=str(r.outputs.get("name") or r.name),
            value=str(r.outputs["value"]),
            enabled=r.inputs.get("enabled", True) is not False,
        )
    for r in deployment.of_type("aws:apigateway/usagePlanKey:UsagePlanKey"):
        key = keys.get(str(r.inputs["keyId"]))
        plan = plans.get(str(r.inputs["usagePlanId"]))
        if key is not None and plan is not None:
            key.plans.append(plan)
    by_value = {key.value: key for key in keys.values()}
    for api in apis.values():
        api.keys = by_value
        api.__post_init__()
    return apis
