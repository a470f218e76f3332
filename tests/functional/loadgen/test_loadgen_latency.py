"""Latency measurement against servers with known behaviour."""

from __future__ import annotations

from loadgen.config import LoadConfig, Stage
from loadgen.targets import Targets
from tests.functional.loadgen.servers import TOKEN, delay_app, run_in_loop, serve, stall_app


def _targets(base: str) -> Targets:
    return Targets(ingest_url=f"{base}/ingest", query_base_url=None, token=TOKEN)


async def test_fixed_delay_server_gives_p50_near_the_delay():
    # GIVEN a server that answers every request after 20 ms
    async with serve(delay_app(0.020)) as base:
        config = LoadConfig(stages=(Stage(duration_s=1.5, target_rps=100),), start_rps=100)
        # WHEN the generator offers 100 requests/s for 1.5 s
        _, summary = await run_in_loop(config, _targets(base))
    # THEN every request is measured and both medians sit near 20 ms (generous: shared CPU)
    assert summary["requests"]["ok"] == config.planned_requests == 150
    corrected, raw = summary["latency_ms"]["corrected"], summary["latency_ms"]["raw"]
    assert 19.9 <= raw["p50"] <= 60.0
    assert 19.9 <= corrected["p50"] <= 60.0
    assert corrected["count"] == raw["count"] == 150
    assert summary["error_kinds"] == {}
    assert summary["status_codes"] == {"200": 150}


async def test_a_one_second_stall_shows_in_corrected_latency_not_in_raw():
    # GIVEN a server that holds everything arriving in one 1 s window, 1 s into the run,
    # and a generator with a single connection (as wrk2 with -c1)
    async with serve(stall_app(after_s=1.0, stall_s=1.0)) as base:
        config = LoadConfig(
            stages=(Stage(duration_s=3.0, target_rps=50),), start_rps=50, connections=1
        )
        # WHEN it offers a fixed 50 requests/s for 3 s
        _, summary = await run_in_loop(config, _targets(base))
    corrected, raw = summary["latency_ms"]["corrected"], summary["latency_ms"]["raw"]
    # THEN all 150 requests completed
    assert summary["requests"]["ok"] == 150
    # AND the ~50 requests planned during the stall carry it in the corrected percentiles
    assert corrected["max"] >= 900.0
    assert corrected["p90"] >= 400.0
    # AND the raw (service-time) percentiles hide it: only one request was itself slow
    assert raw["p99"] < 100.0
    assert raw["max"] >= 900.0
    # AND the report says why sends were late: the only connection was busy
    assert summary["scheduler"]["pool_waits"] > 0
    assert summary["scheduler"]["keeping_up"] is False
    assert "connections per worker were busy" in summary["scheduler"]["warning"]
