"""Fixtures shared by the functional and browser tests: one local cloud per session, real HTTP.

Like an e2e fixture that deploys a stack: start it, yield its outputs, tear it down in `finally`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from localcloud.launcher import CloudProcess, LaunchOptions, launch
from tests.functional.cloudproc import STACK_FILE, stop_cloud


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudProcess]:
    """`python -m localcloud up` with the tests' stack file, for the whole session."""
    cloud = launch(tmp_path_factory.mktemp("localcloud"), LaunchOptions(stack_file=STACK_FILE))
    try:
        yield cloud
    finally:
        stop_cloud(cloud)


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP client for the session, with explicit limits (docs/architecture.md, Pitfalls)."""
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=30, connect=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session
