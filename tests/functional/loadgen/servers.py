"""Small aiohttp servers that mimic the MarketStream APIs, for the load generator's tests.

Every server binds 127.0.0.1 on an ephemeral port and is stopped when its context exits.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from loadgen.config import LoadConfig
from loadgen.report import build_summary
from loadgen.runner import Worker, WorkerSpec
from loadgen.stats import MergedStats
from loadgen.targets import Targets

TOKEN = "test-token"
API_KEY = "test-key"
RUN_ID = "t3st"


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1:0 and yield its base URL; stop it on exit."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepted(body: bytes) -> web.Response:
    ticks = json.loads(body)["ticks"]
    return web.json_response({"accepted": len(ticks)})


def delay_app(delay_s: float) -> web.Application:
    """POST /ingest answers 200 after a fixed delay."""

    async def ingest(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(delay_s)
        return _accepted(body)

    app = web.Application()
    app.router.add_post("/ingest", ingest)
    return app


def stall_app(*, after_s: float, stall_s: float) -> web.Application:
    """POST /ingest answers at once, except that every request arriving during one window of
    `stall_s` seconds (opened by the first request `after_s` after the first one) is held until
    the window closes. The window is closed by the server's own timer, not by the test."""
    released = asyncio.Event()
    released.set()
    state: dict[str, float | bool] = {"first": 0.0, "stalled": False}

    async def ingest(request: web.Request) -> web.Response:
        body = await request.read()
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not state["first"]:
            state["first"] = now
        elif not state["stalled"] and now - float(state["first"]) >= after_s:
            state["stalled"] = True
            released.clear()
            loop.call_later(stall_s, released.set)
        await released.wait()
        return _accepted(body)

    app = web.Application()
    app.router.add_post("/ingest", ingest)
    return app


def chaos_app(*, hang_s: float) -> web.Application:
    """POST /ingest rotates through five answers: 500, bad JSON, a hang, a reset, success."""
    counter = {"n": 0}

    async def ingest(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        turn = counter["n"] % 5
        counter["n"] += 1
        if turn == 0:
            return web.json_response({"error": "boom", "message": "x", "details": []}, status=500)
        if turn == 1:
            return web.Response(body=b"{not json", content_type="application/json")
        if turn == 2:
            await asyncio.sleep(hang_s)
        if turn == 3:
            assert request.transport is not None
            request.transport.abort()  # the client sees the connection die mid-request
        return _accepted(body)

    app = web.Application()
    app.router.add_post("/ingest", ingest)
    return app


@dataclass
class FakeApi:
    """Ingest + query API with an in-memory store; can drop or duplicate the n-th stored tick."""

    drop_nth: int | None = None
    duplicate_nth: int | None = None
    page_cap: int = 7
    """Largest page it serves, whatever `limit` asks, so that verify has to follow cursors."""
    stored: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seen: int = 0

    def app(self) -> web.Application:
        """The aiohttp application serving /ingest, /query, /latest and /bars."""
        app = web.Application()
        app.router.add_post("/ingest", self._ingest)
        app.router.add_get("/api/query", self._query)
        app.router.add_get("/api/latest", self._latest)
        app.router.add_get("/api/bars", self._bars)
        return app

    async def _ingest(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        ticks = json.loads(await request.read())["ticks"]
        for tick in ticks:
            index = self.seen
            self.seen += 1
            if index == self.drop_nth:
                continue
            copies = 2 if index == self.duplicate_nth else 1
            self.stored.setdefault(tick["symbol"], []).extend([tick] * copies)
        return web.json_response({"accepted": len(ticks)})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-api-key") == API_KEY

    async def _query(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Forbidden"}, status=403)
        q = request.query
        low, high = int(q["from"]), int(q["to"])
        ticks = sorted(
            (t for t in self.stored.get(q["symbol"], []) if low <= t["timestamp"] <= high),
            key=lambda t: (t["timestamp"], t["id"]),
        )
        if q.get("order") == "desc":
            ticks.reverse()
        start = int(q.get("cursor", "0"))
        limit = min(int(q.get("limit", "100")), self.page_cap)
        page = ticks[start : start + limit]
        more = start + limit < len(ticks)
        return web.json_response(
            {
                "symbol": q["symbol"],
                "ticks": page,
                "next_cursor": str(start + limit) if more else None,
            }
        )

    async def _latest(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Forbidden"}, status=403)
        ticks = self.stored.get(request.query["symbol"], [])
        latest = max(ticks, key=lambda t: t["timestamp"], default=None)
        return web.json_response({"symbol": request.query["symbol"], "tick": latest})

    async def _bars(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Forbidden"}, status=403)
        return web.json_response({"symbol": request.query["symbol"], "interval": "1m", "bars": []})


async def run_in_loop(config: LoadConfig, targets: Targets) -> tuple[MergedStats, dict[str, Any]]:
    """One in-process worker on the current event loop; its merged stats and summary."""
    spec = WorkerSpec(
        config=config, targets=targets, run_id=RUN_ID, base_ms=time.time_ns() // 10**6
    )
    worker = Worker(spec)
    result = await worker.run(start_at=asyncio.get_running_loop().time() + 0.05)
    stats = MergedStats([result], total_requests=worker.schedule.total)
    summary = build_summary(
        config=config,
        targets=targets,
        run_id=RUN_ID,
        started_at="2025-01-01T00:00:00+00:00",
        base_ms=spec.base_ms,
        schedule=worker.schedule,
        stats=stats,
    )
    return stats, summary
