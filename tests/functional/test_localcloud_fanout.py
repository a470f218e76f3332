"""Fan-out on the local cloud, through real HTTP and WebSockets on 127.0.0.1.

Subscriber queues (SNS filter policies, raw delivery), the WebSocket API (subscribe/unsubscribe,
broadcast, pruning of gone connections) and the stream poller's failure handling (bisect, bounded
retries, on-failure destination). Every wait has a deadline and ends on an observed event, never
on a fixed sleep. The token on `$connect` is tested with every other credential in
test_auth_matrix.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from handlers.core.blocks import build_blocks
from handlers.core.models import Tick
from infra import outputs
from localcloud.launcher import CloudProcess
from tests.functional.ticks import ingest, make_ticks, new_symbol

DEADLINE_S = 20.0
"""Bound on every wait for a delivery (generous: the local cloud delivers in well under 1 s)."""
DELIVERY_BOUND_S = 10.0


def _resource_id(cloud: CloudProcess, typ: str, name: str) -> str:
    """The physical id of a resource the program declared (from the state file)."""
    for resource in cloud.state["resources"]:
        if resource["type"] == typ and resource["name"] == name:
            return str(resource["id"])
    raise AssertionError(f"no {typ} named {name}")


def _queue_urls(cloud: CloudProcess) -> dict[str, str]:
    urls: dict[str, str] = json.loads(cloud.outputs[outputs.SUBSCRIBER_QUEUE_URLS])
    return urls


async def _drain_until(
    sqs: Any, url: str, done: Callable[[list[dict[str, Any]]], bool], what: str
) -> list[dict[str, Any]]:
    """Receive (and delete) messages until `done(messages so far)`; fail at the deadline."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE_S
    while not done(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; got {seen!r}")
        answer = await asyncio.to_thread(
            sqs.receive_message,
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        for message in answer.get("Messages", []):
            seen.append(message)
            await asyncio.to_thread(
                sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
            )
    return seen


def _ticks_of(messages: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """(symbol, timestamp, price) of every tick in subscriber messages, duplicates dropped."""
    unique: dict[tuple[str, str, int], dict[str, Any]] = {}
    for message in messages:
        body = json.loads(message["Body"])
        unique[(body["symbol"], body["block"], body["offset"])] = body
    return sorted(
        (t["symbol"], t["timestamp"], t["price"]) for body in unique.values() for t in body["ticks"]
    )


def _key(ticks: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return sorted((t["symbol"], t["timestamp"], t["price"]) for t in ticks)


async def _connect(
    http: aiohttp.ClientSession, cloud: CloudProcess
) -> aiohttp.ClientWebSocketResponse:
    params = {"token": cloud.outputs[outputs.READ_TOKEN]}
    return await http.ws_connect(cloud.outputs[outputs.WS_URL], params=params)


async def _send(ws: aiohttp.ClientWebSocketResponse, action: str, symbols: list[str]) -> Any:
    """Send an (un)subscribe message; the reply the `$default` route response carries."""
    await ws.send_json({"action": action, "symbols": symbols})
    return await asyncio.wait_for(ws.receive_json(), DELIVERY_BOUND_S)


async def _ticks_until(
    ws: aiohttp.ClientWebSocketResponse,
    done: Callable[[list[dict[str, Any]]], bool],
    bound_s: float = DELIVERY_BOUND_S,
) -> list[dict[str, Any]]:
    """Ticks pushed to `ws` until `done(ticks so far)`; fail after `bound_s` seconds."""
    ticks: list[dict[str, Any]] = []
    deadline = time.monotonic() + bound_s
    while not done(ticks):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; got {ticks!r}")
        message = await asyncio.wait_for(ws.receive_json(), left)
        assert message["type"] == "ticks", message
        ticks.extend(message["ticks"])
    return ticks


async def test_subscriber_queues_get_exactly_the_ticks_of_their_symbols(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN ticks of the alpha queue's symbols, the beta queue's symbol and an unsubscribed one
    sqs = local_cloud.aws("sqs")
    urls = _queue_urls(local_cloud)
    now = int(time.time() * 1000)
    sent = {
        symbol: make_ticks(symbol, count, start_ms=now - 60_000)
        for symbol, count in (("FANA.X", 3), ("FANB.X", 2), ("FANC.X", 4), (new_symbol(), 5))
    }
    status, _ = await ingest(http, local_cloud, [t for ticks in sent.values() for t in ticks])
    assert status == 200
    # ... then markers, later in the stream: once they arrive, everything before them has
    markers = make_ticks("FANA.X", 1, start_ms=now) + make_ticks("FANC.X", 1, start_ms=now)
    status, _ = await ingest(http, local_cloud, markers)
    assert status == 200

    # WHEN each queue is drained up to its marker
    def has_marker(symbol: str) -> Callable[[list[dict[str, Any]]], bool]:
        return lambda seen: any(s == symbol and ts == now for s, ts, _ in _ticks_of(seen))

    alpha = await _drain_until(sqs, urls["alpha"], has_marker("FANA.X"), "alpha's marker")
    beta = await _drain_until(sqs, urls["beta"], has_marker("FANC.X"), "beta's marker")

    # THEN each got exactly its symbols' ticks, as raw JSON bodies with the symbol attribute
    assert _ticks_of(alpha) == _key(sent["FANA.X"] + sent["FANB.X"] + markers[:1])
    assert _ticks_of(beta) == _key(sent["FANC.X"] + markers[1:])
    for message in alpha + beta:
        body = json.loads(message["Body"])
        assert "Type" not in body  # raw delivery: no SNS envelope
        assert message["MessageAttributes"]["symbol"]["StringValue"] == body["symbol"]


async def test_a_websocket_client_gets_a_tick_soon_after_its_ingest(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN a client connected with the read token and subscribed to a symbol
    symbol = new_symbol()
    async with await _connect(http, local_cloud) as ws:
        assert await _send(ws, "subscribe", [symbol.lower()]) == {
            "action": "subscribe",
            "symbols": [symbol],
        }
        # WHEN a tick of it is ingested
        tick = make_ticks(symbol, 1)[0]
        started = time.perf_counter()
        status, _ = await ingest(http, local_cloud, [tick])
        assert status == 200
        # THEN it is pushed to the client within 2 s of the ingest (the requirement)
        ticks = await _ticks_until(ws, lambda got: len(got) >= 1, bound_s=2.0)
        elapsed = time.perf_counter() - started
    assert _key(ticks) == _key([tick])
    print(f"ingest -> WebSocket delivery: {elapsed * 1000:.0f} ms")
    # ... and an unknown action is answered by the $default route
    async with await _connect(http, local_cloud) as ws:
        await ws.send_json({"action": "dance"})
        reply = await asyncio.wait_for(ws.receive_json(), DELIVERY_BOUND_S)
        assert reply["error"] == "unknown_action"


async def test_unsubscribe_stops_delivery(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN a client subscribed to two symbols that then unsubscribes from one
    dropped, control = new_symbol(), new_symbol()
    async with await _connect(http, local_cloud) as ws:
        await _send(ws, "subscribe", [dropped, control])
        reply = await _send(ws, "unsubscribe", [dropped])
        assert reply == {"action": "unsubscribe", "symbols": [control]}
        # WHEN the dropped symbol is ingested, then (later in the stream) the control symbol
        for symbol in (dropped, control):
            status, _ = await ingest(http, local_cloud, make_ticks(symbol, 2))
            assert status == 200
        # THEN the control ticks arrive and nothing of the dropped symbol came before them
        ticks = await _ticks_until(ws, lambda got: len(got) >= 2)
    assert {t["symbol"] for t in ticks} == {control}


async def test_a_closed_connection_is_pruned_after_the_next_broadcast(
    local_cloud: CloudProcess, http: aiohttp.ClientSession
) -> None:
    # GIVEN a connection that closed without its $disconnect reaching the table (best effort
    # on AWS), subscribed to a symbol, and a live client subscribed to the same symbol
    symbol = new_symbol()
    dynamodb = local_cloud.aws("dynamodb")
    table = _resource_id(local_cloud, "aws:dynamodb/table:Table", "fanout-connections")
    gone = "R29uZUNvbm5lY3Q="
    dynamodb.put_item(
        TableName=table,
        Item={
            "connection_id": {"S": gone},
            "symbols": {"SS": [symbol]},
            "connected_at": {"N": str(int(time.time() * 1000))},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )
    # ... which the management API reports gone, as botocore's GoneException
    management = local_cloud.aws(
        "apigatewaymanagementapi",
        endpoint_url=local_cloud.outputs[outputs.WS_URL].replace("ws://", "http://", 1),
    )
    with pytest.raises(ClientError) as error:
        management.post_to_connection(ConnectionId=gone, Data=b"{}")
    assert error.value.response["Error"]["Code"] == "GoneException"
    async with await _connect(http, local_cloud) as ws:
        await _send(ws, "subscribe", [symbol])
        # WHEN a tick of the symbol is broadcast (the live client receiving it is the sync point)
        status, _ = await ingest(http, local_cloud, make_ticks(symbol, 1))
        assert status == 200
        await _ticks_until(ws, lambda got: len(got) >= 1)

    # THEN the gone connection's item was deleted by the broadcaster
    def exists(connection_id: str) -> bool:
        key = {"connection_id": {"S": connection_id}}
        return "Item" in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)

    deadline = time.monotonic() + DEADLINE_S
    while exists(gone):
        assert time.monotonic() < deadline, "the gone connection was not pruned"
        await asyncio.sleep(0.05)
    # ... and a client that closes normally is removed by $disconnect
    ws = await _connect(http, local_cloud)
    await _send(ws, "subscribe", [symbol])
    before = {item["connection_id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}
    await ws.close()
    deadline = time.monotonic() + DEADLINE_S
    while True:
        after = {item["connection_id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}
        if len(before - after) == 1:
            break
        assert time.monotonic() < deadline, "the closed connection's item is still there"
        await asyncio.sleep(0.05)


async def test_a_poison_record_is_isolated_and_goes_to_the_on_failure_queue(
    local_cloud: CloudProcess,
) -> None:
    # GIVEN one write of a good block, a block whose payload no code can decode, a good block
    dynamodb = local_cloud.aws("dynamodb")
    sqs = local_cloud.aws("sqs")
    now = int(time.time() * 1000)
    ticks = make_ticks("POIA.X", 3, start_ms=now) + make_ticks("POIB.X", 3, start_ms=now)
    good = [block.to_item() for block in build_blocks([Tick.model_validate(t) for t in ticks])]
    poison = {**good[0], "sk": {"S": f"{now}#poison"}, "b": {"B": b"\xff\x00 not a block"}}
    table = local_cloud.outputs[outputs.TABLE_NAME]
    items = [*good[: len(good) // 2], poison, *good[len(good) // 2 :]]
    assert len(items) <= 25
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items]})
    failures = _resource_id(local_cloud, "aws:sqs/queue:Queue", "fanout-failures")

    # WHEN the fan-out consumer has run out of retries on it
    [failure] = await _drain_until(sqs, failures, lambda seen: len(seen) >= 1, "the failure")

    # THEN its metadata alone (a batch of one record, no records) is in the on-failure queue
    document = json.loads(failure["Body"])
    info = document["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"].startswith(f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/")
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert "Records" not in document and "NewImage" not in failure["Body"]
    # ... and the good blocks before and after it were still published
    gamma = _queue_urls(local_cloud)["gamma"]
    seen = await _drain_until(
        sqs, gamma, lambda got: {s for s, *_ in _ticks_of(got)} >= {"POIA.X", "POIB.X"}, "gamma"
    )
    assert _ticks_of(seen) == _key(ticks)
