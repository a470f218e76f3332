"""The live dashboard in headless Chromium against the local cloud.

The page is opened from the exported `dashboard_url`, subscribes through its own form, and only
then are ticks ingested: what the page shows arrived over the WebSocket after it opened. Waits
are Playwright's (bounded, on DOM state), never sleeps; assertions are on the DOM, not on pixels.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.ticks import ingest, make_ticks, new_symbol

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
"""Bound on each wait (the local cloud delivers a tick in well under a second)."""


async def _connected(page: Page) -> None:
    status = page.locator("#status")
    await expect(status).to_have_attribute("data-state", "open", timeout=TIMEOUT_MS)


async def _open(page: Page, cloud: CloudProcess) -> None:
    url = cloud.outputs[outputs.DASHBOARD_URL]
    assert url.startswith(f"{cloud.state['gateway_url']}/dashboard/?")
    reply = await page.goto(url)
    assert reply is not None
    assert reply.ok, reply.status
    await _connected(page)


async def _subscribe(page: Page, symbol: str) -> None:
    await page.fill("#symbol-input", symbol)
    await page.click("#subscribe-button")
    # The panel appears on the server's reply: the subscription is stored when it shows.
    await page.wait_for_selector(f'section[data-symbol="{symbol}"]', timeout=TIMEOUT_MS)


async def test_dashboard_shows_ticks_ingested_after_it_opened(
    page: Page, local_cloud: CloudProcess, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    symbol, other = new_symbol(), new_symbol()
    await _open(page, local_cloud)
    await _subscribe(page, symbol)
    panel = page.locator(f'section[data-symbol="{symbol}"]')
    await expect(panel.locator("tbody tr")).to_have_count(0)

    ticks = make_ticks(symbol, 12)
    status, body = await ingest(http, local_cloud, [*ticks, *make_ticks(other, 3)])
    assert status == 200, body

    rows = panel.locator("tbody tr")
    await expect(rows).to_have_count(len(ticks), timeout=TIMEOUT_MS)
    prices = await panel.locator("tbody td.price").all_inner_texts()
    assert sorted(prices) == sorted(t["price"] for t in ticks)  # the exact decimal text
    stamps = [int(s) for s in await rows.evaluate_all("rs => rs.map(r => r.dataset.timestamp)")]
    assert sorted(stamps) == sorted(t["timestamp"] for t in ticks)
    newest = max(ticks, key=lambda t: t["timestamp"])
    await expect(panel.locator(".last-price")).to_have_text(newest["price"])
    # uPlot drew the chart (a canvas sized to the panel), and no other symbol got a panel.
    await expect(panel.locator(".chart canvas")).to_have_count(1)
    await expect(page.locator(f'section[data-symbol="{other}"]')).to_have_count(0)

    screenshot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(screenshot), full_page=True)
    print(f"dashboard screenshot: {screenshot}")
    assert screenshot.stat().st_size > 0

    # Unsubscribing removes the panel (again on the server's reply).
    await page.fill("#symbol-input", symbol)
    await page.click("#unsubscribe-button")
    await expect(panel).to_have_count(0, timeout=TIMEOUT_MS)


async def test_dashboard_without_a_token_asks_for_one(
    page: Page, local_cloud: CloudProcess
) -> None:
    ws_url = local_cloud.outputs[outputs.WS_URL]
    reply = await page.goto(f"{local_cloud.state['gateway_url']}/dashboard/?ws={ws_url}")
    assert reply is not None
    assert reply.ok
    await expect(page.locator("#token-form")).to_be_visible(timeout=TIMEOUT_MS)
    await page.fill("#token-input", local_cloud.outputs[outputs.READ_TOKEN])
    await page.click("#connect-button")
    await _connected(page)
    await expect(page.locator("#token-form")).to_be_hidden()
