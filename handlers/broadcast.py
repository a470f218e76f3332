"""Lambda entry point of the stream consumer that pushes new ticks to WebSocket connections."""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.core import aws
from handlers.core.broadcast import BroadcastService
from handlers.core.connections import ConnectionStore
from handlers.core.metrics import MetricsLogger
from handlers.core.settings import Settings

SETTINGS = Settings.from_env()


@cache
def _connections() -> ConnectionStore:
    return ConnectionStore(aws.dynamodb(), SETTINGS.connections_table)


def _api() -> aws.ManagementApi:
    return aws.management_api(SETTINGS.ws_endpoint)


SERVICE = BroadcastService(_connections, _api, metrics=MetricsLogger.from_env("broadcast"))


def handler(event: dict[str, Any], context: object) -> dict[str, int]:
    """Broadcast one stream batch to the subscribed connections."""
    return SERVICE.handle(event)
