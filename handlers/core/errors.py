"""One exception root for the Lambda package; subclasses carry what a caller needs to answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.core.blocks import Block

__all__ = [
    "ConfigError",
    "ErrorDetail",
    "MarketStreamError",
    "RequestError",
    "SpillFailed",
    "StoreRefused",
    "StoreUnavailable",
]


class MarketStreamError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(MarketStreamError):
    """A setting from the environment is missing or out of range."""


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One problem with one field of one tick (index is None for request-level fields)."""

    field: str
    reason: str
    index: int | None = None

    def as_json(self) -> dict[str, object]:
        """The detail as it appears in an error body."""
        return {"index": self.index, "field": self.field, "reason": self.reason}


class RequestError(MarketStreamError):
    """The client sent something we refuse; answered with a 4xx and nothing is written."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = tuple(details)

    def as_json(self) -> dict[str, object]:
        """The error body: `{"error", "message", "details"}`."""
        return {
            "error": self.code,
            "message": self.message,
            "details": [d.as_json() for d in self.details],
        }


class StoreUnavailable(MarketStreamError):
    """DynamoDB still refused some blocks after every retry; they are listed in `unwritten`."""

    def __init__(self, unwritten: Sequence[Block], cause: str, *, retries: int = 0) -> None:
        super().__init__(f"{len(unwritten)} block(s) not written: {cause}")
        self.unwritten = tuple(unwritten)
        self.cause = cause
        self.retries = retries
        """Rounds retried before giving up (reported as the WriteRetries metric)."""


class StoreRefused(StoreUnavailable):
    """DynamoDB refused the blocks with an error retrying cannot fix (the data or the table is
    wrong, e.g. ValidationException): unlike an outage, the next message may well succeed."""


class SpillFailed(MarketStreamError):
    """The spill queue refused blocks the table had refused: the request is not acknowledged."""
