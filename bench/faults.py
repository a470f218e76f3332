"""The fault matrix as figures: what clients were told and what was stored, per injected fault.

`python -m bench.faults [--rate 12] [--batch 10] [--cases throttle,outage,crash] [--json PATH]`
starts a local cloud with `tests/functional/faults_stack.yaml`, and for each case runs the load
generator at a fixed rate while the fault is on (30 % of DynamoDB writes throttled for 20 s;
DynamoDB unreachable for 10 s; the ingest function crashing mid-write in 5 % of invocations),
waits for the spill queue to drain, reads every tick back, retries the unacknowledged requests
with their Idempotency-Key and reads back again. The scenario is `tests/functional/faultcases.py`,
the same one `tests/functional/test_fault_matrix.py` asserts on. Prints one table row per case
(and the rows as JSON with `--json`); figures are printed, never judged. Exit status 0 unless the
run could not be made; 64 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import aiohttp

from tests.functional.cloudproc import start_cloud, stop_cloud
from tests.functional.faultcases import CASES, Load, cloud_args, run_case

__all__ = ["main"]

EXIT_USAGE = 64
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


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


def _table(rows: list[dict[str, Any]]) -> str:
    cells = [[title for _, title in COLUMNS]]
    cells += [[str(row[key]) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for line in cells:
        padded = (
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        lines.append("  ".join(padded))
    return "\n".join(lines)


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    load = Load(rate=args.rate, batch=args.batch)
    chosen = [case for case in CASES if case.key in args.cases]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        cloud = start_cloud(Path(tmp), *cloud_args())
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
            stop_cloud(cloud)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the matrix and print its table; the exit status."""
    parser = _Parser(prog="python -m bench.faults", description=__doc__)
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
    print(_table(rows))
    for row in rows:
        print(f"{row['case']}: /query during the fault: {row['probes']}")
    if args.json_path:
        args.json_path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        print(f"rows: {args.json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
