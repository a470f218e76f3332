"""What the sync and the async client share, without I/O: request bodies, retry decisions, replies.

Each client only moves bytes (`Client`: the standard library's `http.client`; `AsyncClient`:
aiohttp) and sleeps; everything they must agree on lives here, once.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from marketstream.errors import ApiError, RetriesExhausted
from marketstream.models import Tick, TimeLike, to_ms, to_tick

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_TICKS",
    "RETRY_STATUSES",
    "Attempt",
    "Request",
    "RetryPolicy",
    "SendResult",
    "batches",
    "ingest_body",
    "ingest_request",
    "ingest_requests",
    "ingest_result",
    "new_key_prefix",
    "query_path",
    "read_reply",
    "read_request",
    "retry_after",
]

MAX_TICKS: Final = 500
"""Ticks per ingest request (the stack's default `maxTicks`)."""
MAX_BODY_BYTES: Final = 256 * 1024
"""Bytes per ingest body (the handler's limit)."""
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth another attempt: with the same Idempotency-Key a retry never duplicates, so a
5xx after a write is as safe to retry as a throttle."""
JSON_HEADERS: Final = {"content-type": "application/json", "accept": "application/json"}
_OPEN: Final = b'{"ticks":['
_CLOSE: Final = b"]}"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; `Retry-After` is honoured up to the cap."""

    attempts: int = 8
    """Attempts per request, the first included."""
    base_s: float = 0.1
    cap_s: float = 5.0
    timeout_s: float = 30.0
    """Per attempt: a request with no answer by then counts as a retryable failure."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError("need 0 < base_s <= cap_s")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        wait = random.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap_s))
        return wait


@dataclass(frozen=True)
class Request:
    """One HTTP request as both clients send it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None


@dataclass
class Attempt:
    """Counts the tries of one request and decides what a failure means."""

    policy: RetryPolicy
    number: int = 0
    last: str = ""

    def failed(self, why: str, retry_after: float | None = None) -> float:
        """Record a retryable failure; the seconds to wait, or RetriesExhausted if none are left."""
        self.last = why
        if self.number >= self.policy.attempts:
            raise RetriesExhausted(self.number, why)
        return self.policy.delay(self.number, retry_after)


@dataclass
class SendResult:
    """What `send` achieved: ticks acknowledged (stored + queued), how, and at what cost."""

    accepted: int = 0
    """Ticks acknowledged: stored, or queued in the spill queue (stored soon)."""
    queued: int = 0
    """Of those, ticks the table refused that wait in the spill queue."""
    requests: int = 0
    attempts: int = 0
    """HTTP attempts; above `requests` by the retries."""
    statuses: dict[int, int] = field(default_factory=dict)
    """Answers seen per status (0: no answer: timeout or connection error)."""

    def saw(self, status: int) -> None:
        """Count one attempt and its answer (0: none came)."""
        self.attempts += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def add(self, other: SendResult) -> None:
        """Add another result's counts to this one."""
        self.accepted += other.accepted
        self.queued += other.queued
        self.requests += other.requests
        self.attempts += other.attempts
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count


def new_key_prefix() -> str:
    """A random prefix; request i of a `send` gets the key `<prefix>-<i>`."""
    return uuid.uuid4().hex


def _encode(tick: Tick) -> bytes:
    return json.dumps(tick.as_json(), separators=(",", ":")).encode()


def ingest_body(ticks: Iterable[Tick]) -> bytes:
    """`{"ticks": [...]}` of these ticks, compact, decimals as exact text."""
    return _OPEN + b",".join(_encode(t) for t in ticks) + _CLOSE


def batches(
    ticks: Iterable[Tick | Mapping[str, Any]],
    *,
    max_ticks: int = MAX_TICKS,
    max_bytes: int = MAX_BODY_BYTES,
) -> Iterator[tuple[bytes, int]]:
    """(body, tick count) per request: at most `max_ticks` ticks and `max_bytes` bytes each."""
    items: list[bytes] = []
    size = len(_OPEN) + len(_CLOSE)
    for value in ticks:
        item = _encode(to_tick(value))
        extra = len(item) + (1 if items else 0)
        if items and (len(items) >= max_ticks or size + extra > max_bytes):
            yield _OPEN + b",".join(items) + _CLOSE, len(items)
            items, size = [], len(_OPEN) + len(_CLOSE)
            extra = len(item)
        if size + extra > max_bytes:
            raise ValueError(f"one tick is {len(item)} bytes encoded, over the body limit")
        items.append(item)
        size += extra
    if items:
        yield _OPEN + b",".join(items) + _CLOSE, len(items)


def ingest_requests(
    url: str,
    token: str,
    ticks: Iterable[Tick | Mapping[str, Any]],
    *,
    key_prefix: str,
    max_ticks: int = MAX_TICKS,
) -> Iterator[Request]:
    """The ingest requests carrying `ticks`, each with its own Idempotency-Key."""
    for index, (body, _) in enumerate(batches(ticks, max_ticks=max_ticks)):
        yield ingest_request(url, token, body, key=f"{key_prefix}-{index}")


def ingest_request(url: str, token: str, body: bytes, *, key: str) -> Request:
    """One ingest request: the body, the bearer token and the Idempotency-Key."""
    headers = {**JSON_HEADERS, "authorization": f"Bearer {token}", "idempotency-key": key}
    return Request("POST", url, headers, body)


def ingest_result(status: int, body: Any) -> SendResult:
    """The counts of a 200/202 ingest answer."""
    if not isinstance(body, dict) or not isinstance(body.get("accepted"), int):
        raise ApiError(status, f"unexpected ingest answer: {str(body)[:200]}")
    queued = body.get("queued", 0)
    return SendResult(accepted=body["accepted"], queued=queued if isinstance(queued, int) else 0)


def query_path(base: str, route: str, params: Mapping[str, str | TimeLike | None]) -> str:
    """`<base>/<route>?...` with the parameters given (None dropped, times as epoch ms)."""
    given = {
        name: str(value if isinstance(value, str) else to_ms(value))
        for name, value in params.items()
        if value is not None
    }
    return f"{base}/{route}?{urlencode(given)}"


def read_request(url: str, api_key: str) -> Request:
    """A GET of the query API with its key."""
    return Request("GET", url, {"x-api-key": api_key, "accept": "application/json"})


def read_reply(status: int, text: bytes) -> Any:
    """The JSON of a 2xx answer; ApiError for a refusal."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text.decode("utf-8", "replace")
    if 200 <= status < 300:
        return body
    raise ApiError.from_body(status, body)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds of a `Retry-After` header in seconds form, else None."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None
