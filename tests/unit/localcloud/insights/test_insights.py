"""The program's saved queries parse and run locally; anything else is refused with one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.observability import _QUERIES
from localcloud.cli import main
from localcloud.insights.command import run_named
from localcloud.insights.language import QueryError, parse
from localcloud.insights.run import read_records, run


def _emf(function: str, duration: float, **fields: object) -> str:
    document = {
        "_aws": {"Timestamp": 1_760_000_000_000 + int(duration), "CloudWatchMetrics": []},
        "FunctionName": function,
        "DurationMs": duration,
        **fields,
    }
    return json.dumps(document)


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    ingest = tmp_path / "ingest.log"
    ingest.write_text(
        "\n".join(
            [
                *(_emf("ingest", float(d), Status=200) for d in range(1, 101)),
                _emf("ingest", 500.0, Status=400, ErrorCode="invalid_tick"),
                "a plain line",
            ]
        )
        + "\n"
    )
    replay = tmp_path / "replay.log"
    replay.write_text(_emf("replay", 7.0, errorType="StoreRefused") + "\n")
    return {"/aws/lambda/ingest": ingest, "/aws/lambda/replay": replay}


@pytest.mark.parametrize("key", sorted(_QUERIES))
def test_every_saved_query_of_the_program_parses(key: str) -> None:
    assert parse(_QUERIES[key])


def test_p95_by_function(logs: dict[str, Path]) -> None:
    columns, rows = run(parse(_QUERIES["p95-by-function"]), read_records(logs))
    assert columns == ["FunctionName", "invocations", "p50", "p95", "p99", "max"]
    assert sorted(rows) == [
        ["ingest", 101, 51.0, 96.0, 100.0, 500.0],
        ["replay", 1, 7.0, 7.0, 7.0, 7.0],
    ]


def test_errors_by_code_and_slowest_requests(logs: dict[str, Path]) -> None:
    columns, rows = run(parse(_QUERIES["errors-by-code"]), read_records(logs))
    assert columns == ["@log", "code", "n"]
    assert sorted(rows) == [
        ["/aws/lambda/ingest", "invalid_tick", 1],
        ["/aws/lambda/replay", "StoreRefused", 1],
    ]
    columns, rows = run(parse(_QUERIES["slowest-requests"]), read_records(logs))
    assert columns[:5] == ["@timestamp", "FunctionName", "RequestId", "Status", "DurationMs"]
    assert len(rows) == 25
    assert [row[4] for row in rows[:3]] == [500.0, 100.0, 99.0]
    assert rows[0][0] == "2025-10-09 08:53:20.500"


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("parse @message 'x*' as y", "command 'parse' is not supported"),
        ("filter strlen(x) > 2", "function strlen() is not supported"),
        ("stats median(x)", "stats function 'median' is not supported"),
        ("filter x = 1 | limit -2", "limit needs a positive whole number"),
        ("filter x ~ 1", "unsupported syntax"),
        ("", "the query is empty"),
    ],
)
def test_what_the_subset_does_not_have_is_refused_by_name(query: str, why: str) -> None:
    with pytest.raises(QueryError, match=re.escape(why)):
        parse(query)


def _state(tmp_path: Path, logs: dict[str, Path], queries: dict[str, str]) -> Path:
    state = tmp_path / "state.json"
    document = {
        "insights": {
            "queries": [
                {"name": f"marketstream/dev/{k}", "log_groups": sorted(logs), "query": q}
                for k, q in queries.items()
            ],
            "logs": {group: str(path) for group, path in logs.items()},
        }
    }
    state.write_text(json.dumps(document))
    return state


def test_the_command_runs_a_saved_query_by_its_short_or_full_name(
    tmp_path: Path, logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state(tmp_path, logs, _QUERIES)
    _, (_, rows) = run_named(state, "marketstream/dev/p95-by-function")
    assert len(rows) == 2
    assert main(["insights", "errors-by-code", "--state", str(state), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {json.loads(line)["code"] for line in lines} == {"invalid_tick", "StoreRefused"}


@pytest.mark.parametrize(
    ("name", "queries", "message"),
    [
        ("nope", _QUERIES, "'nope' is not a saved query; the program declares: errors-by-code"),
        ("bad", {"bad": "filter x | dedup y"}, "command 'dedup' is not supported locally"),
    ],
)
def test_bad_names_and_unsupported_queries_are_one_line_exit_64(
    tmp_path: Path,
    logs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    name: str,
    queries: dict[str, str],
    message: str,
) -> None:
    state = _state(tmp_path, logs, queries)
    assert main(["insights", name, "--state", str(state)]) == 64
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_no_state_file_is_one_line_exit_64(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["insights", "x", "--state", str(tmp_path / "none.json")]) == 64
    assert "run `python -m localcloud up` first" in capsys.readouterr().err
