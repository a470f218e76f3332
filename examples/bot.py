"""A trading bot's skeleton: subscribe to live ticks and keep a moving average per symbol.

    pip install ./client
    python examples/bot.py AAPL MSFT --window 20 --outputs .localcloud/outputs.json

Prints one line per tick: time, symbol, price, the moving average of the last `--window` prices
(exact decimals) and a signal when the price crosses it. The connection is the client's: it
reconnects with backoff and subscribes again if the socket closes. `--count N` stops after N
ticks (the functional tests use it); otherwise Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque
from decimal import Decimal

from marketstream import AsyncClient, Endpoints, MarketStreamError, Tick


class MovingAverage:
    """The mean of the last `window` prices, exact."""

    def __init__(self, window: int) -> None:
        self.prices: deque[Decimal] = deque(maxlen=window)
        self.total = Decimal(0)

    def add(self, price: Decimal) -> Decimal:
        """Add a price; the average of the window now."""
        if len(self.prices) == self.prices.maxlen:
            self.total -= self.prices[0]
        self.prices.append(price)
        self.total += price
        return self.total / len(self.prices)


def _signal(previous: tuple[Decimal, Decimal] | None, price: Decimal, average: Decimal) -> str:
    if previous is None:
        return ""
    before, before_average = previous
    if before <= before_average < average < price:
        return "  BUY (crossed above)"
    if before >= before_average > average > price:
        return "  SELL (crossed below)"
    return ""


async def run(endpoints: Endpoints, symbols: list[str], window: int, count: int | None) -> int:
    """Print each live tick with its moving average; stop after `count` ticks if given."""
    averages: dict[str, MovingAverage] = {}
    last: dict[str, tuple[Decimal, Decimal]] = {}
    seen = 0
    async with AsyncClient(endpoints) as client, client.subscribe(symbols) as live:
        await live.subscribed()
        print(f"subscribed to {', '.join(live.symbols)}; moving average of {window}", flush=True)
        tick: Tick
        async for tick in live:
            average = averages.setdefault(tick.symbol, MovingAverage(window)).add(tick.price)
            signal = _signal(last.get(tick.symbol), tick.price, average)
            last[tick.symbol] = (tick.price, average)
            print(
                f"{tick.time:%H:%M:%S.%f} {tick.symbol} {tick.price} ma{window}="
                f"{average.quantize(Decimal('0.0001'))}{signal}",
                flush=True,
            )
            seen += 1
            if count is not None and seen >= count:
                break
    return 0


def main() -> int:
    """Parse the command line and run the bot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("symbols", nargs="+")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--outputs", help="stack outputs file (default: MARKETSTREAM_* env)")
    args = parser.parse_args()
    try:
        endpoints = Endpoints.from_outputs(args.outputs) if args.outputs else Endpoints.from_env()
        return asyncio.run(run(endpoints, args.symbols, args.window, args.count))
    except MarketStreamError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
