"""Request payloads built before the run from a seed, reused from a fixed-size pool.

A 1,000,000-request run must not hold 1,000,000 bodies, yet every tick needs a unique id so that
`--verify` can tell a missing tick from a duplicated one. So each pooled ingest body is a template
split at the one place that varies per request, `TIMESTAMP,"id":"RUN-SEQ`, and a request's body is
one `bytes.join` of that template: cheap, and constant memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from yarl import URL

from loadgen.config import LoadConfig

__all__ = [
    "ENDPOINT_NAMES",
    "Endpoint",
    "IngestTemplate",
    "PayloadPool",
    "parse_tick_id",
    "symbol_names",
]

READ_WINDOW_MS: Final = 60_000
"""How far back /query and /bars read from a request's planned time: a live chart's last minute."""
_KNOWN_SYMBOLS: Final = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AVGO",
    "JPM", "V", "XOM", "UNH", "MA", "COST", "HD", "NFLX",
)  # fmt: skip


class Endpoint(IntEnum):
    """The request kinds the generator sends; values index per-endpoint statistics."""

    INGEST = 0
    QUERY = 1
    LATEST = 2
    BARS = 3


ENDPOINT_NAMES: Final = tuple(endpoint.name.lower() for endpoint in Endpoint)


def symbol_names(count: int) -> tuple[str, ...]:
    """The first `count` symbols: real tickers first, then synthetic `SYM0000`-style ones."""
    extra = (f"SYM{i:04d}" for i in range(count - len(_KNOWN_SYMBOLS)))
    return (*_KNOWN_SYMBOLS[:count], *extra)


def tick_id(run_id: str, seq: int, index: int) -> str:
    """The id of tick `index` of request `seq` in run `run_id` (what `--verify` looks for)."""
    return f"{run_id}-{seq}-{index}"


def parse_tick_id(value: str, run_id: str) -> tuple[int, int] | None:
    """`(seq, index)` from a tick id of this run, or None for anyone else's tick."""
    run, sep, rest = value.partition("-")
    if run != run_id or not sep:
        return None
    seq, sep, index = rest.partition("-")
    if not (sep and seq.isdigit() and index.isdigit()):
        return None
    return int(seq), int(index)


@dataclass(frozen=True, slots=True)
class IngestTemplate:
    """One pooled ingest body, split where the per-request timestamp and id go."""

    chunks: tuple[bytes, ...]
    symbols: tuple[int, ...]
    """Symbol index of each tick, in order (verify needs to know where each tick went)."""

    def render(self, timestamp_ms: int, key: str) -> bytes:
        """The body for one request: every tick gets `timestamp_ms` and id `KEY-<index>`."""
        separator = b'%d,"id":"%s' % (timestamp_ms, key.encode())
        return separator.join(self.chunks)


class PayloadPool:
    """Everything the run sends, prebuilt from the seed before the first request goes out."""

    __slots__ = ("_ingest", "_kinds", "_reads", "batch", "run_id", "symbols")

    def __init__(
        self,
        *,
        config: LoadConfig,
        run_id: str,
        base_ms: int,
        query_base_url: str | None,
    ) -> None:
        rng = random.Random(config.seed)
        self.run_id = run_id
        self.batch = config.batch
        self.symbols = symbol_names(config.symbols)
        size = config.pool_size
        reads = round(size * config.query_ratio)
        kinds = [Endpoint.INGEST] * (size - reads) + [
            (Endpoint.QUERY, Endpoint.LATEST, Endpoint.BARS)[i % 3] for i in range(reads)
        ]
        rng.shuffle(kinds)
        self._kinds = bytes(kinds)
        prices = {name: rng.uniform(10.0, 500.0) for name in self.symbols}
        self._ingest = tuple(self._template(rng, prices) for _ in range(size))
        self._reads = (
            self._read_urls(rng, query_base_url, config) if reads and query_base_url else {}
        )

    def kind(self, seq: int) -> Endpoint:
        """Which endpoint request `seq` goes to."""
        return Endpoint(self._kinds[seq % len(self._kinds)])

    def ingest(self, seq: int) -> IngestTemplate:
        """The pooled ingest template request `seq` uses."""
        return self._ingest[seq % len(self._ingest)]

    def key(self, seq: int) -> str:
        """The request's idempotency key, also the prefix of its tick ids."""
        return f"{self.run_id}-{seq}"

    def read_url(self, seq: int, kind: Endpoint, now_ms: int) -> URL:
        """The URL of read request `seq` to endpoint `kind`, planned at epoch ms `now_ms`.

        /query and /bars read the READ_WINDOW_MS before `now_ms` (what a dashboard shows), so a
        read costs the same in minute 10 of a run as in minute 5: over the whole run, a /bars
        read would grow with every tick stored and a soak would measure its own workload.
        """
        urls = self._reads[kind]
        url = urls[seq % len(urls)]
        if kind is Endpoint.LATEST:
            return url
        return url.update_query({"from": max(0, now_ms - READ_WINDOW_MS), "to": now_ms + 60_000})

    def _template(self, rng: random.Random, prices: dict[str, float]) -> IngestTemplate:
        chunks: list[bytes] = []
        symbols: list[int] = []
        head = b'{"ticks":['
        for index in range(self.batch):
            symbol = rng.randrange(len(self.symbols))
            name = self.symbols[symbol]
            # A small random walk keeps prices plausible for /bars without any per-run state.
            prices[name] *= 1.0 + rng.gauss(0.0, 0.0005)
            # Symbols are plain tickers and the numbers are formatted here: no JSON escaping
            # can be needed, so an f-string builds the tick (json.dumps was the slow part).
            size = rng.randint(1, 1000)
            tick = f'{{"symbol":"{name}","price":"{prices[name]:.2f}","size":"{size}","timestamp":'
            chunks.append(head + tick.encode())
            symbols.append(symbol)
            head = f'-{index}"}},'.encode()
        chunks.append(f'-{self.batch - 1}"}}]}}'.encode())
        return IngestTemplate(tuple(chunks), tuple(symbols))

    def _read_urls(
        self, rng: random.Random, base: str, config: LoadConfig
    ) -> dict[Endpoint, tuple[URL, ...]]:
        count = max(1, config.pool_size // 3)
        picks = [self.symbols[rng.randrange(len(self.symbols))] for _ in range(count)]
        query: dict[str, str | int] = {"limit": config.query_limit, "order": "desc"}
        return {
            Endpoint.QUERY: tuple(
                URL(f"{base}/query").with_query(query | {"symbol": s}) for s in picks
            ),
            Endpoint.LATEST: tuple(URL(f"{base}/latest").with_query({"symbol": s}) for s in picks),
            Endpoint.BARS: tuple(
                URL(f"{base}/bars").with_query({"symbol": s, "interval": "1m"}) for s in picks
            ),
        }
