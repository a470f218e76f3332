"""What the functional tests add to `localcloud.launcher`: their stack file, a strict stop, a probe.

A benchmark only wants the cloud gone; a test also wants to hear when it did not go cleanly, so
`stop_cloud` fails where `CloudProcess.stop` quietly kills and cleans up.
"""

from __future__ import annotations

import os
from pathlib import Path

from localcloud.launcher import ROOT, CloudProcess

__all__ = ["ROOT", "STACK_FILE", "is_running", "stop_cloud"]

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
