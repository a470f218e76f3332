"""`IngestPath`: HTTP API `POST /ingest` -> ingest Lambda -> table, with spill queue and replay.

See docs/architecture.md: the authorizer checks a bearer token held in Secrets Manager; the ingest
handler spills blocks the table refuses to an SQS queue that the replay function drains; messages
that keep failing land in the dead-letter queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_aws import apigatewayv2, cloudwatch, sqs

from handlers.core.settings import ENV
from infra.awslambda import lambda_
from infra.config import StackConfig
from infra.function import PythonFunction, PythonFunctionArgs
from infra.iam import Grant
from infra.tokens import stored_token

__all__ = ["AUTHORIZER_CACHE_S", "INGEST_ROUTE", "IngestPath", "IngestPathArgs"]

INGEST_ROUTE: Final = "POST /ingest"
AUTHORIZER_CACHE_S: Final = 300
"""API Gateway caches an authorizer decision per token this long (the maximum is 3600)."""
ASYNC_RETRIES: Final = 2
_STAGE: Final = "$default"

# One JSON object per request, so Logs Insights can query the access log by field.
_ACCESS_LOG_FORMAT: Final = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    },
    sort_keys=True,
)


@dataclass(frozen=True)
class IngestPathArgs:
    """The table to write, the code to run, and the stack's settings."""

    config: StackConfig
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    code: pulumi.Archive
    layer_arn: pulumi.Input[str]


class IngestPath(pulumi.ComponentResource):
    """Authorised HTTP ingest with a spill queue, a replay function and a dead-letter queue."""

    ingest_url: pulumi.Output[str]
    """Full URL of `POST /ingest`."""
    ingest_token: pulumi.Output[str]
    """Bearer token the authorizer accepts (secret)."""
    spill_queue_url: pulumi.Output[str]
    """Queue the ingest handler spills refused blocks to."""
    dlq_url: pulumi.Output[str]
    """Dead-letter queue of the spill queue and of asynchronous ingest invokes."""
    dlq_arn: pulumi.Output[str]
    """ARN of the dead-letter queue."""
    dlq_name: pulumi.Output[str]
    """Name of the dead-letter queue (the `QueueName` dimension its depth alarm watches)."""
    spill_queue_name: pulumi.Output[str]
    """Name of the spill queue (its depth is on the dashboard)."""
    backfill_token: pulumi.Output[str]
    """Bearer token that lets `/ingest` take ticks older than the live window (secret)."""
    api_id: pulumi.Output[str]
    """Id of the HTTP API (the `ApiId` dimension of its metrics)."""
    stage_name: str
    """Name of the HTTP API stage."""
    ingest_function: PythonFunction
    replay_function: PythonFunction
    authorizer_function: PythonFunction

    def __init__(
        self, name: str, args: IngestPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:IngestPath", name, None, opts)
        config = args.config
        stack = pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)

        dlq = sqs.Queue(f"{name}-dlq", message_retention_seconds=config.dlq_retention_s, opts=child)
        spill = sqs.Queue(
            f"{name}-spill",
            # AWS asks for >= 6x the consumer's timeout, so retries of a slow batch don't overlap.
            visibility_timeout_seconds=config.spill_visibility_timeout_s,
            message_retention_seconds=config.spill_retention_s,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": config.max_receive_count}
                )
            ),
            opts=child,
        )

        token = stored_token(
            f"{name}-token",
            secret_name=config.token_secret_name(stack),
            description="Bearer token of the MarketStream ingest API (live window)",
            config=config,
            parent=self,
        )
        # Its own secret, not a second value of the first: live producers never hold it, and
        # history is written only by whoever does (docs/client.md, Backfill).
        backfill = stored_token(
            f"{name}-backfill-token",
            secret_name=config.backfill_token_secret_name(stack),
            description="Bearer token of MarketStream backfill (ticks older than the live window)",
            config=config,
            parent=self,
        )

        self.ingest_function = PythonFunction(
            f"{name}-ingest",
            PythonFunctionArgs(
                handler="handlers.ingest.handler",
                memory_mb=config.ingest_memory_mb,
                timeout_s=config.ingest_timeout_s,
                grants=[
                    Grant(("dynamodb:BatchWriteItem",), (args.table_arn,)),
                    # The spill queue, and the on-failure destination of asynchronous invokes
                    # (Lambda sends to the destination with the function's role).
                    Grant(("sqs:SendMessage",), (spill.arn, dlq.arn)),
                ],
                environment={
                    ENV.TABLE_NAME: args.table_name,
                    ENV.SPILL_QUEUE_URL: spill.url,
                    ENV.MAX_TICKS: str(config.max_ticks),
                    ENV.TTL_DAYS: str(config.ttl_days),
                    ENV.PAST_WINDOW_S: str(config.past_window_s),
                    ENV.FUTURE_WINDOW_S: str(config.future_window_s),
                    ENV.STACK: stack,
                },
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )
        self.replay_function = PythonFunction(
            f"{name}-replay",
            PythonFunctionArgs(
                handler="handlers.replay.handler",
                memory_mb=config.replay_memory_mb,
                timeout_s=config.replay_timeout_s,
                grants=[
                    Grant(("dynamodb:BatchWriteItem",), (args.table_arn,)),
                    # What the SQS event source mapping does with the function's role.
                    Grant(
                        (
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                            "sqs:ChangeMessageVisibility",
                        ),
                        (spill.arn,),
                    ),
                ],
                environment={ENV.TABLE_NAME: args.table_name, ENV.STACK: stack},
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )
        self.authorizer_function = PythonFunction(
            f"{name}-authorizer",
            PythonFunctionArgs(
                handler="handlers.authorizer.handler",
                memory_mb=config.authorizer_memory_mb,
                timeout_s=config.authorizer_timeout_s,
                grants=[
                    Grant(
                        ("secretsmanager:GetSecretValue",),
                        (token.secret_arn, backfill.secret_arn),
                    )
                ],
                environment={
                    ENV.TOKEN_SECRET_ID: token.secret_arn,
                    ENV.BACKFILL_TOKEN_SECRET_ID: backfill.secret_arn,
                },
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )

        # API Gateway invokes synchronously, so these act only for producers that invoke the
        # function asynchronously (docs/architecture.md, Pitfalls); the handler itself spills
        # what the table refuses.
        lambda_.FunctionEventInvokeConfig(
            f"{name}-ingest-async",
            function_name=self.ingest_function.function_name,
            maximum_retry_attempts=ASYNC_RETRIES,
            destination_config={"on_failure": {"destination": dlq.arn}},
            opts=child,
        )
        lambda_.EventSourceMapping(
            f"{name}-replay-source",
            event_source_arn=spill.arn,
            function_name=self.replay_function.arn,
            batch_size=config.replay_batch_size,
            maximum_batching_window_in_seconds=config.replay_batch_window_s,
            # Failed messages return alone instead of failing (and redelivering) the whole batch.
            function_response_types=["ReportBatchItemFailures"],
            opts=child,
        )

        self.ingest_url = self._http_api(name, config, stack)
        self.ingest_token = token.value
        self.backfill_token = backfill.value
        self.spill_queue_url = spill.url
        self.dlq_url = dlq.url
        self.dlq_arn = dlq.arn
        self.dlq_name = dlq.name
        self.spill_queue_name = spill.name
        self.register_outputs(
            {
                "ingest_url": self.ingest_url,
                "ingest_token": self.ingest_token,
                "backfill_token": self.backfill_token,
                "spill_queue_url": self.spill_queue_url,
                "dlq_url": self.dlq_url,
            }
        )

    def _http_api(self, name: str, config: StackConfig, stack: str) -> pulumi.Output[str]:
        """The HTTP API, its authorizer, route and stage; returns the URL of `POST /ingest`."""
        child = pulumi.ResourceOptions(parent=self)
        api = apigatewayv2.Api(f"{name}-api", protocol_type="HTTP", opts=child)
        self.api_id = api.id
        self.stage_name = _STAGE
        integration = apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=self.ingest_function.invoke_arn,
            # Explicit, as the default differs between the console, the CLI and providers.
            payload_format_version="2.0",
            timeout_milliseconds=30_000,
            opts=child,
        )
        authorizer = apigatewayv2.Authorizer(
            f"{name}-authorizer",
            api_id=api.id,
            name="bearer-token",
            authorizer_type="REQUEST",
            authorizer_uri=self.authorizer_function.invoke_arn,
            authorizer_payload_format_version="2.0",
            enable_simple_responses=True,
            # Requests without the header are refused by API Gateway without invoking the function.
            identity_sources=["$request.header.Authorization"],
            authorizer_result_ttl_in_seconds=AUTHORIZER_CACHE_S,
            opts=child,
        )
        route = apigatewayv2.Route(
            f"{name}-route",
            api_id=api.id,
            route_key=INGEST_ROUTE,
            target=integration.id.apply(lambda integration_id: f"integrations/{integration_id}"),
            authorization_type="CUSTOM",
            authorizer_id=authorizer.id,
            opts=child,
        )
        access_logs = cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/marketstream/{stack}/{name}-api-access",
            retention_in_days=config.log_retention_days,
            opts=child,
        )
        apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name=_STAGE,
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": config.ingest_rate_limit,
                "throttling_burst_limit": config.ingest_burst_limit,
                "detailed_metrics_enabled": True,
            },
            access_log_settings={
                "destination_arn": access_logs.arn,
                "format": _ACCESS_LOG_FORMAT,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[route]),
        )
        lambda_.Permission(
            f"{name}-invoke-ingest",
            action="lambda:InvokeFunction",
            function=self.ingest_function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/POST/ingest"),
            opts=child,
        )
        lambda_.Permission(
            f"{name}-invoke-authorizer",
            action="lambda:InvokeFunction",
            function=self.authorizer_function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/authorizers/", authorizer.id),
            opts=child,
        )
        # The `$default` stage serves at the API's root URL.
        return pulumi.Output.concat(api.api_endpoint, "/ingest")
