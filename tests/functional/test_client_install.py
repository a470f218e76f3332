"""`pip install ./client` into an empty venv: the client and its CLI work without the stack's
dependencies (no Pulumi, moto, boto3 or pydantic)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from marketstream import Client, Tick

from localcloud.launcher import CloudProcess
from tests.functional.cloudproc import ROOT
from tests.functional.ticks import new_symbol

UV = ROOT / ".tools" / "bin" / "uv"
"""The uv `make venv` installs; `--offline` takes the packages from its cache (no network)."""
CONSTRAINTS = ROOT / ".tools" / "constraints.txt"
"""The lock's versions (`make venv` writes it and puts their metadata in uv's cache)."""


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed programs of the repository and the new venv
        [str(a) for a in args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_client_installs_alone_and_its_cli_reads_the_local_cloud(
    local_cloud: CloudProcess, tmp_path: Path
) -> None:
    # GIVEN an empty venv with only the client installed (what a bot does)
    venv = tmp_path / "bot"
    made = _run(UV, "venv", "--quiet", "--python", "python3", venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run(
        UV, "pip", "install", "--quiet", "--offline", "--python", python, ROOT / "client",
        "-c", CONSTRAINTS,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # THEN none of the stack's dependencies came with it
    probe = (
        "import importlib.util as u; "
        "print([m for m in ('boto3', 'pulumi', 'moto', 'pydantic') if u.find_spec(m)])"
    )
    assert _run(python, "-c", probe).stdout.strip() == "[]"
    # ... and its `marketstream` command reads what was sent, to the last digit
    symbol = new_symbol()
    with Client.from_outputs(local_cloud.outputs_path) as client:
        client.send([Tick.of(symbol, "42.010", int(time.time() * 1000))])
    latest = _run(
        venv / "bin" / "marketstream", "latest", symbol,
        "--outputs", local_cloud.outputs_path, "--format", "csv",
    )  # fmt: skip
    assert latest.returncode == 0, latest.stderr
    assert f"{symbol},42.010," in latest.stdout
