"""GIVEN random ingest requests (retries, late ticks, blocks across minute boundaries, many
symbols) delivered by a stream that redelivers and bisects batches, with a second writer of the
same symbols racing the consumer WHEN the stream has drained THEN every rolled-up interval's
stored bars equal `compute_bars` over the stored ticks, and `/bars` over any range equals
`compute_bars` over that range's ticks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers.core.barpages import MINUTE, ROLLUPS, Page
from handlers.core.barreads import BarReader, TooManyTicks
from handlers.core.bars import compute_bars
from handlers.core.bartable import BarTable
from handlers.core.blocks import build_blocks, idempotency_key
from handlers.core.fanout import FanoutService
from handlers.core.minutes import MinuteMemory
from handlers.core.models import Tick
from handlers.core.reading import iter_ticks
from handlers.core.rollup import RollupService, Touched
from handlers.core.store import BlockWriter, DynamoBlockSource
from handlers.core.streams import block_of
from tests.unit.core.events import stream, stream_record
from tests.unit.core.strategies import decimal_text

DAY = 86_400_000
T0 = 1_764_028_800_000  # a UTC midnight: days, hours and minutes all turn over near it
SYMBOLS = ["AAA", "BB.B", "C:C"]
EVERYTHING = (0, 10**13 - 1)


def _table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "symbol", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "symbol", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class Stack:
    """The tick table, the bars table and a topic in moto; a stream of what was written."""

    ddb: Any
    topic_arn: str
    records: list[dict[str, Any]] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)

    def blocks(self) -> DynamoBlockSource:
        return DynamoBlockSource(self.ddb, "ticks", consistent=True)

    def bar_table(self) -> BarTable:
        return BarTable(self.ddb, "bars")

    def ingest(self, ticks: list[Tick], key: str | None) -> list[dict[str, Any]]:
        """Write a request's blocks; their stream records (INSERT, or MODIFY when rewritten)."""
        blocks = build_blocks(ticks, request_key=idempotency_key(key) if key else None)
        BlockWriter(self.ddb, "ticks", sleep=lambda s: None).write(blocks)
        out: list[dict[str, Any]] = []
        for block in blocks:
            name = "MODIFY" if (block.symbol, block.sk) in self.keys else "INSERT"
            self.keys.add((block.symbol, block.sk))
            out.append(
                stream_record(block.to_item(), len(self.records) + len(out), event_name=name)
            )
        return out

    def stored_bars(self, symbol: str, interval: str) -> list[dict[str, object]]:
        pages = self.bar_table().pages(symbol, interval, *EVERYTHING)
        return [page.bars[s].as_json() for page in pages for s in sorted(page.bars)]

    def expected(self, symbol: str, length: int, start: int, end: int) -> list[dict[str, object]]:
        ticks = iter_ticks(self.blocks(), symbol, start, end)
        return [bar.as_json() for bar in compute_bars(ticks, length)]


@pytest.fixture
def stack(fake_aws_env: None) -> Iterator[Stack]:
    with mock_aws():
        ddb = boto3.client("dynamodb")
        _table(ddb, "ticks")
        _table(ddb, "bars")
        topic = boto3.client("sns").create_topic(Name="ticks")["TopicArn"]
        yield Stack(ddb, topic)


def _reset(stack: Stack) -> None:
    """Empty both tables between examples (moto's account outlives one example)."""
    for name in ("ticks", "bars"):
        for item in stack.ddb.scan(TableName=name)["Items"]:
            stack.ddb.delete_item(TableName=name, Key={"symbol": item["symbol"], "sk": item["sk"]})
    stack.records.clear()
    stack.keys.clear()


# Timestamps cluster around minute, hour and day boundaries, with late ticks days before.
_offsets = st.one_of(
    st.integers(-150_000, 150_000),
    st.integers(-2 * 3_600_000, 2 * 3_600_000),
    st.integers(-3 * DAY - 90_000, -3 * DAY + 90_000),
)


@st.composite
def requests(draw: st.DrawFn) -> list[tuple[list[Tick], str | None]]:
    """Ingest requests in order; a retry resends an earlier request with its key."""
    sent: list[tuple[list[Tick], str | None]] = []
    for n in range(draw(st.integers(1, 8))):
        retry: bool = draw(st.integers(0, 3)) == 0
        if sent and retry:
            sent.append(draw(st.sampled_from(sent)))  # a retry: same key, same blocks (MODIFY)
            continue
        base = T0 + draw(_offsets)
        ticks = [
            Tick(
                symbol=draw(st.sampled_from(SYMBOLS)),
                price=draw(decimal_text(positive=True)),
                timestamp=base + draw(st.integers(0, 2_500)),
                size=draw(st.none() | decimal_text(positive=False)),
            )
            for _ in range(draw(st.integers(1, 12)))
        ]
        sent.append((ticks, f"req-{n}" if draw(st.booleans()) else None))
    return sent


@st.composite
def deliveries(draw: st.DrawFn, count: int) -> list[tuple[int, int]]:
    """Batches (start, stop) over `count` records in order, with redeliveries and bisection."""
    plan: list[tuple[int, int]] = []
    position = 0
    while position < count:
        size = draw(st.integers(1, 6))
        stop = min(count, position + size)
        if stop - position > 1 and draw(st.booleans()):
            plan.append((position, position + (stop - position) // 2))  # a bisected half first
        plan.append((position, stop))
        # A retry from a record inside the batch: what follows it comes again.
        position = stop - draw(st.integers(0, stop - position - 1))
    return plan


class RacingTable(BarTable):
    """A bar table whose writes first let another shard's consumer roll up fresh blocks."""

    def __init__(self, stack: Stack, pending: list[tuple[list[Tick], str | None]]) -> None:
        super().__init__(stack.ddb, "bars")
        self._stack = stack
        self._pending = pending

    def put_page(
        self, symbol: str, page: Page, *, read_version: int, expires_at: int | None
    ) -> bool:
        if self._pending:
            # Another shard holds these blocks: they never reach this consumer's stream.
            ticks, key = self._pending.pop(0)
            records = self._stack.ingest(ticks, key)
            other = RollupService(self._stack.blocks, self._stack.bar_table)
            touched = [
                Touched(i, *decoded) for i, r in enumerate(records) if (decoded := block_of(r))
            ]
            assert other.apply(touched) is None
        return super().put_page(symbol, page, read_version=read_version, expires_at=expires_at)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rollups_equal_bars_of_stored_ticks(stack: Stack, data: st.DataObject) -> None:
    _reset(stack)
    sent = data.draw(requests())
    racing = data.draw(st.lists(requests(), max_size=1))
    for ticks, key in sent:
        stack.records += stack.ingest(ticks, key)
    table = RacingTable(stack, list(racing[0]) if racing else [])
    service = FanoutService(
        lambda: boto3.client("sns"),
        stack.topic_arn,
        rollup=RollupService(stack.blocks, lambda: table, retention_days={"1m": 90}),
    )
    removed = stream_record(None, 10**6, event_name="REMOVE")  # TTL expiry: no new ticks
    for start, stop in data.draw(deliveries(len(stack.records))):
        batch = stack.records[start:stop]
        if data.draw(st.booleans()):
            batch = [*batch, removed]
        assert service.handle(stream(batch)) == {"batchItemFailures": []}

    for symbol in SYMBOLS:
        for interval, rollup in ROLLUPS.items():
            assert stack.stored_bars(symbol, interval) == stack.expected(
                symbol, rollup.length_ms, *EVERYTHING
            ), interval
        # /bars over a random range, cut anywhere, equals compute_bars over that range's ticks.
        start = T0 + data.draw(st.integers(-4 * DAY, DAY))
        end = start + data.draw(st.integers(0, 5 * DAY))
        reader = BarReader(stack.bar_table(), stack.blocks(), max_raw_ticks=10_000)
        for interval, rollup in ROLLUPS.items():
            answer = reader.read(symbol, interval, start, end)
            got = [bar.as_json() for bar in answer.bars]
            assert got == stack.expected(symbol, rollup.length_ms, start, end), interval


def test_ttl_expiry_of_a_block_leaves_its_bars(stack: Stack) -> None:
    """GIVEN rolled-up ticks WHEN their block expires (a REMOVE record) THEN the bars stay."""
    ticks = [Tick(symbol="AAA", price="10.50", timestamp=T0 + i * 400, size="2") for i in range(5)]
    records = stack.ingest(ticks, "k")
    service = FanoutService(
        lambda: boto3.client("sns"),
        stack.topic_arn,
        rollup=RollupService(stack.blocks, stack.bar_table),
    )
    assert service.handle(stream(records)) == {"batchItemFailures": []}
    before = {interval: stack.stored_bars("AAA", interval) for interval in ROLLUPS}
    for key in stack.keys:
        stack.ddb.delete_item(TableName="ticks", Key={"symbol": {"S": key[0]}, "sk": {"S": key[1]}})
    removed = stream_record(None, 99, event_name="REMOVE")
    assert service.handle(stream([removed])) == {"batchItemFailures": []}
    assert {interval: stack.stored_bars("AAA", interval) for interval in ROLLUPS} == before
    assert before["1m"] == [
        {
            "start": T0,
            "open": "10.50",
            "high": "10.50",
            "low": "10.50",
            "close": "10.50",
            "volume": "10",
            "count": 5,
        }
    ]


def test_mark_is_the_newest_tick_rolled_up(stack: Stack) -> None:
    """GIVEN a live tick and then a late one WHEN rolled up THEN the mark stays at the newest."""
    service = RollupService(stack.blocks, stack.bar_table)
    for ts in (T0 + 5 * MINUTE, T0 - DAY):
        records = stack.ingest([Tick(symbol="AAA", price="1", timestamp=ts)], None)
        touched = [Touched(0, *decoded) for r in records if (decoded := block_of(r))]
        assert service.apply(touched) is None
    assert stack.bar_table().mark("AAA") == T0 + 5 * MINUTE


def test_a_symbol_without_rollups_is_read_raw_up_to_the_limit(stack: Stack) -> None:
    """GIVEN ticks not rolled up yet WHEN /bars reads them THEN raw, and refused past the cap."""
    ticks = [Tick(symbol="AAA", price=f"1.{i}", timestamp=T0 + i * 7_000) for i in range(20)]
    stack.ingest(ticks, None)
    reader = BarReader(stack.bar_table(), stack.blocks(), max_raw_ticks=20)
    answer = reader.read("AAA", "1m", T0, T0 + DAY)
    assert (answer.watermark, answer.raw_from) == (None, T0)
    assert [bar.as_json() for bar in answer.bars] == stack.expected("AAA", MINUTE, T0, T0 + DAY)
    with pytest.raises(TooManyTicks):
        BarReader(stack.bar_table(), stack.blocks(), max_raw_ticks=19).read(
            "AAA", "1h", T0, T0 + DAY
        )


def test_an_undecodable_block_in_the_minute_does_not_stop_its_rollups(stack: Stack) -> None:
    """GIVEN a poison block stored beside good ones WHEN the minute is rolled up THEN the bars
    are the good ticks' (the poison record itself goes to the on-failure queue)."""
    ticks = [Tick(symbol="AAA", price="10.50", timestamp=T0 + i * 400, size="2") for i in range(3)]
    records = stack.ingest(ticks, "k")
    poison = {
        "symbol": {"S": "AAA"},
        "sk": {"S": f"{T0 + 100:013d}#poison"},
        "t1": {"N": str(T0 + 100)},
        "n": {"N": "1"},
        "b": {"B": b"\xff\x00 not a block"},
    }
    stack.ddb.put_item(TableName="ticks", Item=poison)
    service = RollupService(stack.blocks, stack.bar_table)
    touched = [Touched(0, *decoded) for r in records if (decoded := block_of(r))]
    assert service.apply(touched) is None
    assert [(bar["count"], bar["volume"]) for bar in stack.stored_bars("AAA", "1m")] == [(3, "6")]


class CountingBlocks:
    """The tick table's blocks, counting the reads."""

    def __init__(self, stack: Stack) -> None:
        self.reads = 0
        self._source = stack.blocks()

    def blocks(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.reads += 1
        return self._source.blocks(*args, **kwargs)


def test_a_remembered_minute_is_brought_up_to_date_without_reading_it_back(stack: Stack) -> None:
    """GIVEN a minute rolled up once WHEN later batches bring more of its ticks THEN they read no
    blocks and the bars still equal compute_bars; once another consumer wrote the page, or the
    memory is stale, the minute is read back in full."""
    now = [0.0]
    counting = CountingBlocks(stack)
    service = RollupService(
        lambda: counting,
        stack.bar_table,
        memory=MinuteMemory(clock=lambda: now[0]),
    )

    def batch(*prices: str) -> None:
        ticks = [
            Tick(symbol="AAA", price=price, timestamp=T0 + 1_000 * len(stack.keys) + i, size="1")
            for i, price in enumerate(prices)
        ]
        records = stack.ingest(ticks, None)
        touched = [Touched(i, *decoded) for i, r in enumerate(records) if (decoded := block_of(r))]
        assert service.apply(touched) is None

    batch("10", "11")
    assert counting.reads == 1
    batch("9.5")
    batch("12", "10.25")
    assert counting.reads == 1
    assert stack.stored_bars("AAA", "1m") == stack.expected("AAA", MINUTE, *EVERYTHING)

    other = RollupService(stack.blocks, stack.bar_table)  # another shard's consumer writes
    records = stack.ingest([Tick(symbol="AAA", price="20", timestamp=T0 + 30_000)], None)
    assert other.apply([Touched(0, *decoded) for r in records if (decoded := block_of(r))]) is None
    batch("8")
    assert counting.reads == 2
    now[0] = 1_000.0
    batch("8.5")
    assert counting.reads == 3
    assert stack.stored_bars("AAA", "1m") == stack.expected("AAA", MINUTE, *EVERYTHING)
    assert stack.stored_bars("AAA", "1m")[0]["high"] == "20"
