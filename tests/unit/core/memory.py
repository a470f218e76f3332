"""An in-memory BlockSource with DynamoDB's key order, for fast property tests of reading."""

from __future__ import annotations

from collections.abc import Iterator

from handlers.core.blocks import Block


class MemorySource:
    """Holds blocks by (symbol, sk) and answers range reads like a DynamoDB Query would."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Block] = {}
        self.reads = 0

    def put(self, blocks: list[Block]) -> None:
        for block in blocks:
            self.items[(block.symbol, block.sk)] = block

    def blocks(
        self, symbol: str, sk_low: str, sk_high: str, *, ascending: bool, min_last_ts: int
    ) -> Iterator[Block]:
        keys = sorted(sk for (sym, sk) in self.items if sym == symbol and sk_low <= sk <= sk_high)
        if not ascending:
            keys.reverse()
        for sk in keys:
            block = self.items[(symbol, sk)]
            self.reads += 1
            if block.last_ts >= min_last_ts:
                yield block
