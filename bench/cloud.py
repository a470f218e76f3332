"""The local cloud as a benchmark's subprocess: started, waited for, its files read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "start_cloud"]

ROOT = Path(__file__).resolve().parent.parent


def start_cloud(
    directory: Path,
) -> tuple[subprocess.Popen[str], dict[str, Any], dict[str, Any]]:
    """Start `localcloud up`, wait until it is ready; (process, outputs, state).

    The stage throttle is raised so that a benchmark measures the cloud, not its 429s.
    """
    outputs = directory / "outputs.json"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "localcloud", "up", "--outputs", str(outputs),
            "--config", "ingestRateLimit=10000", "--config", "ingestBurstLimit=5000",
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("localcloud: ready"):
            print(line.strip())
            break
    else:
        raise SystemExit("localcloud did not start")
    # Drain its stdout so the pipe never blocks it.
    subprocess.Popen(["cat"], stdin=process.stdout, stdout=subprocess.DEVNULL)
    return (
        process,
        json.loads(outputs.read_text(encoding="utf-8")),
        json.loads((directory / "state.json").read_text(encoding="utf-8")),
    )
