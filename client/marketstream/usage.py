"""Bad command lines and bad configuration: one line on stderr, exit 64 (`os.EX_USAGE`).

The same contract as the root project's `cliargs` package, which this distribution cannot import
(a bot installs `marketstream-client` without the stack's code); it is small enough to repeat,
and `tests/unit/client/test_client_cli.py` holds both to the same line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final, NoReturn

__all__ = ["EX_USAGE", "UsageParser", "usage_error"]

EX_USAGE: Final = 64


def usage_error(name: str, message: object) -> int:
    """Print `<name>: error: <message>` as one line on stderr; EX_USAGE, for `main` to return."""
    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"{name}: error: {text}", file=sys.stderr)
    return EX_USAGE


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and `SystemExit(64)` (no usage dump)."""

    def __init__(self, *args: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = name or self.prog

    def error(self, message: str) -> NoReturn:
        """Report a bad command line in one line and exit 64."""
        raise SystemExit(usage_error(self.name, message))
