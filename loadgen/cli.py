"""`python -m loadgen`: arguments -> config -> run -> report -> exit code.

Exit codes: 0 ok, 2 an SLO rule was breached, 3 `--verify` found missing or duplicated ticks (or
could not read them back), EX_USAGE bad arguments or unresolvable targets, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from rich.console import Console

from cliargs import UsageParser, usage_error
from loadgen.argparsing import arg_type
from loadgen.config import LoadConfig, ReportOptions, Stage, parse_duration, parse_stages
from loadgen.errors import LoadgenError, UsageError
from loadgen.live import LiveProgress
from loadgen.report import build_summary, print_summary, write_json
from loadgen.runcost import run_cost
from loadgen.runner import WorkerSpec
from loadgen.schedule import Schedule
from loadgen.slo import SloRule, evaluate, parse_slo
from loadgen.stats import MergedStats
from loadgen.targets import Targets, load_outputs_file, load_stack_outputs
from loadgen.verify import verify_ticks
from loadgen.workers import run_workers

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SLO",
    "EXIT_USAGE",
    "EXIT_VERIFY",
    "CostEstimator",
    "build_parser",
    "main",
]

EXIT_OK: Final = 0
EXIT_SLO: Final = 2
EXIT_VERIFY: Final = 3
EXIT_USAGE: Final = os.EX_USAGE
EXIT_INTERRUPTED: Final = 130
LOCAL_OUTPUTS: Final = Path(".localcloud/outputs.json")
TOKEN_ENV: Final = "MARKETSTREAM_INGEST_TOKEN"  # noqa: S105 - a variable name
API_KEY_ENV: Final = "MARKETSTREAM_API_KEY"

CostEstimator = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
"""Hook for the cost model: given the run summary, its `cost` section (None: not priced)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = UsageParser(
        prog="python -m loadgen",
        name="loadgen",
        description="Open-loop load generator for the MarketStream ingest and query APIs.",
    )
    where = parser.add_argument_group("targets (one of --stack, --outputs, --local, or URLs)")
    source = where.add_mutually_exclusive_group()
    source.add_argument("--stack", help="read `pulumi stack output --json` of this stack")
    source.add_argument("--outputs", type=Path, help="read a stack-outputs JSON file")
    source.add_argument("--local", action="store_true", help=f"same as --outputs {LOCAL_OUTPUTS}")
    where.add_argument("--ingest-url", help="POST /ingest URL (overrides the outputs)")
    where.add_argument("--query-url", help="query API base URL (overrides the outputs)")
    where.add_argument("--token", help=f"ingest bearer token (or ${TOKEN_ENV})")
    where.add_argument("--api-key", help=f"query API key (or ${API_KEY_ENV})")

    load = parser.add_argument_group("load")
    shape = load.add_mutually_exclusive_group()
    shape.add_argument("--rate", type=arg_type(float), help="constant requests/s (default 100)")
    shape.add_argument(
        "--stages", type=arg_type(parse_stages), help='ramps, e.g. "30s:100,60s:500"'
    )
    load.add_argument("--duration", type=arg_type(parse_duration), help="with --rate (default 10s)")
    load.add_argument(
        "--start-rate", type=arg_type(float), default=0.0, help="rate at t=0 of --stages"
    )
    load.add_argument(
        "--arrival",
        choices=("uniform", "burst"),
        default="uniform",
        help="uniform: spread over each second; burst: each second's requests at its start",
    )
    load.add_argument("--batch", type=int, default=10, help="ticks per ingest request")
    load.add_argument("--symbols", type=int, default=8, help="distinct symbols")
    load.add_argument("--query-ratio", type=float, default=0.0, help="share of read requests")
    load.add_argument("--seed", type=int, default=1, help="payload seed")
    load.add_argument(
        "--warmup", type=arg_type(parse_duration), default=0.0, help="excluded lead-in"
    )
    load.add_argument("--workers", type=int, default=1, help="worker processes")
    load.add_argument("--connections", type=int, default=256, help="connection limit per worker")
    load.add_argument("--timeout", type=arg_type(parse_duration), default=10.0, help="per request")
    load.add_argument("--connect-timeout", type=arg_type(parse_duration), default=3.0)
    load.add_argument(
        "--grace", type=arg_type(parse_duration), default=5.0, help="late-send window"
    )
    load.add_argument("--late-threshold", type=float, default=5.0, help="late send, in ms")
    load.add_argument(
        "--lag-limit", type=float, default=20.0, help="lag p99 that means not keeping up, in ms"
    )
    load.add_argument("--pool-size", type=int, default=1024, help="prebuilt payload templates")

    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, dest="json_path", help="write the JSON summary here")
    out.add_argument("--plot", type=Path, dest="plot_path", help="write a PNG here")
    out.add_argument("--slo", help='e.g. "p95<150ms,p99<300ms,errors<0.1%%,rate>=0.98"')
    out.add_argument("--verify", action="store_true", help="read every acknowledged tick back")
    out.add_argument("--no-progress", action="store_true", help="no live progress line")
    return parser


def _load_config(args: argparse.Namespace) -> LoadConfig:
    if args.stages is not None:
        if args.duration is not None:
            raise UsageError("--duration goes with --rate; --stages carry their own durations")
        stages: tuple[Stage, ...] = args.stages
        start_rps = args.start_rate
    else:
        rate = 100.0 if args.rate is None else args.rate
        duration = 10.0 if args.duration is None else args.duration
        stages = (Stage(duration_s=duration, target_rps=rate),)
        start_rps = rate
    return LoadConfig(
        stages=stages,
        start_rps=start_rps,
        arrival=args.arrival,
        batch=args.batch,
        symbols=args.symbols,
        query_ratio=args.query_ratio,
        seed=args.seed,
        warmup_s=args.warmup,
        connections=args.connections,
        timeout_s=args.timeout,
        connect_timeout_s=args.connect_timeout,
        workers=args.workers,
        late_threshold_ms=args.late_threshold,
        lag_limit_ms=args.lag_limit,
        grace_s=args.grace,
        pool_size=args.pool_size,
    )


def _targets(args: argparse.Namespace, config: LoadConfig, verify: bool) -> Targets:
    if args.stack:
        base = load_stack_outputs(args.stack)
    elif args.outputs or args.local:
        base = load_outputs_file(args.outputs or LOCAL_OUTPUTS)
    else:
        base = Targets(ingest_url=None, query_base_url=None)
    targets = base.with_overrides(
        ingest_url=args.ingest_url,
        query_base_url=args.query_url,
        token=args.token or os.environ.get(TOKEN_ENV),
        api_key=args.api_key or os.environ.get(API_KEY_ENV),
    )
    if config.ingest_share > 0 and not targets.ingest_url:
        raise UsageError("no ingest URL: give --stack, --outputs, --local or --ingest-url")
    if (config.query_ratio > 0 or verify) and not targets.query_base_url:
        raise UsageError("no query URL (needed for --query-ratio/--verify): give --query-url")
    return targets


def main(
    argv: Sequence[str] | None = None, *, cost_estimator: CostEstimator | None = run_cost
) -> int:
    """Run the CLI; return the process exit code (`cost_estimator=None`: no cost section)."""
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        args = build_parser().parse_args(argv)
        config = _load_config(args)
        options = ReportOptions(
            json_path=args.json_path,
            plot_path=args.plot_path,
            slo=args.slo,
            verify=args.verify,
            progress=not args.no_progress,
        )
        rules = parse_slo(options.slo) if options.slo else ()
        targets = _targets(args, config, options.verify)
        return _run(config, targets, options, rules, console, errors, cost_estimator)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        return usage_error("loadgen", exc)
    except KeyboardInterrupt:
        print("loadgen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except LoadgenError as exc:
        print(f"loadgen: error: {exc}", file=sys.stderr)
        return 1


def _run(
    config: LoadConfig,
    targets: Targets,
    options: ReportOptions,
    rules: tuple[SloRule, ...],
    console: Console,
    errors: Console,
    cost_estimator: CostEstimator | None,
) -> int:
    schedule = Schedule.from_config(config)
    run_id = secrets.token_hex(4)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    base_ms = time.time_ns() // 1_000_000
    errors.print(
        f"loadgen run {run_id}: {schedule.total:,} requests over {config.duration_s:g}s"
        f" (warm-up {config.warmup_s:g}s), batch {config.batch}, query ratio"
        f" {config.query_ratio:g}, {config.workers} worker(s) x {config.connections} connections,"
        f" timeout {config.timeout_s:g}s -> {targets.source}"
    )
    spec = WorkerSpec(config=config, targets=targets, run_id=run_id, base_ms=base_ms)
    with LiveProgress(
        schedule=schedule, workers=config.workers, console=errors, enabled=options.progress
    ) as live:
        results = run_workers(spec, on_progress=live)
    stats = MergedStats(results, total_requests=schedule.total)
    summary = build_summary(
        config=config,
        targets=targets,
        run_id=run_id,
        started_at=started_at,
        base_ms=base_ms,
        schedule=schedule,
        stats=stats,
    )
    if cost_estimator is not None:
        cost = cost_estimator(summary)
        summary["cost"] = dict(cost) if cost is not None else None
    print_summary(summary, console)
    code = EXIT_OK
    if options.verify:
        result = asyncio.run(
            verify_ticks(
                targets=targets,
                config=config,
                run_id=run_id,
                base_ms=base_ms,
                total_requests=schedule.total,
                stats=stats,
            )
        )
        summary["verify"] = result.as_dict()
        console.print(
            f"verify    acknowledged {result.acknowledged:,}  found {result.found:,}"
            f"  missing {result.missing:,}  duplicated {result.duplicated:,}"
            f"  (stored but unacknowledged {result.unacknowledged_found:,}; {result.pages:,} pages)"
        )
        for line in result.errors:
            console.print(f"[red]verify error[/] {line}")
        if result.missing_examples:
            console.print(f"missing e.g. {', '.join(result.missing_examples)}")
        if result.duplicate_examples:
            console.print(f"duplicated e.g. {', '.join(result.duplicate_examples)}")
        if not result.ok:
            code = EXIT_VERIFY
    if rules:
        outcomes = evaluate(rules, summary)
        breached = [o for o in outcomes if not o.passed]
        summary["slo"] = {
            "rules": [o.rule.text for o in outcomes],
            "breached": [o.describe() for o in breached],
            "passed": not breached,
        }
        for outcome in breached:
            console.print(f"[bold red]SLO breached[/] {outcome.describe()}")
        if not breached:
            console.print(f"SLO met    {', '.join(o.describe() for o in outcomes)}")
        elif code == EXIT_OK:
            code = EXIT_SLO
    if options.json_path:
        write_json(summary, options.json_path)
        console.print(f"summary   {options.json_path}")
    if options.plot_path:
        from loadgen.plot import write_plot  # matplotlib is slow to import: only when asked

        write_plot(summary, options.plot_path)
        console.print(f"plot      {options.plot_path}")
    return code
