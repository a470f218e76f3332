"""`python -m localcloud demo`: start the local cloud, send a short scripted run, stop.

The traffic goes through the real HTTP endpoints the program exports, so the demo shows the
whole chain: authorizer, ingest, table, query API with its API key. (The load generator will
drive the heavier run here.)
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

import aiohttp

from infra import outputs
from localcloud.cloud import CloudOptions, LocalCloud

__all__ = ["run_demo"]

_SYMBOLS: Final = ("AAPL", "MSFT", "ETH-USD")
_REQUESTS: Final = 30
_TICKS_PER_REQUEST: Final = 20


def _batch(seq: int, now_ms: int) -> dict[str, Any]:
    return {
        "ticks": [
            {
                "symbol": _SYMBOLS[(seq + i) % len(_SYMBOLS)],
                "price": f"{100 + (seq * 7 + i) % 50}.{(seq + i) % 100:02d}",
                "timestamp": now_ms - 60_000 + seq * _TICKS_PER_REQUEST + i,
                "size": str(1 + i % 5),
            }
            for i in range(_TICKS_PER_REQUEST)
        ]
    }


async def run_demo(options: CloudOptions) -> int:
    """Run the demo; 0 if every step answered as expected."""
    async with LocalCloud(options) as cloud:
        out = cloud.outputs
        print(f"localcloud demo: up in {cloud.startup_s:.2f} s on {cloud.gateway_url}")
        for note in cloud.notes:
            print(f"  note: {note}")
        ingest_url, query_url = out[outputs.INGEST_URL], out[outputs.QUERY_BASE_URL]
        auth = {"Authorization": f"Bearer {out[outputs.INGEST_TOKEN]}"}
        key = {"x-api-key": out[outputs.QUERY_API_KEY]}
        ok = True
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            now = int(time.time() * 1000)
            began = time.monotonic()
            statuses: dict[int, int] = {}
            for seq in range(_REQUESTS):
                async with http.post(ingest_url, json=_batch(seq, now), headers=auth) as reply:
                    statuses[reply.status] = statuses.get(reply.status, 0) + 1
            took = time.monotonic() - began
            sent = _REQUESTS * _TICKS_PER_REQUEST
            print(f"POST /ingest x{_REQUESTS} ({sent} ticks) in {took:.2f} s -> {statuses}")
            ok &= statuses.get(200, 0) == _REQUESTS
            async with http.post(
                ingest_url, json={"ticks": [{"symbol": "AAPL"}]}, headers=auth
            ) as reply:
                print(f"POST /ingest with a bad tick -> {reply.status} {await reply.text()}")
                ok &= reply.status == 400
            async with http.post(ingest_url, json=_batch(0, now)) as reply:
                print(f"POST /ingest without a token -> {reply.status}")
                ok &= reply.status == 401
            for path, params in (
                ("query", {"symbol": "AAPL", "limit": "3"}),
                ("latest", {"symbol": "MSFT"}),
                (
                    "bars",
                    {
                        "symbol": "ETH-USD",
                        "interval": "1m",
                        "from": str(now - 120_000),
                        "to": str(now),
                    },
                ),
            ):
                async with http.get(f"{query_url}/{path}", params=params, headers=key) as reply:
                    body = await reply.json()
                    print(f"GET /{path} {params} -> {reply.status} {json.dumps(body)[:160]}")
                    ok &= reply.status == 200
            async with http.get(f"{query_url}/latest", params={"symbol": "AAPL"}) as reply:
                print(f"GET /latest without an API key -> {reply.status}")
                ok &= reply.status == 403
    print("localcloud demo: stopped;", "all steps as expected" if ok else "SOME STEPS FAILED")
    return 0 if ok else 1
