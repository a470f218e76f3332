"""The auth matrix: every route of the stack x every kind of credential, over real HTTP.

Routes: `POST /ingest` (HTTP API, Lambda REQUEST authorizer on `Authorization: Bearer`),
`GET /query`, `/latest`, `/bars` (REST API, `x-api-key` and usage plans), the WebSocket `$connect`
(the ws function checks the read token), the `@connections` management API (SigV4 only) and the
dashboard page (public). Credentials: none, malformed, wrong, right, another stack's (a second
local cloud with its own secrets) and the other routes' (the live-ingest token, the backfill
token, the read token, the query API key): each credential opens only its own route, and the
live-ingest token cannot write history (only the backfill token can).

A refusal must be what API Gateway answers on AWS (gateway refusals: `{"message": ...}` JSON;
the ws function's: `{"error", "message", "details"}`), and must not reach the function behind
the route (its invocation count is unchanged): no tick is written or read without the right
credential. Requests go through `http.client` so that header lines are sent exactly as written
(repeated, raw bytes, 10 KB), which aiohttp's client would normalise or refuse.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import secrets
import string
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest

from infra import outputs
from localcloud.launcher import CloudProcess, LaunchOptions, launch
from tests.functional.cloudproc import STACK_FILE, request_write_calls, stop_cloud
from tests.functional.ticks import make_ticks, new_symbol, read_all

DEADLINE_S = 20.0
"""Bound on every polling wait (each ends on an observed event, not on the clock)."""
OTHER_STACK = "authz"
"""Stack name of the second local cloud: its own token and API keys."""

Header = tuple[str, str | bytes]


@dataclass(frozen=True)
class Secrets:
    """This stack's credentials, the other stack's, and valid-looking values nobody issued."""

    token: str
    """The live-ingest token."""
    key: str
    read_token: str
    backfill_token: str
    other_token: str
    other_key: str
    random_token: str
    random_key: str


@dataclass(frozen=True)
class Case:
    """One credential as a route takes it, and the answer API Gateway gives to it."""

    credential: str
    headers: Callable[[Secrets], list[Header]]
    status: int
    answer: dict[str, str] | str
    """The gateway's exact JSON body, or the function's `error` code (`@connections`: the
    `x-amzn-ErrorType` botocore reads)."""
    params: Callable[[Secrets], list[tuple[str, str]]] = lambda s: []
    warm: bool = False
    """Have the right token's decision cached by the authorizer first."""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, lower-cased headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (fails the test if it is not)."""
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.body)


def _id(case: Case) -> str:
    return case.credential


def _random(length: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
TOO_LARGE = {"message": "Request Header Fields Too Large"}
UNICODE = "tökén-ünïcødé-€-🔑"
INVALID_UTF8 = b"\xff\xfe\xc3("
TEN_KB = "a" * 10_240
NINE_KB = "a" * 9_000
"""Above aiohttp's default 8,190-byte field limit, below API Gateway's 10,240 bytes."""


def _bearer(value: str | bytes) -> list[Header]:
    return [("Authorization", b"Bearer " + (value.encode() if isinstance(value, str) else value))]


def _key(value: str | bytes) -> list[Header]:
    return [("x-api-key", value)]


INGEST_REFUSALS = [
    Case("none", lambda s: [], 401, UNAUTHORIZED),
    Case("empty-header", lambda s: [("Authorization", "")], 401, UNAUTHORIZED),
    Case("malformed-bearer-without-token", lambda s: [("Authorization", "Bearer")], 403, FORBIDDEN),
    Case("malformed-basic", lambda s: [("Authorization", "Basic dXNlcjpwdw==")], 403, FORBIDDEN),
    Case(
        "malformed-token-with-spaces",
        lambda s: _bearer(f"{s.token[:10]} {s.token[10:]}"),
        403,
        FORBIDDEN,
    ),
    Case("malformed-unicode-token", lambda s: _bearer(UNICODE), 403, FORBIDDEN),
    Case("malformed-invalid-utf8-token", lambda s: _bearer(INVALID_UTF8), 403, FORBIDDEN),
    Case("malformed-9kb-token", lambda s: _bearer(NINE_KB), 403, FORBIDDEN),
    Case("malformed-10kb-token", lambda s: _bearer(TEN_KB), 431, TOO_LARGE),
    Case("malformed-header-repeated", lambda s: _bearer(s.token) * 2, 403, FORBIDDEN),
    Case(
        "malformed-right-then-wrong-header-cached-right",
        lambda s: _bearer(s.token) + _bearer(s.random_token),
        403,
        FORBIDDEN,
        warm=True,
    ),
    Case("wrong", lambda s: _bearer(s.random_token), 403, FORBIDDEN),
    Case("other-stack-token", lambda s: _bearer(s.other_token), 403, FORBIDDEN),
    Case("wrong-api-query-key-as-bearer", lambda s: _bearer(s.key), 403, FORBIDDEN),
    Case("wrong-api-token-as-x-api-key", lambda s: _key(s.token), 401, UNAUTHORIZED),
    Case("wrong-api-read-token-as-bearer", lambda s: _bearer(s.read_token), 403, FORBIDDEN),
]

QUERY_REFUSALS = [
    Case("none", lambda s: [], 403, FORBIDDEN),
    Case("empty-key", lambda s: _key(""), 403, FORBIDDEN),
    Case("malformed-odd-characters", lambda s: _key("../%00;' OR '1'='1 <k>"), 403, FORBIDDEN),
    Case("malformed-unicode-key", lambda s: _key(UNICODE.encode()), 403, FORBIDDEN),
    Case("malformed-invalid-utf8-key", lambda s: _key(INVALID_UTF8), 403, FORBIDDEN),
    Case("malformed-10kb-key", lambda s: _key(TEN_KB), 431, TOO_LARGE),
    Case("malformed-key-repeated", lambda s: _key(s.key) * 2, 403, FORBIDDEN),
    Case("malformed-key-as-bearer", lambda s: _bearer(s.key), 403, FORBIDDEN),
    Case(
        "malformed-key-in-query-string",
        lambda s: [],
        403,
        FORBIDDEN,
        params=lambda s: [("api_key", s.key), ("x-api-key", s.key)],
    ),
    Case("wrong", lambda s: _key(s.random_key), 403, FORBIDDEN),
    Case("other-stack-key", lambda s: _key(s.other_key), 403, FORBIDDEN),
    Case("wrong-api-ingest-token-as-key", lambda s: _key(s.token), 403, FORBIDDEN),
    Case("wrong-api-backfill-token-as-key", lambda s: _key(s.backfill_token), 403, FORBIDDEN),
    Case("wrong-api-read-token-as-key", lambda s: _key(s.read_token), 403, FORBIDDEN),
]
QUERY_ROUTES = ("query", "latest", "bars")


def _token_param(value: Callable[[Secrets], str]) -> Callable[[Secrets], list[tuple[str, str]]]:
    return lambda s: [("token", value(s))]


WS_REFUSALS = [
    Case("none", lambda s: [], 401, "unauthorized"),
    Case("empty-token-param", lambda s: [], 401, "unauthorized", _token_param(lambda s: "")),
    Case(
        "malformed-bearer-without-token",
        lambda s: [("Authorization", "Bearer")],
        401,
        "unauthorized",
    ),
    Case(
        "malformed-basic", lambda s: [("Authorization", "Basic dXNlcjpwdw==")], 401, "unauthorized"
    ),
    Case(
        "malformed-token-with-spaces",
        lambda s: [],
        403,
        "forbidden",
        _token_param(lambda s: f"{s.read_token[:10]} {s.read_token[10:]}"),
    ),
    Case(
        "malformed-unicode-token", lambda s: [], 403, "forbidden", _token_param(lambda s: UNICODE)
    ),
    Case("malformed-invalid-utf8-bearer", lambda s: _bearer(INVALID_UTF8), 403, "forbidden"),
    Case("malformed-10kb-token", lambda s: [], 431, TOO_LARGE, _token_param(lambda s: TEN_KB)),
    Case(
        "malformed-token-param-repeated",
        lambda s: [],
        403,
        "forbidden",
        lambda s: [("token", s.read_token), ("token", s.read_token)],
    ),
    Case("malformed-bearer-repeated", lambda s: _bearer(s.read_token) * 2, 403, "forbidden"),
    Case("wrong", lambda s: [], 403, "forbidden", _token_param(lambda s: s.random_token)),
    Case(
        "other-stack-token", lambda s: [], 403, "forbidden", _token_param(lambda s: s.other_token)
    ),
    Case(
        "wrong-api-query-key-as-token",
        lambda s: [],
        403,
        "forbidden",
        _token_param(lambda s: s.key),
    ),
    # Watching takes the read token only: the tokens that write are refused.
    Case("wrong-api-ingest-token", lambda s: [], 403, "forbidden", _token_param(lambda s: s.token)),
    Case("wrong-api-ingest-token-as-bearer", lambda s: _bearer(s.token), 403, "forbidden"),
    Case(
        "wrong-api-backfill-token",
        lambda s: [],
        403,
        "forbidden",
        _token_param(lambda s: s.backfill_token),
    ),
]

MISSING_SIGNATURE = "MissingAuthenticationTokenException"
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
CONNECTIONS_REFUSALS: list[tuple[str, Case]] = [
    ("POST", Case("post-unsigned", lambda s: [], 403, MISSING_SIGNATURE)),
    ("GET", Case("get-unsigned", lambda s: [], 403, MISSING_SIGNATURE)),
    ("DELETE", Case("delete-unsigned", lambda s: [], 403, MISSING_SIGNATURE)),
    (
        "POST",
        Case("post-ingest-token-as-bearer", lambda s: _bearer(s.token), 403, INCOMPLETE_SIGNATURE),
    ),
    (
        "POST",
        Case(
            "post-malformed-sigv4",
            lambda s: [
                ("Authorization", "AWS4-HMAC-SHA256 garbage"),
                ("X-Amz-Date", "20260101T000000Z"),
            ],
            403,
            INCOMPLETE_SIGNATURE,
        ),
    ),
    ("POST", Case("post-query-key", lambda s: _key(s.key), 403, MISSING_SIGNATURE)),
]


def _request(method: str, url: str, headers: list[Header], body: bytes | None = None) -> Reply:
    """One request with exactly these header lines (repeats and raw bytes kept)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.putrequest(
            method,
            parts.path + (f"?{parts.query}" if parts.query else ""),
            skip_accept_encoding=True,
        )
        for name, value in headers:
            connection.putheader(name, value.encode() if isinstance(value, str) else value)
        if body is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        found = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, found, response.read())
    finally:
        connection.close()


async def _call(method: str, url: str, headers: list[Header], body: bytes | None = None) -> Reply:
    return await asyncio.to_thread(_request, method, url, headers, body)


def _with_params(url: str, params: list[tuple[str, str]]) -> str:
    """`url` with `params` added to its query string."""
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _assert_refused(reply: Reply, case: Case) -> None:
    """The status and JSON body API Gateway (or the function, for WebSocket) gives."""
    assert reply.status == case.status, reply
    body = reply.json()
    if isinstance(case.answer, dict):
        assert body == case.answer
    else:
        assert body["error"] == case.answer
        assert {"error", "message", "details"} <= set(body)


def _function_ids(cloud: CloudProcess) -> dict[str, str]:
    return {
        r["name"]: r["id"]
        for r in cloud.state["resources"]
        if r["type"] == "aws:lambda/function:Function"
    }


@dataclass(frozen=True)
class Counters:
    """From the gateway: invocations per function (by logical name), DynamoDB write calls made
    for requests (`request_write_calls`), open WebSocket connections."""

    invocations: dict[str, int]
    writes: int
    sockets: int


async def _counters(http: aiohttp.ClientSession, cloud: CloudProcess) -> Counters:
    async with http.get(f"{cloud.admin_url}/health") as reply:
        assert reply.status == 200
        health = await reply.json()
    ids = _function_ids(cloud)
    invocations = {name: health["functions"][fid]["invocations"] for name, fid in ids.items()}
    return Counters(
        invocations,
        request_write_calls(cloud, health["faults"]),
        sum(health["websocket_connections"].values()),
    )


def _assert_no_ticks(reply: Reply, seeded: list[dict[str, Any]]) -> None:
    text = reply.body.decode("utf-8", "replace")
    for leak in ("ticks", "price", "timestamp", seeded[0]["symbol"], *(t["price"] for t in seeded)):
        assert leak not in text, text


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudProcess]:
    """A second local cloud, stack `authz`: same program, its own token and API keys."""
    cloud = launch(
        tmp_path_factory.mktemp("other-stack"),
        LaunchOptions(stack=OTHER_STACK, stack_file=STACK_FILE),
    )
    try:
        yield cloud
    finally:
        stop_cloud(cloud)


@pytest.fixture(scope="module")
def creds(local_cloud: CloudProcess, other_cloud: CloudProcess) -> Secrets:
    """Every credential the matrix uses."""
    return Secrets(
        token=local_cloud.outputs[outputs.INGEST_TOKEN],
        key=local_cloud.api_key("tests"),
        read_token=local_cloud.outputs[outputs.READ_TOKEN],
        backfill_token=local_cloud.outputs[outputs.BACKFILL_TOKEN],
        other_token=other_cloud.outputs[outputs.INGEST_TOKEN],
        other_key=other_cloud.api_key("tests"),
        random_token=_random(len(local_cloud.outputs[outputs.INGEST_TOKEN])),
        random_key=_random(len(local_cloud.api_key("tests"))),
    )


@pytest.fixture(scope="module")
async def seeded(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets
) -> list[dict[str, Any]]:
    """Ticks of a fresh symbol, stored, so that a leak in a refused read would be visible."""
    ticks = make_ticks(new_symbol(), 5)
    reply = await _call(
        "POST",
        local_cloud.outputs[outputs.INGEST_URL],
        _bearer(creds.token),
        json.dumps({"ticks": ticks}).encode(),
    )
    assert (reply.status, reply.json()) == (200, {"accepted": 5})
    return ticks


def _read_url(cloud: CloudProcess, route: str, ticks: list[dict[str, Any]]) -> str:
    stamps = [t["timestamp"] for t in ticks]
    params = {"symbol": ticks[0]["symbol"]}
    if route == "bars":
        params |= {"interval": "1m", "from": str(min(stamps) - 60_000), "to": str(max(stamps))}
    return f"{cloud.outputs[outputs.QUERY_BASE_URL]}/{route}?{urlencode(params)}"


def _ws_http_url(cloud: CloudProcess) -> str:
    return str(cloud.outputs[outputs.WS_URL]).replace("ws://", "http://", 1)


def _handshake() -> list[Header]:
    """The headers of a WebSocket opening handshake (RFC 6455)."""
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
    ]


# -- ingest -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", INGEST_REFUSALS, ids=_id)
async def test_ingest_refuses_without_the_right_token_and_writes_nothing(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets, case: Case
) -> None:
    # GIVEN a valid batch of a symbol nobody else writes
    symbol = new_symbol()
    body = json.dumps({"ticks": make_ticks(symbol, 3)}).encode()
    url = local_cloud.outputs[outputs.INGEST_URL]
    if case.warm:
        # ... and the right token's "allowed" in the authorizer cache (an empty batch: 400)
        warm = await _call("POST", url, _bearer(creds.token), b'{"ticks": []}')
        assert (warm.status, warm.json()["error"]) == (400, "invalid_body")
    before = await _counters(http, local_cloud)
    # WHEN it is posted with this credential
    reply = await _call("POST", url, case.headers(creds), body)
    # THEN API Gateway refuses it, the ingest function never ran, nothing was written
    _assert_refused(reply, case)
    after = await _counters(http, local_cloud)
    assert after.invocations["ingest-ingest-fn"] == before.invocations["ingest-ingest-fn"]
    assert after.writes == before.writes
    assert await read_all(http, local_cloud, symbol) == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_ingest_with_the_right_token_writes_the_ticks(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets, scheme: str
) -> None:
    symbol = new_symbol()
    ticks = make_ticks(symbol, 3)
    reply = await _call(
        "POST",
        local_cloud.outputs[outputs.INGEST_URL],
        [("Authorization", f"{scheme} {creds.token}")],
        json.dumps({"ticks": ticks}).encode(),
    )
    assert (reply.status, reply.json()) == (200, {"accepted": 3})
    stored = await read_all(http, local_cloud, symbol)
    assert [(t["timestamp"], t["price"]) for t in stored] == [
        (t["timestamp"], t["price"]) for t in ticks
    ]


HISTORY_MS = 30 * 86_400_000
"""A month back: outside the live window (7 days), inside what the backfill token may write."""


async def test_only_the_backfill_token_writes_history_and_none_writes_the_future(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets
) -> None:
    # GIVEN ticks of a month ago, and one a minute ahead of now
    symbol = new_symbol()
    old = make_ticks(symbol, 3, start_ms=int(time.time() * 1000) - HISTORY_MS)
    ahead = make_ticks(symbol, 1, start_ms=int(time.time() * 1000) + 60_000)
    url = local_cloud.outputs[outputs.INGEST_URL]
    before = await _counters(http, local_cloud)
    # WHEN the live-ingest token sends the old ones, THEN they are refused and nothing is written
    reply = await _call("POST", url, _bearer(creds.token), json.dumps({"ticks": old}).encode())
    assert (reply.status, reply.json()["error"]) == (400, "invalid_tick")
    assert "older than the accepted window" in reply.json()["details"][0]["reason"]
    assert (await _counters(http, local_cloud)).writes == before.writes
    # ... the backfill token refuses the future one (not in the live window's 5 minutes either)
    reply = await _call(
        "POST", url, _bearer(creds.backfill_token), json.dumps({"ticks": ahead}).encode()
    )
    assert (reply.status, reply.json()["details"][0]["field"]) == (400, "timestamp")
    # ... and stores history, as the query API shows
    reply = await _call(
        "POST", url, _bearer(creds.backfill_token), json.dumps({"ticks": old}).encode()
    )
    assert (reply.status, reply.json()) == (200, {"accepted": 3})
    stored = await read_all(http, local_cloud, symbol)
    assert [(t["timestamp"], t["price"]) for t in stored] == [
        (t["timestamp"], t["price"]) for t in old
    ]


# -- query, latest, bars ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "case"),
    [(route, case) for route in QUERY_ROUTES for case in QUERY_REFUSALS],
    ids=[f"{route}-{case.credential}" for route in QUERY_ROUTES for case in QUERY_REFUSALS],
)
async def test_reads_are_refused_without_the_right_key_and_read_nothing(
    local_cloud: CloudProcess,
    http: aiohttp.ClientSession,
    creds: Secrets,
    seeded: list[dict[str, Any]],
    route: str,
    case: Case,
) -> None:
    # GIVEN a symbol with stored ticks
    url = _read_url(local_cloud, route, seeded)
    before = await _counters(http, local_cloud)
    # WHEN it is read with this key
    reply = await _call("GET", _with_params(url, case.params(creds)), case.headers(creds))
    # THEN API Gateway refuses, the query function never ran, and no tick is in the answer
    _assert_refused(reply, case)
    _assert_no_ticks(reply, seeded)
    after = await _counters(http, local_cloud)
    assert after.invocations["query-query-fn"] == before.invocations["query-query-fn"]


@pytest.mark.parametrize("route", QUERY_ROUTES)
async def test_reads_with_the_right_key_return_the_seeded_ticks(
    local_cloud: CloudProcess, creds: Secrets, seeded: list[dict[str, Any]], route: str
) -> None:
    reply = await _call("GET", _read_url(local_cloud, route, seeded), _key(creds.key))
    assert reply.status == 200, reply
    _assert_seeded(route, reply.json(), seeded)


def _assert_seeded(route: str, body: dict[str, Any], seeded: list[dict[str, Any]]) -> None:
    """The answer of `route` holds exactly the seeded ticks."""
    if route == "query":
        assert [(t["timestamp"], t["price"]) for t in body["ticks"]] == [
            (t["timestamp"], t["price"]) for t in seeded
        ]
    elif route == "latest":
        assert (body["tick"]["timestamp"], body["tick"]["price"]) == (
            seeded[-1]["timestamp"],
            seeded[-1]["price"],
        )
    else:
        assert sum(bar["count"] for bar in body["bars"]) == len(seeded)


# -- usage plans: quota and throttle ----------------------------------------------------------


async def test_quota_exhaustion_is_429_limit_exceeded_for_that_key_only(
    local_cloud: CloudProcess,
    http: aiohttp.ClientSession,
    creds: Secrets,
    seeded: list[dict[str, Any]],
) -> None:
    # GIVEN the client whose plan allows 3 requests a day, having used them
    quota_key = _key(local_cloud.api_key("quota-client"))
    for _ in range(3):
        reply = await _call("GET", _read_url(local_cloud, "latest", seeded), quota_key)
        assert reply.status == 200, reply
    before = await _counters(http, local_cloud)
    # WHEN it reads again, on every route (the quota is the key's, not the route's)
    refused = [
        await _call("GET", _read_url(local_cloud, route, seeded), quota_key)
        for route in QUERY_ROUTES
    ]
    # THEN each is API Gateway's quota answer, with no tick, and the function never ran
    for reply in refused:
        assert (reply.status, reply.json()) == (429, {"message": "Limit Exceeded"})
        _assert_no_ticks(reply, seeded)
    after = await _counters(http, local_cloud)
    assert after.invocations["query-query-fn"] == before.invocations["query-query-fn"]
    # ... while another client within its limits still reads the ticks
    reply = await _call("GET", _read_url(local_cloud, "query", seeded), _key(creds.key))
    assert reply.status == 200
    _assert_seeded("query", reply.json(), seeded)


async def test_throttling_is_429_too_many_requests_for_that_key_only(
    local_cloud: CloudProcess, creds: Secrets, seeded: list[dict[str, Any]]
) -> None:
    # GIVEN the client whose plan allows 1 request/s with a burst of 1
    throttled_key = _key(local_cloud.api_key("throttle-client"))
    url = _read_url(local_cloud, "latest", seeded)
    # WHEN it fires bursts of concurrent requests (until one is throttled: a bounded wait)
    replies: list[Reply] = []
    deadline = time.monotonic() + DEADLINE_S
    while not any(r.status == 429 for r in replies):
        assert time.monotonic() < deadline, [r.status for r in replies]
        replies += await asyncio.gather(*(_call("GET", url, throttled_key) for _ in range(8)))
    # THEN the refused ones are API Gateway's throttle answer, with no tick
    assert {r.status for r in replies} <= {200, 429}
    for reply in (r for r in replies if r.status == 429):
        assert reply.json() == {"message": "Too Many Requests"}
        _assert_no_ticks(reply, seeded)
    # ... another client within its limits still reads
    reply = await _call("GET", url, _key(creds.key))
    assert reply.status == 200
    _assert_seeded("latest", reply.json(), seeded)
    # ... and the throttled client reads again once its bucket refills (polled, bounded)
    deadline = time.monotonic() + DEADLINE_S
    while (reply := await _call("GET", url, throttled_key)).status == 429:
        assert time.monotonic() < deadline, "the throttled key never recovered"
        await asyncio.sleep(0.2)  # polling interval of a bounded wait
    assert reply.status == 200
    _assert_seeded("latest", reply.json(), seeded)


# -- WebSocket $connect -----------------------------------------------------------------------


@pytest.mark.parametrize("case", WS_REFUSALS, ids=_id)
async def test_websocket_connect_is_refused_without_the_right_token(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets, case: Case
) -> None:
    before = await _counters(http, local_cloud)
    # WHEN a client opens the WebSocket with this credential
    reply = await _call(
        "GET",
        _with_params(_ws_http_url(local_cloud), case.params(creds)),
        _handshake() + case.headers(creds),
    )
    # THEN the upgrade is refused with the status and a JSON body, and no connection is recorded
    _assert_refused(reply, case)
    after = await _counters(http, local_cloud)
    assert after.writes == before.writes  # $connect registers a connection with a PutItem
    assert after.sockets <= before.sockets  # (a socket of an earlier test may still be closing)


@pytest.mark.parametrize("where", ["query-string", "bearer-header"])
async def test_websocket_connect_with_the_right_token_subscribes(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets, where: str
) -> None:
    params = {"token": creds.read_token} if where == "query-string" else {}
    headers = {"Authorization": f"Bearer {creds.read_token}"} if where == "bearer-header" else {}
    symbol = new_symbol()
    async with http.ws_connect(
        local_cloud.outputs[outputs.WS_URL], params=params, headers=headers
    ) as ws:
        await ws.send_json({"action": "subscribe", "symbols": [symbol]})
        reply = await asyncio.wait_for(ws.receive_json(), DEADLINE_S)
    assert reply == {"action": "subscribe", "symbols": [symbol]}


# -- @connections (management API) ------------------------------------------------------------


def _connection_ids(cloud: CloudProcess) -> set[str]:
    table = next(
        r["id"]
        for r in cloud.state["resources"]
        if r["type"] == "aws:dynamodb/table:Table" and r["name"] == "fanout-connections"
    )
    items = cloud.aws("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["connection_id"]["S"] for item in items}


@dataclass
class Target:
    """An open WebSocket client and its connection id."""

    ws: aiohttp.ClientWebSocketResponse
    connection_id: str
    url: str


@pytest.fixture
async def target(
    local_cloud: CloudProcess, http: aiohttp.ClientSession, creds: Secrets
) -> AsyncIterator[Target]:
    """A client connected with the right token (its id found in the connections table)."""
    before = await asyncio.to_thread(_connection_ids, local_cloud)
    ws = await http.ws_connect(
        local_cloud.outputs[outputs.WS_URL], params={"token": creds.read_token}
    )
    try:
        [connection_id] = await asyncio.to_thread(_connection_ids, local_cloud) - before
        yield Target(ws, connection_id, f"{_ws_http_url(local_cloud)}/@connections/{connection_id}")
    finally:
        await ws.close()


async def _post_signed(cloud: CloudProcess, connection_id: str, data: bytes) -> None:
    client = cloud.aws("apigatewaymanagementapi", endpoint_url=_ws_http_url(cloud))
    await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=data)


@pytest.mark.parametrize(
    ("method", "case"), CONNECTIONS_REFUSALS, ids=[c.credential for _, c in CONNECTIONS_REFUSALS]
)
async def test_connections_api_refuses_unsigned_calls(
    local_cloud: CloudProcess, creds: Secrets, target: Target, method: str, case: Case
) -> None:
    # WHEN the management API is called for a live connection without a SigV4 signature
    body = b'{"type": "ticks", "ticks": [{"price": "1"}]}' if method == "POST" else None
    reply = await _call(method, target.url, case.headers(creds), body)
    # THEN API Gateway's 403 with a JSON body and the error type botocore reads
    assert (reply.status, reply.headers["x-amzn-errortype"]) == (403, case.answer), reply
    message = reply.json()["message"]
    if case.answer == MISSING_SIGNATURE:
        assert message == "Missing Authentication Token"
    else:
        assert message.startswith("Authorization header requires")
    # ... and the client got nothing and is still connected: the next (signed) push is the first
    await _post_signed(local_cloud, target.connection_id, b"marker")
    message = await asyncio.wait_for(target.ws.receive(), DEADLINE_S)
    assert message.data == "marker"


async def test_connections_api_serves_signed_calls(
    local_cloud: CloudProcess, target: Target
) -> None:
    client = local_cloud.aws("apigatewaymanagementapi", endpoint_url=_ws_http_url(local_cloud))
    described = await asyncio.to_thread(client.get_connection, ConnectionId=target.connection_id)
    assert {"ConnectedAt", "Identity", "LastActiveAt"} <= set(described)
    await _post_signed(local_cloud, target.connection_id, b'{"hello": 1}')
    assert await asyncio.wait_for(target.ws.receive_json(), DEADLINE_S) == {"hello": 1}


# -- dashboard, and the other stack -----------------------------------------------------------


async def test_dashboard_page_is_public_and_holds_no_credential(
    local_cloud: CloudProcess, creds: Secrets
) -> None:
    # The page is static (on AWS: CloudFront); data needs the token, which the page asks for.
    reply = await _call("GET", f"{local_cloud.state['gateway_url']}/dashboard/", [])
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    page = reply.body.decode()
    assert creds.token not in page and creds.read_token not in page
    assert not any(key in page for key in local_cloud.state["api_keys"].values())


async def test_the_other_stack_has_its_own_secrets_which_work_there(
    local_cloud: CloudProcess,
    other_cloud: CloudProcess,
    http: aiohttp.ClientSession,
    creds: Secrets,
) -> None:
    # GIVEN two stacks of the same program: different names, different secrets
    assert other_cloud.state["stack"] == OTHER_STACK != local_cloud.state["stack"]
    assert creds.other_token != creds.token
    assert set(other_cloud.state["api_keys"].values()).isdisjoint(
        local_cloud.state["api_keys"].values()
    )
    # WHEN the other stack's credentials are used on their own stack
    ticks = make_ticks(new_symbol(), 2)
    reply = await _call(
        "POST",
        other_cloud.outputs[outputs.INGEST_URL],
        _bearer(creds.other_token),
        json.dumps({"ticks": ticks}).encode(),
    )
    # THEN they work there (so their refusal here is about the stack, not a dead value) ...
    assert (reply.status, reply.json()) == (200, {"accepted": 2})
    reply = await _call("GET", _read_url(other_cloud, "query", ticks), _key(creds.other_key))
    assert reply.status == 200
    _assert_seeded("query", reply.json(), ticks)
    # ... and this stack's credentials are refused there
    reply = await _call(
        "POST", other_cloud.outputs[outputs.INGEST_URL], _bearer(creds.token), b"{}"
    )
    assert (reply.status, reply.json()) == (403, FORBIDDEN)
    reply = await _call("GET", _read_url(other_cloud, "query", ticks), _key(creds.key))
    assert (reply.status, reply.json()) == (403, FORBIDDEN)
