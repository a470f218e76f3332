"""The program's CloudWatch dashboard, drawn by the local cloud, in headless Chromium.

Traffic first (ingests, a few refused requests, queries), then the page is opened from the
exported `cloudwatch_dashboard_url`: every metric widget must draw data read back from the local
CloudWatch, the alarm widget must list every alarm with its state, and the page must refresh on
its own. Waits are Playwright's (bounded, on DOM state); a screenshot is kept in the test's
directory.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.cwmetrics import flush
from tests.functional.ticks import api_key, auth, ingest, make_ticks, new_symbol

pytestmark = pytest.mark.browser

TIMEOUT_MS = 30_000
"""Bound on each wait (a refresh every 5 s; metrics reach the local CloudWatch within 5 s)."""


async def _traffic(http: aiohttp.ClientSession, cloud: CloudProcess) -> None:
    symbol = new_symbol()
    now = int(time.time() * 1000)
    for i in range(20):
        status, _ = await ingest(
            http, cloud, make_ticks(symbol, 5, start_ms=now - 60_000 + i * 5000)
        )
        assert status == 200
    async with http.post(
        cloud.outputs[outputs.INGEST_URL], json={"ticks": "not a list"}, headers=auth(cloud)
    ) as reply:
        assert reply.status == 400
    url = f"{cloud.outputs[outputs.QUERY_BASE_URL]}/query"
    for _ in range(3):
        params = {"symbol": symbol, "limit": "10"}
        async with http.get(url, params=params, headers=api_key(cloud)) as reply:
            assert reply.status == 200


async def test_the_cloudwatch_dashboard_draws_every_widget_from_the_local_cloudwatch(
    page: Page, local_cloud: CloudProcess, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # GIVEN traffic through every path, recorded in the local CloudWatch
    await _traffic(http, local_cloud)
    await flush(http, local_cloud)
    url = local_cloud.outputs[outputs.CLOUDWATCH_DASHBOARD_URL]
    assert url.startswith(f"{local_cloud.state['gateway_url']}/_localcloud/cloudwatch/")
    # WHEN the dashboard page is opened
    reply = await page.goto(url)
    assert reply is not None and reply.ok, reply and reply.status
    await expect(page.locator("#status")).to_have_attribute("data-state", "ok", timeout=TIMEOUT_MS)
    # THEN it has the program's 9 widgets: 8 metric widgets and the alarms
    widgets = page.locator("section.widget")
    await expect(widgets).to_have_count(9, timeout=TIMEOUT_MS)
    metric = page.locator('section.widget[data-kind="metric"]')
    await expect(metric).to_have_count(8)
    # AND every metric widget draws data points (a chart with series and a legend)
    for index in range(8):
        widget = metric.nth(index)
        await expect(widget).not_to_have_attribute("data-points", "0", timeout=TIMEOUT_MS)
        await expect(widget.locator("canvas")).to_have_count(1)
    ingest_rate = page.locator('section.widget[data-title^="Ingest rate"]')
    await expect(ingest_rate.locator(".u-legend")).to_contain_text("requests")
    # AND the alarm widget lists every alarm with its state from the local CloudWatch
    alarms = page.locator('section.widget[data-kind="alarm"] li')
    await expect(alarms).to_have_count(18)
    states = await page.locator('section.widget[data-kind="alarm"] .state').all_inner_texts()
    assert set(states) <= {"OK", "ALARM", "INSUFFICIENT_DATA"}
    # AND it refreshes by itself
    await expect(page.locator("body")).not_to_have_attribute(
        "data-refreshes", "1", timeout=TIMEOUT_MS
    )
    screenshot = tmp_path / "cloudwatch-dashboard.png"
    await page.screenshot(path=str(screenshot), full_page=True)
    print(f"cloudwatch dashboard screenshot: {screenshot}")
    assert screenshot.stat().st_size > 0
