"""`python -m infra.preview [--base REV] [--stack dev|prod|all] [--format text|markdown]
[--output FILE]`: what would change in each stack, computed offline (docs/operations.md).

The working tree and the base revision (default: HEAD's merge base with main) are run in a
subprocess (`python -m infra.preview.snapshot`, with this interpreter, so the same packages), each
with its own modules on `sys.path`; the base is checked out in a temporary git worktree that is
removed in every case.
Bad arguments or an unknown revision: one line, exit 64. A tree whose program cannot run under
the mocks: one line naming the side, exit 1.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Final

from cliargs import UsageParser, usage_error, usage_line
from infra.preview.diff import StackDiff, diff_stack
from infra.preview.render import render
from infra.preview.snapshot import KEY_ENV
from infra.preview.worktree import CheckoutError, RevisionError, checkout, repo_root, resolve

__all__ = ["STACKS", "main"]

NAME: Final = "infra.preview"
STACKS: Final = ("dev", "prod")
_TIMEOUT_S: Final = 900
"""A program that hangs under the mocks fails the diff instead of holding a CI runner."""
_HERE: Final = Path(__file__).resolve().parents[2]
"""The tree this package is in: the snapshot subprocesses run its code."""


class SideError(Exception):
    """One side's program could not be run; the message names the side."""


def _parser() -> UsageParser:
    parser = UsageParser(
        prog="python -m infra.preview",
        name=NAME,
        description="Offline infrastructure diff: the program under Pulumi's mock runtime, "
        "for the working tree and a base revision, per stack.",
    )
    parser.add_argument(
        "--base", metavar="REV", help="revision to compare with (default: merge base with main)"
    )
    parser.add_argument("--stack", choices=(*STACKS, "all"), default="all")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--output", metavar="FILE", type=Path, help="write here, not to stdout")
    return parser


def _snapshots(
    sides: dict[str, Path], stacks: Sequence[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each side's snapshot, per stack; SideError names the first side whose program failed."""
    env = {
        **os.environ,
        KEY_ENV: secrets.token_hex(32),
        # Never pip-install a layer for a diff: a placeholder carries the layer's key.
        "MARKETSTREAM_LAYER_BUILD": "skip",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    argv = [sys.executable, "-m", "infra.preview.snapshot"]
    argv += [f"--stack={stack}" for stack in stacks]
    argv += [str(path) for path in sides.values()]
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=_HERE,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SideError(f"the programs did not finish within {_TIMEOUT_S} s") from None
    try:
        results = json.loads(result.stdout) if result.returncode == 0 else None
    except ValueError:
        results = None
    if not isinstance(results, list):
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        raise SideError(f"the snapshot failed: {lines[-1] if lines else result.returncode}")
    snapshots = {}
    for side, item in zip(sides, results, strict=False):
        if "error" in item:
            raise SideError(f"{side}: {item['error']}")
        snapshots[side] = item["stacks"]
    return snapshots


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a cancelled CI job) unwinds like Ctrl-C, so the base worktree is removed.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the preview; 0 with the report, 64 on bad input, 1 when a side's program fails."""
    args = _parser().parse_args(argv)
    stacks = STACKS if args.stack == "all" else (args.stack,)
    if args.output is not None and not args.output.resolve().parent.is_dir():
        return usage_error(NAME, f"--output: no directory {args.output.parent}")
    try:
        root = repo_root(Path.cwd())
        commit = resolve(root, args.base)
    except RevisionError as exc:
        return usage_error(NAME, f"--base: {exc}" if args.base is not None else exc)
    base_label = f"base {commit[:12]}"
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with checkout(root, commit) as base:
            snapshots = _snapshots({"working tree": root, base_label: base}, stacks)
    except (CheckoutError, SideError) as exc:
        side = f"{base_label}: " if isinstance(exc, CheckoutError) else ""
        print(usage_line(NAME, f"{side}{exc}"), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    old, new = snapshots[base_label], snapshots["working tree"]
    diffs: list[StackDiff] = [diff_stack(s, old[s], new[s]) for s in stacks]
    report = render(diffs, base=commit[:12], fmt=args.format)
    if args.output is None:
        sys.stdout.write(report)
        return 0
    try:
        args.output.write_text(report, encoding="utf-8")
    except OSError as exc:
        return usage_error(NAME, f"--output: cannot write {args.output}: {exc.strerror}")
    return 0
