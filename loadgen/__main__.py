"""`python -m loadgen [cost] ...`: dispatch to the load run or to the cost subcommand."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from cliargs import usage_error

__all__ = ["dispatch"]


def dispatch(argv: Sequence[str]) -> int:
    """Route `cost ...` to `loadgen.cost_cli`, everything else to the load generator."""
    if argv[:1] == ["cost"]:
        try:
            # Imported lazily: the cost model is optional and lives in its own module.
            module = importlib.import_module("loadgen.cost_cli")
        except ModuleNotFoundError as exc:
            if exc.name != "loadgen.cost_cli":
                raise
            return usage_error("loadgen", "the cost subcommand is not available")
        cost_main = cast(Callable[[list[str]], int], module.main)
        return cost_main(list(argv[1:]))
    from loadgen.cli import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(dispatch(sys.argv[1:]))
