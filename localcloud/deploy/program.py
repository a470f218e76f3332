"""Run the Pulumi program under the mock runtime (`infra.mockrun`) with the local provider.

The mocks do not invent outputs themselves: a `Provider` (`localcloud.deploy.provision`)
creates each resource locally and answers with the outputs AWS would (ARNs, ids, URLs that point at
the local gateway), so the program's own URL logic turns into local URLs.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra.mockrun import Deployment, Provider, Resource, plain
from infra.mockrun import run_program as run_mocked
from localcloud.deploy.stackconfig import StackConfig
from localcloud.errors import ProgramError

__all__ = ["Deployment", "Provider", "Resource", "plain", "run_program"]


def run_program(
    program: Path, config: StackConfig, provider: Provider, *, project: str
) -> Deployment:
    """Run `program` (a Pulumi `__main__.py`) for `config` in a thread of its own; what it did."""
    try:
        return run_mocked(program, config.stack, config.values, provider, project=project)
    except (pulumi.RunError, ProgramError) as exc:
        raise ProgramError(str(exc)) from None
    except Exception as exc:
        raise ProgramError(f"the program failed: {type(exc).__name__}: {exc}") from exc
