"""`python -m localcloud demo`, shortened: a verified load run with its cost, then nothing left."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.functional.cloudproc import ROOT, STACK_FILE, is_running

DEMO_TIMEOUT_S = 60.0


def _session_members(session: int) -> list[int]:
    """Live processes in a session: the demo's children (moto, the load generator) stay in it."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        # After the command name: state, ppid, pgrp, session, ...
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_the_demo_runs_a_verified_load_run_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # GIVEN a short demo in its own session, so every process it starts can be found afterwards
    out = tmp_path / "demo"
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed module
        [
            sys.executable, "-m", "localcloud", "demo",
            "--stack-file", str(STACK_FILE),
            "--duration", "3", "--warmup", "1", "--rate", "10",
            "--out-dir", str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=DEMO_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # THEN it passed, and said why it chose its load and where the results went
    assert process.returncode == 0, output
    assert "localcloud demo: load: 10 req/s x 100 ticks/request" in output
    assert f"summary {out / 'summary.json'}" in output
    assert "PASSED" in output
    # AND the summary has the verify result and the modelled cost
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["verify"]["missing"] == 0
    assert summary["verify"]["duplicated"] == 0
    assert summary["verify"]["acknowledged"] > 0
    assert summary["requests"]["errors"] == 0
    assert summary["cost"]["usd_per_million_ticks"] > 0
    assert set(summary["cost"]["by_service"]) >= {"API Gateway", "Lambda", "DynamoDB"}
    assert (out / "run.png").stat().st_size > 0
    # AND it ends with the run's metrics read back from the local CloudWatch, which agree with
    # what the load generator saw, and the dashboard's URL
    assert "Run metrics (the local CloudWatch, GetMetricData)" in output
    accepted = re.search(r"ticks accepted\s*│\s*([\d,]+)", output)
    assert accepted is not None, output
    assert int(accepted.group(1).replace(",", "")) == summary["verify"]["acknowledged"]
    assert re.search(r"errors\s*│\s*0 Lambda, 0 API 5xx", output), output
    assert re.search(r"ingest duration p95\s*│\s*[\d.]+ ms", output), output
    assert "CloudWatch dashboard http://127.0.0.1:" in output
    # AND nothing it started is still running
    state = json.loads((out / "state.json").read_text(encoding="utf-8"))
    assert not is_running(state["moto_pid"])
    assert _session_members(process.pid) == []


def test_a_bad_demo_argument_is_one_line_and_exit_64() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "localcloud", "demo", "--rate", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 64
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "--rate" in done.stderr
