"""Cost model against hand calculations from the price pages (us-east-1; see docs/cost.md).

Each expected value is written out as arithmetic on the published prices, so a reader can check
it with a calculator and the price page, not against the model's own code.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from loadgen.cost import (
    PRESETS,
    PRICES,
    SECONDS_PER_MONTH,
    CostEstimate,
    QueryKind,
    Workload,
    billed_ms,
    block_item_bytes,
    estimate,
    lambda_gb_seconds,
    metered_units,
    query_request_usd,
    read_units,
    write_units,
)
from loadgen.cost_cli import EX_USAGE, main

MONTH = 730 * 3600  # 2,628,000 s: AWS's 730-hour month
GIB = 1024**3

# A workload with everything optional switched off, to check one path at a time.
BARE = Workload(
    ticks_per_s=100.0,
    ticks_per_request=1,
    symbols_per_request=1,
    ingest_api="rest",
    arch="x86_64",
    memory_mb=128,
    ingest_duration_ms=25.0,
    init_duration_ms=0.0,
    cold_start_share=0.0,
    log_bytes_per_invocation=0,
    block_header_bytes=90,
    block_bytes_per_tick=10,
    retention_days=0.0,
    pitr=False,
    authorizer=False,
    query_rate=0.0,
    fanout=False,
    subscribers=0,
    dashboards=0,
)


def line(result: CostEstimate, service: str, item: str) -> float:
    """Dollars per month of one line item."""
    (found,) = [x for x in result.items if x.service == service and x.item == item]
    return float(found.usd_per_month)


# --- billing rules ------------------------------------------------------------------------------


def test_month_is_730_hours() -> None:
    assert SECONDS_PER_MONTH == MONTH


def test_prices_are_the_published_us_east_1_list_prices() -> None:
    assert PRICES.region == "us-east-1"
    assert PRICES.lambda_request * 1e6 == pytest.approx(0.20)
    assert PRICES.lambda_gb_s_x86_64 == 0.0000166667
    assert PRICES.lambda_gb_s_arm64 == 0.0000133334
    assert PRICES.http_api_request * 1e6 == pytest.approx(1.00)
    assert PRICES.rest_api_request * 1e6 == pytest.approx(3.50)
    assert PRICES.dynamodb_wru * 1e6 == pytest.approx(0.625)  # after the Nov 2024 cut
    assert PRICES.dynamodb_rru * 1e6 == pytest.approx(0.125)
    assert PRICES.sqs_request * 1e6 == pytest.approx(0.40)
    assert PRICES.sns_publish * 1e6 == pytest.approx(0.50)
    assert PRICES.websocket_message * 1e6 == pytest.approx(1.00)
    assert PRICES.websocket_connection_minute * 1e6 == pytest.approx(0.25)
    assert PRICES.logs_ingest_gb == 0.50


@pytest.mark.parametrize(
    ("duration_ms", "billed"), [(0.0, 1), (0.2, 1), (1.0, 1), (1.0001, 2), (24.6, 25), (25.0, 25)]
)
def test_lambda_duration_rounds_up_to_the_millisecond(duration_ms: float, billed: int) -> None:
    assert billed_ms(duration_ms) == billed


def test_gb_seconds_are_memory_in_gb_times_billed_seconds() -> None:
    # 128 MB = 0.125 GB; 24.6 ms bills as 25 ms = 0.025 s -> 0.125 * 0.025 = 0.003125 GB-s
    assert lambda_gb_seconds(128, 24.6) == pytest.approx(0.003125)
    # 1769 MB for 100 ms: 1769/1024 * 0.1 = 0.172753906 GB-s
    assert lambda_gb_seconds(1769, 100) == pytest.approx(1769 / 1024 * 0.1)


@pytest.mark.parametrize(
    ("size", "wru"), [(1, 1), (100, 1), (1024, 1), (1025, 2), (2048, 2), (10 * 1024 + 1, 11)]
)
def test_write_units_are_one_per_started_kb(size: int, wru: int) -> None:
    assert write_units(size) == wru


def test_read_units_are_one_per_started_4kb_halved_when_eventually_consistent() -> None:
    assert read_units(100) == 0.5  # 1 x 4 KB, eventually consistent
    assert read_units(4096) == 0.5
    assert read_units(4097) == 1.0  # 2 x 4 KB / 2
    assert read_units(3500, consistent=True) == 1.0
    assert read_units(10 * 1024, consistent=True) == 3.0  # 10 KB -> 12 KB -> 3 units


def test_request_metering_chunks() -> None:
    assert metered_units(100, 512 * 1024) == 1  # HTTP API: 512 KB increments
    assert metered_units(512 * 1024 + 1, 512 * 1024) == 2
    assert metered_units(64 * 1024, 64 * 1024) == 1  # SQS/SNS: 64 KB chunks
    assert metered_units(256 * 1024, 64 * 1024) == 4
    assert metered_units(33 * 1024, 32 * 1024) == 2  # WebSocket: 32 KB increments


def test_block_size_is_header_plus_ticks() -> None:
    assert block_item_bytes(1, 40, 10) == 50
    assert block_item_bytes(100, 40, 10) == 1040  # just over 1 KB: 2 WRU
    assert write_units(block_item_bytes(98, 40, 10)) == 1  # 1020 bytes: 1 WRU


# --- the workload function, one path at a time ---------------------------------------------------


def test_bare_ingest_one_tick_per_request_on_rest_api() -> None:
    r = estimate(BARE)
    requests = 100 * MONTH  # 262,800,000 requests a month
    assert r.ticks_per_month == requests
    # REST API: 262.8 M x $3.50/M = $919.80
    assert line(r, "API Gateway", "REST API ingest") == pytest.approx(262.8 * 3.50)
    # Lambda requests: 262.8 M x $0.20/M = $52.56
    assert line(r, "Lambda", "ingest requests") == pytest.approx(262.8 * 0.20)
    # Duration: 262.8 M x 0.125 GB x 0.025 s = 821,250 GB-s x $0.0000166667 = $13.6875...
    assert line(r, "Lambda", "ingest duration (x86_64)") == pytest.approx(821_250 * 0.0000166667)
    # DynamoDB: 100-byte item = 1 WRU; 262.8 M x $0.625/M = $164.25
    assert line(r, "DynamoDB", "tick block writes") == pytest.approx(262.8 * 0.625)
    # Nothing retained, no logs: those lines are zero.
    assert line(r, "DynamoDB", "storage") == 0
    assert line(r, "CloudWatch Logs", "ingestion") == 0
    total = 262.8 * (3.50 + 0.20 + 0.625) + 821_250 * 0.0000166667
    assert r.usd_per_month == pytest.approx(total)
    # Per million ticks: 3.50 + 0.20 + 0.625 + 3125 GB-s x 0.0000166667 = $4.37708...
    assert r.usd_per_million_ticks == pytest.approx(4.325 + 3125 * 0.0000166667)
    assert set(r.by_service) == {"API Gateway", "Lambda", "DynamoDB", "CloudWatch Logs"}


def test_batched_blocks_on_http_api_arm64() -> None:
    w = dataclasses.replace(
        BARE,
        ticks_per_request=100,
        symbols_per_request=4,
        ingest_api="http",
        arch="arm64",
        memory_mb=256,
        ingest_duration_ms=39.2,
        block_header_bytes=40,
    )
    r = estimate(w)
    requests = 100 / 100 * MONTH  # 1 request/s -> 2,628,000 a month
    # 100 ticks x 60 bytes = 6 KB body < 512 KB: one metered request each. 2.628 x $1.00
    assert line(r, "API Gateway", "HTTP API ingest") == pytest.approx(2.628 * 1.00)
    # 0.25 GB x 0.040 s (39.2 ms -> 40 ms) = 0.01 GB-s per request -> 26,280 GB-s x arm64 price
    assert line(r, "Lambda", "ingest duration (arm64)") == pytest.approx(
        requests * 0.01 * 0.0000133334
    )
    # 4 blocks of 25 ticks: 40 + 25 x 10 = 290 bytes -> 1 WRU each, 4 WRU per request
    # (BatchWriteItem bills each item): 10.512 M WRU x $0.625/M = $6.57
    assert line(r, "DynamoDB", "tick block writes") == pytest.approx(4 * 2.628 * 0.625)
    # vs one item per tick: 100 WRU per request -> 25x the write cost
    per_tick = estimate(dataclasses.replace(w, ticks_per_request=1, symbols_per_request=1))
    assert line(per_tick, "DynamoDB", "tick block writes") == pytest.approx(262.8 * 0.625)


def test_block_just_over_1kb_costs_two_write_units() -> None:
    w = dataclasses.replace(BARE, ticks_per_request=100, block_header_bytes=40)
    # one block of 100 ticks = 40 + 1000 = 1040 bytes -> 2 WRU per request, 2.628 M requests
    assert line(estimate(w), "DynamoDB", "tick block writes") == pytest.approx(2 * 2.628 * 0.625)


def test_init_is_billed_on_cold_starts() -> None:
    w = dataclasses.replace(BARE, init_duration_ms=475.5, cold_start_share=0.01)
    # warm: 0.125 x 0.025 = 0.003125 GB-s; cold: ceil(25 + 475.5) = 501 ms -> 0.062625 GB-s
    per_invocation = 0.99 * 0.003125 + 0.01 * 0.125 * 0.501
    expected = 100 * MONTH * per_invocation * 0.0000166667
    assert line(estimate(w), "Lambda", "ingest duration (x86_64)") == pytest.approx(expected)


def test_log_ingestion_per_gib() -> None:
    w = dataclasses.replace(BARE, log_bytes_per_invocation=400)
    # 262.8 M invocations x 400 bytes = 105.12e9 bytes / 2^30 = 97.9 GiB x $0.50
    assert line(estimate(w), "CloudWatch Logs", "ingestion") == pytest.approx(
        262.8e6 * 400 / GIB * 0.50
    )


def test_storage_and_pitr_at_steady_state() -> None:
    w = dataclasses.replace(BARE, retention_days=30, pitr=True)
    # 100 items/s x 30 days x 86,400 s = 259.2 M items x (100 + 100 overhead) bytes / 2^30
    gb = 100 * 30 * 86_400 * 200 / GIB  # 48.28 GiB
    r = estimate(w)
    assert line(r, "DynamoDB", "storage") == pytest.approx(gb * 0.25)
    assert line(r, "DynamoDB", "PITR backup") == pytest.approx(gb * 0.20)


def test_authorizer_runs_once_per_token_per_ttl() -> None:
    w = dataclasses.replace(BARE, ingest_api="http", authorizer=True, ingest_clients=3)
    # 3 tokens x 2,628,000 s / 300 s = 26,280 invocations x $0.20/M
    assert line(estimate(w), "Lambda", "authorizer requests") == pytest.approx(26_280 * 0.20e-6)


def test_queries_price_rest_api_lambda_and_read_units() -> None:
    mix = (QueryKind("query", 0.5, 10, 30.0), QueryKind("latest", 0.5, 1, 10.0))
    w = dataclasses.replace(BARE, query_rate=2.0, query_mix=mix)
    r = estimate(w)
    n = 1.0 * MONTH  # each route: 2/s x 0.5 -> 2,628,000 a month
    assert line(r, "API Gateway", "REST API /query") == pytest.approx(2.628 * 3.50)
    # /query reads 10 items of 100 bytes = 1000 bytes -> one 4 KB unit, eventual: 0.5 RRU
    assert line(r, "DynamoDB", "/query reads") == pytest.approx(n * 0.5 * 0.125e-6)
    # /latest: 0.125 GB x 0.010 s = 0.00125 GB-s per call
    assert line(r, "Lambda", "/latest duration (x86_64)") == pytest.approx(
        n * 0.00125 * 0.0000166667
    )


def test_fanout_sns_sqs_and_websocket() -> None:
    w = dataclasses.replace(
        BARE,
        fanout=True,
        fanout_records_per_invocation=10,
        subscribers=3,
        subscriber_match_share=0.5,
        sqs_requests_per_message=0.2,
        dashboards=4,
        dashboard_messages_per_s=2.0,
        dashboard_message_bytes=40 * 1024,  # 40 KB -> two 32 KB increments
    )
    r = estimate(w)
    blocks = 262.8e6
    # one SNS publish per block: 262.8 M x $0.50/M = $131.40 (SNS -> SQS delivery is free)
    assert line(r, "SNS", "publishes") == pytest.approx(262.8 * 0.50)
    # 3 queues x 50 % of blocks x 0.2 calls = 78.84 M requests x $0.40/M
    assert line(r, "SQS", "subscriber receive/delete") == pytest.approx(
        blocks * 3 * 0.5 * 0.2 * 0.40e-6
    )
    # stream consumer: 262.8 M records / 10 per batch = 26.28 M invocations x $0.20/M
    assert line(r, "Lambda", "fan-out requests") == pytest.approx(26.28 * 0.20)
    # 4 connections x 43,800 minutes = 175,200 connection-minutes x $0.25/M
    assert line(r, "API Gateway", "WebSocket connection-minutes") == pytest.approx(
        4 * MONTH / 60 * 0.25e-6
    )
    # 4 x 2 msg/s x 2,628,000 s x 2 increments = 42.048 M messages x $1.00/M
    assert line(r, "API Gateway", "WebSocket messages") == pytest.approx(42.048)


def test_rollups_write_four_pages_and_the_mark_per_symbol_and_batch() -> None:
    # GIVEN 100 blocks/s of one symbol (100 bytes each), fan-out batches of 10, 900-byte pages
    w = dataclasses.replace(BARE, fanout=True, fanout_records_per_invocation=10)
    r = estimate(w)
    recomputes = 262.8e6 / 10  # one symbol per batch
    # THEN each recompute writes 4 pages (1 WRU each) + the mark: 5 WRU x $0.625/M
    assert line(r, "DynamoDB", "rollup writes") == pytest.approx(recomputes * 5 * 0.625e-6)
    # and reads, strongly consistent, the 4 pages (1 RRU each); the minute memory answers the
    # rest but for two full reads of the symbol's minute a minute: one nearly empty (1 unit),
    # one at 0.5 x 60 s x 100 blocks/s x 100 bytes = 300,000 bytes -> 74 units of 4 KB
    full_reads = MONTH * 2 / 60
    assert line(r, "DynamoDB", "rollup reads") == pytest.approx(
        (recomputes * 4 + full_reads * (1 + 74) / 2) * 0.125e-6
    )
    # a symbol recomputed less than twice a minute is read back every time
    rare = dataclasses.replace(w, fanout_records_per_invocation=6_000)
    assert line(estimate(rare), "DynamoDB", "rollup reads") == pytest.approx(
        262.8e6 / 6_000 * (4 + (1 + 74) / 2) * 0.125e-6
    )
    assert not [
        x for x in estimate(dataclasses.replace(w, rollups=False)).items if "rollup" in x.item
    ]


def test_bars_query_reads_pages_and_a_request_is_priced_alone() -> None:
    # GIVEN /bars reading 3 pages of 900 bytes and no block
    kind = QueryKind("bars", 1.0, 0, 10.0, pages_read=3)
    w = dataclasses.replace(BARE, query_rate=1.0, query_mix=(kind,), bar_page_bytes=900)
    # THEN 2,700 bytes -> one 4 KB unit, eventual: 0.5 RRU per request
    assert line(estimate(w), "DynamoDB", "/bars rollup reads") == pytest.approx(
        MONTH * 0.5 * 0.125e-6
    )
    # AND one request alone: REST $3.50/M + Lambda $0.20/M + 0.5 GB x 10 ms arm64 + 2 calls
    usd = query_request_usd([2_700, 100], 10.0, memory_mb=512)
    assert usd["total"] == pytest.approx(
        3.50e-6 + 0.20e-6 + 0.5 * 0.010 * 0.0000133334 + 2 * 0.5 * 0.125e-6
    )


def test_sns_publish_batch_divides_publish_requests() -> None:
    w = dataclasses.replace(BARE, fanout=True, sns_messages_per_publish=10)
    # 10 blocks of 100 bytes per PublishBatch: one 64 KB chunk -> 26.28 M requests x $0.50/M
    assert line(estimate(w), "SNS", "publishes") == pytest.approx(26.28 * 0.50)


def test_cost_of_a_run_scales_the_month() -> None:
    r = estimate(BARE)
    assert r.usd_for_seconds(MONTH) == pytest.approx(r.usd_per_month)
    assert r.usd_for_seconds(60) == pytest.approx(r.usd_per_month * 60 / MONTH)


def test_estimate_is_frozen_and_serialisable() -> None:
    r = estimate(PRESETS["default"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.ticks_per_month = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.by_service["Lambda"] = 0.0  # type: ignore[index]
    data = json.loads(json.dumps(r.to_dict()))
    assert data["usd_per_month"] == pytest.approx(sum(data["by_service"].values()))


# --- presets -----------------------------------------------------------------------------------


def test_original_preset_is_above_its_claimed_1_19_per_million() -> None:
    r = estimate(PRESETS["original"])
    # REST API alone lists at $3.50 per million requests, and it sent one request per tick.
    assert r.by_service_per_million_ticks()["API Gateway"] == pytest.approx(3.50)
    # + Lambda $0.20 + 3125 GB-s x $0.0000166667 (~$0.052) + DynamoDB 1 WRU $0.625 + storage/logs
    assert r.usd_per_million_ticks > 3.50 + 0.20 + 0.052 + 0.625
    assert r.usd_per_million_ticks > 1.19 * 3


def test_default_preset_is_far_below_the_original() -> None:
    original = estimate(PRESETS["original"]).usd_per_million_ticks
    default = estimate(PRESETS["default"]).usd_per_million_ticks
    assert default < original / 10


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"ticks_per_s": 0},
        {"ticks_per_request": 0},
        {"symbols_per_request": 200},
        {"memory_mb": 64},
        {"arch": "sparc"},
        {"ingest_api": "grpc"},
        {"cold_start_share": 1.5},
        {"sns_messages_per_publish": 11},
        {"query_mix": (QueryKind("query", 0.3, 1, 1.0),)},
    ],
)
def test_bad_workloads_are_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(change)).split("_")[0]):
        dataclasses.replace(PRESETS["default"], **change)


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_json_matches_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--preset", "original", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["preset"] == "original"
    assert data["region"] == "us-east-1"
    assert data["usd_per_million_ticks"] == pytest.approx(
        estimate(PRESETS["original"]).usd_per_million_ticks
    )


def test_cli_flags_override_the_preset(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--ticks-per-s", "500", "--batch", "1", "--symbols", "1", "--memory", "128"]
    argv += ["--arch", "x86_64", "--duration-ms", "25", "--query-mix", "latest=1", "--json"]
    assert main(argv) == 0
    workload = json.loads(capsys.readouterr().out)["workload"]
    assert workload["ticks_per_request"] == 1
    assert workload["arch"] == "x86_64"
    assert [k["share"] for k in workload["query_mix"]] == [0.0, 1.0, 0.0]


def test_cli_table_shows_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--preset", "default"]) == 0
    out = capsys.readouterr().out
    assert "Total" in out
    assert "us-east-1" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        ["--memory", "lots"],
        ["--memory", "64"],
        ["--arch", "sparc"],
        ["--preset", "nope"],
        ["--query-mix", "everything=1"],
        ["--query-mix", "query=0.2"],
    ],
)
def test_cli_bad_args_print_one_line_and_exit_64(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EX_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("cost: error: ")
