"""Lambda entry point of the WebSocket API: `$connect`, `$disconnect`, (un)subscribe."""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.core import aws
from handlers.core.connections import ConnectionStore
from handlers.core.settings import Settings
from handlers.core.tokens import TokenSecret
from handlers.core.ws import WebSocketService

SETTINGS = Settings.from_env()


@cache
def _connections() -> ConnectionStore:
    return ConnectionStore(aws.dynamodb(), SETTINGS.connections_table)


SERVICE = WebSocketService(_connections, TokenSecret(), ttl_s=SETTINGS.connection_ttl_s)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Answer one WebSocket route event."""
    return SERVICE.handle(event)
