"""Prebuilt payloads: valid JSON, unique ids, deterministic from the seed, bounded memory."""

from __future__ import annotations

import json

from loadgen.config import LoadConfig, Stage
from loadgen.payloads import READ_WINDOW_MS, Endpoint, PayloadPool, parse_tick_id


def _pool(**changes: object) -> PayloadPool:
    config = LoadConfig(stages=(Stage(duration_s=10, target_rps=100),), start_rps=100, **changes)  # type: ignore[arg-type]
    return PayloadPool(
        config=config, run_id="ab12", base_ms=1_764_000_000_000, query_base_url="http://h/api"
    )


def test_rendered_body_is_the_api_shape_with_unique_ids():
    pool = _pool(batch=3, symbols=2)
    body = json.loads(pool.ingest(7).render(1_764_000_000_123, pool.key(7)))
    ticks = body["ticks"]
    assert len(ticks) == 3
    assert [t["id"] for t in ticks] == ["ab12-7-0", "ab12-7-1", "ab12-7-2"]
    for tick in ticks:
        assert set(tick) == {"symbol", "price", "size", "timestamp", "id"}
        assert tick["symbol"] in ("AAPL", "MSFT")
        assert tick["timestamp"] == 1_764_000_000_123
        float(tick["price"])
        int(tick["size"])
    assert [parse_tick_id(t["id"], "ab12") for t in ticks] == [(7, 0), (7, 1), (7, 2)]
    assert parse_tick_id("zz99-7-0", "ab12") is None
    assert parse_tick_id("ab12-x-0", "ab12") is None


def test_same_seed_same_payloads_different_seed_different():
    a, b, c = _pool(seed=3), _pool(seed=3), _pool(seed=4)
    assert a.ingest(5).chunks == b.ingest(5).chunks
    assert a.ingest(5).chunks != c.ingest(5).chunks


def test_pool_is_reused_not_grown():
    pool = _pool(pool_size=16)
    assert pool.ingest(3) is pool.ingest(3 + 16 * 1000)


def test_query_ratio_sets_the_mix():
    pool = _pool(query_ratio=0.3, pool_size=1000)
    kinds = [pool.kind(seq) for seq in range(1000)]
    assert kinds.count(Endpoint.INGEST) == 700
    for kind in (Endpoint.QUERY, Endpoint.LATEST, Endpoint.BARS):
        assert kinds.count(kind) == 100
    url = pool.read_url(1, Endpoint.QUERY, 1_000_000_000)
    assert url.path == "/api/query"
    assert set(url.query) == {"symbol", "from", "to", "limit", "order"}
    assert pool.read_url(1, Endpoint.BARS, 1_000_000_000).query["interval"] == "1m"


def test_reads_look_back_a_fixed_window_from_their_planned_time():
    # A read's cost must not grow with the run: /query and /bars read the same span at any time.
    pool = _pool(query_ratio=0.3, pool_size=1000)
    for kind in (Endpoint.QUERY, Endpoint.BARS):
        early, late = (pool.read_url(1, kind, now) for now in (10**12, 10**12 + 600_000))
        assert int(early.query["from"]) == 10**12 - READ_WINDOW_MS
        assert int(late.query["from"]) - int(early.query["from"]) == 600_000
        assert int(late.query["to"]) - int(late.query["from"]) == READ_WINDOW_MS + 60_000
    assert "from" not in pool.read_url(1, Endpoint.LATEST, 10**12).query
