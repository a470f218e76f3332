"""`examples/` against the session's local cloud, run as a user runs them (real processes)."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal

from marketstream import Client, Tick

from localcloud.launcher import CloudProcess
from tests.functional.cloudproc import ROOT
from tests.functional.ticks import new_symbol

EXAMPLES = ROOT / "examples"
DEADLINE_S = 60.0


def test_backtest_loads_bars_into_pandas(local_cloud: CloudProcess) -> None:
    # GIVEN three hours of ticks, one every 20 s, with a trend and a swing
    symbol = new_symbol()
    start = (int(time.time() * 1000) - 3 * 3_600_000) // 60_000 * 60_000
    prices = [100 + (i // 30) % 7 + (i % 30) / 10 for i in range(540)]
    ticks = [Tick.of(symbol, f"{p:.2f}", start + i * 20_000, "1") for i, p in enumerate(prices)]
    with Client.from_outputs(local_cloud.outputs_path) as client:
        client.send(ticks)
    # WHEN the backtest runs over the last four hours
    done = subprocess.run(  # noqa: S603 - this interpreter, a file of the repository
        [sys.executable, str(EXAMPLES / "backtest.py"), symbol, "--hours", "4",
         "--outputs", str(local_cloud.outputs_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # THEN it loaded every 1m bar of those three hours and reports the strategy
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("bars: 180 from ")
    assert lines[1] == f"ticks: 540; last close {float(prices[-1])}"
    assert lines[2].startswith("sma5/sma20: ") and "vs buy-and-hold" in lines[2]


def test_bot_keeps_a_moving_average_of_live_ticks(local_cloud: CloudProcess) -> None:
    # GIVEN the bot subscribed to a symbol with a window of 3, stopping after 6 ticks
    symbol = new_symbol()
    bot = subprocess.Popen(  # noqa: S603 - this interpreter, a file of the repository
        [sys.executable, str(EXAMPLES / "bot.py"), symbol, "--window", "3", "--count", "6",
         "--outputs", str(local_cloud.outputs_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert bot.stdout is not None
        assert bot.stdout.readline().startswith(f"subscribed to {symbol}")
        # WHEN ticks are sent after it subscribed
        with Client.from_outputs(local_cloud.outputs_path) as client:
            now = int(time.time() * 1000)
            for i, price in enumerate(("10", "11", "12", "13", "20", "5")):
                client.send([Tick.of(symbol, price, now + i)])
        out, err = bot.communicate(timeout=DEADLINE_S)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    # THEN each line carries the exact moving average of the last three prices it saw
    assert bot.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 6, out
    seen: list[Decimal] = []
    for line in lines:
        _, sym, price, average = line.split()[:4]
        seen.append(Decimal(price))
        expected = sum(seen[-3:], Decimal(0)) / len(seen[-3:])
        assert sym == symbol
        assert Decimal(average.removeprefix("ma3=")) == expected.quantize(Decimal("0.0001"))
