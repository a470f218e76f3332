"""Lambda entry point for `GET /query`, `/latest`, `/bars` (REST API, payload format 1.0)."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from handlers.core import aws
from handlers.core.query import QueryService
from handlers.core.settings import Settings
from handlers.core.store import DynamoBlockSource

SETTINGS = Settings.from_env()


@cache
def _source() -> DynamoBlockSource:
    return DynamoBlockSource(aws.dynamodb(), SETTINGS.table_name)


SERVICE = QueryService(_source, clock_ms=lambda: time.time_ns() // 1_000_000)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Answer one query request."""
    return SERVICE.handle(event)
