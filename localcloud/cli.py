"""Command line: `python -m localcloud up|demo [options]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.errors import LocalCloudError
from localcloud.stackconfig import parse_override

__all__ = ["EXIT_USAGE", "READY_PREFIX", "main"]

EXIT_USAGE: Final = 64
"""EX_USAGE: the command line was wrong."""
EXIT_FAILED: Final = 1
READY_PREFIX: Final = "localcloud: ready"
"""Printed (and flushed) once everything serves: the readiness signal for scripts and tests."""
_DEFAULT_DIR: Final = Path(".localcloud")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line and exits 64."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


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


def _parser() -> _Parser:
    parser = _Parser(prog="python -m localcloud", description="The embedded local cloud.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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
            "--fail-writes", type=_share, default=0.0, metavar="P",
            help="share of DynamoDB write calls that fail with a throttling error",
        )  # fmt: skip
        command.add_argument(
            "--outputs", type=Path, default=_DEFAULT_DIR / "outputs.json",
            help="where to write the stack outputs (default .localcloud/outputs.json)",
        )  # fmt: skip
        command.add_argument(
            "--state", type=Path, default=None,
            help="where to write the state file (default: state.json beside --outputs)",
        )  # fmt: skip
        command.add_argument(
            "--log-level", default="WARNING",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="handler and localcloud logs",
        )  # fmt: skip
    return parser


def _options(args: argparse.Namespace) -> CloudOptions:
    return CloudOptions(
        stack=args.stack,
        stack_file=args.stack_file,
        overrides=dict(args.config),
        port=args.port,
        fail_writes=args.fail_writes,
    )


def _print_endpoints(cloud: LocalCloud, args: argparse.Namespace) -> None:
    secret = cloud.deployment.secret_exports if cloud.deployment else set()
    print(f"localcloud: stack {args.stack} on {cloud.gateway_url} (moto {cloud.moto_endpoint})")
    for key, value in sorted(cloud.outputs.items()):
        shown = "(secret, see the outputs file)" if key in secret else value
        print(f"  {key}: {shown}")
    for note in cloud.notes:
        print(f"  note: {note}")
    print(f"  outputs: {args.outputs}")


async def _up(args: argparse.Namespace, began: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    cloud = LocalCloud(_options(args))
    try:
        await cloud.start()
        cloud.write_files(args.outputs, args.state or args.outputs.with_name("state.json"))
        _print_endpoints(cloud, args)
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
    logging.basicConfig(
        level=getattr(logging, args.log_level), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "demo":
            from localcloud.demo import run_demo

            return asyncio.run(run_demo(_options(args)))
        return asyncio.run(_up(args, began))
    except LocalCloudError as exc:
        print(f"localcloud: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # option values CloudOptions refused
        print(f"localcloud: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
