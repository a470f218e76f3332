"""`PythonFunction`: one Lambda function with its own log group, role and least-privilege policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_aws import cloudwatch, iam

from infra.awslambda import lambda_
from infra.config import StackConfig
from infra.iam import Grant, assume_role_policy, log_grant, policy_document

__all__ = ["PythonFunction", "PythonFunctionArgs"]


@dataclass(frozen=True)
class PythonFunctionArgs:
    """What differs between the project's functions."""

    handler: str
    """Entry point in the staged package, e.g. `handlers.ingest.handler`."""
    memory_mb: int
    timeout_s: int
    code: pulumi.Archive
    """The staged `handlers/` package (the same archive for every function)."""
    layer_arn: pulumi.Input[str]
    """The dependency layer."""
    config: StackConfig
    """Architecture, runtime, log level and retention come from the stack."""
    grants: Sequence[Grant] = ()
    """AWS calls the handler makes; logging is granted by the component itself."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class PythonFunction(pulumi.ComponentResource):
    """A Lambda function running a handler of the staged package, logging JSON to its own group."""

    function: lambda_.Function
    """The function (for event sources, permissions and invoke configs)."""
    arn: pulumi.Output[str]
    """ARN of the function."""
    invoke_arn: pulumi.Output[str]
    """ARN API Gateway integrations call."""
    function_name: pulumi.Output[str]
    """Physical function name."""
    log_group_arn: pulumi.Output[str]
    """ARN of the function's log group."""
    log_group_name: pulumi.Output[str]
    """Name of the function's log group (Logs Insights queries target it)."""

    def __init__(
        self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:PythonFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        config = args.config

        # Declared, not left to Lambda, so retention is set and the group dies with the stack.
        log_group = cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/marketstream/{pulumi.get_stack()}/{name}",
            retention_in_days=config.log_retention_days,
            opts=child,
        )
        role = iam.Role(f"{name}-role", assume_role_policy=assume_role_policy(), opts=child)
        policy = iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document([log_grant(log_group.arn), *args.grants]),
            opts=child,
        )
        self.function = lambda_.Function(
            f"{name}-fn",
            role=role.arn,
            runtime=config.runtime,
            architectures=[config.architecture],
            handler=args.handler,
            code=args.code,
            layers=[args.layer_arn],
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            environment={"variables": dict(args.environment)},
            logging_config={
                "log_format": "JSON",
                "log_group": log_group.name,
                "application_log_level": config.log_level,
                # Platform logs (START/END/REPORT) at WARN: they cost money and say little.
                "system_log_level": "WARN",
            },
            # The policy must exist before the first invocation or event-source validation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.function_name = self.function.name
        self.log_group_arn = log_group.arn
        self.log_group_name = log_group.name
        self.register_outputs(
            {"arn": self.arn, "function_name": self.function_name, "log_group_arn": log_group.arn}
        )
