"""boto3 clients, created on first use so that importing a handler stays cheap."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

__all__ = ["CLIENT_CONFIG", "dynamodb", "management_api", "secretsmanager", "sns", "sqs"]

# The store retries with its own backoff and spills after that; botocore's retries would
# multiply the wait, so keep them to one quick retry per call with short timeouts.
CLIENT_CONFIG = Config(
    # total_max_attempts counts the first call; max_attempts would count retries only.
    retries={"total_max_attempts": 2, "mode": "standard"},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    # ~4 % less client CPU per call (`python -m bench.botocore_settings`), Lambda time on AWS
    # too. Given up: botocore's own check of each call's parameters against the service model;
    # the service still checks them, and the handlers build them from validated input.
    parameter_validation=False,
)


@cache
def dynamodb() -> DynamoDBClient:
    """The process's DynamoDB client."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@cache
def sqs() -> SQSClient:
    """The process's SQS client."""
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    """The process's Secrets Manager client."""
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


@cache
def sns() -> SNSClient:
    """The process's SNS client."""
    return boto3.client("sns", config=CLIENT_CONFIG)


class ManagementApi(Protocol):
    """The one call of the API Gateway `@connections` management API the broadcaster makes."""

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> Any:
        """Send `Data` to one WebSocket connection (GoneException if it is closed)."""
        ...


@cache
def management_api(endpoint_url: str) -> ManagementApi:
    """The process's client of a WebSocket stage's `@connections` API at `endpoint_url`."""
    # No boto3-stubs extra for this service: the Protocol names what the broadcaster uses.
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=endpoint_url, config=CLIENT_CONFIG
    )
    return cast(ManagementApi, client)
