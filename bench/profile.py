"""Where each millisecond of a request goes: py-spy on both local-cloud processes under load.

`python -m bench.profile [--rate 100] [--batch 1] [--duration 20] [--keep DIR]` starts the local
cloud as `bench.local_throughput` does, drives one load-generator step at the rate, samples the
gateway/functions process and the moto process with py-spy meanwhile (only the thread holding
the GIL: Python-level CPU), and prints each process's CPU per request (from /proc) split by the
layer the samples fall in: the innermost frame of a known package decides (the standard library
counts for its caller). `--keep` keeps py-spy's raw stacks. Figures are printed, never asserted;
docs/localcloud.md's budget table comes from this command.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from bench.cloud import NO_STAGE_THROTTLE
from bench.local_throughput import measure_step
from cliargs import UsageParser
from localcloud.launcher import ROOT, launch

__all__ = ["layer", "main"]

SAMPLE_HZ: Final = 200
_FRAME: Final = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?):\d+\)$")
_PACKAGES: Final = {
    **dict.fromkeys(("botocore", "boto3", "urllib3", "jmespath", "dateutil"), "botocore"),
    **dict.fromkeys(("aiohttp", "yarl", "multidict", "propcache", "frozenlist"), "aiohttp"),
    **dict.fromkeys(("werkzeug", "flask", "flask_cors", "blinker", "jinja2"), "werkzeug+flask"),
    **dict.fromkeys(("pydantic", "pydantic_core"), "pydantic"),
    "handlers": "handlers",
}


def layer(stack: list[str]) -> str:
    """The layer a sampled stack (outermost frame first) is charged to."""
    for frame in reversed(stack):
        match = _FRAME.match(frame)
        if match is None:
            continue
        parts = match["file"].split("/")
        top = parts[0]
        if top in ("localcloud", "moto") and len(parts) > 2:
            return f"{top}/{parts[1]}"
        if top in _PACKAGES:
            return _PACKAGES[top]
    return "python (stdlib, event loop, threads)"


def _layers(raw: Path) -> tuple[int, collections.Counter[str]]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        total += int(number)
        counts[layer(stack.split(";"))] += int(number)
    return total, counts


def main(argv: list[str] | None = None) -> int:
    """Run one profiled step and print the per-request CPU budget of each process."""
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="directory for py-spy's stacks")
    args = parser.parse_args(argv)
    py_spy = Path(sys.executable).with_name("py-spy")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        stacks = args.keep or Path(tmp)
        stacks.mkdir(parents=True, exist_ok=True)
        cloud = launch(Path(tmp), NO_STAGE_THROTTLE)
        pids = {"localcloud": cloud.process.pid, "moto": cloud.moto_pid}
        spies = {
            name: subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(SAMPLE_HZ),
                    "--format",
                    "raw",
                    "--gil",
                    "--nonblocking",
                    "--duration",
                    str(args.duration + 2),
                    "--output",
                    str(stacks / f"{name}.txt"),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        }
        try:
            step = measure_step(
                Path(tmp) / "outputs.json", args.rate, args.batch, args.duration, pids
            )
        finally:
            for spy in spies.values():
                spy.wait()
            cloud.stop()
        print(json.dumps(step))
        for name in pids:
            total, counts = _layers(stacks / f"{name}.txt")
            per_request = step["cpu"][name] * 1000 / max(step["achieved_rps"], 1e-9)
            print(f"{name}: {per_request:.2f} ms CPU per request ({total} samples)")
            for where, count in counts.most_common():
                share = count / max(total, 1)
                print(f"  {where:40s} {100 * share:5.1f} %  {share * per_request:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
