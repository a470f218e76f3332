"""Soak: the local cloud at a fixed rate for 10 minutes; errors, p95 drift, RSS growth per process.

`python -m bench.soak [--stack dev | --stack-file FILE] [--rate 20] [--batch 10]
[--query-ratio 0.05] [--duration 10m] [--warmup 30s] [--window 60s] [--interval 5s]
[--symbols 8] [--json PATH] [--plot PATH]` starts `python -m localcloud up`, drives it with the
load generator in this process (open loop, latency from the planned send time), samples the
resident memory of the local cloud, its moto child and this process (the load generator) every
`--interval`, reads every acknowledged tick back at the end, stops the cloud and prints: requests,
errors by kind, acknowledged ticks, the verify result, the achieved rate, p50/p95/p99, the p95
of the first and the last `--window` of the measured run and their drift (overall and per
endpoint), and per process the RSS before the load, after the warm-up, at the end, its peak and
its growth (MB, MB/min).
Figures are printed, never judged. Exit status: 0 the soak ran and every acknowledged tick was
read back exactly once; 3 verify found missing or duplicated ticks (or could not read them);
1 the soak could not be run; EX_USAGE bad arguments (one line); 130 interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

import psutil
from rich.console import Console

from bench.rss import RssSampler, Sample
from bench.soak_report import (
    SCHEMA,
    drift,
    print_report,
    rss_figures,
    rss_samples,
    window_latency,
    window_series,
    write_json,
    write_plot,
)
from bench.soak_windows import WindowedStats, endpoint_windows
from cliargs import UsageParser, usage_error
from loadgen.argparsing import arg_type
from loadgen.config import LoadConfig, Stage, parse_duration
from loadgen.errors import LoadgenError, UsageError
from loadgen.live import LiveProgress
from loadgen.report import build_summary
from loadgen.runner import Worker, WorkerSpec
from loadgen.schedule import Schedule
from loadgen.stats import MergedStats
from loadgen.targets import Targets, load_outputs_file
from loadgen.verify import VerifyResult, verify_ticks
from localcloud.launcher import ROOT, CloudProcess, LaunchError, LaunchOptions, launch

__all__ = ["EXIT_USAGE", "build_parser", "main"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_VERIFY: Final = 3
EXIT_USAGE: Final = os.EX_USAGE
EXIT_INTERRUPTED: Final = 130
SCHEMA_VERSION: Final = 1
_START_DELAY_S: Final = 0.2
"""Head start between building the generator and its first planned send."""
_STATUS_EVERY_S: Final = 30.0
"""How often a memory line is printed while the soak runs."""
_PROCESS_NAMES: Final = ("localcloud", "moto", "loadgen")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = UsageParser(
        prog="python -m bench.soak", name="soak", description=__doc__.splitlines()[0]
    )
    stack = parser.add_mutually_exclusive_group()
    # No default here: argparse would then take an explicit `--stack dev` for "not given".
    stack.add_argument("--stack", help="stack of the local cloud (default dev)")
    stack.add_argument("--stack-file", type=Path, help="stack file instead of Pulumi.<stack>.yaml")
    seconds = arg_type(parse_duration)
    # ~20 req/s x 10 ticks keeps this 2-core machine busy without saturating it: a soak looks
    # for what changes over time, not for the ceiling (bench.local_throughput finds that).
    parser.add_argument(
        "--rate", type=arg_type(float), default=20.0, help="requests/s (default 20)"
    )
    parser.add_argument("--batch", type=int, default=10, help="ticks per ingest request")
    parser.add_argument(
        "--query-ratio", type=arg_type(float), default=0.05, help="share of reads (default 0.05)"
    )
    parser.add_argument(
        "--duration", type=seconds, default=600.0, help="whole run, warm-up included (10m)"
    )
    parser.add_argument("--warmup", type=seconds, default=30.0, help="excluded lead-in (30s)")
    parser.add_argument("--window", type=seconds, default=60.0, help="drift window (60s)")
    parser.add_argument("--interval", type=seconds, default=5.0, help="RSS sampling period (5s)")
    parser.add_argument("--symbols", type=int, default=8, help="distinct symbols (default 8)")
    parser.add_argument("--json", type=Path, dest="json_path", help="write the figures here")
    parser.add_argument("--plot", type=Path, dest="plot_path", help="write a PNG here")
    return parser


@dataclass(frozen=True, slots=True)
class _Settings:
    """The validated run: the generator's config and the soak's own windows."""

    config: LoadConfig
    stack: str
    stack_file: Path | None
    window_s: int
    """Length of the first and the last window (whole seconds, at most half the measured run)."""
    first_window: tuple[int, int]
    """[start, end) in planned seconds of the run: the first window after the warm-up."""
    last_window: tuple[int, int]
    interval_s: float
    json_path: Path | None
    plot_path: Path | None


def _writable(path: Path) -> bool:
    """Whether a file can be created at `path` (its nearest existing ancestor is writable)."""
    if path.is_dir():
        return False
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    # A real probe: os.access says yes to root even where no file can be made (e.g. /proc).
    try:
        with tempfile.TemporaryFile(dir=parent):
            return True
    except OSError:
        return False


def _settings(args: argparse.Namespace) -> _Settings:
    if not (math.isfinite(args.rate) and args.rate > 0):
        raise UsageError(f"--rate must be > 0 (got {args.rate:g})")
    if args.interval < 1.0:
        raise UsageError(f"--interval must be at least 1s (got {args.interval:g}s)")
    if args.window < 1.0:
        raise UsageError(f"--window must be at least 1s (got {args.window:g}s)")
    if args.stack_file is not None and not args.stack_file.is_file():
        raise UsageError(f"--stack-file {args.stack_file} is not a file")
    for flag, path in (("--json", args.json_path), ("--plot", args.plot_path)):
        # Checked now: finding out after a 10-minute run would lose its figures.
        if path is not None and not _writable(path):
            raise UsageError(f"{flag} {path}: cannot write a file there")
    stack = args.stack or "dev"
    if args.stack_file is None and not (ROOT / f"Pulumi.{stack}.yaml").is_file():
        raise UsageError(f"no stack {stack!r}: Pulumi.{stack}.yaml not found")
    config = LoadConfig(
        stages=(Stage(duration_s=args.duration, target_rps=args.rate),),
        start_rps=args.rate,
        batch=args.batch,
        symbols=args.symbols,
        query_ratio=args.query_ratio,
        warmup_s=args.warmup,
    )
    half = int(config.measured_s // 2)
    if half < 1:
        raise UsageError("--duration minus --warmup must be at least 2s (two drift windows)")
    window = min(int(args.window), half)
    first_s, end_s = math.floor(config.warmup_s), math.ceil(config.duration_s)
    return _Settings(
        config=config,
        stack=stack,
        stack_file=args.stack_file,
        window_s=window,
        first_window=(first_s, first_s + window),
        last_window=(end_s - window, end_s),
        interval_s=args.interval,
        json_path=args.json_path,
        plot_path=args.plot_path,
    )


class _Status:
    """Prints a memory line now and then while the soak runs (sampler thread)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.start_at: float | None = None
        self._last = -math.inf

    def __call__(self, sample: Sample) -> None:
        if sample.at - self._last < _STATUS_EVERY_S:
            return
        self._last = sample.at
        when = "before the load" if self.start_at is None else f"t={sample.at - self.start_at:.0f}s"
        trees = ", ".join(
            f"{name} {'gone' if tree is None else f'{tree.rss_bytes / 2**20:.1f}'}"
            for name, tree in sample.trees.items()
        )
        self.console.print(f"soak: {when} RSS MB: {trees}", highlight=False)


@dataclass(frozen=True, slots=True)
class _Load:
    """What one run of the load left behind: the merged statistics, the samples, the clock."""

    run_id: str
    started_at: str
    base_ms: int
    start_at: float
    """`time.monotonic()` of the schedule's t=0 (the RSS samples are timed against it)."""
    schedule: Schedule
    stats: MergedStats
    endpoints: dict[str, dict[str, dict[str, Any]]]
    """Window name ("first", "last") -> endpoint -> its latency figures in that window."""
    samples: list[Sample]
    pids: dict[str, int]
    cloud_alive: bool


def _drive(cloud: CloudProcess, settings: _Settings, targets: Targets, errors: Console) -> _Load:
    """Run the schedule against the cloud while sampling every process's memory."""
    config = settings.config
    schedule = Schedule.from_config(config)
    run_id = secrets.token_hex(4)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    base_ms = time.time_ns() // 1_000_000
    roots = {
        "localcloud": psutil.Process(cloud.process.pid),
        "moto": psutil.Process(cloud.moto_pid),
        "loadgen": psutil.Process(),
    }
    status = _Status(errors)
    sampler = RssSampler(roots, interval_s=settings.interval_s, on_sample=status)
    errors.print(
        f"soak run {run_id}: {config.start_rps:g} req/s x {config.batch} ticks, query ratio"
        f" {config.query_ratio:g}, {config.duration_s:g}s (warm-up {config.warmup_s:g}s),"
        f" RSS every {settings.interval_s:g}s -> {targets.source}"
        f" (localcloud pid {cloud.process.pid}, moto pid {cloud.moto_pid})",
        highlight=False,
    )
    sampler.start()
    try:
        worker = Worker(WorkerSpec(config=config, targets=targets, run_id=run_id, base_ms=base_ms))
        # Swapped in before the run: the worker only ever records through `self.stats`.
        windowed = worker.stats = WindowedStats(
            worker=0,
            total_requests=schedule.total,
            late_threshold_s=config.late_threshold_ms / 1000.0,
            windows={"first": settings.first_window, "last": settings.last_window},
        )
        start_at = status.start_at = time.monotonic() + _START_DELAY_S
        with LiveProgress(schedule=schedule, workers=1, console=errors, enabled=True) as live:
            result = asyncio.run(worker.run(start_at=start_at, on_progress=live))
    finally:
        sampler.stop()
    sampler.sample_now()  # the end of the load: the "end" of every RSS figure
    return _Load(
        run_id=run_id,
        started_at=started_at,
        base_ms=base_ms,
        start_at=start_at,
        schedule=schedule,
        stats=MergedStats([result], total_requests=schedule.total),
        endpoints=endpoint_windows(windowed),
        samples=sampler.samples,
        pids={name: root.pid for name, root in roots.items()},
        cloud_alive=cloud.alive(),
    )


def _report(
    settings: _Settings, targets: Targets, load: _Load, verified: VerifyResult
) -> dict[str, Any]:
    """Every figure of the soak as one JSON-ready document (schema `SCHEMA`)."""
    config = settings.config
    summary = build_summary(
        config=config,
        targets=targets,
        run_id=load.run_id,
        started_at=load.started_at,
        base_ms=load.base_ms,
        schedule=load.schedule,
        stats=load.stats,
    )
    seconds = load.stats.seconds
    first_s, end_s = settings.first_window[0], settings.last_window[1]
    first = window_latency(seconds, *settings.first_window) | {
        "by_endpoint": load.endpoints["first"]
    }
    last = window_latency(seconds, *settings.last_window) | {"by_endpoint": load.endpoints["last"]}
    by_endpoint = {
        name: drift(first["by_endpoint"][name], last["by_endpoint"][name])
        for name in first["by_endpoint"]
        if name in last["by_endpoint"]
    }
    corrected = summary["latency_ms"]["corrected"]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": load.run_id,
        "started_at": load.started_at,
        "stack": str(settings.stack_file) if settings.stack_file else settings.stack,
        "load": {
            "rate": config.start_rps,
            "batch": config.batch,
            "query_ratio": config.query_ratio,
            "symbols": config.symbols,
            "duration_s": config.duration_s,
            "warmup_s": config.warmup_s,
            "window_s": settings.window_s,
            "interval_s": settings.interval_s,
        },
        "requests": summary["requests"],
        "errors": {"by_kind": summary["error_kinds"], "status_codes": summary["status_codes"]},
        "ticks": summary["ticks"],
        "verify": verified.as_dict(),
        "rate": summary["rate"],
        "latency_ms": {key: corrected[key] for key in ("count", "p50", "p95", "p99", "max")},
        "first_window": first,
        "last_window": last,
        "drift": drift(first, last) | {"by_endpoint": by_endpoint},
        "series": window_series(seconds, first_s, end_s, max(1, round(settings.interval_s))),
        "by_endpoint": summary["by_endpoint"],
        "scheduler": summary["scheduler"],
        "cloud_alive_at_end": load.cloud_alive,
        "processes": rss_figures(
            load.samples, start_at=load.start_at, warmup_s=config.warmup_s, pids=load.pids
        ),
        "rss_samples": rss_samples(load.samples, load.start_at),
    }


def _run(cloud: CloudProcess, settings: _Settings, errors: Console) -> dict[str, Any]:
    """Load, sample, read every tick back; the report (the cloud is still up when this returns)."""
    targets = load_outputs_file(cloud.outputs_path)
    load = _drive(cloud, settings, targets, errors)
    errors.print("soak: load done; reading every acknowledged tick back", highlight=False)
    verified = asyncio.run(
        verify_ticks(
            targets=targets,
            config=settings.config,
            run_id=load.run_id,
            base_ms=load.base_ms,
            total_requests=load.schedule.total,
            stats=load.stats,
        )
    )
    return _report(settings, targets, load, verified)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM takes the same way out as Ctrl-C, so every `finally` runs."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; the exit status (see the module docstring)."""
    try:
        settings = _settings(build_parser().parse_args(argv))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        return usage_error("soak", exc)
    # Wide enough for the memory table when the output goes to a file or a CI log.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            options = LaunchOptions(stack=settings.stack, stack_file=settings.stack_file)
            cloud = launch(Path(tmp), options)
            try:
                report = _run(cloud, settings, errors)
            finally:
                cloud.stop()
    except KeyboardInterrupt:
        print("soak: interrupted (the local cloud was stopped)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (LaunchError, LoadgenError, OSError) as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print_report(report, console)
    if settings.json_path:
        write_json(report, settings.json_path)
        console.print(f"figures {settings.json_path}")
    if settings.plot_path:
        write_plot(report, settings.plot_path)
        console.print(f"plot    {settings.plot_path}")
    return EXIT_OK if report["verify"]["ok"] else EXIT_VERIFY


if __name__ == "__main__":
    sys.exit(main())
