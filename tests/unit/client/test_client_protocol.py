"""The client's pieces without a server: ticks, batching, retry delays, config, queue messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from marketstream import ApiError, AuthError, ConfigError, Endpoints, QueueTicks, RetryPolicy, Tick
from marketstream.config import OUTPUT_KEYS
from marketstream.errors import RetriesExhausted
from marketstream.models import to_ms, to_tick
from marketstream.protocol import MAX_BODY_BYTES, Attempt, batches, ingest_requests

from infra import outputs


def test_times_are_datetimes_or_epoch_ms() -> None:
    assert to_ms(datetime(2026, 1, 1, tzinfo=UTC)) == 1_767_225_600_000
    assert to_ms(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == 1_767_225_600_000
    assert to_ms(datetime(2026, 1, 1, 0, 0, 0, 999_999)) == 1_767_225_600_999  # naive: UTC
    assert to_ms(1_767_225_600_000) == 1_767_225_600_000
    with pytest.raises(TypeError):
        to_ms(True)


def test_prices_stay_exact_and_floats_are_refused() -> None:
    tick = Tick.of("aapl", "189.10", 1, "1E+2")
    assert tick.as_json() == {"symbol": "aapl", "price": "189.10", "timestamp": 1, "size": "100"}
    assert Tick.from_json({"symbol": "A", "price": "0.10", "timestamp": 1}).price.as_tuple() == (
        Decimal("0.10").as_tuple()
    )
    with pytest.raises(TypeError, match="price"):
        Tick.of("A", 1.1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown tick key"):
        to_tick({"symbol": "A", "price": "1", "timestamp": 1, "volume": "2"})


def test_batches_hold_at_most_500_ticks_and_256_kib() -> None:
    small = [Tick.of("A", "1", i) for i in range(1201)]
    assert [n for _, n in batches(small)] == [500, 500, 201]
    # The widest tick is ~200 bytes, so 500 of them fit 256 KiB: the byte bound is for a stack
    # with a higher `maxTicks`; here it is checked with a smaller body limit.
    wide = [Tick.of("A", "1." + "1" * 36, i, "2." + "2" * 36, "x" * 64) for i in range(2000)]
    assert all(len(body) <= MAX_BODY_BYTES for body, _ in batches(wide, max_ticks=10_000))
    sizes = list(batches(wide, max_bytes=20_000))
    assert sum(n for _, n in sizes) == 2000
    assert all(len(body) <= 20_000 for body, _ in sizes)
    assert [len(json.loads(body)["ticks"]) for body, _ in sizes] == [n for _, n in sizes]
    assert max(n for _, n in sizes) < 500


def test_each_request_has_its_own_idempotency_key() -> None:
    ticks = [Tick.of("A", "1", i) for i in range(1000)]
    requests = list(ingest_requests("http://x/ingest", "t", ticks, key_prefix="p"))
    assert [r.headers["idempotency-key"] for r in requests] == ["p-0", "p-1"]
    assert requests[0].headers["authorization"] == "Bearer t"


def test_retry_delays_are_capped_and_attempts_bounded() -> None:
    policy = RetryPolicy(attempts=3, base_s=0.1, cap_s=0.25)
    assert all(0 <= policy.delay(n) <= 0.25 for n in range(1, 20) for _ in range(20))
    assert policy.delay(1, retry_after=10) == 0.25  # Retry-After honoured up to the cap
    attempt = Attempt(policy)
    attempt.number = 3
    with pytest.raises(RetriesExhausted, match="3 attempt"):
        attempt.failed("HTTP 503")


def test_refusals_carry_the_servers_details() -> None:
    body = {
        "error": "invalid_tick",
        "message": "1 problem(s)",
        "details": [{"index": 2, "field": "price", "reason": "must be greater than 0"}],
    }
    error = ApiError.from_body(400, body)
    [detail] = error.details
    assert (error.code, detail.index, detail.field) == ("invalid_tick", 2, "price")
    assert "ticks[2].price: must be greater than 0" in str(error)
    assert isinstance(ApiError.from_body(403, {"message": "Forbidden"}), AuthError)


def test_endpoints_come_from_outputs_env_and_the_stack_json(tmp_path: Path) -> None:
    document = {outputs.INGEST_URL: "http://h/ingest", outputs.QUERY_API_KEY: "k", "other": 1}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(document))
    assert Endpoints.from_outputs(path) == Endpoints(ingest_url="http://h/ingest", api_key="k")
    assert Endpoints.from_stack_json(json.dumps(document)).api_key == "k"
    env = {"MARKETSTREAM_QUERY_BASE_URL": "http://q/", "MARKETSTREAM_QUERY_API_KEY": "k"}
    assert Endpoints.from_env(env) == Endpoints(query_url="http://q", api_key="k")
    with pytest.raises(ConfigError, match="MARKETSTREAM_INGEST_TOKEN"):
        Endpoints().need("ingest_token")
    with pytest.raises(ConfigError, match="not JSON"):
        Endpoints.from_stack_json("oops")
    with pytest.raises(ConfigError, match="cannot read"):
        Endpoints.from_outputs(tmp_path / "missing.json")


def test_the_clients_export_names_are_the_programs() -> None:
    # The client cannot import infra/outputs.py (its own distribution): both spell them alike.
    assert set(OUTPUT_KEYS.values()) <= set(outputs.ALL_KEYS)


def test_queue_messages_decode_and_repeats_are_dropped() -> None:
    message = {
        "symbol": "AAPL",
        "block": "1764000000000#9f2c",
        "offset": 0,
        "ticks": [{"symbol": "AAPL", "price": "189.10", "timestamp": 1764000000000, "size": "5"}],
    }
    reader = QueueTicks()
    [tick] = reader.decode(json.dumps(message))
    assert (tick.price, tick.size) == (Decimal("189.10"), Decimal(5))
    assert reader.decode(message) == []
    assert reader.decode({**message, "offset": 1}) != []
    assert reader.repeats == 1
    with pytest.raises(ValueError, match="not a subscriber-queue message"):
        reader.decode({"symbol": "A"})


def test_bars_become_a_dataframe_exact_or_float() -> None:
    from marketstream import Bar
    from marketstream.frames import bars_frame, ticks_frame

    bar = Bar(60_000, Decimal("1.10"), Decimal("2"), Decimal("1"), Decimal("1.5"), Decimal(3), 2)
    exact = bars_frame([bar])
    assert exact["open"].iloc[0] == Decimal("1.10") and str(exact.index[0]).startswith("1970")
    assert bars_frame([bar], exact=False)["close"].dtype == float
    ticks = ticks_frame([Tick.of("A", "1.25", 0, "2")], exact=False)
    assert (ticks["price"].iloc[0], ticks["symbol"].iloc[0]) == (1.25, "A")
