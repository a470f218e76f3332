"""The live dashboard in headless Chromium against the local cloud.

The page is opened from the exported `dashboard_url`, subscribes through its own form, and only
then are ticks ingested: what the page shows arrived over the WebSocket after it opened. Waits
are Playwright's (bounded, on DOM state), never sleeps; assertions are on the DOM, not on pixels.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

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


async def test_dashboard_draws_the_last_hours_candles_then_updates_the_newest_live(
    page: Page, local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN ticks of a symbol over the last five whole minutes, six a minute
    symbol = new_symbol()
    now = int(time.time() * 1000)
    first = now // 60_000 * 60_000 - 5 * 60_000
    stamps = [first + i * 10_000 for i in range(30)]
    prices = [f"{100 + i % 7}.{i:02d}" for i in range(30)]
    ticks: list[dict[str, Any]] = [
        {"symbol": symbol, "price": p, "timestamp": t} for p, t in zip(prices, stamps, strict=True)
    ]
    status, body = await ingest(http, local_cloud, ticks)
    assert status == 200, body
    # WHEN the page subscribes to it
    await _open(page, local_cloud)
    await _subscribe(page, symbol)
    panel = page.locator(f'section[data-symbol="{symbol}"]')
    await expect(panel).to_have_attribute("data-candles", "loaded", timeout=TIMEOUT_MS)
    # THEN it draws one candle per minute from /bars, OHLC exact
    candles = panel.locator("svg.candles g.candle")
    await expect(candles).to_have_count(5)
    drawn = await candles.evaluate_all("gs => gs.map(g => ({...g.dataset}))")
    expected: list[dict[str, str]] = []
    for minute in range(5):
        start = first + minute * 60_000
        group = [p for p, t in zip(prices, stamps, strict=True) if t // 60_000 * 60_000 == start]
        expected.append(
            {
                "start": str(start),
                "open": group[0],
                "high": max(group, key=Decimal),
                "low": min(group, key=Decimal),
                "close": group[-1],
                "count": str(len(group)),
            }
        )
    assert drawn == expected
    # WHEN a live tick comes in the newest candle's minute, above its high
    newest = expected[-1]
    live = {"symbol": symbol, "price": "999.5", "timestamp": int(newest["start"]) + 59_999}
    status, body = await ingest(http, local_cloud, [live])
    assert status == 200, body
    # THEN that candle's high, close and count follow; the others stay
    last = candles.last
    await expect(last).to_have_attribute("data-high", "999.5", timeout=TIMEOUT_MS)
    assert await last.get_attribute("data-close") == "999.5"
    assert await last.get_attribute("data-open") == newest["open"]
    assert await last.get_attribute("data-count") == str(int(newest["count"]) + 1)
    await expect(candles).to_have_count(5)
    assert (await candles.evaluate_all("gs => gs.map(g => ({...g.dataset}))"))[:4] == expected[:4]


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
