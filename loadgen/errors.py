"""Error taxonomy: every failed request gets exactly one kind, keyed on aiohttp's exception tree."""

from __future__ import annotations

import json
from enum import StrEnum

import aiohttp

__all__ = [
    "ErrorKind",
    "LoadgenError",
    "ResponseShapeError",
    "TargetError",
    "UsageError",
    "classify",
]


class LoadgenError(Exception):
    """Root of the load generator's own exceptions."""


class UsageError(LoadgenError):
    """Bad arguments or configuration: the CLI prints the message on one line, exits EX_USAGE."""


class TargetError(UsageError):
    """The endpoints could not be resolved (no Pulumi CLI, no stack, bad outputs file)."""


class ResponseShapeError(LoadgenError):
    """A decoded response body does not have the shape the API contract promises."""


class ErrorKind(StrEnum):
    """Why a request did not succeed."""

    CONNECT = "connect"
    """No connection: refused, DNS, TLS handshake."""
    TIMEOUT = "timeout"
    """Connect, read or total timeout from `ClientTimeout`."""
    READ = "read"
    """Connection broke after the request went out: reset, disconnect, truncated payload."""
    BAD_RESPONSE = "bad_response"
    """A response came back but is not what the API promises: bad HTTP, bad JSON, wrong shape."""
    STATUS = "status"
    """A well-formed response with a non-success status code (counted by code as well)."""
    DROPPED = "dropped"
    """Planned but never sent: the generator was still behind when the run's deadline passed."""
    OTHER = "other"
    """Anything else (a bug in the generator or an unexpected exception)."""


def classify(exc: BaseException) -> ErrorKind:
    """Map an exception raised while sending or reading a request to its kind."""
    # Order matters: aiohttp's timeout errors are also ServerConnectionError / OSError, and
    # the builtin TimeoutError is itself an OSError, so timeouts are checked first.
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ErrorKind.CONNECT
    if isinstance(
        exc,
        aiohttp.ClientResponseError
        | json.JSONDecodeError
        | UnicodeDecodeError
        | ResponseShapeError,
    ):
        return ErrorKind.BAD_RESPONSE
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError | OSError):
        return ErrorKind.READ
    return ErrorKind.OTHER
