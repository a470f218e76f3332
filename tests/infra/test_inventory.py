"""`docs/infra.md` lists exactly what the program declares for each stack."""

from __future__ import annotations

from tests.infra.inventory import DOC, render
from tests.infra.pulumi_mocks import STACKS, run_program


def test_docs_infra_is_up_to_date() -> None:
    expected = render([run_program(stack) for stack in STACKS])
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/infra.md is stale: run `.venv/bin/python -m tests.infra.inventory`"
    )
