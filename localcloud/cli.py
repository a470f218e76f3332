"""Command line: `python -m localcloud up|demo [options]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from cliargs import UsageParser, usage_error
from localcloud import interpreter
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.deploy.stackconfig import parse_override
from localcloud.errors import LocalCloudError

__all__ = ["EXIT_USAGE", "READY_PREFIX", "main"]

EXIT_USAGE: Final = os.EX_USAGE
"""The command line was wrong."""
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130
READY_PREFIX: Final = "localcloud: ready"
"""Printed (and flushed) once everything serves: the readiness signal for scripts and tests."""
_DEFAULT_DIR: Final = Path(".localcloud")


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (got {text})")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535 (got {text})")
    return value


def _override(text: str) -> tuple[str, Any]:
    try:
        return parse_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bounded(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: `kind(text)` within [low, high], else a one-line error."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} (got {text})")
        return value

    return convert


def _parser() -> UsageParser:
    parser = UsageParser(prog="python -m localcloud", description="The embedded local cloud.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "deploy the program locally and serve it until SIGINT/SIGTERM"),
        ("demo", "start the local cloud, drive a short scripted run through it, stop"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--stack", default="dev", help="stack name (default dev)")
        command.add_argument(
            "--stack-file", type=Path, help="stack file instead of Pulumi.<stack>.yaml"
        )
        command.add_argument(
            "--config",
            type=_override,
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="set a config value on top of the stack file (repeatable)",
        )
        command.add_argument("--port", type=_port, default=0, help="gateway port (0: any free)")
        command.add_argument(
            "--fail-writes", "--throttle-writes", type=_share, default=0.0, metavar="P",
            help="share of DynamoDB write calls that fail with a throttling error "
            "(other faults: POST /_localcloud/faults)",
        )  # fmt: skip
        command.add_argument(
            "--workers", type=_bounded(int, 1, 256), default=CloudOptions.workers, metavar="N",
            help=f"threads running function invocations (default {CloudOptions.workers})",
        )  # fmt: skip
        command.add_argument(
            "--no-metrics", dest="metrics", action="store_false",
            help="record no CloudWatch metrics (to measure what recording them costs)",
        )  # fmt: skip
        command.add_argument(
            "--outputs", type=Path, default=None,
            help="where to write the stack outputs (default .localcloud/outputs.json; "
            "demo: outputs.json in --out-dir)",
        )  # fmt: skip
        command.add_argument(
            "--state", type=Path, default=None,
            help="where to write the state file (default: state.json beside --outputs)",
        )  # fmt: skip
        command.add_argument(
            "--log-level", default="WARNING",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="handler and localcloud logs",
        )  # fmt: skip
        if name == "demo":
            _demo_arguments(command)
    insights = commands.add_parser(
        "insights",
        help="run one of the program's saved Logs Insights queries over the local logs",
        description="Run a saved Logs Insights query over the functions' local log files.",
    )
    insights.add_argument("name", help="the query's name, or its last segment (p95-by-function)")
    insights.add_argument(
        "--state", type=Path, default=_DEFAULT_DIR / "state.json",
        help="the local cloud's state file (default .localcloud/state.json)",
    )  # fmt: skip
    insights.add_argument("--json", action="store_true", help="one JSON object per row")
    return parser


def _demo_arguments(command: argparse.ArgumentParser) -> None:
    """The load run's knobs; the defaults are the ones `make demo` explains when it starts."""
    from localcloud.demo import DemoSettings

    defaults = DemoSettings()
    command.add_argument(
        "--rate", type=_bounded(float, 0.1, 1000.0), default=defaults.rate,
        help=f"ingest + query requests/s (default {defaults.rate:g})",
    )  # fmt: skip
    command.add_argument(
        "--batch", type=_bounded(int, 1, 1000), default=defaults.batch,
        help=f"ticks per ingest request (default {defaults.batch})",
    )  # fmt: skip
    command.add_argument(
        "--query-ratio", type=_bounded(float, 0.0, 0.9), default=defaults.query_ratio,
        help=f"share of read requests (default {defaults.query_ratio:g})",
    )  # fmt: skip
    command.add_argument(
        "--duration", type=_bounded(float, 1.0, 300.0), default=defaults.duration_s,
        help=f"measured seconds of load (default {defaults.duration_s:g})",
    )  # fmt: skip
    command.add_argument(
        "--warmup", type=_bounded(float, 0.0, 30.0), default=defaults.warmup_s,
        help=f"seconds of load before the measured window (default {defaults.warmup_s:g})",
    )  # fmt: skip
    command.add_argument(
        "--out-dir", type=Path, default=defaults.out_dir,
        help=f"summary JSON, plot and handler log go here (default {defaults.out_dir})",
    )  # fmt: skip


def _options(args: argparse.Namespace) -> CloudOptions:
    return CloudOptions(
        stack=args.stack,
        stack_file=args.stack_file,
        overrides=dict(args.config),
        port=args.port,
        fail_writes=args.fail_writes,
        workers=args.workers,
        metrics=args.metrics,
        # Function logs live beside the outputs file, so a test's cloud writes into its tmp dir.
        log_dir=args.outputs.parent / "logs" if args.outputs else None,
    )


def _print_endpoints(cloud: LocalCloud, args: argparse.Namespace) -> None:
    secret = cloud.secret_outputs  # the local dashboard_url carries the ingest token
    print(f"localcloud: stack {args.stack} on {cloud.gateway_url} (moto {cloud.moto_endpoint})")
    for key, value in sorted(cloud.outputs.items()):
        shown = "(secret, see the outputs file)" if key in secret else value
        print(f"  {key}: {shown}")
    for note in cloud.notes:
        print(f"  note: {note}")
    print(f"  outputs: {args.outputs or _DEFAULT_DIR / 'outputs.json'}")


async def _up(args: argparse.Namespace, began: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    cloud = LocalCloud(_options(args))
    outputs = args.outputs or _DEFAULT_DIR / "outputs.json"
    try:
        await cloud.start()
        cloud.write_files(outputs, args.state or outputs.with_name("state.json"))
        _print_endpoints(cloud, args)
        interpreter.freeze_startup()
        print(f"{READY_PREFIX} in {time.monotonic() - began:.2f} s (Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        await cloud.stop()
    print("localcloud: stopped", flush=True)
    return 0


def main(argv: Sequence[str]) -> int:
    """Entry point of `python -m localcloud`; the exit status."""
    began = time.monotonic()
    args = _parser().parse_args(list(argv))
    if args.command == "insights":
        from localcloud.insights.command import InsightsError, print_result, run_named

        try:
            definition, result = run_named(args.state, args.name)
        except InsightsError as exc:
            return usage_error("localcloud insights", exc)
        print_result(definition, result, as_json=args.json)
        return 0
    # The event loop and the Lambda threads share one GIL and a heap that grows at start-up.
    interpreter.tune()
    logging.basicConfig(
        level=getattr(logging, args.log_level), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "demo":
            from localcloud.demo import DemoSettings, run_demo

            settings = DemoSettings(
                rate=args.rate,
                batch=args.batch,
                query_ratio=args.query_ratio,
                duration_s=args.duration,
                warmup_s=args.warmup,
                out_dir=args.out_dir,
                outputs=args.outputs,
                state=args.state,
            )
            return asyncio.run(run_demo(_options(args), settings))
        return asyncio.run(_up(args, began))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM in the demo
        print("localcloud: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except LocalCloudError as exc:
        print(f"localcloud: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # option values CloudOptions refused
        return usage_error("localcloud", exc)
