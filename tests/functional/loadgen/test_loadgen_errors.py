"""Every failure is counted by status code and by kind, and still has a latency sample."""

from __future__ import annotations

from loadgen.config import LoadConfig, Stage
from loadgen.targets import Targets
from tests.functional.loadgen.servers import TOKEN, chaos_app, closed_port, run_in_loop, serve


async def test_status_codes_and_error_kinds_are_counted():
    # GIVEN a server answering in turn: 500, bad JSON, a hang past the timeout, a reset, 200
    async with serve(chaos_app(hang_s=2.0)) as base:
        config = LoadConfig(
            stages=(Stage(duration_s=1.0, target_rps=50),), start_rps=50, timeout_s=0.3
        )
        # WHEN 50 requests go out
        _, summary = await run_in_loop(
            config, Targets(ingest_url=f"{base}/ingest", query_base_url=None, token=TOKEN)
        )
    # THEN each behaviour is counted once per turn of five
    assert summary["error_kinds"] == {"bad_response": 10, "read": 10, "status": 10, "timeout": 10}
    assert summary["status_codes"] == {"200": 20, "500": 10}
    assert summary["requests"]["ok"] == 10
    assert summary["requests"]["errors"] == 40
    assert summary["requests"]["error_ratio"] == 0.8
    # AND failed requests still have latency samples (the timeouts at ~300 ms among them)
    corrected = summary["latency_ms"]["corrected"]
    assert corrected["count"] == 50
    assert corrected["max"] >= 290.0
    # AND only the acknowledged ingest requests count as acknowledged ticks
    assert summary["ticks"]["acknowledged"] == 10 * config.batch


async def test_connection_refused_is_a_connect_error():
    # GIVEN a port nobody listens on
    url = f"http://127.0.0.1:{closed_port()}/ingest"
    config = LoadConfig(stages=(Stage(duration_s=0.5, target_rps=20),), start_rps=20)
    # WHEN the generator sends to it
    _, summary = await run_in_loop(config, Targets(ingest_url=url, query_base_url=None))
    # THEN every request is a connect error, with a latency sample, and no status code
    assert summary["error_kinds"] == {"connect": 10}
    assert summary["status_codes"] == {}
    assert summary["latency_ms"]["corrected"]["count"] == 10
