"""The fault matrix as figures: what clients were told and what was stored, per injected fault.

`python -m bench.faults [--rate 12] [--batch 10] [--cases throttle,outage,crash] [--json PATH]`
starts a local cloud with `bench/faults_stack.yaml`, and for each case runs the load
generator at a fixed rate while the fault is on (30 % of DynamoDB writes throttled for 20 s;
DynamoDB unreachable for 10 s; the ingest function crashing mid-write in 5 % of invocations),
waits for the spill queue to drain, reads every tick back, retries the unacknowledged requests
with their Idempotency-Key and reads back again. The scenario is `bench/faultcases.py`, the
same one `tests/functional/test_fault_matrix.py` asserts on. Prints one table row per case (and
the rows as JSON with `--json`); figures are printed, never judged. Exit status 0 unless the run
could not be made; EX_USAGE for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from bench.faultcases import CASES, CLOUD, Load, run_case
from cliargs import UsageParser
from localcloud.launcher import launch

__all__ = ["main"]

_NO_WIDTH_LIMIT = 10_000
COLUMNS = (
    ("case", "case"),
    ("requests", "requests"),
    ("200", "200"),
    ("202", "202"),
    ("503", "503"),
    ("5xx", "5xx"),
    ("acked_ticks", "acked ticks"),
    ("stored", "stored"),
    ("missing", "missing"),
    ("duplicated", "duplicated"),
    ("unacked_stored", "unacked stored"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("drain_s", "drain s"),
    ("injected", "faults injected"),
    ("retried", "retried"),
    ("after_retry_missing", "missing after retry"),
    ("after_retry_duplicated", "dup. after retry"),
)


def _positive(kind: type[float] | type[int], high: float) -> Any:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not 0 < value <= high:
            raise argparse.ArgumentTypeError(f"must be > 0 and <= {high:g} (got {text})")
        return value

    return convert


def _cases(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = [case.key for case in CASES]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"cases are {', '.join(known)} (got {text!r})")
    return names


def _table(rows: list[dict[str, Any]]) -> Table:
    """One row per case: the case's name, then its figures (right-aligned)."""
    table = Table(title="Fault matrix: what clients were told and what was stored")
    for index, (_, title) in enumerate(COLUMNS):
        table.add_column(title, justify="right" if index else "left")
    for row in rows:
        table.add_row(*(str(row[key]) for key, _ in COLUMNS))
    return table


def _print_unfolded(table: Table) -> None:
    """Print `table` at its natural width: a narrow terminal must not fold its 18 columns."""
    console = Console(highlight=False)
    # Measured without the console's width, which would cap it to that very width.
    unbounded = console.options.update_width(_NO_WIDTH_LIMIT)
    natural = Measurement.get(console, unbounded, table).maximum
    Console(highlight=False, width=max(console.width, natural)).print(table)


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    load = Load(rate=args.rate, batch=args.batch)
    chosen = [case for case in CASES if case.key in args.cases]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        cloud = launch(Path(tmp), CLOUD)
        try:
            connector = aiohttp.TCPConnector(limit=64)
            timeout = aiohttp.ClientTimeout(total=30, connect=5)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                for case in chosen:
                    print(f"{case.key}: {case.title} ...", flush=True)
                    result = await run_case(case, cloud, http, load)
                    row = result.row()
                    row["title"] = case.title
                    row["probes"] = {f"{s} {e}".strip(): n for (s, e), n in result.probes.items()}
                    rows.append(row)
        finally:
            cloud.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the matrix and print its table; the exit status."""
    parser = UsageParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--rate", type=_positive(float, 200), default=Load.rate, help="req/s")
    parser.add_argument("--batch", type=_positive(int, 500), default=Load.batch, help="ticks/req")
    parser.add_argument(
        "--cases",
        type=_cases,
        default=[case.key for case in CASES],
        help="comma-separated: " + ",".join(case.key for case in CASES),
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="write the rows here")
    args = parser.parse_args(argv)
    print(f"load: {args.rate:g} req/s x {args.batch} ticks, 8 symbols, one local cloud")
    rows = asyncio.run(_run(args))
    _print_unfolded(_table(rows))
    for row in rows:
        print(f"{row['case']}: /query during the fault: {row['probes']}")
    if args.json_path:
        args.json_path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        print(f"rows: {args.json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
