"""One error tree: configuration, transport (retried), and API answers (4xx carry `details`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "Detail",
    "MarketStreamError",
    "RetriesExhausted",
    "WriterError",
]


class MarketStreamError(Exception):
    """Root of every error this package raises."""


class ConfigError(MarketStreamError):
    """URLs or credentials are missing or unreadable (the message is one line)."""


@dataclass(frozen=True)
class Detail:
    """One problem the server named: the tick (`index`, None for the request), field, reason."""

    field: str
    reason: str
    index: int | None = None

    def __str__(self) -> str:
        where = self.field if self.index is None else f"ticks[{self.index}].{self.field}"
        return f"{where}: {self.reason}"


class ApiError(MarketStreamError):
    """The server refused the request (4xx, or 5xx after every retry): status, code and details."""

    def __init__(
        self, status: int, message: str, *, code: str = "", details: list[Detail] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        named = "; ".join(str(d) for d in self.details[:5])
        more = f" (+{len(self.details) - 5} more)" if len(self.details) > 5 else ""
        super().__init__(
            f"{status} {code or 'error'}: {message}" + (f" [{named}{more}]" if named else "")
        )

    @classmethod
    def from_body(cls, status: int, body: Any) -> ApiError:
        """From a refusal's JSON: the handler's `{error, message, details}` or the gateway's
        `{message}`."""
        kind = AuthError if status in (401, 403) else cls
        if not isinstance(body, dict):
            return kind(status, str(body)[:200] or "no body")
        details = [
            Detail(
                field=str(d.get("field", "")),
                reason=str(d.get("reason", "")),
                index=d.get("index") if isinstance(d.get("index"), int) else None,
            )
            for d in body.get("details") or []
            if isinstance(d, dict)
        ]
        return kind(
            status, str(body.get("message", "")), code=str(body.get("error", "")), details=details
        )


class AuthError(ApiError):
    """401 (no credential) or 403 (wrong credential, or one this route does not take)."""


class RetriesExhausted(MarketStreamError):
    """Every attempt of a request failed with a retryable answer; `last` says how."""

    def __init__(self, attempts: int, last: str) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(f"gave up after {attempts} attempt(s): {last}")


class WriterError(MarketStreamError):
    """A buffered writer could not deliver some ticks; `errors` are the causes, in order."""

    def __init__(self, failed: int, errors: list[Exception]) -> None:
        self.failed = failed
        self.errors = errors
        super().__init__(f"{failed} tick(s) not delivered; first cause: {errors[0]}")
