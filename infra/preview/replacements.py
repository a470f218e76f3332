"""The input properties known to force a replacement on AWS, for the types this program declares.

pulumi-aws is generated from the Terraform AWS provider, whose resource schemas mark such
arguments `ForceNew`; the provider's answer for any other property is only known to `pulumi
preview` (docs/operations.md, "The offline infrastructure diff"), so nothing else is guessed.
Only top-level inputs are listed; a change anywhere under one counts.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ALL", "forces_replacement"]

ALL: Final = "*"
"""Every input: the type has no update at all (a change is a new resource)."""

_LAYER_VERSION: Final = frozenset(
    [
        "layerName",
        "code",
        "s3Bucket",
        "s3Key",
        "s3ObjectVersion",
        "sourceCodeHash",
        "compatibleRuntimes",
        "compatibleArchitectures",
        "description",
        "licenseInfo",
    ]
)
"""Every input of a layer version but whether to keep it on delete."""

_FORCE_NEW: Final[dict[str, frozenset[str]]] = {
    # Names are identities on AWS: a new name is a new queue, table, function, ...
    "aws:sqs/queue:Queue": frozenset({"name", "namePrefix", "fifoQueue"}),
    "aws:sns/topic:Topic": frozenset({"name", "namePrefix", "fifoTopic"}),
    "aws:sns/topicSubscription:TopicSubscription": frozenset({"topic", "protocol", "endpoint"}),
    "aws:dynamodb/table:Table": frozenset({"name", "hashKey", "rangeKey"}),
    "aws:lambda/function:Function": frozenset({"name"}),
    "aws:lambda/eventSourceMapping:EventSourceMapping": frozenset(
        {"eventSourceArn", "startingPosition"}
    ),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix"}),
    "aws:apigateway/stage:Stage": frozenset({"restApi", "stageName"}),
    "aws:apigatewayv2/stage:Stage": frozenset({"apiId", "name"}),
    # Immutable on AWS: a permission statement or a layer version is replaced, never updated.
    "aws:lambda/permission:Permission": frozenset({ALL}),
    "aws:lambda/layerVersion:LayerVersion": _LAYER_VERSION,
}


def forces_replacement(typ: str, prop: str) -> bool:
    """Whether a change of the top-level input `prop` of a `typ` is known to replace it."""
    known = _FORCE_NEW.get(typ, frozenset())
    return ALL in known or prop in known
