"""A second local cloud: the program's config drives it, and stopping it leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp

from infra import outputs
from localcloud.launcher import LaunchOptions, launch
from tests.functional.cloudproc import ROOT, STACK_FILE, is_running, stop_cloud


async def test_a_changed_program_config_shows_up_and_shutdown_leaves_no_process(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # GIVEN the same program with a different stage name, quota and ingest stage throttle,
    # changed only through stack config (nothing in localcloud knows these values)
    plans = {"bulk": {"rateLimit": 100, "burstLimit": 100, "quotaLimit": 2, "quotaPeriod": "DAY"}}
    config = (
        "queryStageName=v9",
        f"usagePlans={json.dumps(plans)}",
        'queryClients=[{"name": "tests", "tier": "bulk"}]',
        "ingestRateLimit=1",
        "ingestBurstLimit=1",
    )
    cloud = launch(tmp_path, LaunchOptions(stack_file=STACK_FILE, config=config))
    children = [cloud.state["moto_pid"]]
    try:
        base = cloud.outputs[outputs.QUERY_BASE_URL]
        headers = {"x-api-key": cloud.outputs[outputs.QUERY_API_KEY]}
        # THEN the new stage serves, with the new quota
        assert base.endswith("/v9")
        statuses = []
        for _ in range(3):
            async with http.get(f"{base}/latest", params={"symbol": "X"}, headers=headers) as r:
                statuses.append(r.status)
        assert statuses == [200, 200, 429]
        # AND the ingest stage throttles at its new limit (burst 1)
        token = {"Authorization": f"Bearer {cloud.outputs[outputs.INGEST_TOKEN]}"}
        codes = []
        for _ in range(3):
            async with http.post(
                cloud.outputs[outputs.INGEST_URL], json={"ticks": []}, headers=token
            ) as r:
                codes.append(r.status)
        assert 429 in codes
        assert all(is_running(pid) for pid in children)
    finally:
        # WHEN it is stopped
        status = stop_cloud(cloud)
    # THEN it exits cleanly and its moto server is gone too
    assert status == 0
    assert not is_running(cloud.process.pid)
    assert not any(is_running(pid) for pid in children)
    assert cloud.lines[-1].startswith("localcloud: stopped")


def test_bad_arguments_exit_64() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "localcloud", "up", "--fail-writes", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 64
    assert len(done.stderr.strip().splitlines()) == 1
