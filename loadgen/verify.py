"""`--verify`: read every acknowledged tick back through /query; count the missing and doubled.

Each tick id is `RUN-SEQ-INDEX`, so a tick read back maps straight to the request that sent it.
The check pages through /query for every symbol over the run's whole time range, following
`next_cursor`, and counts each of this run's ticks into one byte per (request, index) slot.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import aiohttp

from loadgen.config import LoadConfig
from loadgen.payloads import parse_tick_id, symbol_names
from loadgen.stats import MergedStats
from loadgen.targets import Targets

__all__ = ["VerifyResult", "verify_ticks"]

_PAGE_LIMIT: Final = 1000
_ATTEMPTS: Final = 4
_RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})
_PARALLEL_SYMBOLS: Final = 4
_EXAMPLES: Final = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyResult:
    """What reading the run's ticks back found."""

    acknowledged: int
    found: int
    missing: int
    duplicated: int
    """Extra copies: a tick read back three times counts two."""
    unacknowledged_found: int
    """Ticks stored although their request was not acknowledged (e.g. timed out after the write)."""
    pages: int
    missing_examples: tuple[str, ...] = ()
    duplicate_examples: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())
    """Read-back failures; any makes the check inconclusive."""

    @property
    def ok(self) -> bool:
        """Every acknowledged tick found exactly once, and the read-back itself worked."""
        return not (self.missing or self.duplicated or self.errors)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the summary."""
        return asdict(self) | {"ok": self.ok}


class _Pager:
    def __init__(self, session: aiohttp.ClientSession, targets: Targets) -> None:
        self._session = session
        self._url = f"{targets.query_base_url}/query"
        self._headers = {"x-api-key": targets.api_key} if targets.api_key else {}
        self.pages = 0

    async def ticks(self, symbol: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Every tick of `symbol` in the range, following cursors until there are none."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {
                "symbol": symbol,
                "from": start_ms,
                "to": end_ms,
                "limit": _PAGE_LIMIT,
                "order": "asc",
            }
            if cursor is not None:
                params["cursor"] = cursor
            page = await self._page(params)
            self.pages += 1
            ticks = page.get("ticks")
            if not isinstance(ticks, list):
                raise ValueError(f"/query for {symbol}: answer has no ticks list")
            found.extend(t for t in ticks if isinstance(t, dict))
            cursor = page.get("next_cursor")
            if cursor is None:
                return found
            if not isinstance(cursor, str) or cursor in seen:
                raise ValueError(f"/query for {symbol}: next_cursor repeats or is not a string")
            seen.add(cursor)

    async def _page(self, params: dict[str, str | int]) -> dict[str, Any]:
        for attempt in range(_ATTEMPTS):
            try:
                async with self._session.get(
                    self._url, params=params, headers=self._headers
                ) as response:
                    if response.status in _RETRY_STATUS and attempt < _ATTEMPTS - 1:
                        await asyncio.sleep(0.2 * 2**attempt)  # back off a throttled/busy API
                        continue
                    if response.status != 200:
                        raise ValueError(f"/query answered {response.status}")
                    answer = await response.json(content_type=None)
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == _ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            if not isinstance(answer, dict):
                raise ValueError("/query answer is not an object")
            return answer
        raise ValueError("/query kept failing")


async def verify_ticks(
    *,
    targets: Targets,
    config: LoadConfig,
    run_id: str,
    base_ms: int,
    total_requests: int,
    stats: MergedStats,
) -> VerifyResult:
    """Read back every tick of the run and compare with what the API acknowledged."""
    batch = config.batch
    acknowledged = int.from_bytes(stats.acked, "little").bit_count() * batch
    counts = bytearray(total_requests * batch)
    # Tick timestamps are base_ms + planned offset; a second of slack either side.
    start_ms = base_ms - 1000
    end_ms = base_ms + math.ceil(config.duration_s * 1000) + 1000
    errors: list[str] = []
    unacknowledged = 0
    timeout = aiohttp.ClientTimeout(
        total=config.timeout_s * 3, sock_connect=config.connect_timeout_s
    )
    connector = aiohttp.TCPConnector(limit=_PARALLEL_SYMBOLS)
    gate = asyncio.Semaphore(_PARALLEL_SYMBOLS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        pager = _Pager(session, targets)

        async def one(symbol: str) -> list[dict[str, Any]]:
            async with gate:
                return await pager.ticks(symbol, start_ms, end_ms)

        symbols = symbol_names(config.symbols)
        pages = await asyncio.gather(*(one(s) for s in symbols), return_exceptions=True)
    for symbol, result in zip(symbols, pages, strict=True):
        if isinstance(result, BaseException):
            errors.append(f"{symbol}: {type(result).__name__}: {result}")
            continue
        for tick in result:
            value = tick.get("id")
            parsed = parse_tick_id(value, run_id) if isinstance(value, str) else None
            if parsed is None:
                continue  # someone else's tick in the same range
            seq, index = parsed
            if seq >= total_requests or index >= batch or not stats.is_acked(seq):
                unacknowledged += 1
                continue
            slot = seq * batch + index
            if counts[slot] < 255:
                counts[slot] += 1
    # Only acknowledged slots are ever incremented, so counting non-zero bytes (in C) is exact.
    found = len(counts) - counts.count(0)
    duplicated = sum(counts) - found
    return VerifyResult(
        acknowledged=acknowledged,
        found=found,
        missing=acknowledged - found,
        duplicated=duplicated,
        unacknowledged_found=unacknowledged,
        pages=pager.pages,
        missing_examples=_examples(counts, stats, batch, run_id, total_requests, want_zero=True)
        if acknowledged > found
        else (),
        duplicate_examples=_examples(counts, stats, batch, run_id, total_requests, want_zero=False)
        if duplicated
        else (),
        errors=tuple(errors),
    )


def _examples(
    counts: bytearray,
    stats: MergedStats,
    batch: int,
    run_id: str,
    total_requests: int,
    *,
    want_zero: bool,
) -> tuple[str, ...]:
    out: list[str] = []
    for seq in range(total_requests):
        if len(out) >= _EXAMPLES:
            break
        if not stats.is_acked(seq):
            continue
        for index in range(batch):
            count = counts[seq * batch + index]
            if (count == 0) if want_zero else (count > 1):
                out.append(f"{run_id}-{seq}-{index}")
    return tuple(out[:_EXAMPLES])
