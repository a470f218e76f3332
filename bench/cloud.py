"""`python -m localcloud up` as a benchmark's child: started, watched, always stopped.

Readiness is the `localcloud: ready` line (never a sleep); stdout keeps being drained on a thread
so the child never blocks on a full pipe; stderr goes to a file whose last line explains a
failed start. Stopping also makes sure moto (the cloud's own child) is gone.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psutil

from localcloud.cli import READY_PREFIX

__all__ = ["NO_STAGE_THROTTLE", "ROOT", "BenchCloud", "CloudError", "start_cloud"]

ROOT: Final = Path(__file__).resolve().parent.parent
NO_STAGE_THROTTLE: Final = ("ingestRateLimit=10000", "ingestBurstLimit=5000")
"""`--config` values that make a benchmark measure the cloud, not its stage throttle's 429s."""

_START_TIMEOUT_S: Final = 120.0
_STOP_TIMEOUT_S: Final = 30.0


class CloudError(Exception):
    """The local cloud could not be started."""


@dataclass
class BenchCloud:
    """A running local cloud: its process, moto's, and the files it wrote."""

    process: subprocess.Popen[str]
    moto: psutil.Process
    outputs_path: Path
    outputs: dict[str, Any]
    reader: threading.Thread
    state: dict[str, Any] = field(default_factory=dict)
    """`state.json`: pids, ports, the gateway URL."""

    def alive(self) -> bool:
        """Whether the cloud process is still running."""
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the cloud and wait; SIGKILL what hangs; then make sure moto has gone too."""
        _stop(self.process)
        self.reader.join(_STOP_TIMEOUT_S)
        # The cloud stops moto itself; this only matters if the cloud died or was killed.
        try:
            if self.moto.is_running():
                self.moto.terminate()
                self.moto.wait(_STOP_TIMEOUT_S)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            self.moto.kill()


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_cloud(
    directory: Path,
    *,
    stack: str = "dev",
    stack_file: Path | None = None,
    config: Sequence[str] = (),
) -> BenchCloud:
    """Start a local cloud writing its files to `directory`; returns once it serves."""
    outputs = directory / "outputs.json"
    stderr_path = directory / "localcloud.stderr"
    command = [
        sys.executable,
        "-m",
        "localcloud",
        "up",
        "--stack",
        stack,
        "--outputs",
        str(outputs),
    ]
    if stack_file is not None:
        command += ["--stack-file", str(stack_file)]
    for value in config:
        command += ["--config", value]
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process, lines), daemon=True)
        reader.start()
        _wait_ready(lines, stderr_path)
        state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        return BenchCloud(
            process=process,
            moto=psutil.Process(int(state["moto_pid"])),
            outputs_path=outputs,
            outputs=json.loads(outputs.read_text(encoding="utf-8")),
            reader=reader,
            state=state,
        )
    except BaseException:
        _stop(process)
        raise


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    ready = False
    for line in process.stdout:
        # Past the ready line the output is only drained: a long run must not pile it up here.
        if not ready:
            lines.put(line)
            ready = line.startswith(READY_PREFIX)
    lines.put(None)


def _wait_ready(lines: queue.Queue[str | None], stderr_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise CloudError(f"localcloud was not ready within {_START_TIMEOUT_S:g} s") from None
        if line is None:
            text = stderr_path.read_text(encoding="utf-8").strip().splitlines()
            last = text[-1] if text else "no error output"
            raise CloudError(f"localcloud exited before it was ready: {last}")
        if line.startswith(READY_PREFIX):
            return
