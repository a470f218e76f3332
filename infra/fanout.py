"""`FanoutPath`: the table's stream -> SNS topic -> per-client SQS queues, and a WebSocket API.

See docs/architecture.md and docs/fanout.md. Two consumers read the tick table's stream, each with
its own event source mapping: the fan-out consumer publishes every new block to a topic that client
queues subscribe to with filter policies and keeps the OHLCV rollups in the bars table (a third
reader of the stream would throttle: docs/storage.md, "Bars"), and the broadcaster pushes new
ticks to the WebSocket connections subscribed to their symbols. Stream retries are bounded (AWS's
default retries until a record leaves the stream, 24 h, blocking its shard); the fan-out
consumer's exhausted records go to an SQS queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi_aws import apigatewayv2, dynamodb, sns, sqs

from handlers.core.connections import KEY as CONNECTION_KEY
from handlers.core.connections import TTL_ATTRIBUTE as CONNECTION_TTL
from handlers.core.fanout import SYMBOL_ATTRIBUTE
from handlers.core.settings import ENV
from handlers.core.ws import CONNECT, DISCONNECT, SUBSCRIBE, UNSUBSCRIBE
from infra.awslambda import lambda_
from infra.config import StackConfig, Subscriber
from infra.function import PythonFunction, PythonFunctionArgs
from infra.iam import Grant, stream_read_grant
from infra.tokens import stored_token

__all__ = ["NEW_TICKS_FILTER", "ROUTE_SELECTION", "WS_ROUTES", "FanoutPath", "FanoutPathArgs"]

ROUTE_SELECTION: Final = "$request.body.action"
WS_ROUTES: Final = (CONNECT, DISCONNECT, SUBSCRIBE, UNSUBSCRIBE, "$default")
"""`$default` answers messages with an unknown action (with a 400 naming the field)."""
_REPLYING_ROUTES: Final = (SUBSCRIBE, UNSUBSCRIBE, "$default")
"""Routes whose handler reply is sent back to the client (through a `$default` route response)."""
NEW_TICKS_FILTER: Final = json.dumps({"eventName": ["INSERT", "MODIFY"]})
"""Event filter of both stream sources: TTL deletions (REMOVE) would cost an invocation each."""
_VERSION: Final = "2012-10-17"


@dataclass(frozen=True)
class FanoutPathArgs:
    """The stream to read, the code to run, and the stack's settings."""

    config: StackConfig
    stream_arn: pulumi.Input[str]
    """The tick table's stream (NEW_IMAGE)."""
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    """The tick table: the rollup reads a touched minute's blocks back from it."""
    bars_table_name: pulumi.Input[str]
    bars_table_arn: pulumi.Input[str]
    """The bars table the fan-out consumer keeps the rollups in."""
    code: pulumi.Archive
    layer_arn: pulumi.Input[str]


class FanoutPath(pulumi.ComponentResource):
    """Stream consumers, the fan-out topic with subscriber queues, and the WebSocket API."""

    topic_arn: pulumi.Output[str]
    """The topic every new block is published to, with a `symbol` message attribute."""
    failure_queue_url: pulumi.Output[str]
    """On-failure destination of the fan-out consumer (stream record metadata, not ticks)."""
    failure_queue_name: pulumi.Output[str]
    subscriber_queue_urls: pulumi.Output[dict[str, str]]
    """Subscriber name -> queue URL."""
    ws_url: pulumi.Output[str]
    """`wss://` URL of the WebSocket stage."""
    read_token: pulumi.Output[str]
    """Token the WebSocket `$connect` (and so the dashboard) takes: read only (secret)."""
    ws_api_id: pulumi.Output[str]
    ws_stage: str
    connections_table_name: pulumi.Output[str]
    fanout_function: PythonFunction
    ws_function: PythonFunction
    broadcast_function: PythonFunction

    def __init__(
        self, name: str, args: FanoutPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:FanoutPath", name, None, opts)
        config = args.config
        stack = pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)

        failures = sqs.Queue(
            f"{name}-failures", message_retention_seconds=config.dlq_retention_s, opts=child
        )
        topic = sns.Topic(f"{name}-topic", name=f"marketstream-{stack}-ticks", opts=child)
        self.fanout_function = PythonFunction(
            f"{name}-consumer",
            PythonFunctionArgs(
                handler="handlers.fanout.handler",
                memory_mb=config.fanout_memory_mb,
                timeout_s=config.fanout_timeout_s,
                grants=[
                    stream_read_grant(args.stream_arn),
                    Grant(("sns:Publish",), (topic.arn,)),
                    # Lambda sends the on-failure record with the function's role.
                    Grant(("sqs:SendMessage",), (failures.arn,)),
                    # The rollup: a touched minute's blocks, then pages and the mark.
                    Grant(("dynamodb:Query",), (args.table_arn,)),
                    Grant(
                        (
                            "dynamodb:BatchGetItem",
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                        ),
                        (args.bars_table_arn,),
                    ),
                ],
                environment={
                    ENV.TOPIC_ARN: topic.arn,
                    ENV.STACK: stack,
                    ENV.TABLE_NAME: args.table_name,
                    ENV.BARS_TABLE: args.bars_table_name,
                    ENV.BAR_RETENTION_DAYS: json.dumps(
                        config.bar_retention_days, sort_keys=True, separators=(",", ":")
                    ),
                },
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )
        lambda_.EventSourceMapping(
            f"{name}-consumer-source",
            event_source_arn=args.stream_arn,
            function_name=self.fanout_function.arn,
            starting_position="LATEST",
            batch_size=config.fanout_batch_size,
            maximum_batching_window_in_seconds=config.fanout_batch_window_s,
            # A failing record is isolated by halving the batch, so the rest of it moves on.
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=config.fanout_max_retries,
            maximum_record_age_in_seconds=config.fanout_max_record_age_s,
            # The handler names the first failed record; Lambda retries from there only.
            function_response_types=["ReportBatchItemFailures"],
            destination_config={"on_failure": {"destination_arn": failures.arn}},
            filter_criteria={"filters": [{"pattern": NEW_TICKS_FILTER}]},
            opts=child,
        )

        urls = {
            subscriber.name: self._subscriber(name, subscriber, topic, config)
            for subscriber in config.subscribers
        }
        self._websocket(name, config, args)

        self.topic_arn = topic.arn
        self.failure_queue_url = failures.url
        self.failure_queue_name = failures.name
        self.subscriber_queue_urls = (
            pulumi.Output.all(**urls) if urls else pulumi.Output.from_input({})
        )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "failure_queue_url": self.failure_queue_url,
                "subscriber_queue_urls": self.subscriber_queue_urls,
                "ws_url": self.ws_url,
                "read_token": self.read_token,
            }
        )

    def _subscriber(
        self, name: str, subscriber: Subscriber, topic: sns.Topic, config: StackConfig
    ) -> pulumi.Output[str]:
        """One client's queue, its DLQ, the policy letting the topic send, the subscription."""
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"{name}-sub-{subscriber.name}"
        dlq = sqs.Queue(
            f"{prefix}-dlq", message_retention_seconds=config.dlq_retention_s, opts=child
        )
        queue = sqs.Queue(
            prefix,
            message_retention_seconds=config.subscriber_retention_s,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": subscriber.max_receive_count}
                )
            ),
            opts=child,
        )
        policy = sqs.QueuePolicy(
            f"{prefix}-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, topic.arn).apply(
                lambda v: _topic_may_send(v[0], v[1])
            ),
            opts=child,
        )
        sns.TopicSubscription(
            f"{prefix}-subscription",
            topic=topic.arn,
            protocol="sqs",
            endpoint=queue.arn,
            # The body is the message itself, not SNS's JSON envelope around it.
            raw_message_delivery=True,
            filter_policy=json.dumps({SYMBOL_ATTRIBUTE: sorted(subscriber.symbols)}),
            filter_policy_scope="MessageAttributes",
            # Until the policy exists SNS cannot deliver, and it would drop those messages.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return queue.url

    def _websocket(self, name: str, config: StackConfig, args: FanoutPathArgs) -> None:
        """The WebSocket API, its connections table, route function and broadcaster."""
        child = pulumi.ResourceOptions(parent=self)
        stack = pulumi.get_stack()
        # Watching is reading: its own token, so a dashboard never holds a credential that writes.
        read = stored_token(
            f"{name}-read-token",
            secret_name=config.read_token_secret_name(stack),
            description="Token of the MarketStream live WebSocket and dashboard (read only)",
            config=config,
            parent=self,
        )
        self.read_token = read.value
        connections = dynamodb.Table(
            f"{name}-connections",
            billing_mode="PAY_PER_REQUEST",
            hash_key=CONNECTION_KEY,
            attributes=[{"name": CONNECTION_KEY, "type": "S"}],
            # $disconnect is best effort: items of connections that vanished expire.
            ttl={"attribute_name": CONNECTION_TTL, "enabled": True},
            opts=child,
        )
        api = apigatewayv2.Api(
            f"{name}-ws",
            protocol_type="WEBSOCKET",
            route_selection_expression=ROUTE_SELECTION,
            opts=child,
        )
        stage_name = config.ws_stage_name
        self.ws_function = PythonFunction(
            f"{name}-ws",
            PythonFunctionArgs(
                handler="handlers.ws.handler",
                memory_mb=config.ws_memory_mb,
                timeout_s=config.ws_timeout_s,
                grants=[
                    Grant(
                        ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"),
                        (connections.arn,),
                    ),
                    Grant(("secretsmanager:GetSecretValue",), (read.secret_arn,)),
                ],
                environment={
                    ENV.CONNECTIONS_TABLE: connections.name,
                    ENV.TOKEN_SECRET_ID: read.secret_arn,
                    ENV.CONNECTION_TTL_S: str(config.connection_ttl_s),
                    ENV.STACK: stack,
                },
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )
        integration = apigatewayv2.Integration(
            f"{name}-ws-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=self.ws_function.invoke_arn,
            opts=child,
        )
        target = integration.id.apply(lambda integration_id: f"integrations/{integration_id}")
        routes = []
        for route_key in WS_ROUTES:
            slug = _slug(route_key)
            replying = route_key in _REPLYING_ROUTES
            route = apigatewayv2.Route(
                f"{name}-ws-route-{slug}",
                api_id=api.id,
                route_key=route_key,
                target=target,
                # $connect checks the token in the function (a browser can only send it in the
                # query string); the other routes ride on an accepted connection.
                authorization_type="NONE",
                route_response_selection_expression="$default" if replying else None,
                opts=child,
            )
            routes.append(route)
            if replying:
                apigatewayv2.RouteResponse(
                    f"{name}-ws-response-{slug}",
                    api_id=api.id,
                    route_id=route.id,
                    route_response_key="$default",
                    opts=child,
                )
        apigatewayv2.Stage(
            f"{name}-ws-stage",
            api_id=api.id,
            name=stage_name,
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": config.ws_rate_limit,
                "throttling_burst_limit": config.ws_burst_limit,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        lambda_.Permission(
            f"{name}-invoke-ws",
            action="lambda:InvokeFunction",
            function=self.ws_function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/", stage_name, "/*"),
            opts=child,
        )

        # https://<api>.execute-api.<region>.amazonaws.com/<stage>: the @connections API.
        management = api.api_endpoint.apply(
            lambda url: url.replace("wss://", "https://", 1) + f"/{stage_name}"
        )
        self.broadcast_function = PythonFunction(
            f"{name}-broadcast",
            PythonFunctionArgs(
                handler="handlers.broadcast.handler",
                memory_mb=config.broadcast_memory_mb,
                timeout_s=config.broadcast_timeout_s,
                grants=[
                    stream_read_grant(args.stream_arn),
                    Grant(("dynamodb:Scan", "dynamodb:DeleteItem"), (connections.arn,)),
                    Grant(
                        ("execute-api:ManageConnections",),
                        (
                            pulumi.Output.concat(
                                api.execution_arn, "/", stage_name, "/POST/@connections/*"
                            ),
                        ),
                    ),
                ],
                environment={
                    ENV.CONNECTIONS_TABLE: connections.name,
                    ENV.WS_ENDPOINT: management,
                    ENV.STACK: stack,
                },
                code=args.code,
                layer_arn=args.layer_arn,
                config=config,
            ),
            opts=child,
        )
        lambda_.EventSourceMapping(
            f"{name}-broadcast-source",
            event_source_arn=args.stream_arn,
            function_name=self.broadcast_function.arn,
            starting_position="LATEST",
            batch_size=config.stream_batch_size,
            maximum_batching_window_in_seconds=config.stream_batch_window_s,
            # Failures are whole-batch (the connections Scan): halving would not isolate anything.
            bisect_batch_on_function_error=False,
            maximum_retry_attempts=config.broadcast_max_retries,
            maximum_record_age_in_seconds=config.broadcast_max_record_age_s,
            filter_criteria={"filters": [{"pattern": NEW_TICKS_FILTER}]},
            opts=child,
        )

        self.ws_url = pulumi.Output.concat(api.api_endpoint, "/", stage_name)
        self.ws_api_id = api.id
        self.ws_stage = stage_name
        self.connections_table_name = connections.name


def _slug(route_key: str) -> str:
    """A logical-name-safe form of a route key (`$connect` -> `connect`)."""
    return route_key.lstrip("$")


def _topic_may_send(queue_arn: str, topic_arn: str) -> str:
    """A queue policy letting exactly this topic send to the queue."""
    statement: dict[str, Any] = {
        "Sid": "TopicSends",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    return json.dumps({"Version": _VERSION, "Statement": [statement]}, sort_keys=True)
