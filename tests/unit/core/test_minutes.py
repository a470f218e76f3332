"""GIVEN random blocks of ticks (equal prices written differently, ties in time, missing sizes)
WHEN each block is cut into per-minute pieces and the pieces are folded in any order THEN every
minute's bar equals `compute_bars` over the minute's ticks in their total order."""

from __future__ import annotations

import heapq
from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from handlers.core.barpages import MINUTE
from handlers.core.bars import compute_bars
from handlers.core.encoding import EncodedTick
from handlers.core.minutes import Minute, MinuteMemory, minute_bar, pieces
from handlers.core.reading import Position, StoredTick

T0 = 1_764_028_800_000
_prices = st.sampled_from(["1", "1.0", "1.50", "1.5", "2", "0.99", "2.000", "10"])
_sizes = st.none() | st.sampled_from(["0", "1", "0.5", "2.50", "100000000000000000000.1"])


@st.composite
def blocks(draw: st.DrawFn) -> list[tuple[str, list[EncodedTick]]]:
    """Blocks with distinct sort keys; each block's ticks sorted by timestamp, as stored."""
    out = []
    for n in range(draw(st.integers(1, 8))):
        stamps = sorted(draw(st.lists(st.integers(-70_000, 130_000), min_size=1, max_size=10)))
        ticks = [EncodedTick(T0 + ts, draw(_prices), draw(_sizes), None) for ts in stamps]
        out.append((f"{T0 + stamps[0]:013d}#{draw(st.sampled_from('abc'))}{n}", ticks))
    return out


@given(blocks(), st.randoms(use_true_random=False))
def test_folded_pieces_equal_compute_bars(
    stored: list[tuple[str, list[EncodedTick]]], rng: object
) -> None:
    ordered = heapq.merge(
        *[
            [
                StoredTick("S", t.timestamp, t.price, t.size, None, Position(t.timestamp, sk, i))
                for i, t in enumerate(ticks)
            ]
            for sk, ticks in stored
        ],
        key=lambda tick: tick.position,
    )
    expected = {bar.start: bar for bar in compute_bars(ordered, MINUTE)}
    by_minute: dict[int, list[object]] = {}
    for sk, ticks in stored:
        for minute, piece in pieces(sk, ticks, 0, 10**13 - 1).items():
            by_minute.setdefault(minute, []).append(piece)
    assert set(by_minute) == set(expected)
    for minute, parts in by_minute.items():
        rng.shuffle(parts)  # type: ignore[attr-defined]
        assert minute_bar(parts) == expected[minute]  # type: ignore[arg-type]


def test_pieces_keep_to_the_range() -> None:
    ticks = [EncodedTick(T0 + ts, "1") for ts in (0, MINUTE - 1, MINUTE, 2 * MINUTE)]
    assert sorted(pieces("k", ticks, T0, T0 + 2 * MINUTE - 1)) == [T0, T0 + MINUTE]
    assert minute_bar([]) is None


@given(blocks(), st.randoms(use_true_random=False))
def test_a_minute_taking_blocks_in_and_back_again_folds_like_compute_bars(
    stored: list[tuple[str, list[EncodedTick]]], rng: object
) -> None:
    """Blocks arrive one by one (folded in), some again unchanged (nothing to do) and some
    rewritten with other ticks (everything refolded): the bar is always the fold of the
    latest piece of every block."""
    minute = Minute(0.0)
    latest: dict[str, object] = {}
    for sk, ticks in stored + rng.sample(stored, len(stored) // 2):  # type: ignore[attr-defined]
        if sk in latest and rng.random() < 0.5:  # type: ignore[attr-defined]
            ticks = [replace(t, price=str(Decimal(t.price) + 1)) for t in ticks]
        part = pieces(sk, ticks, T0, T0 + MINUTE - 1).get(T0)
        if part is not None:
            minute.add(sk, part)
            latest[sk] = part
        assert minute.bar() == minute_bar(latest.values())  # type: ignore[arg-type]


def test_memory_answers_only_at_the_version_it_kept_and_while_fresh() -> None:
    now = [0.0]
    memory = MinuteMemory(reread_s=30, clock=lambda: now[0])
    one = Minute(0.0, {"k": pieces("k", [EncodedTick(T0, "1")], 0, 10**13 - 1)[T0]})
    memory.keep("S", T0, based_on=0, version=1, minutes={T0: one})
    assert set(memory.recall("S", T0, 1, [T0, T0 + MINUTE])) == {T0}
    assert memory.recall("S", T0, 2, [T0]) == {}  # someone else wrote the page since
    assert memory.recall("T", T0, 1, [T0]) == {}
    now[0] = 31.0
    assert memory.recall("S", T0, 1, [T0]) == {}  # read back in full now and then


def test_memory_forgets_a_page_kept_from_another_version_and_the_least_recent_minutes() -> None:
    memory = MinuteMemory(max_pieces=2, clock=lambda: 0.0)
    piece = pieces("k", [EncodedTick(T0, "1")], 0, 10**13 - 1)[T0]

    def one() -> Minute:
        return Minute(0.0, {"k": piece})

    memory.keep("S", T0, based_on=0, version=1, minutes={T0: one()})
    memory.keep("S", T0, based_on=5, version=6, minutes={T0 + MINUTE: one()})
    assert set(memory.recall("S", T0, 6, [T0, T0 + MINUTE])) == {T0 + MINUTE}
    memory.keep("S", T0, based_on=6, version=7, minutes={T0 + 2 * MINUTE: one()})
    memory.keep("S", T0, based_on=7, version=8, minutes={T0 + 3 * MINUTE: one()})
    assert set(memory.recall("S", T0, 8, [T0 + m * MINUTE for m in range(4)])) == {
        T0 + 2 * MINUTE,
        T0 + 3 * MINUTE,
    }
