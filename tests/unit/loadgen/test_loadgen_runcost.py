"""The run's modelled AWS cost: measured workload -> `loadgen.cost`, checked by hand."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
from rich.console import Console

from loadgen.cost import PRICES, SECONDS_PER_MONTH, QueryKind, Workload, estimate, metered_units
from loadgen.report import print_summary
from loadgen.runcost import blocks_per_request, run_cost, run_workload
from tests.unit.loadgen.test_loadgen_report import _summary

DEFAULTS = Workload()


def _endpoint(requests: int, mean_ms: float) -> dict[str, Any]:
    return {
        "requests": {"measured": requests},
        "latency_ms": {"raw": {"count": requests, "mean": mean_ms}},
    }


# 33 s at 40 req/s achieved; 900 of 1,000 measured requests were ingest (100 ticks, 8 symbols).
SUMMARY: dict[str, Any] = {
    "config": {"batch": 100, "symbols": 8, "duration_s": 33.0},
    "rate": {"achieved_rps": 40.0},
    "by_endpoint": {
        "ingest": _endpoint(900, 12.34),
        "query": _endpoint(40, 20.0),
        "latest": _endpoint(30, 10.0),
        "bars": _endpoint(30, 50.0),
    },
}


def test_blocks_per_request_is_the_expected_distinct_symbols():
    assert blocks_per_request(100, 8) == 8  # 8 x (1 - (7/8)^100) = 7.99999
    assert blocks_per_request(10, 8) == 6  # 8 x (1 - (7/8)^10) = 5.90
    assert blocks_per_request(1, 8) == 1
    assert blocks_per_request(5, 1000) == 5  # never more blocks than ticks


def test_workload_comes_from_the_measurements():
    w = run_workload(SUMMARY)
    assert w is not None
    # 40 req/s x 900/1000 ingest = 36 req/s of 100 ticks; 40 x 100/1000 = 4 query req/s.
    assert w.ticks_per_s == pytest.approx(3600.0)
    assert w.ticks_per_request == 100
    assert w.symbols_per_request == 8
    assert w.ingest_duration_ms == 12.34
    assert w.query_rate == pytest.approx(4.0)
    assert [(k.name, k.share, k.duration_ms) for k in w.query_mix] == [
        ("query", 0.4, 20.0),
        ("latest", 0.3, 10.0),
        ("bars", 0.3, 50.0),
    ]
    # Everything the run cannot know stays at the model's defaults.
    assert (w.memory_mb, w.arch, w.log_bytes_per_invocation) == (
        DEFAULTS.memory_mb,
        DEFAULTS.arch,
        DEFAULTS.log_bytes_per_invocation,
    )


def test_cost_matches_a_hand_calculation():
    cost = run_cost(SUMMARY)
    assert cost is not None
    ticks_per_month = 3600.0 * SECONDS_PER_MONTH
    millions = ticks_per_month / 1e6

    # API Gateway per million ticks, by hand: 10,000 HTTP ingest requests (100 ticks each, one
    # 512 KB meter unit), REST queries at 4/s, and the dashboards' WebSocket minutes and messages.
    ingest = 1e6 / 100 * PRICES.http_api_request
    queries = 4.0 * SECONDS_PER_MONTH * PRICES.rest_api_request / millions
    minutes = DEFAULTS.dashboards * SECONDS_PER_MONTH / 60 * PRICES.websocket_connection_minute
    messages = (
        DEFAULTS.dashboards
        * DEFAULTS.dashboard_messages_per_s
        * SECONDS_PER_MONTH
        * PRICES.websocket_message
    )
    api = ingest + queries + (minutes + messages) / millions
    assert cost["by_service"]["API Gateway"]["usd_per_million_ticks"] == pytest.approx(api)

    # SNS: one publish per block (8 blocks per 100 ticks), one 64 KB unit each.
    item_bytes = DEFAULTS.block_header_bytes + math.ceil(100 / 8) * DEFAULTS.block_bytes_per_tick
    units = metered_units(item_bytes * 2, PRICES.sns_meter_bytes)
    sns = 1e6 * 8 / 100 * units * PRICES.sns_publish
    assert cost["by_service"]["SNS"]["usd_per_million_ticks"] == pytest.approx(sns)
    # SQS: every block reaches each subscriber; receive + delete cost 0.2 calls per message.
    sqs = 1e6 * 8 / 100 * DEFAULTS.subscribers * DEFAULTS.sqs_requests_per_message
    assert cost["by_service"]["SQS"]["usd_per_million_ticks"] == pytest.approx(
        sqs * PRICES.sqs_request
    )

    # Totals: the model's estimate of the hand-built workload, scaled to the run and the month.
    mix = (QueryKind("query", 0.4, 10, 20.0), QueryKind("latest", 0.3, 1, 10.0))
    expected = estimate(
        Workload(
            ticks_per_s=3600.0,
            ticks_per_request=100,
            symbols_per_request=8,
            ingest_duration_ms=12.34,
            query_rate=4.0,
            query_mix=(*mix, QueryKind("bars", 0.3, 60, 50.0, pages_read=3)),
        )
    )
    assert cost["usd_per_month"] == pytest.approx(expected.usd_per_month)
    assert cost["usd_per_million_ticks"] == pytest.approx(expected.usd_per_month / millions)
    assert cost["usd_for_run"] == pytest.approx(expected.usd_per_month * 33.0 / SECONDS_PER_MONTH)
    for key in ("usd_per_million_ticks", "usd_for_run", "usd_per_month"):
        total = sum(service[key] for service in cost["by_service"].values())
        assert total == pytest.approx(cost[key])
    assert cost["assumed"] and cost["prices_as_of"] == PRICES.as_of
    json.dumps(cost)  # JSON-ready


def test_missing_measurements_fall_back_to_the_model_defaults():
    summary = {**SUMMARY, "by_endpoint": {"ingest": _endpoint(10, 0.0)}}
    summary["by_endpoint"]["ingest"]["latency_ms"]["raw"]["count"] = 0
    w = run_workload(summary)
    assert w is not None
    assert w.ingest_duration_ms == DEFAULTS.ingest_duration_ms
    assert w.query_rate == 0.0


def test_no_ingest_traffic_has_no_cost_per_tick():
    assert run_cost({**SUMMARY, "by_endpoint": {"query": _endpoint(10, 5.0)}}) is None


def test_a_real_summary_gets_a_cost_table():
    summary = _summary(lag_s=0.0005)
    summary["cost"] = run_cost(summary)
    assert summary["cost"] is not None
    assert summary["cost"]["measured"]["ingest_rps"] == pytest.approx(10.0)
    out = io.StringIO()
    print_summary(summary, Console(file=out, width=200))
    text = out.getvalue()
    assert "Modelled AWS cost" in text
    assert "$ / M ticks" in text and "$ / month at this rate" in text
    assert "stand-in" in text
