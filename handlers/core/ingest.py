"""The ingest service: HTTP API (payload 2.0) event -> ticks -> blocks -> table or spill."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from handlers.core.blocks import Block, build_blocks, idempotency_key
from handlers.core.errors import ErrorDetail, RequestError, SpillFailed, StoreUnavailable
from handlers.core.http import error_response, json_response
from handlers.core.metrics import METRIC, MetricsLogger, Unit
from handlers.core.settings import Settings
from handlers.core.store import WriteReport
from handlers.core.ticks import TimeWindow, load_json, parse_ticks
from handlers.core.tokens import BACKFILL, CREDENTIAL, LIVE

__all__ = ["IngestService"]

_log = logging.getLogger(__name__)


class Writer(Protocol):
    """Writes blocks or raises StoreUnavailable."""

    def write(self, blocks: list[Block]) -> WriteReport:
        """Write every block."""
        ...


class Spiller(Protocol):
    """Queues blocks or raises SpillFailed."""

    def send(self, blocks: list[Block]) -> int:
        """Queue every block."""
        ...


def _body_bytes(event: dict[str, Any], limit: int) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str | bytes):
        # bytes(<int>) would allocate that many bytes: only text reaches the decoders.
        raise RequestError(
            400, "invalid_body", "the body is not text", [ErrorDetail("body", "must be a string")]
        )
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(
                400,
                "invalid_body",
                "the body is not valid base64",
                [ErrorDetail("body", "bad base64")],
            ) from None
    elif isinstance(body, bytes):
        raw = body
    else:
        try:
            raw = body.encode()
        except UnicodeEncodeError:  # a lone surrogate: the event carried undecodable bytes
            raise RequestError(
                400, "invalid_body", "the body is not UTF-8", [ErrorDetail("body", "bad UTF-8")]
            ) from None
    if len(raw) > limit:
        raise RequestError(
            413,
            "payload_too_large",
            f"the body is {len(raw)} bytes; the limit is {limit}",
            [ErrorDetail("body", f"at most {limit} bytes")],
        )
    if not raw:
        raise RequestError(400, "invalid_body", "the body is empty", [ErrorDetail("body", "empty")])
    return raw


def _entries(document: Any) -> int:
    """How many ticks a refused body carried: its list's length, 1 for one object, else 0."""
    if isinstance(document, dict):
        raw = document.get("ticks", [document])
        return len(raw) if isinstance(raw, list) else 0
    return 0


def _headers(event: dict[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name; values that are not text are ignored."""
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return {}
    return {k.lower(): v for k, v in headers.items() if isinstance(k, str) and isinstance(v, str)}


def _credential(event: dict[str, Any]) -> str:
    """The credential the authorizer named (`requestContext.authorizer.lambda`), else live."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    answer = authorizer.get("lambda") if isinstance(authorizer, dict) else None
    found = answer.get(CREDENTIAL) if isinstance(answer, dict) else None
    return found if isinstance(found, str) else LIVE


def _check_content_type(headers: dict[str, str]) -> None:
    content_type = headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise RequestError(
            415,
            "unsupported_media_type",
            f"content-type must be application/json, not {content_type or 'missing'!r}",
            [ErrorDetail("content-type", "must be application/json")],
        )


class IngestService:
    """Validates a request all-or-nothing, writes its blocks, spills what the table refuses."""

    def __init__(
        self,
        settings: Settings,
        writer: Callable[[], Writer],
        spill: Callable[[], Spiller],
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        metrics: MetricsLogger | None = None,
    ) -> None:
        self._settings = settings
        self._writer = writer
        self._spill = spill
        self._clock_ms = clock_ms
        self._metrics = MetricsLogger.disabled() if metrics is None else metrics

    def blocks_for(self, event: dict[str, Any]) -> tuple[int, list[Block]]:
        """Parse and validate the event into (tick count, blocks); RequestError if refused."""
        settings = self._settings
        headers = _headers(event)
        _check_content_type(headers)
        raw = _body_bytes(event, settings.max_body_bytes)
        try:
            document = load_json(raw)
        except (ValueError, RecursionError) as exc:
            # Beyond JSONDecodeError and UnicodeDecodeError: a ValueError for an integer past
            # Python's 4300-digit limit, a RecursionError for arrays nested ~1000 deep.
            known = isinstance(exc, json.JSONDecodeError | UnicodeDecodeError)
            reason = str(exc) if known else "a number is too long or the nesting too deep"
            raise RequestError(
                400,
                "invalid_json",
                f"the body is not valid JSON: {reason}",
                [ErrorDetail("body", "invalid JSON")],
            ) from None
        now = self._clock_ms()
        if _credential(event) == BACKFILL:
            # History back to epoch 0, nothing ahead of now (docs/client.md, Backfill).
            window = TimeWindow(now_ms=now, past_ms=now, future_ms=0)
        else:
            window = TimeWindow(
                now_ms=now,
                past_ms=settings.past_window_s * 1000,
                future_ms=settings.future_window_s * 1000,
            )
        try:
            ticks = parse_ticks(document, max_ticks=settings.max_ticks, window=window)
        except RequestError:
            self._metrics.count(METRIC.TICKS_REJECTED, _entries(document))
            raise
        key = headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= 255:
            self._metrics.count(METRIC.TICKS_REJECTED, len(ticks))
            raise RequestError(
                400,
                "invalid_header",
                "Idempotency-Key must be 1-255 characters",
                [ErrorDetail("idempotency-key", "1-255 characters")],
            )
        expires = now // 1000 + settings.ttl_days * 86_400 if settings.ttl_days else None
        blocks = build_blocks(
            ticks, request_key=idempotency_key(key) if key else None, expires_at=expires
        )
        return len(ticks), blocks

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Answer one request: 200 stored, 202 queued, 4xx refused, 503 not acknowledged."""
        started = time.perf_counter()
        metrics = self._metrics
        # Every line carries the three counters, so their SampleCount is the request count.
        for name in (METRIC.TICKS_ACCEPTED, METRIC.TICKS_REJECTED, METRIC.TICKS_QUEUED):
            metrics.count(name, 0)
        status = 500  # what API Gateway answers if an unexpected exception escapes
        try:
            response = self._answer(event)
            status = response["statusCode"]
            return response
        finally:
            context = event.get("requestContext")
            request_id = context.get("requestId") if isinstance(context, dict) else None
            metrics.set_property("RequestId", request_id if isinstance(request_id, str) else "")
            metrics.set_property("Status", status)
            metrics.set_property("DurationMs", round((time.perf_counter() - started) * 1e3, 3))
            metrics.flush()

    def _answer(self, event: dict[str, Any]) -> dict[str, Any]:
        metrics = self._metrics
        try:
            count, blocks = self.blocks_for(event)
        except RequestError as exc:
            metrics.set_property("ErrorCode", exc.code)
            return error_response(exc)
        for block in blocks:
            metrics.record(METRIC.BLOCK_SIZE, block.count, Unit.COUNT)
        try:
            report = self._writer().write(blocks)
        except StoreUnavailable as exc:
            metrics.count(METRIC.WRITE_RETRIES, exc.retries)
            return self._spill_refused(count, exc)
        metrics.count(METRIC.WRITE_RETRIES, report.retries)
        metrics.count(METRIC.TICKS_ACCEPTED, count)
        return json_response(200, {"accepted": count})

    def _spill_refused(self, count: int, refused: StoreUnavailable) -> dict[str, Any]:
        queued = sum(block.count for block in refused.unwritten)
        try:
            self._spill().send(list(refused.unwritten))
        except SpillFailed as exc:
            _log.error("table and spill queue both refused: %s; %s", refused.cause, exc)
            self._metrics.set_property("ErrorCode", "unavailable")
            return json_response(
                503,
                {
                    "error": "unavailable",
                    "message": "storage is unavailable; nothing was acknowledged, retry later",
                    "details": [],
                },
            )
        _log.warning("spilled %d tick(s) after %s", queued, refused.cause)
        self._metrics.count(METRIC.TICKS_ACCEPTED, count)
        self._metrics.count(METRIC.TICKS_QUEUED, queued)
        return json_response(202, {"accepted": count, "queued": queued})
