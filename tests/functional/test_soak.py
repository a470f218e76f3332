"""`python -m bench.soak` in a bounded form against a real local cloud: report, verify, cleanup.

Only structure and correctness are asserted (fields, every tick read back, RSS samples of every
process, processes stopped); never how fast anything was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from bench import soak
from bench.soak import EXIT_USAGE, main
from localcloud.launcher import CloudProcess
from tests.functional.cloudproc import is_running

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = {"localcloud", "moto", "loadgen"}
DURATION_S = 4
WARMUP_S = 1
WINDOW_S = 1


def _soak(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - this interpreter, fixed module
        [sys.executable, "-m", "bench.soak", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(30)


def test_bounded_soak_reports_every_figure_and_loses_no_tick(tmp_path: Path):
    report_path, plot_path = tmp_path / "soak.json", tmp_path / "soak.png"
    # WHEN a short soak runs against a fresh local cloud (dev stack), sampling RSS every second
    process = _soak(
        "--duration", f"{DURATION_S}s", "--warmup", f"{WARMUP_S}s", "--window", f"{WINDOW_S}s",
        "--interval", "1s", "--json", str(report_path), "--plot", str(plot_path),
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=180)
    finally:
        _stop(process)
    # THEN it exits 0 and prints both tables
    assert process.returncode == 0, err
    assert "Soak of the local cloud (dev)" in out
    assert "Resident memory (RSS, MB) per process tree" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["schema"] == "marketstream.bench.soak"
    assert report["cloud_alive_at_end"] is True
    # AND every acknowledged tick was read back exactly once
    verify = report["verify"]
    assert verify["ok"] is True, verify
    assert (verify["missing"], verify["duplicated"]) == (0, 0)
    assert report["ticks"]["acknowledged"] > 0
    assert verify["acknowledged"] == verify["found"] == report["ticks"]["acknowledged"]
    # AND requests, errors by kind, rate and latency are all there and add up
    requests = report["requests"]
    assert requests["ok"] + requests["errors"] == requests["measured"] > 0
    assert sum(report["errors"]["by_kind"].values()) == requests["errors"]
    assert report["rate"]["achieved_rps"] > 0
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    # AND the first and the last window are the ends of the measured run, with their drift
    first, last = report["first_window"], report["last_window"]
    assert (first["from_s"], first["to_s"]) == (WARMUP_S, WARMUP_S + WINDOW_S)
    assert (last["from_s"], last["to_s"]) == (DURATION_S - WINDOW_S, DURATION_S)
    assert first["count"] > 0 and last["count"] > 0
    change = report["drift"]
    assert change["ms"] == pytest.approx(last["p95_ms"] - first["p95_ms"], abs=0.01)
    assert change["pct"] == pytest.approx(change["ms"] / first["p95_ms"] * 100, abs=0.01)
    # AND each window is split by endpoint without losing a request, ingest drift included
    for window in (first, last):
        assert sum(ep["count"] for ep in window["by_endpoint"].values()) == window["count"]
    ingest = change["by_endpoint"]["ingest"]
    assert ingest["p95_first_ms"] == first["by_endpoint"]["ingest"]["p95_ms"]
    assert ingest["p95_last_ms"] == last["by_endpoint"]["ingest"]["p95_ms"]
    # AND the per-window series covers the measured run and holds every measured completion
    series = report["series"]
    assert [w["from_s"] for w in series] == list(range(WARMUP_S, DURATION_S))
    assert sum(w["count"] for w in series) == latency["count"]
    # AND RSS was sampled for each process, each counted on its own (the cloud is not loadgen's)
    figures = report["processes"]
    assert set(figures) == PROCESSES
    assert len({f["pid"] for f in figures.values()}) == 3
    samples = report["rss_samples"]
    # (one before the load, the last one once the last planned request has gone out)
    last_send_s = (requests["planned"] - 0.5) / report["load"]["rate"]
    assert samples[0]["t"] < 0 < last_send_s <= samples[-1]["t"]
    for sample in samples:
        assert set(sample["processes"]) == PROCESSES
        for name, tree in sample["processes"].items():
            assert tree is not None, (name, sample)
            assert tree["rss_mb"] > 0
        assert sample["processes"]["loadgen"]["processes"] == 1
        assert sample["processes"]["moto"]["processes"] == 1
    for name, row in figures.items():
        assert row["missing_samples"] == 0, name
        assert row["samples"] == len(samples)
        assert row["peak_mb"] >= max(row["start_mb"], row["end_mb"]) > 0
        assert row["growth_mb"] == pytest.approx(row["end_mb"] - row["start_mb"], abs=0.02)
        assert row["start_t"] >= WARMUP_S
    # AND the plot is a PNG, and the soak stopped the cloud and moto before it exited
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not is_running(figures["localcloud"]["pid"])
    assert not is_running(figures["moto"]["pid"])


def test_sigterm_mid_run_stops_the_cloud_and_its_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # GIVEN a stand-in cloud (dies on SIGTERM) whose own child (moto's place) outlives it
    code = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'],"
        " stdin=subprocess.PIPE); print(p.pid, flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    child = psutil.Process(int(process.stdout.readline()))
    reader = threading.Thread(target=process.stdout.read, daemon=True)
    reader.start()
    cloud = CloudProcess(
        process=process,
        moto_pid=child.pid,
        directory=tmp_path,
        outputs={},
        reader=reader,
    )
    interrupted = threading.Event()

    def run(*_: object) -> dict[str, object]:
        # WHEN SIGTERM reaches the soak while it runs
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the handler runs at the next bytecode
                interrupted.wait(0.01)
        except KeyboardInterrupt:
            interrupted.set()
            raise
        raise AssertionError("SIGTERM did not interrupt the soak")

    monkeypatch.setattr(soak, "launch", lambda *_, **__: cloud)
    monkeypatch.setattr(soak, "_run", run)
    try:
        code_ = soak.main(["--duration", "5s", "--warmup", "0s"])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        if child.is_running():
            child.kill()
    # THEN it exits 130 with one line, having stopped the cloud and the cloud's child
    assert interrupted.is_set()
    assert code_ == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "soak: interrupted (the local cloud was stopped)"
    ]
    assert process.poll() is not None
    assert not is_running(child.pid)
    # AND the SIGTERM handler it installed is gone again
    assert signal.getsignal(signal.SIGTERM) is not soak._interrupt


BAD_ARGUMENTS = [
    pytest.param(["--rate", "0"], id="zero-rate"),
    pytest.param(["--rate", "fast"], id="rate-not-a-number"),
    pytest.param(["--duration", "5x"], id="bad-duration"),
    pytest.param(["--duration", "10s", "--warmup", "10s"], id="warmup-eats-the-run"),
    pytest.param(["--interval", "0.5s"], id="interval-too-short"),
    pytest.param(["--window", "0"], id="zero-window"),
    pytest.param(["--batch", "0"], id="bad-batch"),
    pytest.param(["--query-ratio", "2"], id="bad-query-ratio"),
    pytest.param(["--stack", "nosuch"], id="unknown-stack"),
    pytest.param(["--stack-file", "/nonexistent.yaml"], id="missing-stack-file"),
    pytest.param(["--stack", "dev", "--stack-file", "Pulumi.dev.yaml"], id="two-stacks"),
    pytest.param(["--json", "/proc/soak.json"], id="unwritable-json"),
    pytest.param(["--plot", "/tmp"], id="plot-is-a-directory"),
    pytest.param(["--nope"], id="unknown-flag"),
]


@pytest.mark.parametrize("args", BAD_ARGUMENTS)
def test_bad_arguments_exit_64_with_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    def started(*_: object, **__: object) -> None:
        raise AssertionError("the soak started a cloud although its arguments are bad")

    monkeypatch.setattr(soak, "launch", started)
    # WHEN the soak gets arguments it cannot use
    code = main(args)
    # THEN it exits 64 with exactly one line on stderr, before starting anything
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("soak: error: ")
