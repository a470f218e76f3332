"""Every command line without a usage test of its own: a bad one is one line and EX_USAGE.

(loadgen, its cost subcommand, the soak, localcloud and apispec have theirs beside their other
tests.) Each runs as a real process, as make and CI run them; none gets as far as starting work.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.functional.cloudproc import ROOT

CASES = [
    pytest.param("bench.faults", ["--nope"], "--nope", id="faults-unknown-option"),
    pytest.param("bench.faults", ["--rate", "0"], "--rate", id="faults-bad-rate"),
    pytest.param("bench.faults", ["--cases", "flood"], "--cases", id="faults-bad-case"),
    pytest.param("bench.fanout_latency", ["--clients", "x"], "--clients", id="fanout-bad-value"),
    pytest.param("bench.local_throughput", ["--nope"], "--nope", id="throughput-unknown"),
    pytest.param("bench.tiny_server", ["--port", "x"], "--port", id="tiny-server-bad-port"),
    pytest.param("infra.layerlock", ["--write", "--check"], "--check", id="layerlock-both"),
]


@pytest.mark.parametrize(("module", "args", "named"), CASES)
def test_a_bad_command_line_is_one_line_and_ex_usage(
    module: str, args: list[str], named: str
) -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed modules
        [sys.executable, "-m", module, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == os.EX_USAGE, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert ": error: " in lines[0] and named in lines[0]
    assert "usage:" not in done.stderr and "Traceback" not in done.stderr
