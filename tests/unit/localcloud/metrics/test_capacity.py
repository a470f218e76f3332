"""Capacity units by DynamoDB's item size rules."""

from __future__ import annotations

from localcloud.metrics.capacity import item_size, read_units, write_units


def test_item_size_counts_names_and_values() -> None:
    item = {
        "symbol": {"S": "AAPL"},  # 6 + 4
        "n": {"N": "12345"},  # 1 + 4 (3 digit pairs + 1)
        "b": {"B": b"\x00" * 100},  # 1 + 100
        "ok": {"BOOL": True},  # 2 + 1
        "l": {"L": [{"S": "ab"}, {"N": "1"}]},  # 1 + 3 + (1 + 2) + (1 + 2)
    }
    assert item_size(item) == 10 + 5 + 101 + 3 + 10


def test_units_round_up_per_item_and_read_halves_when_eventual() -> None:
    assert write_units({"k": {"S": "x"}}) == 1.0
    assert write_units({"k": {"B": b"x" * 1024}}) == 2.0
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(0, consistent=False) == 0.5
