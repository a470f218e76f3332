"""`--verify` reads back every acknowledged tick and finds missing and duplicated ones."""

from __future__ import annotations

import pytest

from loadgen.config import LoadConfig, Stage
from loadgen.targets import Targets
from loadgen.verify import verify_ticks
from tests.functional.loadgen.servers import API_KEY, RUN_ID, TOKEN, FakeApi, run_in_loop, serve


async def _run_and_verify(api: FakeApi, *, query_ratio: float = 0.0):
    config = LoadConfig(
        stages=(Stage(duration_s=1.0, target_rps=40),),
        start_rps=40,
        batch=5,
        symbols=3,
        query_ratio=query_ratio,
    )
    async with serve(api.app()) as base:
        targets = Targets(
            ingest_url=f"{base}/ingest",
            query_base_url=f"{base}/api",
            token=TOKEN,
            api_key=API_KEY,
        )
        stats, summary = await run_in_loop(config, targets)
        result = await verify_ticks(
            targets=targets,
            config=config,
            run_id=RUN_ID,
            base_ms=summary["base_ms"],
            total_requests=config.planned_requests,
            stats=stats,
        )
    return summary, result


async def test_verify_passes_when_every_tick_is_stored_once():
    summary, result = await _run_and_verify(FakeApi())
    assert result.ok
    assert result.acknowledged == summary["ticks"]["acknowledged"] == 200
    assert (result.found, result.missing, result.duplicated) == (200, 0, 0)
    # page_cap 7 forces many pages, so cursors were followed
    assert result.pages > 200 // 7


async def test_verify_finds_a_dropped_tick():
    _, result = await _run_and_verify(FakeApi(drop_nth=17))
    assert not result.ok
    assert (result.found, result.missing, result.duplicated) == (199, 1, 0)
    # tick 17 overall is request 3 (batch 5), index 2
    assert result.missing_examples == (f"{RUN_ID}-3-2",)


async def test_verify_finds_a_duplicated_tick():
    _, result = await _run_and_verify(FakeApi(duplicate_nth=42))
    assert not result.ok
    assert (result.found, result.missing, result.duplicated) == (200, 0, 1)
    assert result.duplicate_examples == (f"{RUN_ID}-8-2",)


@pytest.mark.parametrize("ratio", [0.5])
async def test_a_query_mix_hits_every_read_endpoint(ratio: float):
    summary, result = await _run_and_verify(FakeApi(), query_ratio=ratio)
    assert set(summary["by_endpoint"]) == {"ingest", "query", "latest", "bars"}
    assert summary["requests"]["errors"] == 0
    assert result.ok
    assert result.acknowledged == summary["by_endpoint"]["ingest"]["requests"]["measured"] * 5
