"""`localcloud.launcher`: the command it builds, and a stop that leaves no process behind.

The happy path (start, ready line, clean stop) is what every functional test's cloud goes
through; these stand-in processes cover what should never happen there: a cloud that ignores
SIGTERM, a moto that outlives its cloud, a cloud that exits before it is ready.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from localcloud.launcher import CloudProcess, LaunchError, LaunchOptions, launch
from tests.functional.cloudproc import is_running

# Prints its readiness only once its SIGTERM disposition is in place, then waits on stdin.
_STAND_IN = "import signal, sys; {setup}; print('ready', flush=True); sys.stdin.read()"


def _start(setup: str = "pass") -> subprocess.Popen[str]:
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", _STAND_IN.format(setup=setup)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:  # whatever a failed assertion left running
        if process.poll() is None:
            process.kill()
        process.wait(30)


def _cloud(tmp_path: Path, process: subprocess.Popen[str], moto_pid: int) -> CloudProcess:
    assert process.stdout is not None
    reader = threading.Thread(target=process.stdout.read, daemon=True)
    reader.start()
    return CloudProcess(
        process=process,
        moto_pid=moto_pid,
        directory=tmp_path,
        outputs={},
        reader=reader,
        stop_timeout_s=2.0,
    )


def test_options_become_localcloud_up_arguments():
    options = LaunchOptions(
        stack="authz", stack_file=Path("s.yaml"), config=("a=1", "b=2"), workers=32
    )
    assert options.arguments() == [
        "--stack", "authz", "--port", "0", "--stack-file", "s.yaml",
        "--config", "a=1", "--config", "b=2", "--workers", "32",
    ]  # fmt: skip
    assert LaunchOptions().arguments() == ["--stack", "dev", "--port", "0"]


def test_a_clean_exit_is_reported_as_such(tmp_path: Path, processes: list[subprocess.Popen[str]]):
    # GIVEN a cloud that exits on SIGTERM and whose moto is already gone
    moto = _start()
    processes.append(moto)
    moto.kill()
    moto.wait(30)
    cloud_process = _start()
    processes.append(cloud_process)
    cloud = _cloud(tmp_path, cloud_process, moto.pid)
    # WHEN it is stopped
    stopped = cloud.stop()
    # THEN it was not killed, nothing was left behind, and a second stop says the same
    assert stopped.status == -signal.SIGTERM
    assert (stopped.killed, stopped.moto_left) == (False, False)
    assert not cloud.alive()
    assert cloud.stop() is stopped


def test_a_hung_cloud_is_killed_and_its_moto_stopped(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
):
    # GIVEN a cloud that ignores SIGTERM, and a moto that would outlive it
    moto = _start()
    cloud_process = _start("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    processes += [moto, cloud_process]
    cloud = _cloud(tmp_path, cloud_process, moto.pid)
    # WHEN it is stopped
    stopped = cloud.stop()
    # THEN the cloud was SIGKILLed after the timeout, and moto got SIGTERM from the launcher
    assert stopped.killed
    assert stopped.status == -signal.SIGKILL
    assert stopped.moto_left
    assert moto.wait(30) == -signal.SIGTERM


def test_a_cloud_that_exits_before_it_is_ready_says_why_in_one_line(tmp_path: Path):
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    # WHEN `localcloud up` refuses its options
    with pytest.raises(LaunchError) as info:
        launch(tmp_path, LaunchOptions(workers=0), stop_timeout_s=10)
    # THEN the error is its last stderr line; the whole output is attached as a note
    message = str(info.value)
    assert message.startswith("localcloud exited before it was ready: python -m localcloud up:")
    assert "--workers" in message and "\n" not in message
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert str(tmp_path / "localcloud.stderr") in notes
    # AND the child was reaped (no process of it is left), and no outputs were written
    after = {child.pid for child in psutil.Process().children(recursive=True)}
    assert after <= before
    assert not (tmp_path / "outputs.json").exists()


def test_is_running_tells_a_live_process_from_a_finished_one(
    processes: list[subprocess.Popen[str]],
):
    process = _start()
    processes.append(process)
    assert is_running(process.pid)
    process.kill()
    process.wait(30)
    assert not is_running(process.pid)
