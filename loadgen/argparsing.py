"""argparse types for the load generator and the benchmarks built on it (bad values: one line).

The parser itself is `cliargs.UsageParser`, shared by every command line of the project.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from loadgen.errors import UsageError

__all__ = ["arg_type"]


def arg_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type whose failure is argparse's own one-line error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except (UsageError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"bad value {text!r}") from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert
