"""Helpers of the functional tests: tick batches and reading a symbol back through the API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import aiohttp

from infra import outputs
from localcloud.launcher import CloudProcess


def new_symbol() -> str:
    """A symbol no other test uses."""
    return "T" + uuid.uuid4().hex[:12].upper()


def make_ticks(symbol: str, count: int, *, start_ms: int | None = None) -> list[dict[str, Any]]:
    """`count` ticks one second apart with exact decimal prices (some with trailing zeros)."""
    start = start_ms if start_ms is not None else int(time.time() * 1000) - 3_600_000
    return [
        {
            "symbol": symbol,
            "price": f"{100 + i % 37}.{(i * 7) % 100:02d}0",
            "timestamp": start + i * 1000,
            "size": str(1 + i % 4),
        }
        for i in range(count)
    ]


def auth(cloud: CloudProcess) -> dict[str, str]:
    """Headers that pass the ingest authorizer."""
    return {"Authorization": f"Bearer {cloud.outputs[outputs.INGEST_TOKEN]}"}


def api_key(cloud: CloudProcess) -> dict[str, str]:
    """Headers with the exported query API key."""
    return {"x-api-key": cloud.outputs[outputs.QUERY_API_KEY]}


async def ingest(
    http: aiohttp.ClientSession, cloud: CloudProcess, ticks: list[dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    """POST the ticks; (status, JSON body)."""
    async with http.post(
        cloud.outputs[outputs.INGEST_URL], json={"ticks": ticks}, headers=auth(cloud)
    ) as reply:
        return reply.status, await reply.json()


async def read_all(
    http: aiohttp.ClientSession, cloud: CloudProcess, symbol: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Every stored tick of `symbol`, following cursors."""
    ticks: list[dict[str, Any]] = []
    params = {"symbol": symbol, "limit": str(limit)}
    while True:
        async with http.get(
            f"{cloud.outputs[outputs.QUERY_BASE_URL]}/query", params=params, headers=api_key(cloud)
        ) as reply:
            assert reply.status == 200, await reply.text()
            page = await reply.json()
        ticks.extend(page["ticks"])
        if not page["next_cursor"]:
            return ticks
        params = {**params, "cursor": page["next_cursor"]}
