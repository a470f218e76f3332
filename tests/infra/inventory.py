"""Render `docs/infra.md`: per stack, a table of the resources the program declares.

Generated from the mock run, so it cannot drift from the program (a test compares).
Regenerate with `.venv/bin/python -m tests.infra.inventory`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from infra.config import StackConfig
from tests.infra.pulumi_mocks import ROOT, STACKS, Recorded, StackRun, run_program

DOC = ROOT / "docs" / "infra.md"

_HEADER = """# Infrastructure inventory

What `__main__.py` declares for each stack, generated from a run of the program under Pulumi's
mock runtime (`.venv/bin/python -m tests.infra.inventory`; `tests/infra/test_inventory.py` fails
when this file is stale). Names are Pulumi logical names; AWS physical names get a random suffix
unless set explicitly. Components (`marketstream:index:*`) group the resources under them.

Packaging: the program stages `handlers/` into `.build/function/` and the layer's dependencies
into `.build/layer/<key>/python/` (key = hash of `handlers/requirements.txt`, platform and Python
version). `MARKETSTREAM_LAYER_BUILD=auto` (default) builds the layer with pip on a cache miss,
`offline` fails instead, `skip` declares a placeholder layer holding only that key (mock-only runs).
"""


def _fn(i: dict[str, Any]) -> str:
    log = i["loggingConfig"]
    return (
        f"`{i['handler']}`, {i['runtime']}/{i['architectures'][0]}, {i['memorySize']:g} MB, "
        f"{i['timeout']:g} s, logs JSON app={log['applicationLogLevel']} "
        f"system={log['systemLogLevel']}; env {', '.join(sorted(i['environment']['variables']))}"
    )


def _policy(i: dict[str, Any]) -> str:
    actions = sorted({a for s in json.loads(i["policy"])["Statement"] for a in s["Action"]})
    return ", ".join(actions)


def _queue(i: dict[str, Any]) -> str:
    parts = [f"retention {i['messageRetentionSeconds']:g} s"]
    if "visibilityTimeoutSeconds" in i:
        parts.append(f"visibility {i['visibilityTimeoutSeconds']:g} s")
    if "redrivePolicy" in i:
        redrive = json.loads(i["redrivePolicy"])
        parts.append(f"redrive to DLQ after {redrive['maxReceiveCount']} receives")
    return ", ".join(parts)


def _mapping(i: dict[str, Any]) -> str:
    source = "table stream" if ":dynamodb:" in i["eventSourceArn"] else "spill queue"
    parts = [
        source,
        f"batch {i['batchSize']:g}",
        f"window {i['maximumBatchingWindowInSeconds']:g} s",
    ]
    if "startingPosition" in i:
        parts += [
            f"from {i['startingPosition']}",
            f"bisect {i['bisectBatchOnFunctionError']}",
            f"retries {i['maximumRetryAttempts']:g}",
            f"record age {i['maximumRecordAgeInSeconds']:g} s",
        ]
    if "filterCriteria" in i:
        parts.append("filter " + ", ".join(f["pattern"] for f in i["filterCriteria"]["filters"]))
    parts += i.get("functionResponseTypes", [])
    if "destinationConfig" in i:
        parts.append("on failure -> queue")
    return ", ".join(parts)


def _table(i: dict[str, Any]) -> str:
    key = ", ".join(k for k in (i["hashKey"], i.get("rangeKey")) if k)
    parts = [f"{i['billingMode']}, key ({key})"]
    if i.get("streamEnabled"):
        parts.append(f"stream {i['streamViewType']}")
    parts.append(f"TTL `{i['ttl']['attributeName']}`")
    if "pointInTimeRecovery" in i:
        parts.append(f"PITR {i['pointInTimeRecovery']['enabled']}")
    if "deletionProtectionEnabled" in i:
        parts.append(f"deletion protection {i['deletionProtectionEnabled']}")
    return ", ".join(parts)


def _subscription(i: dict[str, Any]) -> str:
    if i["protocol"] != "sqs":
        return f"{i['protocol']} `{i['endpoint']}`"
    raw = ", raw delivery" if i.get("rawMessageDelivery") else ""
    return f"sqs, filter `{i['filterPolicy']}`{raw}"


_SUMMARY: dict[str, Callable[[dict[str, Any]], str]] = {
    "marketstream:index:CodeBundle": lambda i: "stages `handlers/` and the dependency layer",
    "marketstream:index:TickStore": lambda i: "the tick table",
    "marketstream:index:IngestPath": lambda i: (
        "HTTP API, authorizer, ingest/replay, spill queue, DLQ"
    ),
    "marketstream:index:QueryPath": lambda i: "REST API, usage plans, API keys, query function",
    "marketstream:index:FanoutPath": lambda i: (
        "stream consumers, SNS topic, subscriber queues, WebSocket API, connections table"
    ),
    "marketstream:index:PythonFunction": lambda i: "function + log group + role + role policy",
    "marketstream:index:Observability": lambda i: (
        "alarms -> SNS topic, dashboard, monthly budget, Logs Insights queries"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda i: (
        f"`{i['name']}`: {i['namespace']} {i['metricName']} "
        f"{i.get('extendedStatistic') or i['statistic']} > {i['threshold']:g}, "
        f"{i['datapointsToAlarm']:g} of {i['evaluationPeriods']:g} x {i['period']:g} s"
    ),
    "aws:sns/topic:Topic": lambda i: f"`{i['name']}`",
    "aws:sns/topicPolicy:TopicPolicy": lambda i: (
        "sns:Publish for "
        + ", ".join(sorted(s["Principal"]["Service"] for s in json.loads(i["policy"])["Statement"]))
        + " (this stack's alarms/budget only)"
    ),
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:sqs/queuePolicy:QueuePolicy": lambda i: (
        "sqs:SendMessage for sns.amazonaws.com, this topic only"
    ),
    "aws:budgets/budget:Budget": lambda i: (
        f"`{i['name']}`, {i['budgetType']} {i['limitAmount']} {i['limitUnit']} {i['timeUnit']}, "
        f"notify at {i['notifications'][0]['threshold']:g}% actual"
    ),
    "aws:cloudwatch/dashboard:Dashboard": lambda i: (
        f"`{i['dashboardName']}`, {len(json.loads(i['dashboardBody'])['widgets'])} widgets"
    ),
    "aws:cloudwatch/queryDefinition:QueryDefinition": lambda i: (
        f"`{i['name']}` over {len(i['logGroupNames'])} log groups"
    ),
    "aws:dynamodb/table:Table": _table,
    "aws:lambda/function:Function": _fn,
    "aws:lambda/layerVersion:LayerVersion": lambda i: (
        f"{', '.join(i['compatibleRuntimes'])}/{', '.join(i['compatibleArchitectures'])}"
    ),
    "aws:cloudwatch/logGroup:LogGroup": lambda i: f"`{i['name']}`, {i['retentionInDays']:g} days",
    "aws:iam/rolePolicy:RolePolicy": _policy,
    "aws:iam/role:Role": lambda i: "assumed by lambda.amazonaws.com",
    "aws:sqs/queue:Queue": _queue,
    "aws:secretsmanager/secret:Secret": lambda i: (
        f"`{i['name']}`, recovery window {i['recoveryWindowInDays']:g} days"
    ),
    "random:index/randomPassword:RandomPassword": lambda i: f"{i['length']:g} chars, kept in state",
    "aws:apigatewayv2/api:Api": lambda i: (
        i["protocolType"]
        + (
            f", routes on `{i['routeSelectionExpression']}`"
            if "routeSelectionExpression" in i
            else ""
        )
    ),
    "aws:apigatewayv2/route:Route": lambda i: (
        f"`{i['routeKey']}`, auth {i['authorizationType']}"
        + (", replies to the client" if i.get("routeResponseSelectionExpression") else "")
    ),
    "aws:apigatewayv2/routeResponse:RouteResponse": lambda i: f"`{i['routeResponseKey']}`",
    "aws:apigatewayv2/integration:Integration": lambda i: (
        f"{i['integrationType']}, payload {i.get('payloadFormatVersion', '1.0 (WebSocket)')}"
    ),
    "aws:apigatewayv2/authorizer:Authorizer": lambda i: (
        f"{i['authorizerType']}, simple responses, cache {i['authorizerResultTtlInSeconds']:g} s, "
        f"identity {', '.join(i['identitySources'])}"
    ),
    "aws:apigatewayv2/stage:Stage": lambda i: (
        f"`{i['name']}`, throttle {i['defaultRouteSettings']['throttlingRateLimit']:g} rps / "
        f"burst {i['defaultRouteSettings']['throttlingBurstLimit']:g}"
        + (", JSON access log" if "accessLogSettings" in i else "")
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": lambda i: (
        f"retries {i['maximumRetryAttempts']:g}, on failure -> DLQ"
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": _mapping,
    "aws:lambda/permission:Permission": lambda i: f"{i['principal']} may invoke",
    "aws:apigateway/restApi:RestApi": lambda i: "REST, API key from header",
    "aws:apigateway/resource:Resource": lambda i: f"`/{i['pathPart']}`",
    "aws:apigateway/method:Method": lambda i: (
        f"{i['httpMethod']}, API key required {i['apiKeyRequired']}"
    ),
    "aws:apigateway/integration:Integration": lambda i: f"{i['type']} (Lambda proxy)",
    "aws:apigateway/deployment:Deployment": lambda i: (
        "redeploys on a hash of routes and integrations"
    ),
    "aws:apigateway/stage:Stage": lambda i: f"`{i['stageName']}`",
    "aws:apigateway/methodSettings:MethodSettings": lambda i: (
        f"`{i['methodPath']}` throttle {i['settings']['throttlingRateLimit']:g} rps / "
        f"burst {i['settings']['throttlingBurstLimit']:g}"
    ),
    "aws:apigateway/usagePlan:UsagePlan": lambda i: (
        f"{i['throttleSettings']['rateLimit']:g} rps / "
        f"burst {i['throttleSettings']['burstLimit']:g}, "
        f"quota {i['quotaSettings']['limit']:g} per {i['quotaSettings']['period']}"
    ),
    "aws:apigateway/apiKey:ApiKey": lambda i: f"`{i['name']}`, value from RandomPassword",
    "aws:apigateway/usagePlanKey:UsagePlanKey": lambda i: "binds the key to its tier's plan",
    "marketstream:index:DashboardSite": lambda i: "private S3 bucket + CloudFront (OAC)",
    "aws:s3/bucket:Bucket": lambda i: f"force destroy {i['forceDestroy']}",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": lambda i: "all public access blocked",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": lambda i: (
        f"{i['rule']['objectOwnership']} (ACLs off)"
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": lambda i: f"`{i['key']}` ({i['contentType']})",
    "aws:s3/bucketPolicy:BucketPolicy": lambda i: "s3:GetObject for this distribution only",
    "aws:cloudfront/originAccessControl:OriginAccessControl": lambda i: (
        f"{i['signingProtocol']}, signing {i['signingBehavior']}"
    ),
    "aws:cloudfront/distribution:Distribution": lambda i: (
        f"{i['defaultCacheBehavior']['viewerProtocolPolicy']}, root `{i['defaultRootObject']}`"
    ),
}


def _row(resource: Recorded) -> str:
    summarise = _SUMMARY.get(resource.typ)
    summary = summarise(resource.inputs) if summarise else ""
    return f"| `{resource.typ}` | `{resource.name}` | {summary} |"


_OPS = {"Ge": ">=", "Le": "<=", "Gt": ">", "Lt": "<"}


def _dumped(value: object) -> object:
    """A default as JSON data: models by their aliases, plain values as they are."""
    return value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value


def _config_reference() -> list[str]:
    """One row per `marketstream:*` key: default, limits and what it is for."""
    lines = [
        "## Configuration keys (`marketstream:*`)",
        "",
        "| Key | Default | Limits | Meaning |",
        "|---|---|---|---|",
    ]
    defaults = StackConfig()
    for name, info in StackConfig.model_fields.items():
        default = getattr(defaults, name)
        if isinstance(default, dict | list):
            shown = json.dumps(
                {k: _dumped(v) for k, v in default.items()}
                if isinstance(default, dict)
                else [_dumped(v) for v in default]
            )
        else:
            shown = json.dumps(default)
        limits = [
            f"{_OPS[type(m).__name__]} {getattr(m, type(m).__name__.lower())}"
            for m in info.metadata
            if type(m).__name__ in _OPS
        ]
        limits += [f"matches `{m.pattern}`" for m in info.metadata if getattr(m, "pattern", None)]
        args = get_args(info.annotation)
        if get_origin(info.annotation) is Literal:
            limits.append(" / ".join(str(a) for a in args))
        doc = (info.description or "").replace("\n", " ")
        lines.append(f"| `{info.alias}` | `{shown}` | {', '.join(limits)} | {doc} |")
    return [*lines, ""]


def render(runs: list[StackRun]) -> str:
    """The whole document for `runs` (one section per stack), then the config reference."""
    lines = [_HEADER]
    for run in runs:
        declared = [r for r in run.resources if not r.typ.startswith("pulumi:")]
        ordered = sorted(
            declared, key=lambda r: (not r.typ.startswith("marketstream:"), r.typ, r.name)
        )
        lines += [
            f"## Stack `{run.stack}` ({len(declared)} resources)",
            "",
            "| Type | Name | Key settings |",
            "|---|---|---|",
            *(_row(r) for r in ordered),
            "",
        ]
    lines += _config_reference()
    return "\n".join(lines)


def main() -> None:
    """Write `docs/infra.md`."""
    DOC.write_text(render([run_program(stack) for stack in STACKS]), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
