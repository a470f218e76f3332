"""`python -m loadgen` end to end, in a subprocess: exit codes, JSON summary, plot, workers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from infra import outputs
from tests.functional.loadgen.servers import API_KEY, TOKEN, FakeApi, delay_app, serve

ROOT = Path(__file__).resolve().parents[3]


async def _loadgen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loadgen",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {}), "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


BAD_ARGUMENTS = [
    pytest.param(["--rate", "abc", "--ingest-url", "http://127.0.0.1:1/i"], id="bad-rate"),
    pytest.param(["--batch", "0", "--ingest-url", "http://127.0.0.1:1/i"], id="bad-batch"),
    pytest.param(["--nope"], id="unknown-flag"),
    pytest.param(["--stages", "30s", "--ingest-url", "http://127.0.0.1:1/i"], id="bad-stage"),
    pytest.param(["--slo", "p95<<3", "--ingest-url", "http://127.0.0.1:1/i"], id="bad-slo"),
    pytest.param(["--rate", "10"], id="no-target"),
    pytest.param(["--stack", "dev"], id="no-pulumi-cli"),
    pytest.param(["--outputs", "/nonexistent/outputs.json"], id="no-outputs-file"),
    pytest.param(["--stack", "dev", "--local"], id="two-sources"),
]


@pytest.mark.parametrize("args", BAD_ARGUMENTS)
async def test_bad_arguments_exit_64_with_one_line(args: list[str]):
    # WHEN the CLI gets arguments it cannot use (PATH has no `pulumi` on this machine)
    code, out, err = await _loadgen(*args, env={"PATH": os.path.dirname(sys.executable)})
    # THEN it exits 64 (EX_USAGE) with exactly one line on stderr and nothing else
    assert code == 64, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("loadgen: error: ")


async def test_missing_pulumi_cli_is_named():
    _, _, err = await _loadgen("--stack", "dev", env={"PATH": os.path.dirname(sys.executable)})
    assert "Pulumi CLI" in err


async def test_a_breached_slo_exits_2_and_prints_the_breached_rules():
    # GIVEN a server that takes 20 ms
    async with serve(delay_app(0.020)) as base:
        # WHEN the run is held to a 1 ms median and a 1 % error budget
        code, out, _ = await _loadgen(
            "--ingest-url", f"{base}/ingest", "--rate", "40", "--duration", "1s",
            "--slo", "p50<1ms,errors<1%", "--no-progress",
        )  # fmt: skip
    # THEN it exits 2 and names only the breached rule
    assert code == 2, out
    assert "SLO breached p50<1ms" in out
    assert "SLO breached errors" not in out


async def test_full_run_with_two_workers_writes_summary_and_plot(tmp_path: Path):
    # GIVEN the fake API, its endpoints in an outputs file shaped like the local cloud's
    api = FakeApi()
    async with serve(api.app()) as base:
        outputs_file = tmp_path / "outputs.json"
        outputs_file.write_text(
            json.dumps(
                {
                    outputs.INGEST_URL: f"{base}/ingest",
                    outputs.QUERY_BASE_URL: f"{base}/api/",
                    outputs.INGEST_TOKEN: TOKEN,
                    outputs.QUERY_API_KEY: API_KEY,
                }
            )
        )
        summary_path, plot_path = tmp_path / "run.json", tmp_path / "run.png"
        # WHEN two worker processes ramp up and down with a read mix, then verify
        code, out, err = await _loadgen(
            "--outputs", str(outputs_file), "--stages", "1s:60,1s:60,1s:0", "--warmup", "0.5s",
            "--workers", "2", "--batch", "4", "--query-ratio", "0.25", "--symbols", "4",
            "--verify", "--json", str(summary_path), "--plot", str(plot_path),
            "--slo", "errors<0.1%,rate>=0.9", "--no-progress",
        )  # fmt: skip
    assert code == 0, out + err
    summary = json.loads(summary_path.read_text())
    # THEN the summary is versioned and records the config, with secrets redacted
    assert summary["schema_version"] == 1
    config = summary["config"]
    assert (config["workers"], config["connections"], config["connections_total"]) == (2, 256, 512)
    assert config["timeouts"] == {"total_s": 10.0, "connect_s": 3.0}
    assert summary["endpoints"]["token"] == summary["endpoints"]["api_key"] == "***"
    assert TOKEN not in summary_path.read_text()
    # AND both workers' requests are all there, merged
    requests = summary["requests"]
    assert requests["planned"] == config["planned_requests"] == 120
    assert requests["measured"] + requests["warmup"] == 120
    assert summary["latency_ms"]["corrected"]["count"] == requests["measured"]
    assert requests["errors"] == 0
    # AND the per-second series covers the measured window with the target rate
    assert [row["t"] for row in summary["series"]] == [0, 1, 2]
    assert sum(row["target"] for row in summary["series"]) == requests["measured"]
    # AND every acknowledged tick was read back exactly once
    assert summary["verify"]["ok"] is True
    assert summary["verify"]["acknowledged"] == summary["ticks"]["acknowledged"] > 0
    assert summary["slo"]["passed"] is True
    # AND the plot is a PNG
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "verify    acknowledged" in out


async def test_verify_failure_exits_3(tmp_path: Path):
    api = FakeApi(drop_nth=3)
    async with serve(api.app()) as base:
        code, out, _ = await _loadgen(
            "--ingest-url", f"{base}/ingest", "--query-url", f"{base}/api", "--token", TOKEN,
            "--api-key", API_KEY, "--rate", "20", "--duration", "0.5s", "--verify", "--no-progress",
        )  # fmt: skip
    assert code == 3, out
    assert "missing 1" in out
