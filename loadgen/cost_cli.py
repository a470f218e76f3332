"""`python -m loadgen cost`: print the modelled AWS cost of a workload as a table or JSON.

Start from a preset (`original`: the CDK project this one replaces; `default`: this project's
defaults) and override any parameter with a flag. Bad arguments print one line on stderr and
exit EX_USAGE, so scripts can tell a typo from a crash.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from cliargs import UsageParser, usage_error
from loadgen.cost import DEFAULT_QUERY_MIX, PRESETS, CostEstimate, QueryKind, Workload, estimate
from loadgen.errors import UsageError

__all__ = ["EX_USAGE", "main"]

EX_USAGE: Final = os.EX_USAGE


def _parse_mix(text: str) -> tuple[QueryKind, ...]:
    """Parse `query=0.5,latest=0.4,bars=0.1` into the default mix with new shares."""
    known = {kind.name: kind for kind in DEFAULT_QUERY_MIX}
    shares: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise argparse.ArgumentTypeError(
                f"expected name=share with names from {sorted(known)}, got {part!r}"
            )
        try:
            shares[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"share of {name!r} is not a number") from None
    return tuple(
        dataclasses.replace(kind, share=shares.get(kind.name, 0.0)) for kind in DEFAULT_QUERY_MIX
    )


# flag -> (Workload field, type, help). Every flag defaults to None: "keep the preset's value".
_FLAGS: Final[dict[str, tuple[str, Any, str]]] = {
    "--ticks-per-s": ("ticks_per_s", float, "ticks per second"),
    "--batch": ("ticks_per_request", int, "ticks per ingest request"),
    "--symbols": ("symbols_per_request", int, "symbols (= blocks) per ingest request"),
    "--api": ("ingest_api", str, "ingest API type: http or rest"),
    "--memory": ("memory_mb", int, "memory of every function, MB"),
    "--arch": ("arch", str, "arm64 or x86_64"),
    "--duration-ms": ("ingest_duration_ms", float, "measured ingest handler duration, ms"),
    "--init-ms": ("init_duration_ms", float, "INIT (cold start) duration, ms"),
    "--cold-share": ("cold_start_share", float, "share of invocations that are cold starts"),
    "--log-bytes": ("log_bytes_per_invocation", int, "CloudWatch log bytes per invocation"),
    "--header-bytes": ("block_header_bytes", int, "bytes of key attributes per block item"),
    "--tick-bytes": ("block_bytes_per_tick", int, "encoded bytes per tick in a block"),
    "--retention-days": ("retention_days", float, "days items stay in the table (TTL)"),
    "--query-rate": ("query_rate", float, "query requests per second"),
    "--query-mix": ("query_mix", _parse_mix, "e.g. query=0.5,latest=0.4,bars=0.1"),
    "--subscribers": ("subscribers", int, "fan-out SQS subscriber queues"),
    "--dashboards": ("dashboards", int, "open WebSocket dashboard connections"),
    "--spill-share": ("spill_share", float, "share of ingest requests spilled to SQS"),
    "--fanout-batch": (
        "fanout_records_per_invocation",
        float,
        "blocks per fan-out batch (the rollups cost writes per symbol and batch)",
    ),
    "--bar-page-bytes": ("bar_page_bytes", int, "stored bytes of one rollup page"),
}


def _parser() -> UsageParser:
    """Build the argument parser."""
    parser = UsageParser(
        prog="python -m loadgen cost",
        name="cost",
        description="Modelled AWS cost (list prices) of a MarketStream workload.",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    for flag, (_, kind, text) in _FLAGS.items():
        parser.add_argument(flag, type=kind, default=None, help=text)
    parser.add_argument(
        "--fanout",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="model the stream consumer -> SNS fan-out",
    )
    parser.add_argument(
        "--rollups",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="model the bar rollups the fan-out consumer keeps",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _workload(args: argparse.Namespace) -> Workload:
    """The preset with every given flag applied; ValueError names a bad value."""
    changes: dict[str, Any] = {
        field: getattr(args, flag[2:].replace("-", "_"))
        for flag, (field, _, _) in _FLAGS.items()
        if getattr(args, flag[2:].replace("-", "_")) is not None
    }
    if args.fanout is not None:
        changes["fanout"] = args.fanout
    if args.rollups is not None:
        changes["rollups"] = args.rollups
    return dataclasses.replace(PRESETS[args.preset], **changes)


def _table(result: CostEstimate, preset: str) -> Table:
    """Rich table of line items with per-service subtotals and the totals."""
    w = result.workload
    millions = result.ticks_per_month / 1e6
    table = Table(
        title=(
            f"MarketStream cost, preset {preset}: {w.ticks_per_s:g} ticks/s, "
            f"{w.ticks_per_request} ticks/request, {w.symbols_per_request} blocks/request, "
            f"{w.memory_mb} MB {w.arch}, {w.ingest_api.upper()} API ingest"
        ),
        caption=(
            f"AWS list prices, {result.prices.region}, as of {result.prices.as_of}; "
            f"month = 730 h; no free tier. {millions:,.0f} M ticks/month."
        ),
    )
    table.add_column("Service")
    table.add_column("Item")
    table.add_column("Quantity/month", justify="right")
    table.add_column("Unit")
    table.add_column("$/month", justify="right")
    table.add_column("$/M ticks", justify="right")
    for service, subtotal in result.by_service.items():
        for line in (x for x in result.items if x.service == service):
            table.add_row(
                line.service,
                line.item,
                f"{line.quantity:,.1f}",
                line.unit,
                f"{line.usd_per_month:,.2f}",
                f"{line.usd_per_month / millions:.5f}",
            )
        table.add_row(
            "",
            f"[b]{service} total[/b]",
            "",
            "",
            f"[b]{subtotal:,.2f}[/b]",
            f"[b]{subtotal / millions:.5f}[/b]",
            end_section=True,
        )
    table.add_row(
        "[b]Total[/b]",
        "",
        "",
        "",
        f"[b]{result.usd_per_month:,.2f}[/b]",
        f"[b]{result.usd_per_million_ticks:.4f}[/b]",
    )
    return table


def main(argv: Sequence[str]) -> int:
    """Run the cost command on `argv` (without the `cost` word); return the exit status."""
    try:
        args = _parser().parse_args(list(argv))
        result = estimate(_workload(args))
    except (UsageError, ValueError) as exc:
        return usage_error("cost", exc)
    except SystemExit as exc:  # --help prints and exits 0 through argparse
        return int(exc.code or 0)
    if args.json:
        print(json.dumps({"preset": args.preset, **result.to_dict()}, indent=2))
    else:
        Console(width=max(Console().width, 110)).print(_table(result, args.preset))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
