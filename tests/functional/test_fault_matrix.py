"""GIVEN the load generator at a fixed rate WHEN DynamoDB is throttled, unreachable, or the ingest
function crashes mid-write THEN every acknowledged tick is stored exactly once after the replay
drains, and what each client was told matches what happened: 200 stored, 202 queued and replayed,
503/500 not acknowledged (partly stored, and a retry with the same Idempotency-Key completes it
without a duplicate). The cases and the run live in `bench/faultcases.py` (`bench/faults.py`
prints them); one local cloud with `bench/faults_stack.yaml` serves the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bench.faultcases import CASES, CLOUD, CaseResult, Load, run_case
from localcloud.launcher import CloudProcess, launch
from tests.functional.cloudproc import stop_cloud
from tests.functional.cwmetrics import alarm, alarm_fired

LOAD = Load(rate=12.0, batch=10)
BY_KEY = {case.key: case for case in CASES}


@pytest.fixture(scope="module")
def fault_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudProcess]:
    """A local cloud of its own: the matrix's stack file and Lambda thread count."""
    cloud = launch(tmp_path_factory.mktemp("faultcloud"), CLOUD)
    try:
        yield cloud
    finally:
        stop_cloud(cloud)


def assert_invariants(result: CaseResult) -> None:
    """What holds whatever the fault: nothing acknowledged is lost or doubled, nothing is a lie."""
    verify, after = result.verify, result.after_retry
    statuses = result.statuses()
    assert verify.errors == ()
    # acknowledged == stored once the spill queue drained; no duplicates
    assert (verify.missing, verify.duplicated) == (0, 0), verify.missing_examples
    assert verify.found == verify.acknowledged == (statuses[200] + statuses[202]) * LOAD.batch
    # 202: one spill message each, and the replay stored and deleted exactly those
    assert result.spill_deleted == statuses[202]
    assert result.replayed_ticks >= result.queued_ticks() == statuses[202] * LOAD.batch
    assert result.dlq_depth == 0
    # not acknowledged: retried with the same key, each ends stored exactly once
    assert set(result.retried) <= {200}
    assert sum(result.retried.values()) == result.requests - statuses[200] - statuses[202]
    assert after.errors == ()
    assert after.acknowledged == result.requests * LOAD.batch
    assert (after.missing, after.duplicated, after.unacknowledged_found) == (0, 0, 0)
    # the fault stopped on its own (or was cleared), and reads never got a 500
    assert result.fault_over
    assert set(result.probes) <= {(200, ""), (503, "unavailable")}, result.probes


async def test_a_writes_throttled_30_percent_for_20_s(
    fault_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    notified = (await alarm(http, fault_cloud, "table-write-throttles"))["notifications"]
    result = await run_case(BY_KEY["throttle"], fault_cloud, http, LOAD)
    assert_invariants(result)
    assert result.injected > 0
    # the writer's retries absorb a 30 % throttle: every request acknowledged (202 is rare)
    assert set(result.statuses()) <= {200, 202}
    assert result.ingest_retries > 0
    assert result.function_errors[fault_cloud_ingest(result)] == 0
    # and the table's write-throttle alarm fired
    await alarm_fired(http, fault_cloud, "table-write-throttles", notified)


async def test_b_dynamodb_unreachable_for_10_s(
    fault_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    result = await run_case(BY_KEY["outage"], fault_cloud, http, LOAD)
    assert_invariants(result)
    assert result.injected > 0
    statuses = result.statuses()
    # the table refused, the spill queue took the ticks: 202, never a 5xx
    assert set(statuses) <= {200, 202}
    assert statuses[202] > 0
    assert result.verify.unacknowledged_found == 0
    # reads during the outage: 503 JSON naming the problem, never a 500
    assert result.probes[(503, "unavailable")] > 0


async def test_c_ingest_crashes_mid_write_in_5_percent_of_invocations(
    fault_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    notified = {
        key: (await alarm(http, fault_cloud, key))["notifications"]
        for key in ("ingest-5xx", "ingest-errors")
    }
    result = await run_case(BY_KEY["crash"], fault_cloud, http, LOAD)
    assert_invariants(result)
    # the API's 5xx alarm and the function's Errors alarm fired on the crashes
    for key, before in notified.items():
        await alarm_fired(http, fault_cloud, key, before)
    statuses = result.statuses()
    assert set(statuses) <= {200, 500}
    assert statuses[500] == result.injected > 0
    crashed = [a for a in result.answers.values() if a.status == 500]
    assert all(a.body == {"message": "Internal Server Error"} for a in crashed)
    assert result.function_errors[fault_cloud_ingest(result)] == statuses[500]
    # half of each crashed request's blocks were written before the crash: stored, not acked
    assert 0 < result.verify.unacknowledged_found < statuses[500] * LOAD.batch


def fault_cloud_ingest(result: CaseResult) -> str:
    """The ingest function's physical name (the only function whose errors count here)."""
    names = [name for name in result.function_errors if name.startswith("ingest-ingest-fn")]
    assert len(names) == 1, result.function_errors
    return names[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"unavailable": 2}', "unavailable"),
        (b'{"crash": {"function": "no-such-fn", "share": 0.5}}', "crash.function"),
        (b'{"throttle_writes": 0.5, "for_s": -1}', "for_s"),
        (b"{}", "body"),
    ],
)
async def test_bad_fault_settings_are_a_400_naming_the_field_and_change_nothing(
    fault_cloud: CloudProcess, http: aiohttp.ClientSession, body: bytes, field: str
) -> None:
    url = f"{fault_cloud.admin_url}/faults"
    async with http.get(url) as reply:
        before = settings_of(await reply.json())
    async with http.post(url, data=body) as reply:
        assert reply.status == 400
        answer = await reply.json()
    assert answer["error"] == "invalid_fault_settings" and answer["message"]
    assert field in [detail["field"] for detail in answer["details"]], answer
    async with http.get(url) as reply:
        assert settings_of(await reply.json()) == before


def settings_of(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The modes' settings without their counters (functions keep calling DynamoDB meanwhile)."""
    return {
        name: {k: v for k, v in mode.items() if k not in ("injected", "passed", "by_function")}
        for name, mode in snapshot.items()
        if isinstance(mode, dict)
    }
