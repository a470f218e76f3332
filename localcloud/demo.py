"""`python -m localcloud demo`: the local cloud under a measured, verified load run, then stop.

Start the local cloud (ephemeral ports), write its outputs file, run `python -m loadgen` against
that file as a child process (its own interpreter, so the generator and the cloud do not share a
GIL) with `--verify`, `--json` and `--plot`, read the run's headline figures back from the local
CloudWatch (`localcloud.metrics.report`), stop everything, and print them with the URL of the
program's CloudWatch dashboard page. The exit status is 0 only if the
run had no errors and every acknowledged tick was read back exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from rich.console import Console

from infra.outputs import CLOUDWATCH_DASHBOARD_URL, TABLE_NAME
from localcloud import interpreter
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.metrics.report import Figure, report_table, run_figures

__all__ = ["DemoSettings", "run_demo"]

_SYMBOLS: Final = 8
_SEED: Final = 1
_TABLE_WIDTH: Final = 120
_SLACK_S: Final = 45.0
"""Time the load generator gets beyond the load itself: start-up, verify read-back, the plot."""
_SUSTAINED: Final = (
    "with the fan-out running, the local cloud sustains ~50 req/s of 1-tick requests at p95 <="
    " 100 ms on this 2-core machine, and 100-tick requests at 25 req/s just miss it (p95 ~120 ms;"
    " `python -m bench.local_throughput`)"
)


@dataclass(frozen=True, kw_only=True)
class DemoSettings:
    """The load run the demo drives; defaults chosen to sit well inside what the machine holds."""

    rate: float = 20.0
    batch: int = 100
    query_ratio: float = 0.0
    duration_s: float = 30.0
    """Measured seconds; the warm-up comes on top."""
    warmup_s: float = 3.0
    out_dir: Path = Path(".localcloud/demo")
    outputs: Path | None = None
    """The outputs file the load generator reads (default: `out_dir/outputs.json`)."""
    state: Path | None = None

    @property
    def is_default_load(self) -> bool:
        """Whether rate, batch and mix are the demo's own choice (and so need explaining)."""
        base = DemoSettings()
        return (self.rate, self.batch, self.query_ratio) == (
            base.rate,
            base.batch,
            base.query_ratio,
        )


def _why(settings: DemoSettings) -> str:
    """One sentence on the chosen load."""
    ticks = settings.rate * (1 - settings.query_ratio) * settings.batch
    load = (
        f"{settings.rate:g} req/s x {settings.batch} ticks/request with {settings.query_ratio:.0%}"
        f" queries (~{ticks:,.0f} ticks/s) for {settings.duration_s:g} s"
        f" after a {settings.warmup_s:g} s warm-up"
    )
    if settings.is_default_load:
        return (
            f"load: {load}, then every tick read back through the query API. Why: {_SUSTAINED};"
            " 20 req/s of 100 ticks leaves the machine room for the read-back and keeps the run"
            " well inside 90 s."
        )
    return f"load: {load} (given on the command line; for reference, {_SUSTAINED})."


def _loadgen_argv(settings: DemoSettings, outputs: Path, json_path: Path, png: Path) -> list[str]:
    return [
        sys.executable, "-m", "loadgen",
        "--outputs", str(outputs),
        "--rate", f"{settings.rate:g}",
        "--duration", f"{settings.duration_s + settings.warmup_s:g}s",
        "--warmup", f"{settings.warmup_s:g}s",
        "--batch", str(settings.batch),
        "--query-ratio", f"{settings.query_ratio:g}",
        "--symbols", str(_SYMBOLS),
        "--seed", str(_SEED),
        "--verify",
        "--json", str(json_path),
        "--plot", str(png),
    ]  # fmt: skip


async def _run_loadgen(argv: list[str], timeout_s: float, say: IO[str]) -> int | None:
    """Run the load generator with this terminal; its exit status, or None if it overran."""
    env = dict(os.environ)
    if not sys.stdout.isatty():
        # rich falls back to 80 columns off a terminal, which folds the latency table.
        env.setdefault("COLUMNS", "140")
    process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL, env=env)
    try:
        async with asyncio.timeout(timeout_s):
            return await process.wait()
    except TimeoutError:
        print(f"localcloud demo: the load generator overran {timeout_s:.0f} s; stopped", file=say)
        return None
    finally:
        if process.returncode is None:  # overran, or the demo was interrupted
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _figures(cloud: LocalCloud, start: float, end: float) -> list[Figure]:
    """The run's headline figures from the local CloudWatch (none if metrics are off)."""
    if not cloud.options.metrics:
        return []
    await cloud.flush_metrics()
    table = str(cloud.outputs.get(TABLE_NAME, ""))
    return await asyncio.to_thread(
        run_figures, cloud.cloudwatch(), start=start, end=end, table_name=table
    )


def _verdict(summary: dict[str, Any] | None, loadgen_status: int | None) -> list[str]:
    """Why the demo failed (empty: it passed)."""
    if summary is None:
        return ["no JSON summary was written"]
    problems: list[str] = []
    errors = summary["requests"]["errors"]
    if errors:
        problems.append(f"{errors} request(s) failed: {summary['error_kinds']}")
    verify = summary.get("verify") or {}
    if not verify.get("ok"):
        problems.append(
            f"verify: {verify.get('missing', '?')} missing, {verify.get('duplicated', '?')}"
            f" duplicated, errors {verify.get('errors', '?')}"
        )
    if summary.get("cost") is None:
        problems.append("no modelled cost in the summary")
    if loadgen_status not in (0, None) and not problems:
        problems.append(f"the load generator exited with status {loadgen_status}")
    return problems


async def run_demo(options: CloudOptions, settings: DemoSettings) -> int:
    """Run the demo; 0 if the load run had no errors and verify found every tick once."""
    began = time.monotonic()
    say = sys.stdout  # the demo's own lines; handlers' stdout is redirected below
    out_dir = settings.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = (settings.outputs or out_dir / "outputs.json").resolve()
    state = (settings.state or outputs.with_name("state.json")).resolve()
    json_path, png, handler_log = (
        out_dir / "summary.json",
        out_dir / "run.png",
        out_dir / "handlers.log",
    )
    json_path.unlink(missing_ok=True)  # a stale summary must not pass for this run's
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:  # SIGTERM stops the demo like Ctrl-C: children and moto stopped
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    print(f"localcloud demo: {_why(settings)}", file=say, flush=True)
    # Handlers print EMF metric lines to stdout (as on Lambda): thousands in a run, so they go
    # to a file instead of burying the summary.
    with handler_log.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        async with LocalCloud(options) as cloud:
            cloud.write_files(outputs, state)
            interpreter.freeze_startup()
            print(
                f"localcloud demo: stack {options.stack} up in {cloud.startup_s:.2f} s on"
                f" {cloud.gateway_url} (moto {cloud.moto_endpoint}); outputs {outputs}",
                file=say,
            )
            for note in cloud.notes:
                print(f"  note: {note}", file=say)
            dashboard = cloud.outputs.get(CLOUDWATCH_DASHBOARD_URL)
            if dashboard:
                print(f"localcloud demo: CloudWatch dashboard {dashboard}", file=say)
            argv = _loadgen_argv(settings, outputs, json_path, png)
            print(f"localcloud demo: running {' '.join(argv[1:])}", file=say, flush=True)
            timeout_s = settings.duration_s + settings.warmup_s + _SLACK_S
            load_began = time.time()
            status = await _run_loadgen(argv, timeout_s, say)
            figures = await _figures(cloud, load_began, time.time())
        print("localcloud demo: local cloud stopped (gateway, functions, moto)", file=say)
    summary = json.loads(json_path.read_text(encoding="utf-8")) if json_path.is_file() else None
    problems = _verdict(summary, status)
    print(f"localcloud demo: summary {json_path}", file=say)
    print(f"localcloud demo: plot    {png}", file=say)
    print(f"localcloud demo: handler log {handler_log}", file=say)
    took = time.monotonic() - began
    if figures:
        Console(file=say, width=_TABLE_WIDTH).print(
            report_table(figures, "the local CloudWatch, GetMetricData")
        )
        if dashboard:
            print(f"localcloud demo: CloudWatch dashboard {dashboard} (served while the cloud"
                  " runs: `python -m localcloud up` keeps it up)", file=say)  # fmt: skip
    if problems:
        for problem in problems:
            print(f"localcloud demo: FAILED: {problem}", file=say)
        print(f"localcloud demo: failed after {took:.1f} s", file=say)
        return 1
    assert summary is not None
    verify, cost = summary["verify"], summary["cost"]
    print(
        f"localcloud demo: PASSED in {took:.1f} s: {summary['requests']['measured']:,} requests,"
        f" 0 errors, {summary['rate']['achieved_rps']:.1f} req/s achieved,"
        f" p95 {summary['latency_ms']['corrected']['p95']:.1f} ms;"
        f" {verify['acknowledged']:,} acknowledged ticks all found once;"
        f" modelled AWS cost ${cost['usd_per_million_ticks']:.4f} per million ticks",
        file=say,
    )
    return 0
