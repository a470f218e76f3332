"""Lambda entry point of the tick table's stream consumer that publishes to the SNS topic."""

from __future__ import annotations

from typing import Any

from handlers.core import aws
from handlers.core.fanout import FanoutService
from handlers.core.metrics import MetricsLogger
from handlers.core.settings import Settings

SETTINGS = Settings.from_env()
SERVICE = FanoutService(aws.sns, SETTINGS.topic_arn, metrics=MetricsLogger.from_env("fanout"))


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Publish one stream batch; partial batch response names the first failed record."""
    return SERVICE.handle(event)
