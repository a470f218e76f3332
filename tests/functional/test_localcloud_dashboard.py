"""The gateway serves the live dashboard's static files at `/dashboard/` (the page itself is
exercised in Chromium by tests/browser)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from infra import outputs
from localcloud.launcher import CloudProcess


def test_dashboard_url_points_at_the_gateway_with_ws_url_and_token(
    local_cloud: CloudProcess,
) -> None:
    url = urlsplit(local_cloud.outputs[outputs.DASHBOARD_URL])
    assert f"{url.scheme}://{url.netloc}" == local_cloud.state["gateway_url"]
    assert url.path == "/dashboard/"
    assert parse_qs(url.query) == {
        "ws": [local_cloud.outputs[outputs.WS_URL]],
        "token": [local_cloud.outputs[outputs.READ_TOKEN]],
        "query": [local_cloud.outputs[outputs.QUERY_BASE_URL]],
        "key": [local_cloud.outputs[outputs.QUERY_API_KEY]],
    }


async def test_gateway_serves_the_page_and_its_files(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    base = f"{local_cloud.state['gateway_url']}/dashboard"
    async with http.get(f"{base}/") as reply:
        assert reply.status == 200
        assert reply.content_type == "text/html"
        assert 'src="app.js"' in await reply.text()
    for name, kind in (
        ("app.js", "javascript"),
        ("style.css", "text/css"),
        ("vendor/uplot/uPlot.iife.min.js", "javascript"),
        ("vendor/uplot/uPlot.min.css", "text/css"),
    ):
        async with http.get(f"{base}/{name}") as reply:
            assert reply.status == 200, name
            assert kind in reply.content_type, (name, reply.content_type)
    async with http.get(base, params={"ws": "x"}, allow_redirects=False) as reply:
        assert reply.status == 301
        assert reply.headers["Location"] == "/dashboard/?ws=x"


async def test_gateway_serves_nothing_else_under_dashboard(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    base = f"{local_cloud.state['gateway_url']}/dashboard"
    for path in ("/vendor/", "/missing.js", "/../pyproject.toml", "/%2e%2e/pyproject.toml"):
        async with http.get(f"{base}{path}") as reply:
            assert reply.status in (403, 404), (path, reply.status)
