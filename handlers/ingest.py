"""Lambda entry point for `POST /ingest` (HTTP API, payload format 2.0)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from handlers.core import aws
from handlers.core.ingest import IngestService
from handlers.core.metrics import MetricsLogger
from handlers.core.settings import Settings
from handlers.core.store import BlockWriter

if TYPE_CHECKING:
    from handlers.core.spill import SpillQueue

SETTINGS = Settings.from_env()


@cache
def _writer() -> BlockWriter:
    return BlockWriter(aws.dynamodb(), SETTINGS.table_name, attempts=SETTINGS.write_attempts)


@cache
def _spill() -> SpillQueue:
    # Imported on first use: only a table that refuses writes needs the spill queue.
    from handlers.core.spill import SpillQueue

    return SpillQueue(aws.sqs(), SETTINGS.spill_queue_url)


SERVICE = IngestService(SETTINGS, _writer, _spill, metrics=MetricsLogger.from_env("ingest"))


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Validate and store one ingest request."""
    return SERVICE.handle(event)
