"""`python -m localcloud insights NAME`: one of the program's saved queries over the local logs.

The running (or last) local cloud writes its query definitions and each log group's file into
its state file (`insights` key); this reads them, so it needs no cloud running, only its logs.
`NAME` is a definition's full name (`marketstream/dev/p95-by-function`) or its last segment.
Unknown names and queries outside the supported subset are usage errors (one line, exit 64).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from localcloud.insights.language import QueryError, parse
from localcloud.insights.run import Result, read_records, run

__all__ = ["QUERY_DEFINITION", "InsightsError", "definitions", "print_result", "run_named"]

QUERY_DEFINITION: Final = "aws:cloudwatch/queryDefinition:QueryDefinition"


class InsightsError(ValueError):
    """A bad name, a missing state file or an unsupported query (the message is one line)."""


def definitions(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The saved queries among the declared resources' inputs: name, log groups, query."""
    return [
        {
            "name": str(inputs.get("name", "")),
            "log_groups": [str(g) for g in inputs.get("logGroupNames") or []],
            "query": str(inputs.get("queryString", "")),
        }
        for inputs in resources
    ]


def _pick(saved: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    found = [d for d in saved if d["name"] == name or d["name"].rsplit("/", 1)[-1] == name]
    if len(found) != 1:
        known = ", ".join(sorted(d["name"].rsplit("/", 1)[-1] for d in saved)) or "none"
        why = "is ambiguous" if found else "is not a saved query"
        raise InsightsError(f"{name!r} {why}; the program declares: {known}")
    return found[0]


def run_named(state_path: Path, name: str) -> tuple[Mapping[str, Any], Result]:
    """Run the saved query `name` over the logs the state file names: (definition, result)."""
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InsightsError(
            f"no local cloud state at {state_path} ({type(exc).__name__}); "
            "run `python -m localcloud up` first"
        ) from None
    insights = state.get("insights") or {}
    definition = _pick(insights.get("queries") or [], name)
    try:
        commands = parse(str(definition["query"]))
    except QueryError as exc:
        raise InsightsError(f"{definition['name']}: {exc}") from None
    files = insights.get("logs") or {}
    logs = {g: Path(files[g]) for g in definition["log_groups"] if g in files}
    try:
        return definition, run(commands, read_records(logs))
    except QueryError as exc:
        raise InsightsError(f"{definition['name']}: {exc}") from None


def print_result(definition: Mapping[str, Any], result: Result, *, as_json: bool) -> None:
    """The result as a table (or JSON lines, one object per row)."""
    columns, rows = result
    if as_json:
        for row in rows:
            print(json.dumps(dict(zip(columns, row, strict=True)), default=str))
        return
    table = Table(title=f"{definition['name']} ({len(rows)} row{'s' if len(rows) != 1 else ''})")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if not value.is_integer() else str(int(value))
    return str(value)
