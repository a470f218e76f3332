"""Handler CPU per request and per tick, handler import time, and DynamoDB write units per tick.

Run: `.venv/bin/python -m bench.handler_cpu [--compare DIR]`. DynamoDB is stubbed (the client
accepts every write at once), so the figures are the handler's own CPU: parsing, validation,
encoding, keys, and building the BatchWriteItem request. CPU figures are the best of three
passes, each in a fresh process; import times the median of fresh processes. `--compare DIR`
measures another checkout (e.g. `git worktree add /tmp/base main`) in the same run, its
processes interleaved with this tree's, so both see the same machine.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from cliargs import UsageParser
from handlers.core.blocks import build_blocks
from handlers.core.ingest import IngestService
from handlers.core.models import Tick
from handlers.core.settings import Settings
from handlers.core.store import BlockWriter

SIZES = (1, 10, 100, 500)
NOW = time.time_ns() // 1_000_000
ROOT: Final = Path(__file__).resolve().parent.parent
PASSES: Final = 3
IMPORT_RUNS: Final = 7
MODULES: Final = (
    "handlers.ingest",
    "handlers.query",
    "handlers.replay",
    "handlers.authorizer",
    "handlers.fanout",
    "handlers.broadcast",
    "handlers.ws",
)
BASELINE: Final = "import boto3, pydantic"
GOALS: Final = {"us/tick at 100": 4.0, "us per 1-tick request": 50.0, "worst import x": 1.1}
"""The hot path's goals, printed beside what was measured (never asserted)."""
_CONSOLE: Final = Console(highlight=False, width=120)


def _table(*columns: str, label: bool = False) -> Table:
    """A table of figures, right-aligned; with `label`, the first column is a left-aligned name."""
    table = Table()
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if label and index == 0 else "right")
    return table


class _AcceptAll:
    """A DynamoDB client stub that accepts every write."""

    def batch_write_item(self, **_: Any) -> dict[str, Any]:
        return {"UnprocessedItems": {}}


class _NoSpill:
    def send(self, blocks: list[Any]) -> int:
        raise AssertionError("the stub never refuses a write")


def _body(n: int, rng: random.Random, symbols: int = 1) -> str:
    ticks = [
        {
            "symbol": f"SYM{rng.randrange(symbols)}",
            "price": f"{189 + rng.random():.2f}",
            "timestamp": NOW - 1000 + i,
            "size": str(rng.randrange(1, 500)),
            "id": f"t-{i:08d}",
        }
        for i in range(n)
    ]
    return json.dumps({"ticks": ticks} if n > 1 else ticks[0])


def _event(body: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /ingest",
        "headers": {"content-type": "application/json", "authorization": "Bearer x"},
        "body": body,
        "isBase64Encoded": False,
    }


def cpu_figures() -> dict[int, float]:
    """CPU microseconds per request for each request size, in this process (one pass)."""
    writer = BlockWriter(_AcceptAll(), "ticks")  # type: ignore[arg-type]
    service = IngestService(Settings(), lambda: writer, lambda: _NoSpill())
    rng = random.Random(1)
    figures = {}
    for n in SIZES:
        events = [_event(_body(n, rng)) for _ in range(20)]
        for event in events:  # warm caches (validators, regexes)
            assert service.handle(event)["statusCode"] == 200
        rounds = max(50, 20_000 // n)
        start = time.process_time()
        for i in range(rounds):
            service.handle(events[i % len(events)])
        figures[n] = (time.process_time() - start) / rounds * 1e6
    return figures


def _cpu_in(tree: Path) -> dict[int, float]:
    """`cpu_figures` in a fresh process importing the handlers of `tree`."""
    code = (
        "import importlib.util, json, sys; "
        f"sys.path.insert(0, {str(tree)!r}); "
        f"spec = importlib.util.spec_from_file_location('_cpu_probe', {__file__!r}); "
        "probe = importlib.util.module_from_spec(spec); spec.loader.exec_module(probe); "
        "print(json.dumps(probe.cpu_figures()))"
    )
    out = subprocess.check_output([sys.executable, "-c", code], cwd=tree, text=True)
    return {int(n): us for n, us in json.loads(out).items()}


def _import_seconds(statement: str, tree: Path) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    return float(subprocess.check_output([sys.executable, "-c", code], cwd=tree, text=True))


def _imports_in(trees: list[Path]) -> dict[Path, dict[str, float]]:
    """Median import seconds of the baseline and each module, per tree, runs interleaved."""
    runs: dict[Path, dict[str, list[float]]] = {tree: {} for tree in trees}
    for _ in range(IMPORT_RUNS):
        for statement in (BASELINE, *(f"import {m}" for m in MODULES)):
            for tree in trees:
                try:
                    seconds = _import_seconds(statement, tree)
                except subprocess.CalledProcessError:
                    continue  # a module that tree does not have
                runs[tree].setdefault(statement, []).append(seconds)
    return {
        tree: {statement: statistics.median(values) for statement, values in found.items()}
        for tree, found in runs.items()
    }


def _name(tree: Path) -> str:
    return "this tree" if tree == ROOT else tree.name


def handler_cpu(trees: list[Path]) -> dict[Path, dict[int, float]]:
    """Print CPU per request and per tick for each request size and tree."""
    best: dict[Path, dict[int, float]] = {tree: {} for tree in trees}
    for _ in range(PASSES):
        for tree in trees:
            for n, us in _cpu_in(tree).items():
                best[tree][n] = min(us, best[tree].get(n, math.inf))
    print(f"handler CPU (ingest, DynamoDB stubbed), 1 symbol per request, best of {PASSES}")
    columns = ["ticks/request"]
    for tree in trees:
        columns += [f"us/request ({_name(tree)})", f"us/tick ({_name(tree)})"]
    table = _table(*columns)
    for n in SIZES:
        row = [str(n)]
        for tree in trees:
            row += [f"{best[tree][n]:.1f}", f"{best[tree][n] / n:.2f}"]
        table.add_row(*row)
    _CONSOLE.print(table)
    return best


def import_times(trees: list[Path]) -> dict[Path, float]:
    """Print each handler module's import time in a fresh process beside boto3 + pydantic."""
    medians = _imports_in(trees)
    print(f"\nimport time in a fresh process (median of {IMPORT_RUNS})")
    columns = ["module"]
    for tree in trees:
        columns += [f"ms ({_name(tree)})", f"x baseline ({_name(tree)})"]
    table = _table(*columns, label=True)
    worst: dict[Path, float] = {}
    for statement in (BASELINE, *(f"import {m}" for m in MODULES)):
        row = ["boto3 + pydantic" if statement == BASELINE else statement.removeprefix("import ")]
        for tree in trees:
            seconds = medians[tree].get(statement)
            if seconds is None:
                row += ["(missing)", ""]
                continue
            ratio = seconds / medians[tree][BASELINE]
            if statement != BASELINE:
                worst[tree] = max(ratio, worst.get(tree, 0.0))
            row += [f"{seconds * 1e3:.1f}", f"{ratio:.2f}"]
        table.add_row(*row)
    _CONSOLE.print(table)
    return worst


def goals(cpu: dict[Path, dict[int, float]], worst: dict[Path, float]) -> None:
    """Print the goals beside the figures of each tree."""
    print("\ngoals (printed, never asserted)")
    columns = ["figure", "goal", *(_name(tree) for tree in cpu)]
    table = _table(*columns, label=True)
    table.add_row(
        "CPU per tick, 100 ticks/request (us)",
        f"<= {GOALS['us/tick at 100']:g}",
        *(f"{figures[100] / 100:.2f}" for figures in cpu.values()),
    )
    table.add_row(
        "CPU per 1-tick request (us)",
        f"<= {GOALS['us per 1-tick request']:g}",
        *(f"{figures[1]:.1f}" for figures in cpu.values()),
    )
    table.add_row(
        "import, worst handler, x (import boto3, pydantic)",
        f"<= {GOALS['worst import x']:g}",
        *(f"{worst.get(tree, math.nan):.2f}" for tree in cpu),
    )
    _CONSOLE.print(table)


def _number_bytes(text: str) -> int:
    # DynamoDB sizes a number as about one byte per two significant digits, plus one.
    return math.ceil(len(text.strip("-").replace(".", "").lstrip("0") or "0") / 2) + 1


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += _number_bytes(raw)
        elif kind == "B":
            size += len(raw)
    return size


def write_units() -> None:
    """Print write units per million ticks at 1, 10 and 100 ticks per request."""
    rng = random.Random(2)
    print(
        "\nDynamoDB write units (1 WRU per started KB per item), ticks with size and a 10-char id"
    )
    table = _table(
        "ticks/request",
        "items",
        "bytes/item",
        "B/tick",
        "WRU/M ticks",
        "vs 1 item/tick",
    )
    for n in (1, 10, 100):
        ticks = [
            Tick(
                symbol="AAPL",
                price=f"{189 + rng.random():.2f}",
                timestamp=NOW - 1000 + i * 5,
                size=str(rng.randrange(1, 500)),
                id=f"t-{i:08d}",
            )
            for i in range(n)
        ]
        blocks = build_blocks(ticks, expires_at=NOW // 1000 + 30 * 86400)
        sizes = [item_bytes(b.to_item()) for b in blocks]
        units = sum(math.ceil(s / 1024) for s in sizes)
        per_million = units * 1_000_000 / n
        table.add_row(
            str(n),
            str(len(blocks)),
            f"{statistics.mean(sizes):.0f}",
            f"{sum(sizes) / n:.1f}",
            f"{per_million:,.0f}",
            f"{1_000_000 / per_million:.1f}x",
        )
    _CONSOLE.print(table)


def main(argv: list[str] | None = None) -> int:
    """Run every figure in turn."""
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--compare",
        metavar="DIR",
        type=Path,
        help="another checkout to measure in the same run (its figures come first)",
    )
    args = parser.parse_args(argv)
    trees = [ROOT]
    if args.compare is not None:
        other = args.compare.resolve()
        if not (other / "handlers" / "core" / "ingest.py").is_file():
            parser.error(f"--compare {args.compare}: not a checkout of this project")
        trees.insert(0, other)
    cpu = handler_cpu(trees)
    worst = import_times(trees)
    goals(cpu, worst)
    write_units()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
