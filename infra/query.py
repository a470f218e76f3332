"""`QueryPath`: REST API `GET /query|/latest|/bars` with API keys and usage plans per tier.

Usage plans and API keys exist only on REST APIs (docs/architecture.md, Pitfalls), which is why
the read side is a REST API while ingest is an HTTP API.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_random as random
from pulumi_aws import apigateway

from handlers.core.settings import ENV
from infra.awslambda import lambda_
from infra.config import StackConfig
from infra.function import PythonFunction, PythonFunctionArgs
from infra.iam import Grant

__all__ = ["QUERY_ROUTES", "QueryPath", "QueryPathArgs"]

QUERY_ROUTES: Final = ("query", "latest", "bars")
"""Top-level GET resources, all served by `handlers.query.handler`."""
_KEY_LENGTH: Final = 40


@dataclass(frozen=True)
class QueryPathArgs:
    """The table to read, the code to run, and the stack's settings."""

    config: StackConfig
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    bars_table_name: pulumi.Input[str]
    bars_table_arn: pulumi.Input[str]
    """Rollup pages and marks: `/bars` reads them for 1m and coarser intervals."""
    code: pulumi.Archive
    layer_arn: pulumi.Input[str]


class QueryPath(pulumi.ComponentResource):
    """Read API over the tick table, metered per client by API key and usage plan."""

    base_url: pulumi.Output[str]
    """Invoke URL of the stage; routes are `/query`, `/latest`, `/bars`."""
    api_keys: dict[str, pulumi.Output[str]]
    """API key value per configured client (secrets)."""
    first_api_key: pulumi.Output[str]
    """API key of the first configured client (secret), for the load generator."""
    api_name: pulumi.Output[str]
    """Name of the REST API (the `ApiName` dimension of its metrics)."""
    stage_name: pulumi.Output[str]
    """Name of the REST API stage."""
    query_function: PythonFunction

    def __init__(
        self, name: str, args: QueryPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:QueryPath", name, None, opts)
        config = args.config
        stack = pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)

        self.query_function = PythonFunction(
            f"{name}-query",
            PythonFunctionArgs(
                handler="handlers.query.handler",
                memory_mb=config.query_memory_mb,
                timeout_s=config.query_timeout_s,
                grants=[
                    Grant(("dynamodb:Query",), (args.table_arn,)),
                    Grant(("dynamodb:Query", "dynamodb:GetItem"), (args.bars_table_arn,)),
                ],
                environment={
                    ENV.TABLE_NAME: args.table_name,
                    ENV.BARS_TABLE: args.bars_table_name,
                },
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )
        api = apigateway.RestApi(
            f"{name}-api",
            description=f"MarketStream query API ({stack})",
            api_key_source="HEADER",
            endpoint_configuration={"types": "REGIONAL"},
            opts=child,
        )
        methods: list[apigateway.Method] = []
        integrations: list[apigateway.Integration] = []
        for path in QUERY_ROUTES:
            resource = apigateway.Resource(
                f"{name}-{path}",
                rest_api=api.id,
                parent_id=api.root_resource_id,
                path_part=path,
                opts=child,
            )
            method = apigateway.Method(
                f"{name}-{path}-get",
                rest_api=api.id,
                resource_id=resource.id,
                http_method="GET",
                authorization="NONE",
                api_key_required=True,
                opts=child,
            )
            integrations.append(
                apigateway.Integration(
                    f"{name}-{path}-integration",
                    rest_api=api.id,
                    resource_id=resource.id,
                    http_method=method.http_method,
                    type="AWS_PROXY",
                    integration_http_method="POST",  # Lambda is always invoked with POST
                    uri=self.query_function.invoke_arn,
                    opts=child,
                )
            )
            methods.append(method)

        lambda_.Permission(
            f"{name}-invoke-query",
            action="lambda:InvokeFunction",
            function=self.query_function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/GET/*"),
            opts=child,
        )
        deployment = apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            # A deployment is a snapshot: without a trigger that changes with the API, stages
            # keep serving the old routes (docs/architecture.md, Pitfalls).
            triggers={"redeployment": _api_fingerprint(methods, integrations)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*methods, *integrations]),
        )
        stage = apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=config.query_stage_name,
            opts=child,
        )
        apigateway.MethodSettings(
            f"{name}-stage-throttle",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": config.query_rate_limit,
                "throttling_burst_limit": config.query_burst_limit,
                "metrics_enabled": True,
            },
            opts=child,
        )
        plans = {
            tier: apigateway.UsagePlan(
                f"{name}-plan-{tier}",
                name=f"marketstream-{stack}-{tier}",
                api_stages=[{"api_id": api.id, "stage": stage.stage_name}],
                throttle_settings={"rate_limit": spec.rate_limit, "burst_limit": spec.burst_limit},
                quota_settings={"limit": spec.quota_limit, "period": spec.quota_period},
                opts=child,
            )
            for tier, spec in sorted(config.usage_plans.items())
        }
        self.api_keys = {}
        for client in config.query_clients:
            # The value lives in state (stable across runs) and is known to the program, so the
            # local cloud and the load generator can use it.
            value = random.RandomPassword(
                f"{name}-key-{client.name}-value", length=_KEY_LENGTH, special=False, opts=child
            )
            key = apigateway.ApiKey(
                f"{name}-key-{client.name}",
                name=f"marketstream-{stack}-{client.name}",
                description=f"query client {client.name} ({client.tier} tier)",
                value=value.result,
                enabled=True,
                opts=child,
            )
            apigateway.UsagePlanKey(
                f"{name}-key-{client.name}-plan",
                key_id=key.id,
                key_type="API_KEY",
                usage_plan_id=plans[client.tier].id,
                opts=child,
            )
            self.api_keys[client.name] = pulumi.Output.secret(value.result)

        self.base_url = stage.invoke_url
        self.api_name = api.name
        self.stage_name = stage.stage_name
        self.first_api_key = self.api_keys[config.query_clients[0].name]
        self.register_outputs({"base_url": self.base_url, "api_key": self.first_api_key})


def _api_fingerprint(
    methods: list[apigateway.Method], integrations: list[apigateway.Integration]
) -> pulumi.Output[str]:
    """A hash of every route and integration: it changes exactly when the API does."""
    parts = [
        pulumi.Output.all(
            m.id, m.http_method, m.api_key_required, m.authorization, i.id, i.type, i.uri
        )
        for m, i in zip(methods, integrations, strict=True)
    ]
    routes = list(QUERY_ROUTES)

    def digest(values: list[list[object]]) -> str:
        text = json.dumps({"routes": routes, "methods": values}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    return pulumi.Output.all(*parts).apply(digest)
