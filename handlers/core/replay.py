"""The replay service: drains spill-queue messages into the table with partial batch responses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from handlers.core.errors import StoreUnavailable
from handlers.core.ingest import Writer
from handlers.core.spill import decode_message

__all__ = ["ReplayService"]

_log = logging.getLogger(__name__)


class ReplayService:
    """Writes each message's blocks; reports the messages that failed so only they come back."""

    def __init__(self, writer: Callable[[], Writer]) -> None:
        self._writer = writer

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Answer an SQS event with `{"batchItemFailures": [...]}`."""
        failures: list[dict[str, str]] = []
        records = event.get("Records")
        if not isinstance(records, list):
            raise ValueError("not an SQS event: no 'Records' list")
        for record in records:
            message_id = str(record.get("messageId", ""))
            try:
                blocks = decode_message(str(record["body"]))
                self._writer().write(blocks)
            except (ValueError, KeyError) as exc:
                # A malformed message will never succeed: fail it so redrive moves it to the DLQ.
                _log.error("message %s is not a spill message: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
            except StoreUnavailable as exc:
                _log.warning("message %s not replayed yet: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}
