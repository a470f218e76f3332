"""Start and stop `python -m localcloud up` as a child process, for the functional tests.

Readiness is the `localcloud: ready` line on its stdout (never a sleep); stdout keeps being
drained afterwards so the child never blocks on a full pipe; stderr goes to a file.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from localcloud.cli import READY_PREFIX

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = Path(__file__).with_name("stack.yaml")
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


@dataclass
class RunningCloud:
    """A local cloud child process and what it wrote."""

    process: subprocess.Popen[str]
    directory: Path
    outputs: dict[str, Any]
    state: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def admin_url(self) -> str:
        return f"{self.state['gateway_url']}/_localcloud"

    def aws(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of this cloud's moto (or `endpoint_url`), SigV4-signed with fake keys."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=kwargs.pop("endpoint_url", self.state["moto_endpoint"]),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            **kwargs,
        )

    def api_key(self, client: str) -> str:
        """The API key value of a query client declared in the stack config."""
        return str(self.state["api_keys"][f"marketstream-{self.state['stack']}-{client}"])


def start_cloud(directory: Path, *args: str) -> RunningCloud:
    """Start a local cloud writing its files to `directory`; returns once it serves."""
    directory.mkdir(parents=True, exist_ok=True)
    outputs = directory / "outputs.json"
    stderr = (directory / "stderr.log").open("w", encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed module
        [sys.executable, "-m", "localcloud", "up", "--outputs", str(outputs), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    stderr.close()
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                log = (directory / "stderr.log").read_text(encoding="utf-8")
                raise RuntimeError(
                    f"localcloud exited before it was ready:\n{''.join(seen)}\n{log}"
                )
            if line.startswith(READY_PREFIX):
                break
    except queue.Empty:
        stop_cloud_process(process)
        raise RuntimeError("localcloud did not get ready in time") from None
    state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
    written = json.loads(outputs.read_text(encoding="utf-8"))
    return RunningCloud(process, directory, written, state, seen, reader)


def stop_cloud_process(process: subprocess.Popen[str]) -> int:
    """SIGTERM, wait; SIGKILL if it hangs. The exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def stop_cloud(cloud: RunningCloud) -> int:
    """Stop the cloud; its exit status (once its last line of output was read)."""
    status = stop_cloud_process(cloud.process)
    if cloud.reader is not None:
        cloud.reader.join(STOP_TIMEOUT_S)
    return status


def is_running(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"
