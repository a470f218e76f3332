"""SLO rule parsing and evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.errors import UsageError
from loadgen.slo import evaluate, parse_slo


def _summary() -> dict[str, Any]:
    latency = {"p50": 10.0, "p90": 50.0, "p95": 120.0, "p99": 400.0, "p99.9": 900.0, "max": 1000.0}
    return {
        "rate": {"ratio": 0.97},
        "requests": {"error_ratio": 0.0005},
        "latency_ms": {"corrected": latency, "raw": {**latency, "p99": 20.0}},
        "by_endpoint": {
            "ingest": {
                "requests": {"error_ratio": 0.002},
                "latency_ms": {"corrected": latency, "raw": latency},
            }
        },
    }


def test_rules_are_parsed_with_units():
    rules = parse_slo("p95<150ms, p99<0.3s, errors<0.1%, rate>=0.98, ingest.raw.p99.9<=2000us")
    assert [(r.metric, r.op, r.limit) for r in rules] == [
        ("p95", "<", 150.0),
        ("p99", "<", 300.0),
        ("errors", "<", 0.001),
        ("rate", ">=", 0.98),
        ("p99.9", "<=", 2.0),
    ]
    assert rules[-1].endpoint == "ingest"
    assert rules[-1].raw


def test_breaches_are_reported_with_actual_values():
    outcomes = evaluate(
        parse_slo("p95<150ms,p99<300ms,errors<0.1%,rate>=0.98,raw.p99<30ms"), _summary()
    )
    breached = [o.describe() for o in outcomes if not o.passed]
    assert breached == ["p99<300ms: actual 400.000ms", "rate>=0.98: actual 97%"]


def test_endpoint_rules_use_that_endpoint():
    outcomes = evaluate(parse_slo("ingest.errors<0.1%,query.p95<1ms"), _summary())
    assert [o.passed for o in outcomes] == [False, True]  # no query traffic: nothing to breach
    assert outcomes[1].actual is None


@pytest.mark.parametrize(
    "text",
    ["p95", "p95<<3", "p95<10%", "errors<5ms", "p75<10ms", "foo.p95<1ms", "ingest.rate>0.9", ""],
)
def test_bad_rules_are_usage_errors(text: str):
    with pytest.raises(UsageError, match="bad SLO rule"):
        parse_slo(text)
