"""Hypothesis strategies for valid ticks."""

from __future__ import annotations

from hypothesis import strategies as st

from handlers.core.models import Tick

SYMBOL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/"


@st.composite
def decimal_text(draw: st.DrawFn, *, positive: bool) -> str:
    whole = draw(st.integers(min_value=0, max_value=10**12))
    scale = draw(st.integers(min_value=0, max_value=10))
    frac = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=scale, max_size=scale)))
    text = f"{whole}.{frac}" if scale else str(whole)
    if positive and text.strip("0.") == "":
        text = "1" + text[1:] if not text.startswith("0.") else text[:-1] + "1"
        if text.strip("0.") == "":
            text = "1"
    return text


def ticks(
    *,
    symbols: list[str] | None = None,
    min_ts: int = 1_700_000_000_000,
    max_ts: int = 1_700_000_010_000,
) -> st.SearchStrategy[Tick]:
    symbol = (
        st.sampled_from(symbols)
        if symbols
        else st.text(alphabet=SYMBOL_CHARS, min_size=1, max_size=16)
    )
    return st.builds(
        Tick,
        symbol=symbol,
        price=decimal_text(positive=True),
        timestamp=st.integers(min_value=min_ts, max_value=max_ts),
        size=st.none() | decimal_text(positive=False),
        id=st.none()
        | st.text(
            alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=64
        ),
    )
