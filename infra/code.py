"""`CodeBundle`: the staged handler package and the dependency layer every function shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from infra.awslambda import lambda_
from infra.config import StackConfig
from infra.packaging import (
    BYTECODE_PYTHON_ENV,
    PROJECT_ROOT,
    bytecode_compiler,
    stage_function,
    stage_layer,
)

__all__ = ["CodeBundle", "CodeBundleArgs"]


@dataclass(frozen=True)
class CodeBundleArgs:
    """Where the sources are and which platform to build the layer for."""

    config: StackConfig
    handlers_dir: Path = PROJECT_ROOT / "handlers"
    requirements: Path = PROJECT_ROOT / "handlers" / "requirements.txt"


class CodeBundle(pulumi.ComponentResource):
    """Stages `handlers/` and its dependencies; declares the layer the functions use."""

    code: pulumi.Archive
    """Archive of the staged `handlers/` package (function code)."""
    code_digest: str
    """Content hash of the staged package (for logs and tests; Pulumi hashes it itself)."""
    layer_arn: pulumi.Output[str]
    """Versioned ARN of the dependency layer."""

    def __init__(
        self, name: str, args: CodeBundleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:CodeBundle", name, None, opts)
        config = args.config
        compiler = bytecode_compiler(config.runtime)
        if compiler is None:
            pulumi.log.warn(
                f"no {config.runtime} interpreter here (on PATH, or named by "
                f"{BYTECODE_PYTHON_ENV}): the code and layer ship without bytecode, so every "
                "cold start compiles the modules it imports",
                self,
            )
        function = stage_function(args.handlers_dir, bytecode=compiler)
        layer = stage_layer(
            args.requirements, config.architecture, config.runtime, bytecode=compiler
        )
        self.code = function.archive()
        self.code_digest = function.digest
        layer_version = lambda_.LayerVersion(
            f"{name}-deps",
            layer_name=f"marketstream-{pulumi.get_stack()}-deps",
            code=layer.archive(),
            compatible_runtimes=[config.runtime],
            compatible_architectures=[config.architecture],
            description=f"third-party packages of handlers/ (build {layer.digest[:12]})",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.layer_arn = layer_version.arn
        self.register_outputs({"layer_arn": self.layer_arn})
