"""The `marketstream` command as a real process: against the session's local cloud, and with bad
arguments or configuration (one line on stderr, exit 64)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from marketstream import Client, Tick

from localcloud.launcher import CloudProcess
from tests.functional.ticks import make_ticks, new_symbol

COMMAND = [sys.executable, "-m", "marketstream"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MARKETSTREAM_")}
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed module
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, check=False,
        env={**clean, **(env or {})},
    )  # fmt: skip


BAD = [
    pytest.param(["nope"], "nope", id="unknown-command"),
    pytest.param(["ticks"], "symbol", id="missing-symbol"),
    pytest.param(["ticks", "AAPL", "--from", "yesterday-ish"], "--from", id="bad-time"),
    pytest.param(["bars", "AAPL", "--interval", "7m"], "--interval", id="bad-interval"),
    pytest.param(["ticks", "AAPL", "--format", "xml"], "--format", id="bad-format"),
    pytest.param(["backfill", "f.csv", "--batch", "501"], "--batch", id="batch-over-500"),
    pytest.param(["latest", "AAPL", "--outputs", "a", "--stack", "b"], "--stack", id="two-sources"),
    pytest.param(["latest", "AAPL"], "MARKETSTREAM_QUERY_BASE_URL", id="no-config"),
    pytest.param(["latest", "AAPL", "--outputs", "/nonexistent.json"], "cannot read", id="no-file"),
    pytest.param(["backfill", "/nonexistent.csv"], "no such file", id="no-backfill-file"),
]


@pytest.mark.parametrize(("args", "named"), BAD)
def test_bad_input_is_one_line_and_exit_64(args: list[str], named: str) -> None:
    done = _run(*args)
    assert done.returncode == 64, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("marketstream") and ": error: " in line and named in line
    assert "Traceback" not in done.stderr


def test_a_file_without_a_header_is_a_usage_error(
    local_cloud: CloudProcess, tmp_path: Path
) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text("AAPL,1.5,1764000000000\n")
    done = _run("send", str(path), "--outputs", str(local_cloud.outputs_path))
    assert done.returncode == 64, done.stderr
    [line] = done.stderr.splitlines()
    assert "missing column(s)" in line


def test_send_then_ticks_latest_and_bars_in_every_format(
    local_cloud: CloudProcess, tmp_path: Path
) -> None:
    # GIVEN ticks in a JSON-lines file, sent with the CLI (the stack from the environment)
    symbol = new_symbol()
    ticks = make_ticks(symbol, 120)
    path = tmp_path / "ticks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in ticks))
    outputs = json.loads(local_cloud.outputs_path.read_text())
    env = {f"MARKETSTREAM_{k.upper()}": v for k, v in outputs.items() if isinstance(v, str)}
    sent = _run("send", str(path), env=env)
    assert (sent.returncode, sent.stdout.split()[:2]) == (0, ["sent", "120"]), sent.stderr
    where = ["--outputs", str(local_cloud.outputs_path)]
    # WHEN they are read back as CSV and JSON
    as_csv = _run("ticks", symbol, *where, "--format", "csv")
    as_json = _run("ticks", symbol, *where, "--format", "json", "--order", "desc", "--limit", "5")
    # THEN the CSV has every tick with its exact price text, the JSON the newest five
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["price"], int(r["timestamp"])) for r in rows] == [
        (t["price"], t["timestamp"]) for t in ticks
    ]
    newest = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["timestamp"] for r in newest] == [t["timestamp"] for t in ticks[::-1][:5]]
    # ... the table shows the latest tick, and bars come out with their OHLC text
    table = _run("latest", symbol, *where)
    assert table.returncode == 0 and ticks[-1]["price"] in table.stdout
    bars = _run("bars", symbol, *where, "--from", str(ticks[0]["timestamp"]), "--format", "json")
    assert sum(json.loads(line)["count"] for line in bars.stdout.splitlines()) == 120


def test_tail_prints_live_ticks(local_cloud: CloudProcess) -> None:
    # GIVEN `marketstream tail SYMBOL --count 3` running
    symbol = new_symbol()
    tail = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
        [*COMMAND, "tail", symbol, "--outputs", str(local_cloud.outputs_path),
         "--format", "json", "--count", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # WHEN ticks are sent, one at a time, until it has printed three and exited (it may
        # subscribe after the first ones: those it never sees)
        deadline = time.monotonic() + 60
        with Client.from_outputs(local_cloud.outputs_path) as client:
            sent = 0
            while tail.poll() is None and time.monotonic() < deadline:
                sent += 1
                client.send([Tick.of(symbol, f"{sent}.5", int(time.time() * 1000))])
                time.sleep(0.1)  # pacing the sender, not waiting for the tail
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    # THEN it printed three of them, as JSON lines, and exited 0
    assert tail.returncode == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert len(printed) == 3
    assert all(row["symbol"] == symbol and row["price"].endswith(".5") for row in printed)
