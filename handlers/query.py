"""Lambda entry point for `GET /query`, `/latest`, `/bars` (REST API, payload format 1.0)."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from handlers.core import aws
from handlers.core.barreads import BarReader
from handlers.core.bartable import BarTable
from handlers.core.query import MAX_BAR_TICKS, QueryService
from handlers.core.settings import Settings
from handlers.core.store import DynamoBlockSource

SETTINGS = Settings.from_env()


@cache
def _source() -> DynamoBlockSource:
    return DynamoBlockSource(aws.dynamodb(), SETTINGS.table_name)


@cache
def _bars() -> BarReader:
    table = BarTable(aws.dynamodb(), SETTINGS.bars_table)
    return BarReader(table, _source(), max_raw_ticks=MAX_BAR_TICKS)


SERVICE = QueryService(
    _source,
    clock_ms=lambda: time.time_ns() // 1_000_000,
    bars=_bars if SETTINGS.bars_table else None,
)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Answer one query request."""
    return SERVICE.handle(event)
