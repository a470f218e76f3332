"""What the metric tests share: the local CloudWatch read back, the alarms' metrics by key."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from localcloud.launcher import CloudProcess

__all__ = ["alarm", "alarm_fired", "flush", "total", "until"]

T = TypeVar("T")
DEADLINE_S = 60.0


async def flush(http: aiohttp.ClientSession, cloud: CloudProcess) -> None:
    """Put everything recorded so far into the local CloudWatch."""
    async with http.post(f"{cloud.admin_url}/metrics/flush") as reply:
        assert reply.status == 200, await reply.text()


async def alarm(http: aiohttp.ClientSession, cloud: CloudProcess, key: str) -> dict[str, Any]:
    """The alarm whose name ends with `-<key>` (`ingest-5xx`), from `/_localcloud/alarms`."""
    async with http.get(f"{cloud.admin_url}/alarms") as reply:
        alarms = (await reply.json())["alarms"]
    [found] = [a for a in alarms if a["name"].endswith(f"-{key}")]
    return dict(found)


def total(
    cloud: CloudProcess,
    namespace: str,
    name: str,
    dimensions: dict[str, str],
    stat: str = "Sum",
    *,
    since: dt.datetime | None = None,
) -> float:
    """`stat` of the metric over the last hour (or since `since`), from GetMetricData; 0 if none."""
    now = dt.datetime.now(dt.UTC)
    start = since or now - dt.timedelta(hours=1)
    answer = cloud.aws("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 7200,
                    "Stat": stat,
                },
            }
        ],
        StartTime=start,
        EndTime=now + dt.timedelta(minutes=5),
    )
    values = answer["MetricDataResults"][0]["Values"]
    return float(values[0]) if values else 0.0


async def until(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `check()` until it answers something, within DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found = await check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)  # polling interval of a bounded wait, not synchronisation


async def alarm_fired(
    http: aiohttp.ClientSession, cloud: CloudProcess, key: str, before: int
) -> dict[str, Any]:
    """Wait until the alarm ending with `-<key>` has sent more notifications than `before`
    and has been in ALARM (a count of state changes: no window of time to catch)."""

    async def fired() -> dict[str, Any] | None:
        found = await alarm(http, cloud, key)
        sent = int(found["notifications"])
        # From OK, the first notification is the change to ALARM; two are ALARM and back.
        fired = sent > before + 1 or (sent > before and found["state"] == "ALARM")
        return found if fired else None

    return await until(fired, f"the {key} alarm to fire")
