"""Lambda entry point of the tick table's stream consumer: SNS fan-out and the bar rollups."""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.core import aws
from handlers.core.bartable import BarTable
from handlers.core.fanout import FanoutService
from handlers.core.metrics import MetricsLogger
from handlers.core.rollup import RollupService
from handlers.core.settings import Settings
from handlers.core.store import DynamoBlockSource

SETTINGS = Settings.from_env()


@cache
def _blocks() -> DynamoBlockSource:
    return DynamoBlockSource(aws.dynamodb(), SETTINGS.table_name, consistent=True)


@cache
def _bars() -> BarTable:
    return BarTable(aws.dynamodb(), SETTINGS.bars_table)


ROLLUP = (
    RollupService(_blocks, _bars, retention_days=SETTINGS.bar_retention_days)
    if SETTINGS.bars_table
    else None
)
SERVICE = FanoutService(
    aws.sns, SETTINGS.topic_arn, metrics=MetricsLogger.from_env("fanout"), rollup=ROLLUP
)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Publish and roll up one stream batch; the partial batch response names the first failure."""
    return SERVICE.handle(event)
