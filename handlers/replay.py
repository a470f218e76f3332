"""Lambda entry point for the spill queue's SQS event source (partial batch responses)."""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.core import aws
from handlers.core.metrics import MetricsLogger
from handlers.core.replay import ReplayService, VisibilityBackoff
from handlers.core.settings import Settings
from handlers.core.store import BlockWriter

SETTINGS = Settings.from_env()


@cache
def _writer() -> BlockWriter:
    return BlockWriter(aws.dynamodb(), SETTINGS.table_name, attempts=SETTINGS.write_attempts)


@cache
def _holder() -> VisibilityBackoff:
    return VisibilityBackoff(aws.sqs())


SERVICE = ReplayService(_writer, metrics=MetricsLogger.from_env("replay"), holder=_holder)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Replay one batch of spilled blocks."""
    return SERVICE.handle(event)
