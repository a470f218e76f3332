"""Highest constant rate the local cloud sustains: p95 <= 100 ms, no errors, for 30 s.

`python -m bench.local_throughput [--duration 30] [--rates-1 ...] [--rates-100 ...]
[--no-metrics]` starts `python -m localcloud up` (dev stack, ingest stage limits raised so the
stage throttle is not what is measured; `--no-metrics`: without CloudWatch metrics), then for
1-tick and 100-tick requests steps the rate up with the load generator (`python -m loadgen`,
open loop, latency from the planned send time) until a step fails, and prints the best passing
rate and the CPU each process used during each step.
Figures are printed, never asserted.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cloud import NO_STAGE_THROTTLE
from cliargs import UsageParser
from localcloud.launcher import ROOT, launch

__all__ = ["main", "measure_step"]

P95_LIMIT_MS = 100.0
_TICK = 100  # /proc stat clock ticks per second on Linux


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICK


def measure_step(
    outputs: Path, rate: int, batch: int, duration: int, pids: dict[str, int]
) -> dict[str, Any]:
    """One load-generator run at `rate` requests/s of `batch` ticks: latency, errors, CPU."""
    summary = outputs.with_name(f"run-{batch}-{rate}.json")
    before = {name: _cpu_s(pid) for name, pid in pids.items()}
    began = time.monotonic()
    loadgen = subprocess.Popen(
        [
            sys.executable, "-m", "loadgen", "--outputs", str(outputs), "--rate", str(rate),
            "--duration", f"{duration}s", "--batch", str(batch), "--query-ratio", "0",
            "--warmup", "2s", "--no-progress", "--json", str(summary),
        ],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    loadgen_cpu = 0.0
    while loadgen.poll() is None:
        try:
            loadgen_cpu = _cpu_s(loadgen.pid)
        except OSError:
            break
        time.sleep(0.5)  # sampling interval of the CPU probe
    wall = time.monotonic() - began
    cpu = {name: (_cpu_s(pid) - before[name]) / wall for name, pid in pids.items()}
    cpu["loadgen"] = loadgen_cpu / wall
    result = json.loads(summary.read_text(encoding="utf-8"))
    p95 = float(result["latency_ms"]["corrected"]["p95"] or 0.0)
    errors = int(result["requests"]["errors"])
    return {
        "rate": rate,
        "batch": batch,
        "achieved_rps": result["rate"]["achieved_rps"],
        "p95_ms": p95,
        "errors": errors,
        "passed": errors == 0 and p95 <= P95_LIMIT_MS,
        "cpu": {name: round(value, 2) for name, value in cpu.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument(
        "--rates-1", type=int, nargs="+", default=[100, 150, 200, 300, 400, 500, 600]
    )
    parser.add_argument("--rates-100", type=int, nargs="+", default=[25, 50, 100, 150, 200, 250])
    parser.add_argument(
        "--no-metrics", dest="metrics", action="store_false",
        help="run the cloud without CloudWatch metrics (to measure what they cost)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-localcloud-") as tmp:
        cloud = launch(Path(tmp), dataclasses.replace(NO_STAGE_THROTTLE, metrics=args.metrics))
        pids = {"localcloud": cloud.process.pid, "moto": cloud.moto_pid}
        outputs = Path(tmp) / "outputs.json"
        best: dict[int, dict[str, Any] | None] = {}
        try:
            for batch, rates in ((1, args.rates_1), (100, args.rates_100)):
                best[batch] = None
                for rate in rates:
                    result = measure_step(outputs, rate, batch, args.duration, pids)
                    print(json.dumps(result), flush=True)
                    if not result["passed"]:
                        break
                    best[batch] = result
        finally:
            cloud.stop()
    for batch, step in best.items():
        if step is None:
            print(f"batch {batch}: no tested rate passed (p95 <= {P95_LIMIT_MS:.0f} ms, no errors)")
        else:
            print(
                f"batch {batch}: {step['rate']} req/s = {step['rate'] * batch} ticks/s sustained "
                f"for {args.duration} s, p95 {step['p95_ms']:.1f} ms, CPU {step['cpu']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
