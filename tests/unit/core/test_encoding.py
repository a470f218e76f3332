"""GIVEN any valid ticks WHEN encoded into a block and decoded THEN they come back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.core.encoding import DecodeError, EncodedTick, decode_block, encode_block
from tests.unit.core.strategies import ticks


@given(st.lists(ticks(symbols=["S"]), min_size=0, max_size=60))
def test_round_trip_is_exact(sample):
    ordered = sorted(sample, key=lambda t: t.timestamp)
    expected = [EncodedTick(t.timestamp, t.price, t.size, t.id) for t in ordered]
    assert decode_block(encode_block(ordered)) == expected


def test_block_is_compact_for_a_liquid_symbol():
    ticks_ = [EncodedTick(1_764_000_000_000 + i * 7, f"189.{25 + i % 9}") for i in range(100)]
    data = encode_block(ticks_)
    # 1 flag + 1 ts delta + 1-2 price delta + 1 scale per tick, plus a short header.
    assert len(data) <= 100 * 5 + 16
    assert decode_block(data) == ticks_


def test_unsorted_input_is_refused():
    with pytest.raises(ValueError, match="sorted"):
        encode_block([EncodedTick(2, "1"), EncodedTick(1, "1")])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x01\x00",
        b"\x01\x05\x00",
        b"\x01\x01\x00\x00\x00\x02\x00extra",
        b"\x01" + b"\xff" * 30,
    ],
)
def test_corrupt_blocks_raise_decode_error(data: bytes):
    with pytest.raises(DecodeError):
        decode_block(data)
