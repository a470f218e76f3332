"""GIVEN random ticks in blocks WHEN pages are walked THEN each tick in range comes once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.core.bars import compute_bars
from handlers.core.blocks import build_blocks, idempotency_key
from handlers.core.cursor import decode_cursor, encode_cursor, query_fingerprint
from handlers.core.models import Tick
from handlers.core.reading import iter_ticks, latest, read_page
from tests.unit.core.memory import MemorySource
from tests.unit.core.strategies import ticks

T0 = 1_700_000_000_000
SPREAD = 4_000  # a few block spans, so ranges cut through blocks and blocks overlap


def store(requests: list[list[Tick]]) -> tuple[MemorySource, list[tuple[int, str, str]]]:
    source = MemorySource()
    everything = []
    for n, request in enumerate(requests):
        # Distinct keys: identical requests are a retry by design and would collapse.
        source.put(build_blocks(request, request_key=idempotency_key(f"r{n}")))
        everything += [(t.timestamp, t.price, t.id or "") for t in request if t.symbol == "S"]
    return source, everything


requests_strategy = st.lists(
    st.lists(ticks(symbols=["S", "T"], min_ts=T0, max_ts=T0 + SPREAD), min_size=1, max_size=12),
    min_size=0,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    requests_strategy,
    st.integers(T0 - 10, T0 + SPREAD + 10),
    st.integers(0, SPREAD + 20),
    st.integers(1, 7),
    st.booleans(),
)
def test_walking_cursors_yields_each_tick_of_the_range_once_in_order(
    requests, start, width, limit, ascending
):
    source, everything = store(requests)
    end = start + width
    expected = sorted(
        ((ts, p, i) for ts, p, i in everything if start <= ts <= end), key=lambda x: x[0]
    )
    got = []
    after = None
    pages = 0
    while True:
        page, after = read_page(
            source, "S", start, end, limit=limit, ascending=ascending, after=after
        )
        assert len(page) <= limit
        assert page or after is None  # a cursor never leads to an empty page
        got += page
        pages += 1
        if after is None:
            break
        assert pages <= len(expected) + 1
    stamps = [t.timestamp for t in got]
    assert stamps == sorted(stamps, reverse=not ascending)
    positions = [t.position for t in got]
    assert len(set(positions)) == len(positions)
    assert sorted((t.timestamp, t.price, t.id or "") for t in got) == sorted(expected)


@given(requests_strategy)
def test_latest_is_the_newest_tick(requests):
    source, everything = store(requests)
    newest = latest(source, "S")
    if not everything:
        assert newest is None
    else:
        assert newest is not None
        assert newest.timestamp == max(ts for ts, _, _ in everything)


def test_read_starts_near_the_range_not_at_the_beginning():
    source = MemorySource()
    for n in range(200):
        source.put(build_blocks([Tick(symbol="S", price="1", timestamp=T0 + n * 1000)]))
    page, _ = read_page(source, "S", T0 + 150_000, T0 + 160_000, limit=5)
    assert [t.timestamp for t in page] == [T0 + 150_000 + i * 1000 for i in range(5)]
    assert source.reads <= 8  # the block lookback is bounded by the block span


def test_cursor_is_bound_to_its_query():
    _, after = read_page(*_two_tick_source(), limit=1)
    assert after is not None
    fp = query_fingerprint("S", 0, 10**13 - 1, True)
    token = encode_cursor(after, fp)
    assert decode_cursor(token, fp) == after
    for bad_fp, bad_token in [(query_fingerprint("T", 0, 10**13 - 1, True), token), (fp, "zz")]:
        try:
            decode_cursor(bad_token, bad_fp)
        except ValueError:
            continue
        raise AssertionError("cursor accepted for another query")


def _two_tick_source() -> tuple[MemorySource, str, int, int]:
    source = MemorySource()
    source.put(build_blocks([Tick(symbol="S", price="1", timestamp=T0 + i) for i in range(2)]))
    return source, "S", 0, 10**13 - 1


def test_bars_are_ohlcv_with_exact_prices():
    minute = 1_700_000_040_000  # a multiple of 60,000: bars start on it
    source = MemorySource()
    prices = ["10.0", "12.50", "9.75", "11", "20", "19.5"]
    offsets = [0, 10_000, 20_000, 59_999, 60_000, 61_000]
    source.put(
        build_blocks(
            [
                Tick(symbol="S", price=p, timestamp=minute + o, size="1.5")
                for p, o in zip(prices, offsets, strict=True)
            ]
        )
    )
    bars = compute_bars(iter_ticks(source, "S", minute, minute + 120_000), 60_000)
    assert [b.as_json() for b in bars] == [
        {
            "start": minute,
            "open": "10.0",
            "high": "12.50",
            "low": "9.75",
            "close": "11",
            "volume": "6.0",
            "count": 4,
        },
        {
            "start": minute + 60_000,
            "open": "20",
            "high": "20",
            "low": "19.5",
            "close": "19.5",
            "volume": "3.0",
            "count": 2,
        },
    ]
