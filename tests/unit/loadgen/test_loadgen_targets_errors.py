"""Target resolution, secret redaction, the error taxonomy and the `cost` dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from infra import outputs
from loadgen import __main__ as entry
from loadgen.errors import ErrorKind, ResponseShapeError, TargetError, classify
from loadgen.targets import load_outputs_file, load_stack_outputs


def test_outputs_file_gives_targets_and_redacts_secrets(tmp_path: Path):
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {
                outputs.INGEST_URL: "http://127.0.0.1:9/ingest",
                outputs.QUERY_BASE_URL: "http://127.0.0.1:9/api/",
                outputs.INGEST_TOKEN: "sekrit",
                outputs.QUERY_API_KEY: "k3y",
            }
        )
    )
    targets = load_outputs_file(path)
    assert targets.query_base_url == "http://127.0.0.1:9/api"
    assert targets.token == "sekrit"
    redacted = targets.redacted()
    assert redacted["token"] == redacted["api_key"] == "***"
    assert "sekrit" not in json.dumps(redacted)


def test_missing_pulumi_cli_is_a_target_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(TargetError, match="Pulumi CLI"):
        load_stack_outputs("dev")


def test_bad_outputs_file(tmp_path: Path):
    path = tmp_path / "outputs.json"
    path.write_text("[1, 2]")
    with pytest.raises(TargetError, match="not a JSON object"):
        load_outputs_file(path)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError(), ErrorKind.TIMEOUT),
        (aiohttp.ServerTimeoutError(), ErrorKind.TIMEOUT),
        (aiohttp.ConnectionTimeoutError(), ErrorKind.TIMEOUT),
        (aiohttp.ServerDisconnectedError(), ErrorKind.READ),
        (aiohttp.ClientPayloadError("truncated"), ErrorKind.READ),
        (ConnectionResetError(), ErrorKind.READ),
        (json.JSONDecodeError("x", "doc", 0), ErrorKind.BAD_RESPONSE),
        (ResponseShapeError("no ticks"), ErrorKind.BAD_RESPONSE),
        (RuntimeError("bug"), ErrorKind.OTHER),
    ],
)
def test_classify(exc: BaseException, kind: ErrorKind):
    assert classify(exc) is kind


def test_cost_subcommand_missing_exits_64(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def missing(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr("importlib.import_module", missing)
    assert entry.dispatch(["cost", "--help"]) == 64
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
