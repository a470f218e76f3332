"""Pulumi mock runtime for the infra tests: records every resource the program declares.

`RecordingMocks.new_resource` keeps each resource's inputs (as the provider would receive them,
camelCase) and returns the outputs AWS would compute (ARNs, URLs, ids), so tests can assert on
plain dicts after the program ran, and the IAM walker can tell this stack's ARNs from others.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

# How the mock monitor hands over a secret input: {SIG: SECRET_SIG, "value": <plain value>}.
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACKS = ("dev", "prod")


@dataclass
class Recorded:
    """One declared resource: its type token, logical name, inputs and mocked state."""

    typ: str
    name: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    computed: dict[str, Any] = field(default_factory=dict)
    """The outputs the mocks computed (ARNs the resource owns), without echoed inputs."""
    secret_inputs: set[str] = field(default_factory=set)
    """Top-level input names whose value was a Pulumi secret (`inputs` holds them unwrapped)."""


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG) == _SECRET_SIG


def _unwrap(value: Any) -> Any:
    """The plain value of an input, with every secret wrapper removed."""
    if _is_secret(value):
        return _unwrap(value["value"])
    if isinstance(value, dict):
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def _physical(args: pulumi.runtime.MockResourceArgs) -> str:
    return str(args.inputs.get("name") or args.name)


def _computed(
    typ: str, name: str, inputs: dict[str, Any], logical: str, rid: str
) -> dict[str, Any]:
    """The outputs AWS computes for the resource types this program declares."""
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    match typ:
        case "aws:dynamodb/table:Table":
            table = arn.format("dynamodb", f"table/{name}")
            return {
                "name": name,
                "arn": table,
                "streamArn": f"{table}/stream/2025-01-01T00:00:00.000",
            }
        case "aws:sqs/queue:Queue":
            return {
                "name": name,
                "arn": arn.format("sqs", name),
                "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
            }
        case "aws:cloudwatch/logGroup:LogGroup":
            return {"name": name, "arn": arn.format("logs", f"log-group:{name}")}
        case "aws:iam/role:Role":
            return {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}
        case "aws:lambda/function:Function":
            function = arn.format("lambda", f"function:{name}")
            path = f"path/2015-03-31/functions/{function}/invocations"
            invoke = f"arn:aws:apigateway:{REGION}:lambda:{path}"
            return {"name": name, "arn": function, "invokeArn": invoke}
        case "aws:lambda/layerVersion:LayerVersion":
            return {"arn": arn.format("lambda", f"layer:{inputs['layerName']}:1")}
        case "aws:secretsmanager/secret:Secret":
            return {"name": name, "arn": arn.format("secretsmanager", f"secret:{name}-AbCdEf")}
        case "aws:secretsmanager/secretVersion:SecretVersion":
            return {"secretArn": inputs["secretId"], "versionId": "v1"}
        case "aws:apigatewayv2/api:Api":
            scheme = "wss" if inputs.get("protocolType") == "WEBSOCKET" else "https"
            return {
                "name": name,
                "apiEndpoint": f"{scheme}://{rid}.execute-api.{REGION}.amazonaws.com",
                "executionArn": arn.format("execute-api", rid),
                "arn": f"arn:aws:apigateway:{REGION}::/apis/{rid}",
            }
        case "aws:apigateway/restApi:RestApi":
            return {
                "name": name,
                "rootResourceId": f"{rid}-root",
                "executionArn": arn.format("execute-api", rid),
                "arn": f"arn:aws:apigateway:{REGION}::/restapis/{rid}",
            }
        case "aws:apigateway/stage:Stage":
            url = f"https://{inputs['restApi']}.execute-api.{REGION}.amazonaws.com"
            return {"invokeUrl": f"{url}/{inputs['stageName']}"}
        case "aws:sns/topic:Topic":
            return {"name": name, "arn": arn.format("sns", name)}
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            return {"name": name, "arn": arn.format("cloudwatch", f"alarm:{name}")}
        case "aws:cloudwatch/dashboard:Dashboard":
            dashboard = inputs["dashboardName"]
            return {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dashboard}"}
        case "aws:budgets/budget:Budget":
            return {"arn": f"arn:aws:budgets::{ACCOUNT}:budget/{name}"}
        case "aws:s3/bucket:Bucket":
            return {
                "bucket": name,
                "arn": f"arn:aws:s3:::{name}",
                "bucketRegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            }
        case "aws:cloudfront/distribution:Distribution":
            return {
                "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{rid}",
                "domainName": f"{rid}.cloudfront.net",
            }
        case "random:index/randomPassword:RandomPassword":
            seed = hashlib.sha256(logical.encode()).hexdigest()
            return {"result": (seed * 4)[: int(inputs["length"])]}
    return {}


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that answer like AWS and remember what was declared."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        # As the AWS provider does: a role's id is its name (role policies refer to it), a
        # secret's id is its ARN; other ids are opaque.
        if args.typ == "aws:iam/role:Role":
            rid = _physical(args)
        elif args.typ == "aws:secretsmanager/secret:Secret":
            rid = _computed(args.typ, _physical(args), {}, args.name, "")["arn"]
        else:
            rid = f"{args.name}-id"
        inputs = _unwrap(args.inputs)
        computed = _computed(args.typ, _physical(args), inputs, args.name, rid)
        # Pulumi gets the inputs back as they came (secrets stay secret); tests get plain values.
        state = {**args.inputs, **computed}
        self.resources.append(
            Recorded(
                typ=args.typ,
                name=args.name,
                id=rid,
                inputs=inputs,
                state={**inputs, **computed},
                custom=bool(args.custom),
                computed=computed,
                secret_inputs={key for key, value in args.inputs.items() if _is_secret(value)},
            )
        )
        return rid, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class StackRun:
    """What one run of the program under the mocks declared and exported."""

    stack: str
    config: dict[str, Any]
    """The stack file's `config:` block."""
    resources: list[Recorded]
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Recorded]:
        """Every declared resource of type `typ`."""
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str) -> Recorded:
        """The resource of type `typ` with logical name `name`."""
        found = [r for r in self.of_type(typ) if r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name}, found {len(found)}"
        return found[0]

    def by_id(self, rid: str) -> Recorded:
        """The resource with physical id `rid`."""
        found = [r for r in self.resources if r.custom and r.id == rid]
        assert len(found) == 1, f"expected one resource with id {rid}, found {len(found)}"
        return found[0]

    def by_arn(self) -> dict[str, Recorded]:
        """Every ARN a resource of this stack owns (not ones it refers to), to its resource."""
        return {
            value: r
            for r in self.resources
            for key, value in r.computed.items()
            if key in {"arn", "streamArn", "executionArn"}
        }


def stack_file(stack: str) -> dict[str, Any]:
    """The `config:` block of `Pulumi.<stack>.yaml`."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    config: dict[str, Any] = document["config"]
    return config


def pulumi_config_env(config: dict[str, Any]) -> str:
    """`PULUMI_CONFIG` as the engine passes it: every value a string, objects as JSON."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    return json.dumps({key: text(value) for key, value in config.items()})


# `pulumi.runtime.test` is untyped; it waits for every registration and for the returned Output.
_runtime_test: Callable[[Callable[[], pulumi.Output[None]]], Callable[[], None]] = (
    pulumi.runtime.test
)


def _secret_flag(value: pulumi.Output[Any]) -> pulumi.Output[bool]:
    flag: Awaitable[bool] = value.is_secret()
    return pulumi.Output.from_input(flag)


def run_program(stack: str, config: dict[str, Any] | None = None) -> StackRun:
    """Run `__main__.py` for `stack` under the mocks; return what it declared and exported."""
    config = stack_file(stack) if config is None else config
    os.environ["PULUMI_CONFIG"] = pulumi_config_env(config)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="marketstream", stack=stack, preview=False)
    run = StackRun(stack, config, mocks.resources)

    @_runtime_test
    def program() -> pulumi.Output[None]:
        # run_path returns the module's globals: the program keeps its exports in `exports`.
        exports: dict[str, pulumi.Output[Any]] = runpy.run_path(
            str(ROOT / "__main__.py"), run_name="__main__"
        )["exports"]
        secrets = {key: _secret_flag(value) for key, value in exports.items()}

        def record(values: dict[str, Any]) -> None:
            run.exports.update(values["values"])
            run.secret_exports.update(
                key for key, is_secret in values["secret"].items() if is_secret
            )

        return pulumi.Output.all(
            values=pulumi.Output.all(**exports), secret=pulumi.Output.all(**secrets)
        ).apply(record)

    try:
        program()
    finally:
        del os.environ["PULUMI_CONFIG"]
    return run
