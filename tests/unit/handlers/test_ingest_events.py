"""GIVEN random and broken HTTP API (payload 2.0) events WHEN the ingest handler answers
THEN it never raises, never answers 5xx for what a client controls, every 4xx is an error body,
and a refused request wrote and queued nothing; a 503 only ever means storage refused."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import event as note
from hypothesis import example, given
from hypothesis import strategies as st

from handlers.core.blocks import Block
from handlers.core.errors import SpillFailed, StoreUnavailable
from handlers.core.ingest import IngestService
from handlers.core.metrics import MetricsLogger
from handlers.core.models import Tick
from handlers.core.settings import Settings
from handlers.core.store import WriteReport
from tests.unit.core.events import http_v2
from tests.unit.core.strategies import ticks
from tests.unit.handlers.conftest import FUZZ
from tests.unit.handlers.strategies import (
    bodies,
    hostile_text,
    json_values,
    mangled,
    mostly,
    tick_documents,
)

NOW = 1_767_225_600_000
SETTINGS = Settings(past_window_s=86_400)
CLIENT_STATUSES = {400, 413, 415}


@dataclass
class Storage:
    """A recording writer and spill queue; either can be told to refuse everything."""

    table_down: bool = False
    queue_down: bool = False
    written: list[Block] = field(default_factory=list)
    queued: list[Block] = field(default_factory=list)

    def write(self, blocks: list[Block]) -> WriteReport:
        if self.table_down:
            raise StoreUnavailable(blocks, "injected")
        self.written += blocks
        return WriteReport(calls=1, retries=0)

    def send(self, blocks: list[Block]) -> int:
        if self.queue_down:
            raise SpillFailed("injected")
        self.queued += blocks
        return 1


@dataclass
class Ingest:
    """The ingest service over `Storage`, with its EMF lines captured."""

    storage: Storage = field(default_factory=Storage)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        metrics = MetricsLogger(stack="t", function="ingest", emit=self.lines.append)
        self.service = IngestService(
            SETTINGS,
            lambda: self.storage,
            lambda: self.storage,
            clock_ms=lambda: NOW,
            metrics=metrics,
        )

    def answer(self, event: dict[str, Any]) -> tuple[int, Any]:
        """Status and parsed body, after checking the reply's shape and its one EMF line."""
        response = self.service.handle(event)
        assert isinstance(response, dict)
        status = response["statusCode"]
        assert type(status) is int
        assert response["headers"]["content-type"] == "application/json"
        body = json.loads(response["body"])
        (line,) = self.lines  # exactly one EMF line per invocation (docs/operations.md)
        assert json.loads(line)["Status"] == status
        self.lines.clear()
        return status, body


def assert_error_body(body: Any) -> None:
    assert set(body) == {"error", "message", "details"}
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    for detail in body["details"]:
        assert set(detail) == {"index", "field", "reason"}
        assert isinstance(detail["field"], str) and isinstance(detail["reason"], str)


def check_client_answer(ingest: Ingest, event: dict[str, Any]) -> tuple[int, Any]:
    """The properties every event must satisfy against healthy storage; the status and body."""
    storage = ingest.storage
    storage.written.clear()
    storage.queued.clear()
    status, body = ingest.answer(event)
    note(f"status {status} {body.get('error', '')}")  # the mix, in --hypothesis-show-statistics
    assert storage.queued == []
    if status == 200:
        accepted = sum(block.count for block in storage.written)
        assert body == {"accepted": accepted} and accepted >= 1
    else:
        assert status in CLIENT_STATUSES, f"{status} for a client's request: {body}"
        assert_error_body(body)
        assert storage.written == [], "a refused request wrote something"
    return status, body


# Built once: Hypothesis validates every new strategy object, which costs more than a draw.
HEADERS = st.dictionaries(hostile_text(20), hostile_text(), max_size=3)
CONTENT_TYPES = mostly(
    st.sampled_from(["application/json", "APPLICATION/JSON; charset=utf-8"]), hostile_text()
)
KEYS = hostile_text() | st.text(min_size=250, max_size=260)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Structurally valid 2.0 events with random headers, bodies and base64 flags."""
    body, flag = draw(bodies(tick_documents(NOW)))
    headers = draw(HEADERS)
    headers["content-type"] = draw(CONTENT_TYPES)
    if draw(st.booleans()):
        headers["idempotency-key"] = draw(KEYS)
    event = http_v2("{}", headers={})
    event.update(headers=headers, body=body, isBase64Encoded=flag)
    return event


def valid_events() -> st.SearchStrategy[dict[str, Any]]:
    """Events the handler stores: 1-5 ticks in the accepted window, maybe base64-encoded."""
    batch = st.lists(ticks(min_ts=NOW - 60_000, max_ts=NOW), min_size=1, max_size=5)
    return st.builds(
        lambda sent, b64: http_v2({"ticks": [_tick_json(t) for t in sent]}, base64_body=b64),
        batch,
        st.booleans(),
    )


def _tick_json(tick: Tick) -> dict[str, Any]:
    return tick.model_dump(exclude_none=True)


@FUZZ
@given(events())
@example(http_v2("[" * 100_000))
@example(http_v2("{" * 50_000))
@example(http_v2('{"ticks":[' + "1" * 5000 + "]}"))
@example(http_v2('{"symbol":"A","price":NaN,"timestamp":Infinity}'))
@example({**http_v2("{}"), "body": "\ud800"})
@example({**http_v2("{}"), "body": '{"symbol":"caf\udce9"}'})
@example({**http_v2("{}"), "body": "not base64!", "isBase64Encoded": True})
@example({**http_v2("{}"), "body": "é", "isBase64Encoded": True})
@example(http_v2("x" * (SETTINGS.max_body_bytes + 1), base64_body=True))
@example(http_v2({"ticks": [{}] * (SETTINGS.max_ticks + 1)}))
def test_any_event_gets_a_json_answer_and_a_refusal_writes_nothing(event: dict[str, Any]) -> None:
    check_client_answer(Ingest(), event)


@FUZZ
@given(mangled(valid_events()))
@example({k: v for k, v in http_v2({"symbol": "A"}).items() if k != "requestContext"})
@example({**http_v2("{}"), "requestContext": None})
@example({**http_v2("{}"), "requestContext": ["x"]})
@example({**http_v2("{}"), "requestContext": {"requestId": [[1]]}})
@example({**http_v2("{}"), "headers": None})
@example({**http_v2("{}"), "headers": ["content-type", "application/json"]})
@example({**http_v2("{}"), "headers": "content-type: application/json"})
@example({**http_v2("{}"), "headers": {"content-type": 5}})
@example({**http_v2("{}"), "headers": {"content-type": "application/json", "idempotency-key": 7}})
@example({**http_v2("{}"), "body": 123})
@example({**http_v2("{}"), "body": 123, "isBase64Encoded": True})
@example({**http_v2("{}"), "body": -1})
@example({**http_v2("{}"), "body": [1, 2]})
@example({**http_v2("{}"), "body": {"symbol": "A"}})
@example({**http_v2("{}"), "body": None})
@example({**http_v2("{}"), "isBase64Encoded": "false"})
def test_broken_events_get_a_4xx_never_a_crash(event: dict[str, Any]) -> None:
    check_client_answer(Ingest(), event)


@FUZZ
@given(valid_events())
def test_valid_requests_are_stored_whole(event: dict[str, Any]) -> None:
    ingest = Ingest()
    assert check_client_answer(ingest, event)[0] == 200
    sent = json.loads(http_body(event))["ticks"]
    stored = sorted(
        (block.symbol, tick.timestamp, tick.price, tick.size, tick.id)
        for block in ingest.storage.written
        for tick in block.ticks()
    )
    assert stored == sorted(
        (t["symbol"].upper(), t["timestamp"], t["price"], t.get("size"), t.get("id")) for t in sent
    )


def http_body(event: dict[str, Any]) -> str:
    body: str = event["body"]
    return base64.b64decode(body).decode() if event["isBase64Encoded"] else body


BAD_FIELDS: dict[str, list[Any]] = {
    "symbol": ["", "a b", "A" * 17, "🚀", "\ud800", 5, None, ["A"], {"S": "A"}],
    "price": ["-1", "0", "abc", "NaN", "1e999", "1" * 39, True, None, [], {}, -2, 0],
    "timestamp": ["1", 1.5, -1, True, None, NOW + 10**9, 2**80, [NOW]],
    "size": ["-1", "x", True, [], "1" * 39],
    "id": ["", "x" * 65, "é", 5, "\x00"],
    "extra": [1, None, "x"],
}


@FUZZ
@given(
    st.lists(ticks(min_ts=NOW - 60_000, max_ts=NOW), min_size=1, max_size=5),
    st.data(),
)
def test_one_bad_field_refuses_the_whole_request_naming_it(
    sent: list[Tick], data: st.DataObject
) -> None:
    documents = [_tick_json(t) for t in sent]
    index = data.draw(st.integers(min_value=0, max_value=len(sent) - 1), label="index")
    name = data.draw(st.sampled_from(sorted(BAD_FIELDS)), label="field")
    documents[index][name] = data.draw(st.sampled_from(BAD_FIELDS[name]), label="value")
    status, body = check_client_answer(Ingest(), http_v2({"ticks": documents}))
    assert (status, body["error"]) == (400, "invalid_tick")
    assert {(d["index"], d["field"]) for d in body["details"]} == {(index, name)}


@FUZZ
@given(st.one_of(events(), valid_events(), mangled(valid_events())), st.booleans())
def test_only_a_storage_failure_gives_503(event: dict[str, Any], queue_down: bool) -> None:
    healthy = Ingest()
    status, _ = check_client_answer(healthy, event)
    ticks_sent = sum(block.count for block in healthy.storage.written)
    broken = Ingest(Storage(table_down=True, queue_down=queue_down))
    got, body = broken.answer(event)
    if status != 200:
        assert got == status, "a client's mistake is answered the same whatever storage does"
    elif queue_down:
        assert got == 503
        assert_error_body(body)
        assert body["error"] == "unavailable"
    else:
        assert (got, body) == (202, {"accepted": ticks_sent, "queued": ticks_sent})
        assert sum(block.count for block in broken.storage.queued) == ticks_sent


@FUZZ
@given(json_values())
def test_any_json_document_as_the_body(document: Any) -> None:
    check_client_answer(Ingest(), http_v2(json.dumps(document, allow_nan=True)))


def _from(credential: str | None, ticks: list[dict[str, Any]]) -> dict[str, Any]:
    event = http_v2({"ticks": ticks})
    if credential is not None:
        event["requestContext"]["authorizer"] = {"lambda": {"credential": credential}}
    return event


def test_only_the_backfill_credential_writes_history_and_nobody_writes_the_future() -> None:
    # GIVEN a tick of a year ago, one of now, and one a minute ahead (inside the live window)
    old = {"symbol": "A", "price": "1.5", "timestamp": NOW - 365 * 86_400_000}
    now = {"symbol": "A", "price": "1.5", "timestamp": NOW}
    ahead = {"symbol": "A", "price": "1.5", "timestamp": NOW + 60_000}
    ingest = Ingest()
    # THEN the backfill credential stores history up to now, and refuses what is ahead of now
    assert ingest.answer(_from("backfill", [old, now])) == (200, {"accepted": 2})
    status, body = ingest.answer(_from("backfill", [ahead]))
    assert (status, body["details"][0]["field"]) == (400, "timestamp")
    # ... while the live credential (or none named) keeps the live window: history is refused
    for credential in ("live", None):
        status, body = ingest.answer(_from(credential, [old]))
        assert (status, body["error"]) == (400, "invalid_tick")
        assert "older than the accepted window" in body["details"][0]["reason"]
        assert ingest.answer(_from(credential, [ahead]))[0] == 200
