"""`marketstream backfill FILE` against the session's local cloud: history stored once, refused
rows reported, an interrupted run resumed without storing anything twice."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from marketstream import Client, Tick

from localcloud.launcher import CloudProcess
from tests.functional.ticks import new_symbol

COMMAND = [sys.executable, "-m", "marketstream", "backfill"]
DEADLINE_S = 120.0
MONTH_MS = 30 * 86_400_000


def _history(symbol: str, count: int) -> list[dict[str, Any]]:
    """`count` ticks a month ago and older (outside the live window), 1 s apart, exact prices."""
    start = int(time.time() * 1000) - MONTH_MS - count * 1000
    return [
        {
            "symbol": symbol,
            "price": f"{50 + i % 50}.{i % 100:02d}0",
            "timestamp": start + i * 1000,
            "size": str(1 + i % 3),
            "id": f"h{i}",
        }
        for i in range(count)
    ]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["symbol", "price", "timestamp", "size", "id"])
        writer.writeheader()
        writer.writerows(rows)


def _run(cloud: CloudProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed module
        [*COMMAND, *args, "--outputs", str(cloud.outputs_path), "--no-progress"],
        capture_output=True, text=True, timeout=DEADLINE_S, check=False,
    )  # fmt: skip


def _key(tick: Tick) -> tuple[Any, ...]:
    return (tick.timestamp, tick.price, tick.size, tick.id)


def _stored(cloud: CloudProcess, symbol: str, expected: int) -> Counter[tuple[Any, ...]]:
    """The stored ticks of `symbol`, once `expected` are there (spilled ones come later)."""
    deadline = time.monotonic() + DEADLINE_S
    with Client.from_outputs(cloud.outputs_path) as client:
        while True:
            ticks = list(client.ticks(symbol))
            if len(ticks) >= expected or time.monotonic() > deadline:
                return Counter(map(_key, ticks))
            time.sleep(0.2)  # polling interval of a bounded wait


def _expected(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter((r["timestamp"], Decimal(r["price"]), Decimal(r["size"]), r["id"]) for r in rows)


def test_backfill_stores_history_once_and_reports_refused_rows(
    local_cloud: CloudProcess, tmp_path: Path
) -> None:
    # GIVEN a CSV of a month-old history with three bad rows: two the client refuses (a float is
    # fine in CSV text, a negative price is not; a symbol too long) and one the server refuses
    # (in the future: the backfill window ends now)
    symbol = new_symbol()
    rows = _history(symbol, 1200)
    bad = [
        {**rows[0], "price": "-1", "id": "bad-price"},
        {**rows[0], "symbol": "X" * 17, "id": "bad-symbol"},
        {**rows[0], "timestamp": int(time.time() * 1000) + 3_600_000, "id": "future"},
    ]
    path = tmp_path / "history.csv"
    _write_csv(path, rows[:100] + bad[:2] + rows[100:700] + bad[2:] + rows[700:])
    # WHEN it is backfilled
    done = _run(local_cloud, str(path), "--batch", "250", "--concurrency", "4")
    # THEN the run exits 1, every good row is stored once, and the report names the bad ones
    assert done.returncode == 1, done.stderr
    assert "1200 sent" in done.stdout and "3 refused" in done.stdout, done.stdout
    assert _stored(local_cloud, symbol, len(rows)) == _expected(rows)
    report = list(csv.DictReader((tmp_path / "history.csv.refused.csv").open()))
    reasons = {r["id"]: r["reason"] for r in report}
    assert set(reasons) == {"bad-price", "bad-symbol", "future"}
    assert "price" in reasons["bad-price"] and "symbol" in reasons["bad-symbol"]
    assert "timestamp" in reasons["future"]
    assert [int(r["row"]) for r in report if r["id"] != "future"] == [101, 102]


def test_an_interrupted_backfill_rerun_stores_each_row_once(
    local_cloud: CloudProcess, tmp_path: Path
) -> None:
    # GIVEN a backfill killed after some batches were acknowledged (others in flight)
    symbol = new_symbol()
    rows = _history(symbol, 12_000)
    path = tmp_path / "big.csv"
    _write_csv(path, rows)
    state = tmp_path / "big.csv.progress"
    first = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
        [*COMMAND, str(path), "--outputs", str(local_cloud.outputs_path), "--no-progress",
         "--batch", "100", "--concurrency", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE_S
        while first.poll() is None and time.monotonic() < deadline:
            if state.exists() and len(state.read_text().splitlines()) > 5:
                break
            time.sleep(0.02)  # polling interval of a bounded wait
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait()
    acknowledged = len(_complete_lines(state)) - 1
    assert 5 <= acknowledged < 120, "the first run was not interrupted half way"
    # WHEN the same command runs again
    done = _run(local_cloud, str(path), "--batch", "100", "--concurrency", "4")
    # THEN it skips what was acknowledged, sends the rest, and each row is stored exactly once
    assert done.returncode == 0, done.stderr
    summary = done.stdout.splitlines()[-1]
    skipped = int(summary.split(" already sent")[0].rsplit(" ", 1)[-1])
    assert skipped >= acknowledged * 100, summary
    assert _stored(local_cloud, symbol, len(rows)) == _expected(rows)


def _complete_lines(path: Path) -> list[str]:
    """The state file's lines that are whole JSON (the kill may have cut the last one)."""
    lines = []
    for line in path.read_text().splitlines():
        try:
            json.loads(line)
        except ValueError:
            continue
        lines.append(line)
    return lines


def test_backfill_reads_parquet(local_cloud: CloudProcess, tmp_path: Path) -> None:
    symbol = new_symbol()
    rows = _history(symbol, 300)
    table = pa.table(
        {
            "symbol": [r["symbol"] for r in rows],
            "price": pa.array([Decimal(r["price"]) for r in rows], pa.decimal128(12, 3)),
            "timestamp": [r["timestamp"] for r in rows],
            "size": [r["size"] for r in rows],
            "id": [r["id"] for r in rows],
        }
    )
    path = tmp_path / "history.parquet"
    pq.write_table(table, path)
    done = _run(local_cloud, str(path))
    assert done.returncode == 0, done.stderr
    stored = _stored(local_cloud, symbol, len(rows))
    assert stored == _expected(rows)
    assert json.dumps(sorted(str(k[1]) for k in stored)[:1]) == '["50.000"]'
    assert os.path.exists(str(path) + ".progress")
