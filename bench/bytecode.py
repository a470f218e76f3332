"""Cold imports of the functions with and without the archives' bytecode, on the runtime's Python.

Run: `.venv/bin/python -m bench.bytecode [--python PATH] [--runs 11]`. Stages the function code
and the dependency layer (for this machine's architecture, so pydantic-core loads) the way the
program does, once without bytecode and once with it (`infra.packaging.compile_bytecode`), and
times imports in fresh processes of the runtime's interpreter with `PYTHONDONTWRITEBYTECODE=1`
and Lambda's search path (function code, then the layer). boto3 comes with the Lambda runtime,
so it is installed once, compiled, and shared by both cases: only our archives differ. The
interpreter is the one packaging would use (`python3.13` on PATH or
`MARKETSTREAM_BYTECODE_PYTHON`), or `--python`; the figures name the version that ran.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from cliargs import UsageParser
from infra.config import StackConfig
from infra.packaging import (
    PROJECT_ROOT,
    Compiler,
    PackagingError,
    bytecode_compiler,
    compile_bytecode,
    stage_function,
    stage_layer,
)

__all__ = ["main"]

CASES: Final = (
    # (label, imported first and not timed, timed)
    ("boto3 (the runtime's, same both ways)", "", "boto3"),
    ("handlers.ingest, on top of boto3", "boto3", "handlers.ingest"),
    ("handlers.query, on top of boto3", "boto3", "handlers.query"),
    ("handlers.replay, on top of boto3", "boto3", "handlers.replay"),
    ("handlers.fanout, on top of boto3", "boto3", "handlers.fanout"),
    ("handlers.broadcast, on top of boto3", "boto3", "handlers.broadcast"),
    # The rare path: the first refused or unusual ingest body loads the model and pydantic.
    ("the model (pydantic), on top of ingest", "boto3, handlers.ingest", "handlers.core.models"),
)
_CONSOLE: Final = Console(highlight=False, width=120)


def _runtime_boto3(compiler: Compiler, target: Path, runtime: str) -> None:
    """boto3 (as the Lambda runtime has it, with bytecode) for the runtime's Python version."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", runtime.removeprefix("python"),
        "--implementation", "cp", "--no-compile", "--target", str(target),
        f"boto3=={version('boto3')}",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    compile_bytecode(target, compiler, "/var/runtime")


def _seconds(compiler: Compiler, path: list[Path], setup: str, timed: str) -> float:
    code = f"import time; t = time.perf_counter(); import {timed}; print(time.perf_counter() - t)"
    if setup:
        code = f"import {setup}; {code}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    out = subprocess.run(
        [compiler.path, "-S", "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    return float(out)


def main(argv: list[str] | None = None) -> int:
    """Stage both ways, time the imports, print the table."""
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="the runtime's interpreter (default: as packaging)")
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per figure")
    args = parser.parse_args(argv)
    runtime = StackConfig().runtime
    if args.python:
        os.environ["MARKETSTREAM_BYTECODE_PYTHON"] = args.python
    try:
        compiler = bytecode_compiler(runtime)
    except PackagingError as exc:
        parser.error(str(exc))
    if compiler is None:
        parser.error(f"no {runtime} interpreter here: name one with --python")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    architecture = "arm64" if platform.machine() in {"aarch64", "arm64"} else "x86_64"
    requirements = PROJECT_ROOT / "handlers" / "requirements.txt"
    with tempfile.TemporaryDirectory(prefix="bench-bytecode-") as tmp:
        root = Path(tmp)
        runtime_dir = root / "runtime"
        _runtime_boto3(compiler, runtime_dir, runtime)
        trees: dict[str, list[Path]] = {}
        for name, bytecode in (("source only", None), ("with bytecode", compiler)):
            code = stage_function(dest=root / name / "function", bytecode=bytecode)
            layer = stage_layer(
                requirements,
                architecture,
                runtime,
                build_dir=root / name / "layer",
                mode="auto",
                bytecode=bytecode,
            )
            trees[name] = [code.path, layer.path / "python", runtime_dir]
        figures: dict[tuple[str, str], list[float]] = {}
        for label, setup, timed in CASES:
            for _ in range(args.runs):  # interleaved, so both see the same machine
                for name, path in trees.items():
                    seconds = _seconds(compiler, path, setup, timed)
                    figures.setdefault((name, label), []).append(seconds * 1e3)
    print(
        f"cold import in a fresh process, Python {compiler.version} ({compiler.path}), "
        f"{architecture}, PYTHONDONTWRITEBYTECODE=1, {args.runs} runs each: median (best);"
        " boto3 precompiled in both cases (it comes with the Lambda runtime)"
    )
    table = Table()
    for column in ("import", *(f"ms, {name}" for name in trees), "saved (median)"):
        table.add_column(column, justify="left" if column == "import" else "right")
    for label, _, _ in CASES:
        before, after = (figures[name, label] for name in trees)
        saved = statistics.median(before) - statistics.median(after)
        table.add_row(
            label,
            *(f"{statistics.median(v):.1f} ({min(v):.1f})" for v in (before, after)),
            f"{saved:.1f} ms ({saved / statistics.median(before):.0%})",
        )
    _CONSOLE.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
