"""argparse for the load generator and the benchmarks built on it: one line, not a usage dump."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from loadgen.errors import UsageError

__all__ = ["UsageParser", "arg_type"]


class UsageParser(argparse.ArgumentParser):
    """argparse exits 2 with a usage dump on bad input; this raises UsageError (one line, 64)."""

    def error(self, message: str) -> NoReturn:
        """Turn argparse's error into a UsageError."""
        raise UsageError(message)


def arg_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type whose failure is argparse's own one-line error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except (UsageError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"bad value {text!r}") from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert
