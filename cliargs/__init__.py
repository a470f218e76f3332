"""How every command line of the project reports a usage error: one line on stderr, `os.EX_USAGE`.

argparse's own `error()` prints the whole usage text and exits 2; scripts that call these CLIs
(make, CI, the benchmarks) tell a typo from a crash by the status, and people read one line
faster than a usage dump. `UsageParser` is an `argparse.ArgumentParser` that does that for bad
arguments, and `usage_error` says a bad configuration found after parsing in the same words.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

__all__ = ["UsageParser", "usage_error", "usage_line"]


def usage_line(name: str, message: object) -> str:
    """`<name>: error: <message>` as exactly one line (a multi-line message is joined)."""
    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return f"{name}: error: {text}"


def usage_error(name: str, message: object) -> int:
    """Print `usage_line(name, message)` to stderr; `os.EX_USAGE`, for `main` to return."""
    print(usage_line(name, message), file=sys.stderr)
    return os.EX_USAGE


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one `usage_line` on stderr and `SystemExit(EX_USAGE)`.

    `name` is the word the line starts with (default: `prog`, which the help text keeps using).
    argparse makes the subparsers of `add_subparsers()` of the parser's own class, so they are
    UsageParsers too, named after their own prog.
    """

    def __init__(self, *args: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = name or self.prog

    def error(self, message: str) -> NoReturn:
        """Report a bad command line in one line and exit `os.EX_USAGE` (no usage dump)."""
        raise SystemExit(usage_error(self.name, message))
