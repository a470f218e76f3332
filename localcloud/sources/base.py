"""What every event source poller shares: the loop, the invocation, partial batch responses.

A subclass says how to get records from its source and what to do with a batch's outcome
(`_poll`); this base owns what Lambda's pollers do the same way for every source: one function
per mapping, batch size and window, `ReportBatchItemFailures` parsing, counters, and a poll loop
that survives a failing source without spinning.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from localcloud.runtime.functions import FunctionError, FunctionThrottled, LambdaFunction
from localcloud.sources.filters import matches_filters
from localcloud.sources.wakeup import Wakeup

__all__ = ["Clients", "Invocation", "MappingSettings", "Poller", "PollerStats"]

Clients = Callable[[str], Any]
"""Service name -> a boto3 client of moto (shared, created once)."""

_log = logging.getLogger(__name__)
_ERROR_BACKOFF_S: Final = 0.5
"""After a failed poll: back off from a failing source instead of spinning."""
_ERRORS_KEPT: Final = 20


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


@dataclass(frozen=True)
class MappingSettings:
    """What an event source mapping declares whatever its source (`mappings` reads them)."""

    source_arn: str
    function: LambdaFunction
    batch_size: int
    window_s: float
    report_failures: bool
    """`ReportBatchItemFailures` is among the mapping's function response types."""
    filters: tuple[dict[str, Any], ...]
    """The patterns of `FilterCriteria` (none: every record passes)."""
    region: str


@dataclass(frozen=True)
class Invocation:
    """How one batch went: the function's result, or the kind of failure Lambda reports."""

    result: Any = None
    error: str | None = None
    """None on success; `Unhandled` (the function raised or timed out) or `Throttled`."""


class Poller(ABC):
    """Lambda's poller for one event source mapping: feeds one function until cancelled."""

    idle_s: float = 0.0
    """Pause after a poll that found nothing to do (0: the poll itself waits, e.g. long polling)."""
    idle_max_s: float = 0.0
    """Longest pause: each further empty poll doubles the pause from `idle_s` up to this."""

    def __init__(self, settings: MappingSettings) -> None:
        self._settings = settings
        self._arn = settings.source_arn
        self._function = settings.function
        self._batch_size = max(1, settings.batch_size)
        self._window_s = max(0.0, settings.window_s)
        self._region = settings.region
        self.stats = PollerStats(settings.source_arn, settings.function.spec.name)
        self.filtered = 0
        """Records dropped by the mapping's filters (Lambda deletes or checkpoints past them)."""
        self.wakeup: Wakeup | None = None
        """Ends idle pauses early when set (the cloud sets it for stream pollers)."""

    async def run(self) -> None:
        """Poll until cancelled; a failing poll is counted and logged, and the loop goes on."""
        await self._start()
        idle = self.idle_s
        while True:
            try:
                busy = await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # moto hiccup: note it, keep polling
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                del self.stats.errors[:-_ERRORS_KEPT]
                _log.warning("poller %s: %s", self._arn, exc)
                await asyncio.sleep(_ERROR_BACKOFF_S)
                continue
            if busy or self.idle_s <= 0:
                idle = self.idle_s
                continue
            if self.wakeup is None:
                await asyncio.sleep(idle)
            else:
                await self.wakeup.pause(idle, at_least=self.idle_s)
            idle = min(2 * idle, max(self.idle_s, self.idle_max_s))

    async def _start(self) -> None:  # noqa: B027 - most sources need nothing before polling
        """Anything to do once before the first poll."""

    @abstractmethod
    async def _poll(self) -> bool:
        """Get records and deliver what is due; whether there may be more to do at once."""

    def _matching(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records the mapping's filters let through, counting the others."""
        patterns = list(self._settings.filters)
        kept = [r for r in records if matches_filters(patterns, self._filtered_view(r))]
        self.filtered += len(records) - len(kept)
        return kept

    def _filtered_view(self, record: dict[str, Any]) -> dict[str, Any]:
        """The document the filters are matched against (the record, unless a source says)."""
        return record

    async def _invoke(self, records: list[dict[str, Any]]) -> Invocation:
        """Invoke the function with one batch, counting it; failures are answers, not raises."""
        self.stats.batches += 1
        self.stats.delivered += len(records)
        try:
            return Invocation(await self._function.invoke({"Records": records}))
        except (FunctionError, FunctionThrottled) as exc:
            _log.warning("poller %s: batch of %d failed: %s", self._arn, len(records), exc)
            return Invocation(error="Unhandled" if isinstance(exc, FunctionError) else "Throttled")

    def _reported_failures(self, result: Any, identifiers: Sequence[str]) -> list[int]:
        """Indices of the records a partial batch response names as failed.

        Without `ReportBatchItemFailures`, or with an empty report, none failed. Lambda fails the
        whole batch when the report is malformed or names an identifier not in the batch.
        """
        if not self._settings.report_failures or not isinstance(result, dict):
            return []
        reported = result.get("batchItemFailures")
        if not reported:
            return []
        everything = list(range(len(identifiers)))
        if not isinstance(reported, list):
            return everything
        position = {identifier: index for index, identifier in enumerate(identifiers)}
        failed = []
        for item in reported:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or str(identifier) not in position:
                return everything
            failed.append(position[str(identifier)])
        return sorted(set(failed))
