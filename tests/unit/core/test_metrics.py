"""GIVEN the EMF emitter and the instrumented handlers WHEN they run THEN each prints valid EMF."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers.core.metrics import (
    DIMENSIONS,
    MAX_VALUES,
    METRIC,
    NAMESPACE,
    STACK_ENV,
    MetricsLogger,
    Unit,
)
from handlers.core.settings import ENV
from tests.unit.core.conftest import Cloud
from tests.unit.core.events import http_v2, sqs

NOW = time.time_ns() // 1_000_000


def emf_lines(text: str) -> list[dict[str, Any]]:
    """Every stdout line that is an EMF document, validated against the EMF specification."""
    documents = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        meta = document["_aws"]
        assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 0
        (directive,) = meta["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        assert directive["Dimensions"] == [list(DIMENSIONS)]
        for dimension in DIMENSIONS:  # every dimension is a string member of the document
            assert isinstance(document[dimension], str) and document[dimension]
        for metric in directive["Metrics"]:
            assert set(metric) == {"Name", "Unit"}
            value = document[metric["Name"]]  # every metric has its value(s) in the root
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= MAX_VALUES
            assert all(isinstance(v, int | float) for v in values)
        documents.append(document)
    return documents


def metrics_of(document: dict[str, Any]) -> dict[str, str]:
    return {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_one_line_with_counters_samples_units_and_properties(capsys: pytest.CaptureFixture[str]):
    env = {STACK_ENV: "prod", "AWS_LAMBDA_FUNCTION_NAME": "ingest-fn-1234"}
    logger = MetricsLogger.from_env("ingest", env)
    logger.count(METRIC.TICKS_ACCEPTED, 3)
    logger.count(METRIC.TICKS_ACCEPTED, 4)
    logger.record(METRIC.BLOCK_SIZE, 5)
    logger.record(METRIC.BLOCK_SIZE, 2)
    logger.record("HandlerMs", 1.5, Unit.MILLISECONDS)
    logger.set_property("RequestId", "r-1")
    logger.flush()
    (document,) = emf_lines(capsys.readouterr().out)
    assert metrics_of(document) == {
        "TicksAccepted": "Count",
        "BlockSize": "Count",
        "HandlerMs": "Milliseconds",
    }
    assert document["TicksAccepted"] == 7  # counters sum within one invocation
    assert document["BlockSize"] == [5, 2]  # samples stay separate
    assert document["HandlerMs"] == 1.5
    assert (document["Stack"], document["FunctionName"]) == ("prod", "ingest-fn-1234")
    assert document["RequestId"] == "r-1"


def test_flush_starts_over_and_prints_nothing_when_empty(capsys: pytest.CaptureFixture[str]):
    logger = MetricsLogger.from_env("replay", {})
    logger.count(METRIC.TICKS_REPLAYED, 1)
    logger.flush()
    logger.flush()
    (document,) = emf_lines(capsys.readouterr().out)
    # Outside Lambda the dimensions fall back to the service name and "local".
    assert (document["Stack"], document["FunctionName"]) == ("local", "replay")


def test_more_than_100_samples_are_reduced_to_100_order_statistics(
    capsys: pytest.CaptureFixture[str],
):
    logger = MetricsLogger.from_env("ingest", {})
    for value in range(1, 501):
        logger.record(METRIC.BLOCK_SIZE, value)
    logger.flush()
    (document,) = emf_lines(capsys.readouterr().out)
    sizes = document["BlockSize"]
    assert len(sizes) == MAX_VALUES
    assert sizes[0] == 1 and sizes[-1] == 500
    assert sizes == sorted(sizes)
    assert 240 <= sizes[49] <= 260  # the median survives


def test_disabled_logger_prints_nothing(capsys: pytest.CaptureFixture[str]):
    logger = MetricsLogger.disabled()
    logger.count(METRIC.TICKS_ACCEPTED, 1)
    logger.flush()
    assert capsys.readouterr().out == ""


def test_stack_variable_is_spelled_like_the_settings():
    assert STACK_ENV == ENV.STACK


def _ticks(n: int, symbol: str = "AAPL") -> list[dict[str, Any]]:
    return [
        {"symbol": symbol, "price": "1.5", "timestamp": NOW - 1000 + i, "id": f"{symbol}{i}"}
        for i in range(n)
    ]


def test_ingest_emits_accepted_block_sizes_and_retries(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
):
    capsys.readouterr()
    response = cloud.ingest.handler(http_v2({"ticks": _ticks(3) + _ticks(2, "MSFT")}), None)
    assert response["statusCode"] == 200
    (document,) = emf_lines(capsys.readouterr().out)
    assert metrics_of(document) == {
        "TicksAccepted": "Count",
        "TicksRejected": "Count",
        "TicksQueued": "Count",
        "BlockSize": "Count",
        "WriteRetries": "Count",
    }
    assert (document["TicksAccepted"], document["TicksRejected"], document["TicksQueued"]) == (
        5,
        0,
        0,
    )
    assert sorted(document["BlockSize"]) == [2, 3]
    assert document["WriteRetries"] == 0
    assert document["Status"] == 200
    assert document["RequestId"] == "req"
    assert document["DurationMs"] >= 0


def test_ingest_emits_rejected_ticks_with_the_error_code(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
):
    capsys.readouterr()
    bad = [*_ticks(3), {"symbol": "AAPL", "price": "-1", "timestamp": NOW}]
    assert cloud.ingest.handler(http_v2({"ticks": bad}), None)["statusCode"] == 400
    assert cloud.ingest.handler(http_v2("{not json"), None)["statusCode"] == 400
    first, second = emf_lines(capsys.readouterr().out)
    assert (first["TicksRejected"], first["TicksAccepted"], first["Status"]) == (4, 0, 400)
    assert first["ErrorCode"] == "invalid_tick"
    assert "BlockSize" not in first
    assert (second["TicksRejected"], second["ErrorCode"]) == (0, "invalid_json")


def test_spill_and_replay_emit_queued_retries_replayed_and_failures(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "Batch")

    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(cloud.ingest._writer(), "_sleep", lambda s: None)
        patch.setattr(cloud.ingest._writer()._client, "batch_write_item", refuse)
        assert cloud.ingest.handler(http_v2({"ticks": _ticks(4)}), None)["statusCode"] == 202
    (spilled,) = emf_lines(capsys.readouterr().out)
    assert (spilled["TicksAccepted"], spilled["TicksQueued"], spilled["Status"]) == (4, 4, 202)
    assert spilled["WriteRetries"] == 1  # MARKETSTREAM_WRITE_ATTEMPTS=2 in the fixture

    bodies = cloud.queued_bodies()
    cloud.replay.handler(sqs([*bodies, "not a spill message"]), None)
    (replayed,) = emf_lines(capsys.readouterr().out)
    assert metrics_of(replayed) == {
        "TicksReplayed": "Count",
        "ReplayFailures": "Count",
        "WriteRetries": "Count",
    }
    assert (replayed["TicksReplayed"], replayed["ReplayFailures"]) == (4, 1)
    assert replayed["Messages"] == len(bodies) + 1
    assert replayed["ErrorCode"] == "malformed_message"
