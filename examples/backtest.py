"""A backtest over history: load 1m bars into pandas and test a moving-average crossover.

    pip install './client[pandas]'
    python examples/backtest.py AAPL --hours 6 --fast 5 --slow 20 --outputs .localcloud/outputs.json

Loads the symbol's bars of the last `--hours` hours (`Client.bars`, one request per day of 1m
bars at most), turns them into a DataFrame (`marketstream.frames.bars_frame`, floats for the
arithmetic), holds the symbol while the fast average of closes is above the slow one, and prints
the bars loaded, the trades and the strategy's return against buy-and-hold.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd
from marketstream import Client, Endpoints, MarketStreamError
from marketstream.frames import bars_frame

_DAY_MS = 86_400_000


def load(client: Client, symbol: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """1m bars of [start, end], a day per request (the API's /bars spans at most 5,000 bars)."""
    bars = []
    for first in range(start_ms, end_ms, _DAY_MS):
        bars += client.bars(symbol, "1m", first, min(first + _DAY_MS - 1, end_ms))
    return bars_frame(bars, exact=False)


def backtest(frame: pd.DataFrame, fast: int, slow: int) -> dict[str, float]:
    """Returns of holding while the fast mean of closes is above the slow one, and of holding."""
    close = frame["close"]
    holding = (close.rolling(fast).mean() > close.rolling(slow).mean()).astype(int)
    # Trade at the next bar's close: the signal of bar t is known only once bar t closed.
    position = holding.shift(1).fillna(0)
    returns = close.pct_change().fillna(0)
    strategy = float((1 + position * returns).prod() - 1)
    hold = float(close.iloc[-1] / close.iloc[0] - 1) if len(close) else 0.0
    return {"trades": float(position.diff().abs().sum()), "strategy": strategy, "hold": hold}


def main() -> int:
    """Parse the command line, load the bars and print the backtest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("symbol")
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--fast", type=int, default=5)
    parser.add_argument("--slow", type=int, default=20)
    parser.add_argument("--outputs", help="stack outputs file (default: MARKETSTREAM_* env)")
    args = parser.parse_args()
    try:
        endpoints = Endpoints.from_outputs(args.outputs) if args.outputs else Endpoints.from_env()
        end = int(time.time() * 1000)
        with Client(endpoints) as client:
            frame = load(client, args.symbol, end - int(args.hours * 3_600_000), end)
    except MarketStreamError as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 1
    if len(frame) < args.slow:
        print(f"backtest: {len(frame)} bar(s) of {args.symbol}: fewer than --slow", file=sys.stderr)
        return 1
    result = backtest(frame, args.fast, args.slow)
    print(f"bars: {len(frame)} from {frame.index[0]} to {frame.index[-1]}")
    print(f"ticks: {int(frame['count'].sum())}; last close {frame['close'].iloc[-1]}")
    print(
        f"sma{args.fast}/sma{args.slow}: {int(result['trades'])} trade(s), "
        f"return {result['strategy']:+.4%} vs buy-and-hold {result['hold']:+.4%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
