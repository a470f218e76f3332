"""`python -m localcloud up` as a child process: started, seen to serve, stopped, nothing left.

For the benchmarks and the functional tests. Readiness is the `READY_PREFIX` line on the child's
stdout (never a sleep); a thread keeps draining stdout afterwards, so the child never blocks on a
full pipe, and keeps only its last lines; stderr goes to a file whose last line explains a failed
start. Stopping sends SIGTERM, waits, SIGKILLs what hangs, and then makes sure moto (the cloud's
own child) is gone too.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import boto3

from localcloud.cli import READY_PREFIX

__all__ = [
    "READY_TIMEOUT_S",
    "ROOT",
    "STOP_TIMEOUT_S",
    "CloudProcess",
    "LaunchError",
    "LaunchOptions",
    "Stopped",
    "launch",
]

ROOT: Final = Path(__file__).resolve().parent.parent
"""The project (Pulumi.yaml, Pulumi.<stack>.yaml): the child's working directory."""
READY_TIMEOUT_S: Final = 120.0
STOP_TIMEOUT_S: Final = 30.0
_TAIL_LINES: Final = 1000
"""Lines of the child's stdout kept: a long benchmark must not pile its output up in memory."""
_POLL_S: Final = 0.05


class LaunchError(Exception):
    """The local cloud could not be started (the message is one line; notes hold its output)."""


@dataclass(frozen=True, kw_only=True)
class LaunchOptions:
    """What `localcloud up` is told besides where to write its files."""

    stack: str = "dev"
    stack_file: Path | None = None
    """A stack file instead of `Pulumi.<stack>.yaml`."""
    config: tuple[str, ...] = ()
    """`KEY=VALUE` overrides on top of the stack file."""
    workers: int | None = None
    """Threads running function invocations (None: the cloud's default)."""
    port: int = 0
    """Gateway port; 0 lets the OS pick a free one (moto always gets an ephemeral port)."""
    metrics: bool = True
    """Record CloudWatch metrics (`--no-metrics` when False)."""

    def arguments(self) -> list[str]:
        """The `localcloud up` arguments for these options."""
        args = ["--stack", self.stack, "--port", str(self.port)]
        if self.stack_file is not None:
            args += ["--stack-file", str(self.stack_file)]
        for value in self.config:
            args += ["--config", value]
        if self.workers is not None:
            args += ["--workers", str(self.workers)]
        if not self.metrics:
            args.append("--no-metrics")
        return args


@dataclass(frozen=True)
class Stopped:
    """How a launched cloud ended."""

    status: int
    """Its exit status (negative: the signal that ended it)."""
    killed: bool
    """It did not exit within the stop timeout after SIGTERM and was SIGKILLed."""
    moto_left: bool
    """moto was still running once the cloud had exited (the launcher stopped it)."""


class _Watched:
    """A process that is not our child (moto is the cloud's): signalled, and waited for.

    On Linux a pidfd pins the process, so a recycled pid is never signalled and its end can be
    waited on directly; elsewhere the pid is signalled as it is and its end is polled.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None
        self._gone = False
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._gone = True
        except (AttributeError, OSError):  # not Linux, or a kernel without pidfd
            pass

    def running(self) -> bool:
        """Whether it has not exited yet (a zombie has exited)."""
        return not self.wait(0.0)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for it to exit; whether it has."""
        if self._gone:
            return True
        if self._fd is not None:
            self._gone = bool(select.select([self._fd], [], [], timeout)[0])
            return self._gone
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self._gone = True
                return True
            if time.monotonic() >= deadline:
                return False
            # Without a pidfd there is no event for the end of a process that is not our child.
            time.sleep(_POLL_S)

    def send(self, signum: int) -> None:
        """Send `signum` unless it has exited."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                if self._fd is not None:
                    signal.pidfd_send_signal(self._fd, signum)
                else:
                    os.kill(self.pid, signum)

    def close(self) -> None:
        """Release the pidfd."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(eq=False)
class CloudProcess:
    """A running `localcloud up`: its process, moto's pid, and the files it wrote."""

    process: subprocess.Popen[str]
    moto_pid: int
    directory: Path
    """Where the outputs, state, stderr and function log files are."""
    outputs: dict[str, Any]
    reader: threading.Thread
    """Drains the child's stdout into `lines`; ends with it."""
    state: dict[str, Any] = field(default_factory=dict)
    """`state.json`: pids, ports, the gateway URL, API keys, resources."""
    lines: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=_TAIL_LINES)
    )
    """The last lines of the child's stdout."""
    stop_timeout_s: float = STOP_TIMEOUT_S
    _moto: _Watched = field(init=False, repr=False)
    _stopped: Stopped | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._moto = _Watched(self.moto_pid)

    @property
    def outputs_path(self) -> Path:
        """The stack outputs file (what the load generator reads)."""
        return self.directory / "outputs.json"

    @property
    def admin_url(self) -> str:
        """Base URL of the local cloud's admin endpoints (health, faults)."""
        return f"{self.state['gateway_url']}/_localcloud"

    def aws(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of this cloud's moto (or `endpoint_url`), SigV4-signed with fake keys."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=kwargs.pop("endpoint_url", self.state["moto_endpoint"]),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - moto accepts any key
            **kwargs,
        )

    def api_key(self, client: str) -> str:
        """The API key value of a query client declared in the stack config."""
        return str(self.state["api_keys"][f"marketstream-{self.state['stack']}-{client}"])

    def alive(self) -> bool:
        """Whether the cloud process is still running."""
        return self.process.poll() is None

    def stop(self) -> Stopped:
        """SIGTERM the cloud and wait; SIGKILL it if it hangs; then make sure moto is gone too."""
        if self._stopped is None:
            status, killed = _end(self.process, self.stop_timeout_s)
            self.reader.join(self.stop_timeout_s)
            # The cloud stops moto itself (and moto exits when the cloud dies): this only acts
            # when something went wrong, and says so.
            moto_left = self._moto.running()
            if moto_left:
                self._moto.send(signal.SIGTERM)
                if not self._moto.wait(self.stop_timeout_s):
                    self._moto.send(signal.SIGKILL)
                    self._moto.wait(self.stop_timeout_s)
            self._moto.close()
            self._stopped = Stopped(status=status, killed=killed, moto_left=moto_left)
        return self._stopped


def launch(
    directory: Path,
    options: LaunchOptions = LaunchOptions(),
    *,
    ready_timeout_s: float = READY_TIMEOUT_S,
    stop_timeout_s: float = STOP_TIMEOUT_S,
) -> CloudProcess:
    """Start a local cloud writing its files to `directory`; returns once it serves."""
    directory.mkdir(parents=True, exist_ok=True)
    outputs = directory / "outputs.json"
    stderr_path = directory / "localcloud.stderr"
    command = [sys.executable, "-m", "localcloud", "up", "--outputs", str(outputs)]
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed module
            [*command, *options.arguments()],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    lines: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    early: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(
        target=_pump, args=(process.stdout, lines, early), name="localcloud-stdout", daemon=True
    )
    reader.start()
    try:
        _wait_ready(early, ready_timeout_s, stderr_path, lines)
        state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        return CloudProcess(
            process=process,
            moto_pid=int(state["moto_pid"]),
            directory=directory,
            outputs=json.loads(outputs.read_text(encoding="utf-8")),
            reader=reader,
            state=state,
            lines=lines,
            stop_timeout_s=stop_timeout_s,
        )
    except BaseException:
        _end(process, stop_timeout_s)
        reader.join(stop_timeout_s)
        raise


def _pump(stdout: IO[str], lines: collections.deque[str], early: queue.Queue[str | None]) -> None:
    """Keep the tail of stdout; hand the lines up to the ready line to `_wait_ready`."""
    ready = False
    for line in stdout:
        lines.append(line)
        if not ready:
            early.put(line)
            ready = line.startswith(READY_PREFIX)
    early.put(None)


def _wait_ready(
    early: queue.Queue[str | None],
    timeout_s: float,
    stderr_path: Path,
    lines: collections.deque[str],
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = early.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            error = LaunchError(f"localcloud was not ready within {timeout_s:g} s")
            break
        if line is None:
            last = stderr_path.read_text(encoding="utf-8").strip().splitlines()
            error = LaunchError(
                f"localcloud exited before it was ready: {last[-1] if last else 'no error output'}"
            )
            break
        if line.startswith(READY_PREFIX):
            return
    stderr = stderr_path.read_text(encoding="utf-8").rstrip()
    # A copy: on a timeout the reader thread may still be appending.
    stdout = "".join(lines.copy()).rstrip()
    error.add_note(f"stdout:\n{stdout}\nstderr ({stderr_path}):\n{stderr}")
    raise error


def _end(process: subprocess.Popen[str], timeout_s: float) -> tuple[int, bool]:
    """SIGTERM, wait; SIGKILL if it hangs. Its exit status, and whether it had to be killed."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout_s), False
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(), True
