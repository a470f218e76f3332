"""A bearer token kept in Pulumi state and stored in a Secrets Manager secret.

Three credentials are made this way: the live-ingest token and the backfill token (the ingest
authorizer checks both) and the read token (the WebSocket `$connect` checks it). Each gets its
own secret, so each function's role can read exactly the secrets it checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_random as random
from pulumi_aws import secretsmanager

from infra.config import StackConfig

__all__ = ["StoredToken", "stored_token"]

TOKEN_LENGTH: Final = 48


@dataclass(frozen=True)
class StoredToken:
    """The token's value (secret) and the ARN of the secret holding it."""

    value: pulumi.Output[str]
    secret_arn: pulumi.Output[str]
    """Taken from the secret's version: a function given it waits for the value to exist."""


def stored_token(
    prefix: str,
    *,
    secret_name: str,
    description: str,
    config: StackConfig,
    parent: pulumi.Resource,
) -> StoredToken:
    """`<prefix>` (the random value), `<prefix>-secret` and `<prefix>-value` under `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    # Kept in state, so the token is the same on every run (no diff, no rotation by accident).
    token = random.RandomPassword(prefix, length=TOKEN_LENGTH, special=False, opts=child)
    secret = secretsmanager.Secret(
        f"{prefix}-secret",
        name=secret_name,
        description=description,
        recovery_window_in_days=config.secret_recovery_days,
        opts=child,
    )
    version = secretsmanager.SecretVersion(
        f"{prefix}-value", secret_id=secret.id, secret_string=token.result, opts=child
    )
    return StoredToken(pulumi.Output.secret(token.result), version.secret_arn)
