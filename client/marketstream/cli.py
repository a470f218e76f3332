"""`marketstream send|ticks|bars|latest|tail|backfill` (docs/client.md).

The stack comes from `--outputs FILE`, `--stack NAME` or the `MARKETSTREAM_*` variables. Bad
arguments or configuration: one line on stderr, exit 64; a refusal or failure of the stack: one
line, exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Final

from rich.console import Console

from marketstream.aio import AsyncClient
from marketstream.backfill import run_backfill
from marketstream.client import Client
from marketstream.config import Endpoints
from marketstream.errors import ConfigError, MarketStreamError
from marketstream.files import FileError, Refused, read_rows
from marketstream.models import to_ms
from marketstream.output import FORMATS, TICK_FIELDS, print_bars, print_ticks, tick_row
from marketstream.protocol import MAX_TICKS
from marketstream.usage import UsageParser, usage_error

__all__ = ["main", "parse_time"]

NAME: Final = "marketstream"
_RELATIVE: Final = re.compile(r"-(\d+)(ms|s|m|h|d)")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
INTERVALS: Final = ("1s", "1m", "5m", "1h", "1d")


def parse_time(text: str) -> int:
    """Epoch ms from `now`, `-15m` (ms s m h d before now), epoch ms digits, or ISO 8601."""
    value = text.strip()
    now = time.time_ns() // 1_000_000
    if value == "now":
        return now
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - int(relative[1]) * _UNIT_MS[relative[2]]
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        return to_ms(datetime.fromisoformat(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (now, -15m, epoch ms, or ISO 8601)"
        ) from None


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _batch(text: str) -> int:
    value = _positive(text)
    if value > MAX_TICKS:
        raise argparse.ArgumentTypeError(f"at most {MAX_TICKS} ticks per request")
    return value


def _parser() -> UsageParser:
    common = UsageParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument("--outputs", type=Path, metavar="FILE", help="a stack outputs JSON file")
    where.add_argument("--stack", metavar="NAME", help="a Pulumi stack (pulumi stack output)")
    fmt = UsageParser(add_help=False)
    fmt.add_argument("--format", choices=FORMATS, default="table")

    parser = UsageParser(prog=NAME, description="MarketStream client (docs/client.md)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = commands.add_parser("send", parents=[common], help="send ticks from a file or stdin")
    send.add_argument("file", metavar="FILE", help="CSV (header), JSON lines, Parquet; - = stdin")

    ticks = commands.add_parser("ticks", parents=[common, fmt], help="a symbol's ticks")
    ticks.add_argument("symbol")
    ticks.add_argument("--from", dest="start", type=parse_time, default=None, metavar="TIME")
    ticks.add_argument("--to", dest="end", type=parse_time, default=None, metavar="TIME")
    ticks.add_argument("--order", choices=("asc", "desc"), default="asc")
    ticks.add_argument("--limit", type=_positive, default=None, help="print at most N ticks")

    bars = commands.add_parser("bars", parents=[common, fmt], help="OHLCV bars")
    bars.add_argument("symbol")
    bars.add_argument("--interval", choices=INTERVALS, default="1m")
    bars.add_argument("--from", dest="start", type=parse_time, default=None, metavar="TIME")
    bars.add_argument("--to", dest="end", type=parse_time, default=None, metavar="TIME")

    latest = commands.add_parser("latest", parents=[common, fmt], help="the newest tick")
    latest.add_argument("symbol")

    tail = commands.add_parser("tail", parents=[common], help="stream live ticks")
    tail.add_argument("symbols", nargs="+", metavar="SYMBOL")
    tail.add_argument("--format", choices=FORMATS, default="table")
    tail.add_argument("--count", type=_positive, default=None, help="stop after N ticks")

    backfill = commands.add_parser(
        "backfill", parents=[common], help="load history from a CSV or Parquet file"
    )
    backfill.add_argument("file", type=Path, metavar="FILE")
    backfill.add_argument("--concurrency", type=_positive, default=8)
    backfill.add_argument("--batch", type=_batch, default=MAX_TICKS, help="ticks per request")
    backfill.add_argument("--report", type=Path, default=None, metavar="FILE")
    backfill.add_argument("--state", type=Path, default=None, metavar="FILE")
    backfill.add_argument("--no-progress", action="store_true")
    return parser


def _endpoints(args: argparse.Namespace) -> Endpoints:
    if args.outputs is not None:
        return Endpoints.from_outputs(args.outputs)
    if args.stack is not None:
        return Endpoints.from_stack(args.stack)
    return Endpoints.from_env()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status."""
    args = _parser().parse_args(argv)
    try:
        endpoints = _endpoints(args)
        if args.command == "backfill":
            return run_backfill(endpoints, args)
        if args.command == "tail":
            return asyncio.run(_tail(endpoints, args))
        with Client(endpoints) as client:
            return _run(client, args)
    except (ConfigError, FileError) as exc:
        return usage_error(NAME, exc)
    except MarketStreamError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(client: Client, args: argparse.Namespace) -> int:
    if args.command == "send":
        return _send(client, args.file)
    if args.command == "ticks":
        found = client.ticks(args.symbol, args.start, args.end, args.order)
        print_ticks(islice(found, args.limit), args.format, f"{args.symbol.upper()} ticks")
        return 0
    if args.command == "bars":
        bars = client.bars(args.symbol, args.interval, args.start, args.end)
        print_bars(bars, args.format, f"{args.symbol.upper()} {args.interval} bars")
        return 0
    tick = client.latest(args.symbol)
    if tick is None:
        print(f"{NAME}: {args.symbol.upper()} has no ticks", file=sys.stderr)
        return 1
    print_ticks([tick], args.format, f"{args.symbol.upper()} latest")
    return 0


def _send(client: Client, file: str) -> int:
    path = Path("/dev/stdin") if file == "-" else Path(file)
    if file != "-" and not path.is_file():
        raise FileError(f"{file}: no such file")
    rows = list(read_rows(path))
    refused = [r for r in rows if isinstance(r, Refused)]
    if refused:
        first = refused[0]
        print(
            f"{NAME}: {len(refused)} bad row(s), nothing sent; row {first.number}: {first.reason}",
            file=sys.stderr,
        )
        return 1
    result = client.send(r.tick for r in rows if not isinstance(r, Refused))
    print(
        f"sent {result.accepted} tick(s) ({result.queued} queued) in {result.requests} "
        f"request(s), {result.attempts} attempt(s)"
    )
    return 0


async def _tail(endpoints: Endpoints, args: argparse.Namespace) -> int:
    """Print live ticks as they come: a line each (table), CSV rows after a header, or JSON."""
    console = Console(highlight=False)
    rows = csv.DictWriter(sys.stdout, fieldnames=TICK_FIELDS) if args.format == "csv" else None
    if rows is not None:
        rows.writeheader()
    seen = 0
    async with AsyncClient(endpoints) as client, client.subscribe(args.symbols) as live:
        async for tick in live:
            row = tick_row(tick)
            if rows is not None:
                rows.writerow(row)
            elif args.format == "json":
                sys.stdout.write(json.dumps(row) + "\n")
            else:
                when = f"{tick.time:%Y-%m-%d %H:%M:%S.%f}"[:-3]
                line = f"{when}  [bold]{row['symbol']}[/bold]  {row['price']}  {row['size']}"
                console.print(line)
            sys.stdout.flush()
            seen += 1
            if seen == args.count:
                break
    return 0
