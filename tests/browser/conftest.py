"""Fixtures of the browser tests: Debian's Chromium (installed if missing), driven by Playwright.

Playwright's Python package drives the system browser (`executable_path`); it never downloads one
(`playwright install` is not used). Each test gets a fresh context (no shared cookies or storage);
`launch()` gives the browser its own new, empty profile directory.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Browser, Page, async_playwright

ROOT: Final = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT: Final = ROOT / "scripts" / "install-browser.sh"
CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine's network is closed: without these, Chromium keeps trying Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_TIMEOUT_S: Final = 900


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """`/usr/bin/chromium`, installed by `scripts/install-browser.sh` if missing."""
    done = subprocess.run(  # noqa: S603 - fixed script of the repository
        ["bash", str(INSTALL_SCRIPT)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot install Chromium:\n{done.stdout}{done.stderr}", pytrace=False)
    print(done.stdout.strip())
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a fresh browser context, 1280x900; the page's console errors fail the test."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"the page raised: {errors}"
