"""GIVEN validated ticks WHEN grouped into blocks THEN keys are deterministic, nothing collides."""

from __future__ import annotations

from handlers.core.blocks import BLOCK_SPAN_MS, build_blocks, idempotency_key
from handlers.core.models import Tick

T0 = 1_764_000_000_000


def tick(symbol: str, ts: int, price: str = "1", id_: str | None = None) -> Tick:
    return Tick(symbol=symbol, price=price, timestamp=ts, id=id_)


def test_one_block_per_symbol_and_same_content_gives_same_keys():
    body = [tick("A", T0 + 2), tick("B", T0), tick("A", T0)]
    first = build_blocks(body)
    again = build_blocks(list(body))
    assert [(b.symbol, b.sk) for b in first] == [(b.symbol, b.sk) for b in again]
    assert sorted(b.symbol for b in first) == ["A", "B"]
    a = next(b for b in first if b.symbol == "A")
    assert a.count == 2 and a.first_ts == T0 and a.last_ts == T0 + 2
    assert [t.timestamp for t in a.ticks()] == [T0, T0 + 2]


def test_different_content_in_the_same_millisecond_gives_different_blocks():
    one = build_blocks([tick("A", T0, "1.00")])
    two = build_blocks([tick("A", T0, "1.01")])
    assert one[0].sk != two[0].sk
    assert one[0].sk[:13] == two[0].sk[:13] == str(T0)


def test_idempotency_key_overrides_content():
    one = build_blocks([tick("A", T0, "1")], request_key=idempotency_key("k1"))
    two = build_blocks([tick("A", T0, "1")], request_key=idempotency_key("k2"))
    again = build_blocks([tick("A", T0, "1")], request_key=idempotency_key("k1"))
    assert one[0].sk == again[0].sk != two[0].sk


def test_same_millisecond_ticks_in_one_request_both_kept_in_order():
    [block] = build_blocks([tick("A", T0, "2", "x"), tick("A", T0, "1", "y")])
    assert [(t.price, t.id) for t in block.ticks()] == [("2", "x"), ("1", "y")]


def test_blocks_never_span_more_than_the_span():
    stamps = [T0, T0 + 999, T0 + 1000, T0 + 5000, T0 + 5001]
    blocks = build_blocks([tick("A", ts) for ts in stamps])
    assert [(b.first_ts, b.last_ts, b.count) for b in blocks] == [
        (T0, T0 + 999, 2),
        (T0 + 1000, T0 + 1000, 1),
        (T0 + 5000, T0 + 5001, 2),
    ]
    assert all(b.last_ts - b.first_ts < BLOCK_SPAN_MS for b in blocks)
    assert len({b.sk for b in blocks}) == 3


def test_expiry_is_carried_into_the_item():
    [block] = build_blocks([tick("A", T0)], expires_at=123)
    item = block.to_item()
    assert item["expires_at"] == {"N": "123"}
    assert item["symbol"] == {"S": "A"} and item["b"]["B"] == block.payload
