"""What the functional tests add to `localcloud.launcher`: their stack file, a strict stop, a probe.

A benchmark only wants the cloud gone; a test also wants to hear when it did not go cleanly, so
`stop_cloud` fails where `CloudProcess.stop` quietly kills and cleans up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from localcloud.launcher import ROOT, CloudProcess

__all__ = [
    "ROLLUP_KEEPER",
    "ROOT",
    "STACK_FILE",
    "is_running",
    "request_write_calls",
    "stop_cloud",
]

STACK_FILE = Path(__file__).with_name("stack.yaml")


def stop_cloud(cloud: CloudProcess) -> int:
    """Stop the cloud; its exit status. RuntimeError if it hung or left moto running."""
    stopped = cloud.stop()
    if stopped.killed:
        raise RuntimeError(f"localcloud did not stop within {cloud.stop_timeout_s:g} s; killed")
    if stopped.moto_left:
        raise RuntimeError(f"localcloud exited with moto (pid {cloud.moto_pid}) still running")
    return stopped.status


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


ROLLUP_KEEPER: Final = "fanout-consumer-fn"
"""The function that writes on its own, after a request: it keeps the bar rollups from the
stream, so its writes land whenever a batch of earlier ticks arrives."""


def request_write_calls(cloud: CloudProcess, faults: dict[str, Any]) -> int:
    """DynamoDB write calls so far (from `GET /_localcloud/faults`) of every function but the
    rollup keeper: what requests themselves wrote, whenever the stream delivers."""
    keeper = next(
        r["id"]
        for r in cloud.state["resources"]
        if r["type"] == "aws:lambda/function:Function" and r["name"] == ROLLUP_KEEPER
    )
    by_function: dict[str, int] = faults["throttle_writes"]["by_function"]
    return sum(count for function, count in by_function.items() if function != keeper)
