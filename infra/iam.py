"""IAM policy documents built as Python dicts scoped to concrete ARNs, then `json.dumps`-ed.

Each Lambda role gets exactly the grants its handler needs; `policy_document` refuses wildcard
actions so a sloppy grant fails at program time rather than in a review.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi

__all__ = [
    "LAMBDA_SERVICE",
    "Grant",
    "assume_role_policy",
    "log_grant",
    "policy_document",
    "stream_read_grant",
]

LAMBDA_SERVICE: Final = "lambda.amazonaws.com"
_VERSION: Final = "2012-10-17"


@dataclass(frozen=True)
class Grant:
    """Allow `actions` on `resources` (ARNs of this stack's resources)."""

    actions: tuple[str, ...]
    resources: tuple[pulumi.Input[str], ...]

    def __post_init__(self) -> None:
        if not self.actions or not self.resources:
            raise ValueError("a grant needs at least one action and one resource")
        for action in self.actions:
            service, _, name = action.partition(":")
            if not service or not name or "*" in action:
                raise ValueError(f"grant actions must be explicit service:Action, got {action!r}")


def log_grant(log_group_arn: pulumi.Input[str]) -> Grant:
    """Write access to the streams of one log group (what the Lambda runtime does)."""
    # Streams are sub-resources of the group: `<group arn>:*` names the group's streams only.
    streams = pulumi.Output.concat(log_group_arn, ":*")
    return Grant(("logs:CreateLogStream", "logs:PutLogEvents"), (streams,))


def stream_read_grant(stream_arn: pulumi.Input[str]) -> Grant:
    """What a DynamoDB stream event source mapping does with its function's role."""
    # AWS's own least-privilege example scopes all four to the stream ARN.
    actions = ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
    return Grant(tuple(f"dynamodb:{a}" for a in actions), (stream_arn,))


def policy_document(grants: Sequence[Grant]) -> pulumi.Output[str]:
    """A JSON policy with one Allow statement per grant, resolved once every ARN is known."""
    resolved = [pulumi.Output.all(*grant.resources) for grant in grants]

    def render(resources: list[list[str]]) -> str:
        statements = [
            _statement(grant.actions, arns) for grant, arns in zip(grants, resources, strict=True)
        ]
        return json.dumps({"Version": _VERSION, "Statement": statements}, sort_keys=True)

    return pulumi.Output.all(*resolved).apply(render)


def assume_role_policy(service: str = LAMBDA_SERVICE) -> str:
    """The trust policy that lets `service` assume a role."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": _VERSION, "Statement": [statement]}, sort_keys=True)


def _statement(actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": sorted(set(resources)),
    }
