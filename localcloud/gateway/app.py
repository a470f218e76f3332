"""The local API gateway: one aiohttp app serving every HTTP, REST and WebSocket API, plus admin.

`/<apiId>/...` goes to the API with that id (HTTP APIs: `$default` stage at the root, named
stages as the first segment; REST and WebSocket APIs: stage first, the latter with its
`@connections` management API under the stage). `/_localcloud/health` and
`/_localcloud/faults` are the admin endpoints (the underscore never occurs in API ids).
`/_localcloud/cloudwatch/dashboards/<name>` draws the program's CloudWatch dashboards from the
local CloudWatch (`cloudwatch`). `/dashboard/` serves the static live dashboard (`dashboard/` of
the project; API ids are 10 characters, so never `dashboard`); on AWS the same files would sit
behind CloudFront.
`/openapi.json` is the APIs' OpenAPI document with this gateway's URLs (`openapi`).
Pollers and the alarm evaluator run as the app's background tasks (`cleanup_ctx`), so they stop
with it; `/_localcloud/alarms` shows each alarm's state (`localcloud.alarms`), and
`/_localcloud/metrics` the metric publisher's counters (POST `.../flush`: put what was recorded
into CloudWatch now).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Final

from aiohttp import web

from localcloud.alarms.evaluator import AlarmEvaluator
from localcloud.faults import (
    HTTP_THROTTLE,
    HTTP_UNAVAILABLE,
    FaultInjector,
    FaultSettingsError,
    parse_settings,
)
from localcloud.gateway.cloudwatch import DashboardConsole
from localcloud.gateway.events import gateway_error
from localcloud.gateway.headersize import oversized
from localcloud.gateway.httpapi import HttpApi
from localcloud.gateway.openapi import OPENAPI_PATH, openapi_handler
from localcloud.gateway.restapi import RestApi
from localcloud.gateway.websocket import WebSocketApi
from localcloud.metrics.publish import MetricPublisher
from localcloud.runtime.functions import LambdaFunction
from localcloud.sources.base import Poller

__all__ = [
    "ADMIN_PREFIX",
    "ALARMS",
    "DASHBOARD_PREFIX",
    "FAULTS",
    "FUNCTIONS",
    "HTTP_APIS",
    "METRICS",
    "POLLERS",
    "REST_APIS",
    "WS_APIS",
    "build_app",
]

ADMIN_PREFIX: Final = "/_localcloud"
DASHBOARD_PREFIX: Final = "/dashboard"

HTTP_APIS: Final = web.AppKey("http_apis", dict[str, HttpApi])
REST_APIS: Final = web.AppKey("rest_apis", dict[str, RestApi])
WS_APIS: Final = web.AppKey("ws_apis", dict[str, WebSocketApi])
FUNCTIONS: Final = web.AppKey("functions", dict[str, LambdaFunction])
"""Each function once, by physical name."""
FAULTS: Final = web.AppKey("faults", FaultInjector)
POLLERS: Final = web.AppKey("pollers", list[Poller])
ALARMS: Final = web.AppKey("alarms", AlarmEvaluator)
METRICS: Final[web.AppKey[MetricPublisher | None]] = web.AppKey("metrics")


async def _dispatch(request: web.Request) -> web.StreamResponse:
    parts = [part for part in request.path.split("/") if part]
    if not parts:
        return gateway_error(404, "Not Found")
    too_large = oversized(request)
    if too_large is not None:
        return too_large
    api_id, rest = parts[0], parts[1:]
    http_api = request.app[HTTP_APIS].get(api_id)
    if http_api is not None:
        faults = request.app[FAULTS]
        if faults.hit(HTTP_THROTTLE):
            return gateway_error(429, "Too Many Requests")
        response = await http_api.handle(request, rest)
        if faults.hit(HTTP_UNAVAILABLE):
            return gateway_error(503, "Service Unavailable")
        return response
    rest_api = request.app[REST_APIS].get(api_id)
    if rest_api is not None:
        return await rest_api.handle(request, rest)
    ws_api = request.app[WS_APIS].get(api_id)
    if ws_api is not None:
        return await ws_api.handle(request, rest)
    return gateway_error(404, "Not Found")


async def _health(request: web.Request) -> web.Response:
    app = request.app
    body = {
        "status": "ok",
        "functions": {
            name: {"invocations": f.invocations, "errors": f.errors}
            for name, f in app[FUNCTIONS].items()
        },
        "pollers": [asdict(p.stats) for p in app[POLLERS]],
        "websocket_connections": {
            api_id: len(api.connections) for api_id, api in app[WS_APIS].items()
        },
        "faults": app[FAULTS].snapshot(),
    }
    return web.json_response(body)


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS].snapshot())


async def _set_faults(request: web.Request) -> web.Response:
    """Validate the whole document first (nothing changes on a 400), then apply it."""
    try:
        document = json.loads(await request.read())
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return _fault_error("the body is not JSON", [("body", "invalid JSON")])
    faults = request.app[FAULTS]
    try:
        settings = parse_settings(document, functions=request.app[FUNCTIONS].keys())
    except FaultSettingsError as exc:
        return _fault_error(str(exc), exc.details)
    faults.apply(settings)
    return web.json_response(faults.snapshot())


def _fault_error(message: str, details: list[tuple[str, str]]) -> web.Response:
    body = {
        "error": "invalid_fault_settings",
        "message": message,
        "details": [{"field": field, "reason": reason} for field, reason in details],
    }
    return web.json_response(body, status=400)


async def _alarms(request: web.Request) -> web.Response:
    alarms = request.app[ALARMS]
    return web.json_response({"local_period_s": alarms.period_s, "alarms": alarms.snapshot()})


async def _metrics(request: web.Request) -> web.Response:
    publisher = request.app[METRICS]
    return web.json_response(publisher.snapshot() if publisher else {"enabled": False})


async def _flush_metrics(request: web.Request) -> web.Response:
    """Put everything recorded so far into CloudWatch now (the current second included)."""
    publisher = request.app[METRICS]
    if publisher is None:
        return web.json_response(
            {"error": "metrics_disabled", "message": "the cloud runs without metrics"},
            status=409,
        )
    sent = await publisher.flush_now(everything=True)
    return web.json_response({"datums": sent, **publisher.snapshot()})


def _add_dashboard(app: web.Application, directory: Path) -> None:
    """`/dashboard/` -> `directory/index.html`, `/dashboard/<file>` -> the file (no listing)."""
    index = directory / "index.html"

    async def redirect(request: web.Request) -> web.StreamResponse:
        query = f"?{request.query_string}" if request.query_string else ""
        raise web.HTTPMovedPermanently(f"{DASHBOARD_PREFIX}/{query}")

    async def page(request: web.Request) -> web.StreamResponse:
        # no-cache: a browser left open across restarts revalidates instead of using stale code.
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.router.add_get(DASHBOARD_PREFIX, redirect)
    app.router.add_get(f"{DASHBOARD_PREFIX}/", page)
    app.router.add_get(f"{DASHBOARD_PREFIX}/index.html", page)
    app.router.add_static(DASHBOARD_PREFIX, directory, show_index=False, follow_symlinks=False)


async def _run_pollers(app: web.Application) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(p.run(), name=f"poller:{p.stats.source}") for p in app[POLLERS]]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _run_alarms(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[ALARMS].run(), name="alarms")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _run_metrics(app: web.Application) -> AsyncIterator[None]:
    publisher = app[METRICS]
    task = asyncio.create_task(publisher.run(), name="metrics") if publisher else None
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _close_websockets(app: web.Application) -> None:
    # Open sockets would hold the runner's cleanup until their handlers return.
    for api in app[WS_APIS].values():
        for connection in list(api.connections.values()):
            await connection.socket.close(code=1001, message=b"Going away")


def build_app(
    *,
    http_apis: Mapping[str, HttpApi],
    rest_apis: Mapping[str, RestApi],
    ws_apis: Mapping[str, WebSocketApi] | None = None,
    functions: Mapping[str, LambdaFunction],
    faults: FaultInjector,
    pollers: list[Poller],
    alarms: AlarmEvaluator | None = None,
    metrics: MetricPublisher | None = None,
    console: DashboardConsole | None = None,
    dashboard_dir: Path | None = None,
) -> web.Application:
    """The gateway application (serving `dashboard_dir` at `/dashboard/` if it has a page)."""
    # No client_max_size beyond API Gateway's own 10 MB payload limit.
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app[HTTP_APIS] = dict(http_apis)
    app[REST_APIS] = dict(rest_apis)
    app[WS_APIS] = dict(ws_apis or {})
    app[FUNCTIONS] = dict(functions)
    app[FAULTS] = faults
    app[POLLERS] = pollers
    app[ALARMS] = alarms if alarms is not None else AlarmEvaluator([])
    app[METRICS] = metrics
    app.router.add_get(f"{ADMIN_PREFIX}/health", _health)
    app.router.add_get(f"{ADMIN_PREFIX}/faults", _get_faults)
    app.router.add_post(f"{ADMIN_PREFIX}/faults", _set_faults)
    app.router.add_get(f"{ADMIN_PREFIX}/alarms", _alarms)
    app.router.add_get(f"{ADMIN_PREFIX}/metrics", _metrics)
    app.router.add_post(f"{ADMIN_PREFIX}/metrics/flush", _flush_metrics)
    app.router.add_get(OPENAPI_PATH, openapi_handler(app[HTTP_APIS], app[REST_APIS]))
    if dashboard_dir is not None and (dashboard_dir / "index.html").is_file():
        _add_dashboard(app, dashboard_dir)
    if console is not None:
        console.add_routes(app, ADMIN_PREFIX)
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    app.cleanup_ctx.append(_run_pollers)
    app.cleanup_ctx.append(_run_alarms)
    app.cleanup_ctx.append(_run_metrics)
    app.on_shutdown.append(_close_websockets)
    return app
