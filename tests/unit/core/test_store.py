"""GIVEN a table that refuses writes WHEN blocks are written THEN refusals are retried."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from handlers.core.blocks import Block, build_blocks
from handlers.core.errors import StoreRefused, StoreUnavailable
from handlers.core.models import Tick
from handlers.core.store import BlockWriter

T0 = 1_764_000_000_000


def blocks(n: int) -> list[Block]:
    return build_blocks([Tick(symbol=f"S{i}", price="1", timestamp=T0) for i in range(n)])


class ScriptedClient:
    """A DynamoDB client whose batch_write_item answers follow a script."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, puts)] = RequestItems.items()
        items = [p["PutRequest"]["Item"] for p in puts]
        self.calls.append(items)
        assert len(items) <= 25
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, Exception):
            raise step
        refused = items[:step] if isinstance(step, int) else []
        for item in items[len(refused) :]:
            self.stored[(item["symbol"]["S"], item["sk"]["S"])] = item
        if not refused:
            return {"UnprocessedItems": {}}
        return {"UnprocessedItems": {table: [{"PutRequest": {"Item": i}} for i in refused]}}


def throttled() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "BatchWriteItem",
    )


def writer(client: ScriptedClient, sleeps: list[float], attempts: int = 4) -> BlockWriter:
    return BlockWriter(
        client,  # type: ignore[arg-type]
        "ticks",
        attempts=attempts,
        base_delay_s=0.01,
        max_delay_s=0.05,
        sleep=sleeps.append,
        jitter=lambda: 1.0,
    )


def test_sixty_blocks_go_in_calls_of_at_most_25():
    client = ScriptedClient([])
    report = writer(client, []).write(blocks(60))
    assert [len(c) for c in client.calls] == [25, 25, 10]
    assert report.retries == 0 and len(client.stored) == 60


def test_unprocessed_items_are_retried_until_written():
    client, sleeps = ScriptedClient([3, 1]), list[float]()
    report = writer(client, sleeps).write(blocks(5))
    assert len(client.stored) == 5
    assert [len(c) for c in client.calls] == [5, 3, 1]
    assert report.retries == 2
    assert sleeps == [0.02, 0.04]  # capped exponential backoff (jitter pinned to 1.0)


@pytest.mark.parametrize(
    "fault", [throttled(), EndpointConnectionError(endpoint_url="http://127.0.0.1:1")]
)
def test_throttling_and_network_errors_are_retried(fault: Exception):
    client = ScriptedClient([fault, fault])
    writer(client, []).write(blocks(2))
    assert len(client.stored) == 2 and len(client.calls) == 3


def test_persistent_refusal_raises_with_exactly_the_unwritten_blocks():
    sent = blocks(4)
    client, sleeps = ScriptedClient([2, 2, 2, 2]), list[float]()
    with pytest.raises(StoreUnavailable) as info:
        writer(client, sleeps, attempts=4).write(sent)
    unwritten = {(b.symbol, b.sk) for b in info.value.unwritten}
    assert unwritten.isdisjoint(client.stored)
    assert unwritten | set(client.stored) == {(b.symbol, b.sk) for b in sent}
    assert len(sleeps) == 3 and max(sleeps) == 0.05


@pytest.mark.parametrize(
    ("code", "for_good"),
    [("ValidationException", True), ("AccessDeniedException", False)],
)
def test_non_retryable_error_is_not_retried(code: str, for_good: bool):
    bad = ClientError({"Error": {"Code": code, "Message": "no"}}, "BatchWriteItem")
    client = ScriptedClient([bad])
    with pytest.raises(StoreUnavailable, match=code) as info:
        writer(client, []).write(blocks(2))
    assert len(client.calls) == 1
    # Only a refusal of the items is a poison; a refusal of the table concerns every message.
    assert isinstance(info.value, StoreRefused) is for_good
