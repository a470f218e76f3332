"""Command line: write `docs/openapi.json`, or check that it matches the code."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from apispec.document import build_document, render
from cliargs import UsageParser, usage_error

__all__ = ["DEFAULT_OUTPUT", "EXIT_STALE", "EXIT_USAGE", "REGENERATE", "main"]

DEFAULT_OUTPUT: Final = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
REGENERATE: Final = "python -m apispec"
"""The command that rewrites the document (quoted in staleness messages)."""
EXIT_STALE: Final = 1
EXIT_USAGE: Final = os.EX_USAGE


def _parser() -> UsageParser:
    parser = UsageParser(
        prog="python -m apispec",
        description="Write the OpenAPI document of the ingest and query APIs.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file differs from what the code generates",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="the file (default: docs/openapi.json)"
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of `python -m apispec`; the exit status."""
    args = _parser().parse_args(list(argv))
    path: Path = args.output
    text = render(build_document())
    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            print(f"apispec: {path} is stale or missing; run `{REGENERATE}`", file=sys.stderr)
            return EXIT_STALE
        print(f"apispec: {path} is up to date")
        return 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half a document
    except OSError as exc:
        return usage_error("apispec", f"cannot write {path}: {exc.strerror}")
    print(f"apispec: wrote {path}")
    return 0
