"""The moto server as a child process on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import IO, Final

from localcloud.errors import LocalCloudError
from localcloud.moto.patches import EXPECTED_MOTO, installed_version
from localcloud.moto.process import PORT_PREFIX, REFUSED_PREFIX

__all__ = ["MotoServer"]

_START_TIMEOUT_S: Final = 60.0
_STOP_TIMEOUT_S: Final = 10.0


class MotoServer:
    """Starts `python -m localcloud.moto.process`, learns its port, and stops it (and waits)."""

    def __init__(self, *, without: tuple[str, ...] = ()) -> None:
        """`without`: patches to leave out (for benchmarks; see `patches.apply`)."""
        self._without = without
        self._process: subprocess.Popen[str] | None = None
        self._port: int | None = None
        self._ready = threading.Event()
        self._failure = ""

    @property
    def pid(self) -> int:
        """Process id of the moto server."""
        if self._process is None:
            raise LocalCloudError("moto is not started")
        return self._process.pid

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:<port>`, once `wait_ready` returned."""
        if self._port is None:
            raise LocalCloudError("moto is not ready")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        """Launch the process; returns at once (use `wait_ready` for the port).

        With another moto than the one the patches are written for, it waits for the process's
        guard instead, and if that refuses the moto, stops it and raises LocalCloudError with
        the guard's one line.
        """
        self._process = subprocess.Popen(  # noqa: S603 - our own module; names of our patches
            [sys.executable, "-m", "localcloud.moto.process", *self._without],
            stdin=subprocess.PIPE,  # closing it (or dying) stops moto: no orphan
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        threading.Thread(
            target=self._read_port, args=(self._process.stdout,), name="moto-port", daemon=True
        ).start()
        if installed_version() != EXPECTED_MOTO:
            # The guard may refuse this moto. Its verdict must come out here, before the caller
            # runs anything that needs moto: a refusal found by, say, the program's first
            # resource would surface as that resource's failure, not as the one line. The
            # pinned moto is not waited for: its start-up overlaps the caller's (~1 s).
            try:
                self.wait_ready()
            except LocalCloudError:
                self.stop()
                raise

    def _read_port(self, stdout: IO[str]) -> None:
        try:
            for line in stdout:
                if line.startswith(PORT_PREFIX):
                    self._port = int(line[len(PORT_PREFIX) :])
                    break
                if line.startswith(REFUSED_PREFIX):
                    self._failure = line[len(REFUSED_PREFIX) :].strip()
                    break
            else:
                self._failure = "moto exited before it listened"
        except ValueError as exc:
            self._failure = f"moto printed a bad port: {exc}"
        finally:
            self._ready.set()
        try:
            for _ in stdout:  # drain anything moto prints later, so its pipe never fills
                pass
        except (ValueError, OSError):  # closed by `stop` while draining
            return

    def wait_ready(self, timeout: float = _START_TIMEOUT_S) -> str:
        """Block until moto listens; its endpoint URL. LocalCloudError if it failed or hung."""
        if not self._ready.wait(timeout):
            raise LocalCloudError(f"moto did not start within {timeout:.0f} s")
        if self._port is None:
            raise LocalCloudError(self._failure or "moto did not start")
        return self.endpoint

    def stop(self) -> None:
        """Ask moto to exit, wait for it, kill it if it does not."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
