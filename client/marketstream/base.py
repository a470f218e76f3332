"""The construction both clients share: endpoints from arguments, a file, a stack or the env."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Self

from marketstream.config import Endpoints
from marketstream.errors import ApiError
from marketstream.models import Bar, Tick, TimeLike
from marketstream.protocol import Request, RetryPolicy, query_path, read_request

__all__ = ["BaseClient"]

_ORDERS = ("asc", "desc")


class BaseClient:
    """Endpoints, retry policy and the query requests; subclasses move the bytes."""

    def __init__(
        self,
        endpoints: Endpoints | None = None,
        *,
        retry: RetryPolicy | None = None,
        **values: str,
    ) -> None:
        """`endpoints`, or the same fields as keywords (`ingest_url=`, `api_key=`, ...)."""
        given = Endpoints(**values)
        self.endpoints = given.merged(endpoints) if endpoints is not None else given
        self.retry = retry or RetryPolicy()

    @classmethod
    def from_outputs(cls, path: str | os.PathLike[str], **options: Any) -> Self:
        """From an outputs file (the local cloud writes `.localcloud/outputs.json`)."""
        return cls(Endpoints.from_outputs(path), **options)

    @classmethod
    def from_stack(cls, stack: str, **options: Any) -> Self:
        """From `pulumi stack output --json --show-secrets --stack STACK` (the Pulumi CLI)."""
        return cls(Endpoints.from_stack(stack), **options)

    @classmethod
    def from_stack_json(cls, text: str, **options: Any) -> Self:
        """From the text `pulumi stack output --json --show-secrets` printed."""
        return cls(Endpoints.from_stack_json(text), **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Self:
        """From `MARKETSTREAM_*` variables (`MARKETSTREAM_INGEST_URL`, ...: docs/client.md)."""
        return cls(Endpoints.from_env(environ), **options)

    def _ingest_target(self, backfill: bool) -> tuple[str, str]:
        token = "backfill_token" if backfill else "ingest_token"
        return self.endpoints.need("ingest_url"), self.endpoints.need(token)

    def _read(self, route: str, params: Mapping[str, str | TimeLike | None]) -> Request:
        base = self.endpoints.need("query_url")
        return read_request(query_path(base, route, params), self.endpoints.need("api_key"))

    def _page_request(
        self,
        symbol: str,
        start: TimeLike | None,
        end: TimeLike | None,
        order: str,
        limit: int,
        cursor: str | None,
    ) -> Request:
        if order not in _ORDERS:
            raise ValueError("order must be 'asc' or 'desc'")
        params = {"symbol": symbol, "from": start, "to": end, "order": order, "limit": str(limit)}
        return self._read("query", {**params, "cursor": cursor})

    def _bars_request(
        self, symbol: str, interval: str, start: TimeLike | None, end: TimeLike | None
    ) -> Request:
        params = {"symbol": symbol, "interval": interval, "from": start, "to": end}
        return self._read("bars", params)


def page_ticks(page: Any) -> tuple[Iterator[Tick], str | None]:
    """The ticks of a `/query` page and its `next_cursor`."""
    if not isinstance(page, dict) or not isinstance(page.get("ticks"), list):
        raise ApiError(200, f"unexpected /query answer: {str(page)[:200]}")
    cursor = page.get("next_cursor")
    return (Tick.from_json(t) for t in page["ticks"]), cursor if isinstance(cursor, str) else None


def latest_tick(body: Any) -> Tick | None:
    """The tick of a `/latest` answer, or None."""
    tick = body.get("tick") if isinstance(body, dict) else None
    return Tick.from_json(tick) if isinstance(tick, dict) else None


def bar_list(body: Any) -> list[Bar]:
    """The bars of a `/bars` answer; other keys of the answer (and of each bar) are ignored."""
    if not isinstance(body, dict) or not isinstance(body.get("bars"), list):
        raise ApiError(200, f"unexpected /bars answer: {str(body)[:200]}")
    return [Bar.from_json(b) for b in body["bars"]]
