"""Fixtures of the infra tests: each stack's program run once under Pulumi's mock runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.packaging import PROJECT_ROOT, Staged, stage_layer
from tests.infra.pulumi_mocks import STACKS, StackRun, run_program


@pytest.fixture(scope="session")
def fresh_layer(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    """The dependency layer built from scratch once per session (pip needs the registry)."""
    build_dir = tmp_path_factory.mktemp("layer")
    return stage_layer(
        PROJECT_ROOT / "handlers" / "requirements.txt",
        "arm64",
        "python3.13",
        build_dir=build_dir,
        mode="auto",
    )


@pytest.fixture(scope="session", params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> StackRun:
    """The program run for each stack; tests using it run once per stack."""
    return run_program(request.param)


@pytest.fixture
def project_root() -> Path:
    """Root of the repository (where `__main__.py` and the stack files are)."""
    return PROJECT_ROOT
