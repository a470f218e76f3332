"""What every event source poller shares: the `Poller` protocol and its counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Poller", "PollerStats"]


class Poller(Protocol):
    """A background loop feeding one function from one event source."""

    stats: PollerStats

    async def run(self) -> None:
        """Poll until cancelled."""
        ...


@dataclass
class PollerStats:
    """Counters for the health endpoint and the tests."""

    source: str
    function: str
    batches: int = 0
    delivered: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
