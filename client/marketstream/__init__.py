"""MarketStream's Python client: send, backfill, read and subscribe to ticks (docs/client.md)."""

from marketstream.aio import AsyncClient
from marketstream.client import Client
from marketstream.config import Endpoints
from marketstream.errors import (
    ApiError,
    AuthError,
    ConfigError,
    Detail,
    MarketStreamError,
    RetriesExhausted,
    WriterError,
)
from marketstream.live import Backoff, Subscription
from marketstream.models import Bar, Tick, to_ms
from marketstream.protocol import RetryPolicy, SendResult
from marketstream.queues import QueueMessage, QueueTicks, decode_message
from marketstream.writer import Writer

__all__ = [
    "ApiError",
    "AsyncClient",
    "AuthError",
    "Backoff",
    "Bar",
    "Client",
    "ConfigError",
    "Detail",
    "Endpoints",
    "MarketStreamError",
    "QueueMessage",
    "QueueTicks",
    "RetriesExhausted",
    "RetryPolicy",
    "SendResult",
    "Subscription",
    "Tick",
    "Writer",
    "WriterError",
    "decode_message",
    "to_ms",
]
__version__ = "0.1.0"
