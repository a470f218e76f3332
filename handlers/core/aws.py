"""boto3 clients, created on first use so that importing a handler stays cheap."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

__all__ = ["dynamodb", "secretsmanager", "sqs"]

# The store retries with its own backoff and spills after that; botocore's retries would
# multiply the wait, so keep them to one quick retry per call with short timeouts.
_CONFIG = Config(
    retries={"max_attempts": 2, "mode": "standard"},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


@cache
def dynamodb() -> DynamoDBClient:
    """The process's DynamoDB client."""
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def sqs() -> SQSClient:
    """The process's SQS client."""
    return boto3.client("sqs", config=_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    """The process's Secrets Manager client."""
    return boto3.client("secretsmanager", config=_CONFIG)
