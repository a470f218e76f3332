"""`marketstream backfill FILE`: history into the stack with the backfill token, resumable.

The file's valid rows are cut into batches in file order; batch `i` is sent with the key
`backfill-<sha256 of the file>-<i>`, so the same file always gives the same requests and a
resent batch rewrites the same blocks (the server derives block ids from the key). A state file
records every acknowledged batch: a re-run of the same file (same digest) skips them and sends
only what was not acknowledged, and a batch that was in flight when the run died is sent again
under its own key, so nothing is stored twice. Rows the client refuses (bad symbol, price,
time...) and rows the server refuses (its 400 names them by index: they are taken out and the
rest resent under a derived key) go to a report file with their reasons; the exit is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from marketstream.aio import AsyncClient
from marketstream.config import Endpoints
from marketstream.errors import ApiError, AuthError, RetriesExhausted
from marketstream.files import COLUMNS, FileError, Refused, Row, read_rows
from marketstream.protocol import ingest_body, ingest_request

__all__ = ["Summary", "backfill", "run_backfill"]

_RESENDS: Final = 3
"""Times a batch is resent without the rows the server refused (each refusal names them)."""
_CHUNK: Final = 1 << 20


@dataclass
class Summary:
    """What a backfill run did."""

    rows: int = 0
    """Rows in the file."""
    sent: int = 0
    """Ticks acknowledged in this run."""
    queued: int = 0
    """Of those, ticks that went to the spill queue (stored later)."""
    skipped: int = 0
    """Ticks of batches an earlier run had delivered."""
    refused: int = 0
    failed: int = 0
    """Ticks not delivered (their batch failed after every retry): re-run to send them."""
    batches: int = 0
    attempts: int = 0
    elapsed_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def line(self) -> str:
        """One line for the terminal."""
        rate = self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"{self.rows} row(s): {self.sent} sent ({self.queued} queued), {self.skipped} "
            f"already sent, {self.refused} refused, {self.failed} failed; {self.batches} "
            f"batch(es), {self.attempts} attempt(s), {self.elapsed_s:.1f} s, {rate:,.0f} rows/s"
        )


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _count_rows(path: Path) -> int | None:
    """Rows in the file, for the progress bar (None when it would cost a parse)."""
    if path.suffix.lower() == ".csv":
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(_CHUNK), b""))
        return max(0, lines - 1)
    return None


class _State:
    """The state file: the file's digest, then one JSON line per acknowledged batch."""

    def __init__(self, path: Path, digest: str, source: Path) -> None:
        self.done: dict[int, dict[str, Any]] = {}
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        if lines and json.loads(lines[0]).get("sha256") == digest:
            for line in lines[1:]:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by the interruption: that batch is resent
                self.done[int(entry["batch"])] = entry
            self._handle: TextIO = path.open("a", encoding="utf-8")
        else:
            self._handle = path.open("w", encoding="utf-8")
            self._write({"file": str(source), "sha256": digest})

    def _write(self, entry: dict[str, Any]) -> None:
        self._handle.write(json.dumps(entry) + "\n")
        self._handle.flush()

    def record(self, entry: dict[str, Any]) -> None:
        """Remember an acknowledged batch."""
        self.done[int(entry["batch"])] = entry
        self._write(entry)

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


class _Report:
    """Refused rows, with their reasons, as CSV (row number, reason, then the fields)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle: TextIO | None = None
        self._writer: Any = None

    def add(self, number: int, fields: dict[str, Any], reason: str) -> None:
        """Write one refused row."""
        if self._writer is None:
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["row", "reason", *COLUMNS])
        self._writer.writerow([number, reason, *(_text(fields.get(c)) for c in COLUMNS)])
        self.rows += 1

    def close(self) -> None:
        """Close the file (written only if a row was refused)."""
        if self._handle is not None:
            self._handle.close()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _batches(
    path: Path, size: int, report: _Report, summary: Summary
) -> Iterator[tuple[int, list[Row]]]:
    batch: list[Row] = []
    index = 0
    for row in read_rows(path):
        summary.rows += 1
        if isinstance(row, Refused):
            report.add(row.number, dict(row.fields), row.reason)
            summary.refused += 1
            continue
        batch.append(row)
        if len(batch) == size:
            yield index, batch
            batch, index = [], index + 1
    if batch:
        yield index, batch


async def backfill(
    client: AsyncClient,
    path: Path,
    *,
    state_path: Path,
    report_path: Path,
    batch_size: int = 500,
    concurrency: int = 8,
    progress: bool = True,
) -> Summary:
    """Send the file's ticks with the backfill token; what happened (see the module doc)."""
    url, token = client.endpoints.need("ingest_url"), client.endpoints.need("backfill_token")
    digest = file_digest(path)
    state = _State(state_path, digest, path)
    report = _Report(report_path)
    summary = Summary()
    started = time.perf_counter()
    bar = Progress(
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not progress,
        transient=False,
    )
    task = bar.add_task("rows", total=_count_rows(path))
    queue: asyncio.Queue[tuple[int, list[Row]] | None] = asyncio.Queue(concurrency * 2)

    async def deliver(index: int, rows: list[Row]) -> None:
        done = state.done.get(index)
        if done is not None:
            summary.skipped += int(done["accepted"])
            for number, reason in done.get("refused", []):
                report.add(number, {}, f"{reason} (refused by an earlier run)")
                summary.refused += 1
            return
        refused: list[tuple[int, str, dict[str, Any]]] = []
        accepted = queued = 0
        for resend in range(_RESENDS + 1):
            key = f"backfill-{digest[:32]}-{index}" + (f"-r{resend}" if resend else "")
            body = ingest_body(r.tick for r in rows)
            request = ingest_request(url, token, body, key=key)
            try:
                result = await client.send_request(request)
            except AuthError:
                raise
            except ApiError as exc:
                if exc.status != 400 or resend == _RESENDS:
                    raise
                out = _refused_rows(exc, rows)
                refused += [(rows[i].number, why, rows[i].tick.as_json()) for i, why in out.items()]
                rows = [r for i, r in enumerate(rows) if i not in out]
                if not rows:
                    break
                continue
            accepted, queued = result.accepted, result.queued
            summary.attempts += result.attempts
            for status, count in result.statuses.items():
                summary.statuses[status] = summary.statuses.get(status, 0) + count
            break
        for number, reason, fields in refused:
            report.add(number, fields, reason)
        summary.refused += len(refused)
        summary.sent += accepted
        summary.queued += queued
        state.record(
            {
                "batch": index,
                "accepted": accepted,
                "queued": queued,
                "refused": [[number, reason] for number, reason, _ in refused],
            }
        )

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            index, rows = item
            try:
                await deliver(index, rows)
            except RetriesExhausted as exc:
                summary.failed += len(rows)
                for row in rows:
                    report.add(row.number, row.tick.as_json(), f"not delivered: {exc}")
            summary.batches += 1
            bar.advance(task, len(rows))

    try:
        with bar:
            async with asyncio.TaskGroup() as group:
                workers = [group.create_task(worker()) for _ in range(concurrency)]
                for item in _batches(path, batch_size, report, summary):
                    await queue.put(item)
                for _ in workers:
                    await queue.put(None)
    finally:
        state.close()
        report.close()
        summary.elapsed_s = time.perf_counter() - started
    return summary


def _refused_rows(error: ApiError, rows: list[Row]) -> dict[int, str]:
    """Batch position -> reason, for the ticks a 400 named; all of them if it named none."""
    named = {d.index: f"{d.field}: {d.reason}" for d in error.details if d.index is not None}
    if named and all(0 <= i < len(rows) for i in named):
        return named
    return dict.fromkeys(range(len(rows)), f"refused: {error}")


def run_backfill(endpoints: Endpoints, args: argparse.Namespace) -> int:
    """The CLI command: run, print the summary; 0, or 1 if rows were refused or not delivered."""
    path: Path = args.file
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    report = args.report or path.with_name(path.name + ".refused.csv")
    state = args.state or path.with_name(path.name + ".progress")

    async def run() -> Summary:
        async with AsyncClient(endpoints, connections=args.concurrency) as client:
            return await backfill(
                client,
                path,
                state_path=state,
                report_path=report,
                batch_size=args.batch,
                concurrency=args.concurrency,
                progress=not args.no_progress,
            )

    summary = asyncio.run(run())
    print(summary.line())
    if summary.refused or summary.failed:
        print(f"refused or failed rows, with reasons: {report}")
        return 1
    return 0
