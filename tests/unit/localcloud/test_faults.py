"""GIVEN a fault mode set WHEN botocore calls DynamoDB (moto in-process) THEN the fault is what AWS
would give: throttled writes, an unreachable endpoint for every call, a crash after a partial write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from localcloud.faults import (
    CRASH,
    FAIL_INVOCATIONS,
    HTTP_THROTTLE,
    HTTP_UNAVAILABLE,
    THROTTLE_READS,
    THROTTLE_WRITES,
    UNAVAILABLE,
    FaultInjector,
    FaultSettingsError,
    InjectedCrash,
    parse_settings,
)

TABLE = "ticks"


class Clock:
    """A hand-wound monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def faults(clock: Clock) -> FaultInjector:
    return FaultInjector(seed=7, clock=clock)


@pytest.fixture
def ddb(
    faults: FaultInjector, fake_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A DynamoDB client of a fresh session with the injector's hooks, on moto in-process."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)  # no function is running
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        faults.install(session._session)
        client = session.client(
            "dynamodb", config=Config(retries={"total_max_attempts": 3, "mode": "standard"})
        )
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def put(n: int) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"k": {"S": f"item-{n}"}}}}


def stored(ddb: Any) -> list[str]:
    return sorted(item["k"]["S"] for item in ddb.scan(TableName=TABLE)["Items"])


def set_faults(faults: FaultInjector, document: dict[str, Any]) -> None:
    faults.apply(parse_settings(document, functions={"ingest-fn", "query-fn"}))


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"throttle_writes": 1.5}, "throttle_writes"),
        ({"throttle_writes": True}, "throttle_writes"),
        ({"unavailable": "1"}, "unavailable"),
        ({"unavailable": -0.1}, "unavailable"),
        ({"crash": {"function": "ingest-fn"}}, "crash.share"),
        ({"crash": {"function": "nope", "share": 0.1}}, "crash.function"),
        ({"crash": {"function": "ingest-fn", "share": 0.1, "after": 2}}, "crash.after"),
        ({"throttle_writes": 0.3, "for_s": 0}, "for_s"),
        ({"throttle_writes": 0.3, "for_s": "20"}, "for_s"),
        ({"throttle_writes": 0.3, "fail_writes": 0.3}, "fail_writes"),
        ({"fail_write": 0.3}, "fail_write"),
        ({}, "body"),
        ({"for_s": 5}, "body"),
        ([0.3], "body"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(document: Any, field: str) -> None:
    with pytest.raises(FaultSettingsError) as refused:
        parse_settings(document, functions={"ingest-fn"})
    assert field in [name for name, _ in refused.value.details]
    assert str(refused.value)


def test_a_refused_document_changes_nothing(faults: FaultInjector) -> None:
    set_faults(faults, {"throttle_writes": 0.2})
    with pytest.raises(FaultSettingsError):
        set_faults(faults, {"throttle_writes": 0.9, "unavailable": 2})
    snapshot = faults.snapshot()
    assert (snapshot[THROTTLE_WRITES]["share"], snapshot[UNAVAILABLE]["share"]) == (0.2, 0.0)


def test_modes_set_leave_the_others_alone_and_null_clears_the_crash(faults: FaultInjector) -> None:
    set_faults(faults, {"throttle_writes": 0.3, "crash": {"function": "ingest-fn", "share": 0.05}})
    set_faults(faults, {"unavailable": 1})
    snapshot = faults.snapshot()
    assert snapshot[THROTTLE_WRITES]["share"] == 0.3
    assert snapshot[UNAVAILABLE]["share"] == 1.0
    assert (snapshot[CRASH]["function"], snapshot[CRASH]["share"]) == ("ingest-fn", 0.05)
    set_faults(faults, {"crash": None})
    assert (faults.snapshot()[CRASH]["function"], faults.snapshot()[CRASH]["share"]) == (None, 0.0)


def test_fail_writes_is_the_old_name_of_throttle_writes(faults: FaultInjector) -> None:
    set_faults(faults, {"fail_writes": 0.4})
    assert faults.snapshot()[THROTTLE_WRITES]["share"] == 0.4
    assert faults.snapshot()["fail_writes"] == 0.4
    faults.fail_writes = 0.1
    assert faults.snapshot()[THROTTLE_WRITES]["share"] == 0.1
    with pytest.raises(ValueError, match="between 0 and 1"):
        faults.fail_writes = 1.2


def test_a_timed_mode_switches_itself_off(faults: FaultInjector, clock: Clock) -> None:
    set_faults(faults, {"unavailable": 1, "throttle_writes": 0.3, "for_s": 10})
    set_faults(faults, {"crash": {"function": "ingest-fn", "share": 0.5}})
    clock.now += 4
    assert faults.snapshot()[UNAVAILABLE] | {"injected": 0} == {
        "share": 1.0,
        "remaining_s": 6.0,
        "injected": 0,
        "passed": 0,
    }
    clock.now += 6
    snapshot = faults.snapshot()
    assert (snapshot[UNAVAILABLE]["share"], snapshot[UNAVAILABLE]["remaining_s"]) == (0.0, None)
    assert snapshot[THROTTLE_WRITES]["share"] == 0.0
    assert snapshot[CRASH]["share"] == 0.5  # set without for_s: stays


# -- hooks on a real botocore client ----------------------------------------------------------


def test_throttled_writes_fail_as_dynamodb_refuses_and_reads_pass(
    faults: FaultInjector, ddb: Any
) -> None:
    set_faults(faults, {"throttle_writes": 1})
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=TABLE, Item={"k": {"S": "a"}})
    assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    with pytest.raises(ClientError):
        ddb.batch_write_item(RequestItems={TABLE: [put(1)]})
    assert ddb.scan(TableName=TABLE)["Items"] == []  # reads are not throttled
    # Short-circuited before botocore's retry loop: one refusal per call.
    assert faults.snapshot()[THROTTLE_WRITES]["injected"] == 2


def test_a_share_of_writes_is_throttled(faults: FaultInjector, ddb: Any) -> None:
    set_faults(faults, {"throttle_writes": 0.3})
    refused = 0
    for n in range(200):
        try:
            ddb.put_item(TableName=TABLE, Item={"k": {"S": f"i{n}"}})
        except ClientError:
            refused += 1
    counters = faults.snapshot()[THROTTLE_WRITES]
    assert (counters["injected"], counters["passed"]) == (refused, 200 - refused)
    assert 30 <= refused <= 90  # 60 expected; seeded, so this is exact run to run
    assert len(stored(ddb)) == 200 - refused


def test_unavailable_fails_every_call_inside_botocores_retry_loop(
    faults: FaultInjector, ddb: Any
) -> None:
    set_faults(faults, {"unavailable": 1})
    calls: list[tuple[str, dict[str, Any]]] = [
        ("put_item", {"TableName": TABLE, "Item": {"k": {"S": "a"}}}),
        (
            "query",
            {
                "TableName": TABLE,
                "KeyConditionExpression": "k = :k",
                "ExpressionAttributeValues": {":k": {"S": "a"}},
            },
        ),
        ("get_item", {"TableName": TABLE, "Key": {"k": {"S": "a"}}}),
    ]
    for operation, params in calls:
        with pytest.raises(EndpointConnectionError):
            getattr(ddb, operation)(**params)
    # The client allows 3 attempts: botocore retried each call as it retries a refused connection.
    assert faults.snapshot()[UNAVAILABLE]["injected"] == 9
    set_faults(faults, {"unavailable": 0})
    assert stored(ddb) == []  # nothing reached the table, and the table is back


def test_a_crash_writes_half_the_batch_then_raises_in_the_named_function_only(
    faults: FaultInjector, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_faults(faults, {"crash": {"function": "ingest-fn", "share": 1}})
    ddb.batch_write_item(RequestItems={TABLE: [put(0)]})  # no function running: untouched
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "query-fn")
    ddb.batch_write_item(RequestItems={TABLE: [put(1)]})  # another function: untouched
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ingest-fn")
    with pytest.raises(InjectedCrash, match="3 of 5"):
        ddb.batch_write_item(RequestItems={TABLE: [put(n) for n in range(10, 15)]})
    assert stored(ddb) == ["item-0", "item-1", "item-10", "item-11", "item-12"]
    with pytest.raises(InjectedCrash, match="1 of 1"):
        ddb.put_item(TableName=TABLE, Item={"k": {"S": "single"}})
    assert "single" in stored(ddb)  # the write landed; the invocation died after it
    counters = faults.snapshot()[CRASH]
    assert (counters["injected"], counters["passed"]) == (2, 0)
    # Every write call is counted for the function that made it ("": none running).
    assert faults.snapshot()[THROTTLE_WRITES]["by_function"] == {
        "": 1,
        "query-fn": 1,
        "ingest-fn": 2,
    }


def test_a_crash_needs_a_successful_write(
    faults: FaultInjector, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ingest-fn")
    set_faults(
        faults, {"crash": {"function": "ingest-fn", "share": 1}, "throttle_writes": 1, "for_s": 5}
    )
    with pytest.raises(ClientError):  # throttled: the handler sees the throttle, not a crash
        ddb.batch_write_item(RequestItems={TABLE: [put(1), put(2)]})
    counters = faults.snapshot()[CRASH]
    assert (counters["injected"], counters["passed"]) == (0, 1)
    assert stored(ddb) == []


def test_gateway_modes_are_counted_shares_of_requests(faults: FaultInjector) -> None:
    # GIVEN every request throttled and none losing its answer
    set_faults(faults, {"http_throttle": 1, "http_unavailable": 0})
    # WHEN the gateway asks for each request
    hits = [faults.hit(HTTP_THROTTLE) for _ in range(5)] + [faults.hit(HTTP_UNAVAILABLE)]
    # THEN the throttle hits every time, the other never, and both count what they saw
    assert hits == [True] * 5 + [False]
    snapshot = faults.snapshot()
    assert (snapshot[HTTP_THROTTLE]["injected"], snapshot[HTTP_UNAVAILABLE]["passed"]) == (5, 1)


def test_throttled_reads_fail_as_dynamodb_refuses_and_writes_pass(
    faults: FaultInjector, ddb: Any
) -> None:
    set_faults(faults, {"throttle_reads": 1})
    ddb.put_item(TableName=TABLE, Item={"k": {"S": "a"}})  # writes are not throttled
    reads: list[tuple[str, dict[str, Any]]] = [
        ("scan", {"TableName": TABLE}),
        ("get_item", {"TableName": TABLE, "Key": {"k": {"S": "a"}}}),
    ]
    for operation, request in reads:
        with pytest.raises(ClientError) as refused:
            getattr(ddb, operation)(**request)
        assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert faults.snapshot()[THROTTLE_READS]["injected"] == 2


def test_failed_invocations_target_one_function_and_count(faults: FaultInjector) -> None:
    set_faults(faults, {"fail_invocations": {"function": "ingest-fn", "share": 1.0}})
    assert faults.invocation_fault("query-fn") is None
    reason = faults.invocation_fault("ingest-fn")
    assert reason is not None and "ingest-fn died before its handler ran" in reason
    snapshot = faults.snapshot()[FAIL_INVOCATIONS]
    assert (snapshot["function"], snapshot["injected"]) == ("ingest-fn", 1)
    set_faults(faults, {"fail_invocations": None})
    assert faults.invocation_fault("ingest-fn") is None
    with pytest.raises(FaultSettingsError, match="no function named"):
        parse_settings({"fail_invocations": {"function": "x", "share": 1}}, functions={"y"})
