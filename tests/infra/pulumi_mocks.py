"""The program run for the infra tests: `infra.mockrun` with `infra.mockaws`, plus lookups.

Tests assert on plain dicts after the program ran (`Resource.inputs`, camelCase, as the provider
would receive them; `Resource.outputs`, with what AWS would compute), and the IAM walker tells
this stack's ARNs from others by `StackRun.by_arn`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.mockaws import MockAws
from infra.mockrun import Deployment, Resource
from infra.mockrun import run_program as run_mocked

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")

Recorded = Resource


@dataclass
class StackRun(Deployment):
    """What one run of the program under the mocks declared and exported, and its config."""

    config: dict[str, Any] = field(default_factory=dict)
    """The stack file's `config:` block."""

    def one(self, typ: str, name: str) -> Resource:
        """The resource of type `typ` with logical name `name`."""
        found = [r for r in self.of_type(typ) if r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name}, found {len(found)}"
        return found[0]

    def by_id(self, rid: str) -> Resource:
        """The resource with physical id `rid`."""
        found = [r for r in self.resources if r.custom and r.id == rid]
        assert len(found) == 1, f"expected one resource with id {rid}, found {len(found)}"
        return found[0]

    def by_arn(self) -> dict[str, Resource]:
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


def run_program(stack: str, config: dict[str, Any] | None = None) -> StackRun:
    """Run `__main__.py` for `stack` under the mocks; return what it declared and exported."""
    config = stack_file(stack) if config is None else config
    run = run_mocked(ROOT / "__main__.py", stack, config, MockAws(), project="marketstream")
    return StackRun(run.stack, run.resources, run.exports, run.secret_exports, config)
