"""The local CloudWatch holds what the cloud did: counts match the requests a test sent."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from infra import outputs
from localcloud.launcher import ROOT, CloudProcess
from tests.functional.cwmetrics import alarm, flush, total
from tests.functional.ticks import auth, ingest, make_ticks, new_symbol


async def _totals(
    http: aiohttp.ClientSession,
    cloud: CloudProcess,
    metrics: dict[str, tuple[str, str, dict[str, str]]],
) -> dict[str, float]:
    await flush(http, cloud)
    return {
        label: await asyncio.to_thread(total, cloud, namespace, name, dims)
        for label, (namespace, name, dims) in metrics.items()
    }


async def test_requests_invocations_and_client_errors_are_counted(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    api = (await alarm(http, local_cloud, "ingest-5xx"))["metric"]["dimensions"]
    function = (await alarm(http, local_cloud, "ingest-errors"))["metric"]["dimensions"]
    metrics = {
        "count": ("AWS/ApiGateway", "Count", api),
        "4xx": ("AWS/ApiGateway", "4xx", api),
        "5xx": ("AWS/ApiGateway", "5xx", api),
        "invocations": ("AWS/Lambda", "Invocations", function),
        "errors": ("AWS/Lambda", "Errors", function),
        "duration samples": ("AWS/Lambda", "Duration", function),
    }
    before = await _totals(http, local_cloud, metrics)
    symbol = new_symbol()
    # GIVEN 12 good ingest requests and a burst of 5 the handler refuses (400)
    good = await asyncio.gather(
        *(
            ingest(
                http,
                local_cloud,
                make_ticks(symbol, 3, start_ms=int(time.time() * 1000) - 600_000 + i * 10_000),
            )
            for i in range(12)
        )
    )
    assert {status for status, _ in good} == {200}
    for _ in range(5):
        async with http.post(
            local_cloud.outputs[outputs.INGEST_URL], json={"ticks": "no"}, headers=auth(local_cloud)
        ) as reply:
            assert reply.status == 400
    after = await _totals(http, local_cloud, metrics)
    delta = {k: after[k] - before[k] for k in metrics}
    # THEN 17 requests, 5 of them 4xx, none 5xx; 17 invocations of the ingest function
    assert delta["count"] == 17
    assert delta["4xx"] == 5
    assert delta["5xx"] == 0
    assert delta["invocations"] == 17
    assert delta["errors"] == 0
    # Duration: one sample per invocation (SampleCount) and a p95 the API answers
    samples = await asyncio.to_thread(
        total, local_cloud, "AWS/Lambda", "Duration", function, "SampleCount"
    )
    assert samples >= 17
    p95 = await asyncio.to_thread(total, local_cloud, "AWS/Lambda", "Duration", function, "p95")
    assert p95 > 0


async def test_injected_write_throttles_are_throttle_events(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    table = {"TableName": local_cloud.outputs[outputs.TABLE_NAME]}
    requests = {**table, "Operation": "BatchWriteItem"}
    # The fan-out consumer's rollup writes (PutItem on the bars table) are throttled too.
    bars = {"TableName": local_cloud.outputs[outputs.BARS_TABLE_NAME], "Operation": "PutItem"}
    metrics = {
        "events": ("AWS/DynamoDB", "WriteThrottleEvents", table),
        "requests": ("AWS/DynamoDB", "ThrottledRequests", requests),
        "bar requests": ("AWS/DynamoDB", "ThrottledRequests", bars),
        "wcu": ("AWS/DynamoDB", "ConsumedWriteCapacityUnits", table),
    }

    async def injected() -> int:
        async with http.get(f"{local_cloud.admin_url}/faults") as reply:
            return int((await reply.json())["throttle_writes"]["injected"])

    before, faults_before = await _totals(http, local_cloud, metrics), await injected()
    symbol = new_symbol()
    try:
        # GIVEN every DynamoDB write throttled
        async with http.post(
            f"{local_cloud.admin_url}/faults", json={"throttle_writes": 1.0}
        ) as reply:
            assert reply.status == 200
        # WHEN 3 requests come in (their writes are retried, then spilled)
        results = [
            await ingest(
                http,
                local_cloud,
                make_ticks(symbol, 2, start_ms=int(time.time() * 1000) - 60_000 + i * 5000),
            )
            for i in range(3)
        ]
    finally:
        async with http.post(
            f"{local_cloud.admin_url}/faults", json={"throttle_writes": 0.0}
        ) as reply:
            assert reply.status == 200
    assert {status for status, _ in results} <= {202, 503}
    thrown = await injected() - faults_before
    after = await _totals(http, local_cloud, metrics)
    delta: dict[str, Any] = {k: after[k] - before[k] for k in metrics}
    # THEN one throttled request per injected fault, one throttle event per item refused
    assert thrown > 0
    assert delta["requests"] + delta["bar requests"] == thrown
    assert delta["events"] >= thrown


async def test_saved_insights_queries_run_over_the_functions_logs(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN ingest traffic (its EMF lines carry DurationMs)
    symbol = new_symbol()
    start = int(time.time() * 1000) - 60_000
    for i in range(3):
        status, _ = await ingest(
            http, local_cloud, make_ticks(symbol, 2, start_ms=start + i * 5000)
        )
        assert status == 200
    function = (await alarm(http, local_cloud, "ingest-errors"))["metric"]["dimensions"]
    # WHEN the program's p95-by-function query runs over the local logs
    state = local_cloud.directory / "state.json"
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "localcloud", "insights", "p95-by-function",
        "--state", str(state), "--json",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    # THEN the ingest function has a row with at least those invocations and its percentiles
    rows = {row["FunctionName"]: row for row in map(json.loads, out.decode().splitlines())}
    ingest_row = rows[function["FunctionName"]]
    assert ingest_row["invocations"] >= 3
    assert 0 < ingest_row["p50"] <= ingest_row["p95"] <= ingest_row["max"]
