"""Fault injection: throttled writes and reads, a DynamoDB outage, functions crashing or dying,
and the HTTP API refusing or losing answers.

Implemented as botocore hooks on the boto3 session the Lambda environments use (and, for the
last mode, a check the runtime makes before each invocation): no proxy, no change in moto, and
the handlers see exactly what they would see from AWS. Chosen over a proxy in front of moto: one
more process and one more HTTP hop on the hot path for nothing. Five modes, each a share of calls
(0..1), set at run time and optionally for a bounded time:

- `throttle_writes`: a share of DynamoDB `BatchWriteItem`/`PutItem` calls answer
  `ProvisionedThroughputExceededException`. Injected in `before-call`, so botocore's own retry
  does not apply (each call fails or passes once): the share is what the handler's retry and
  spill logic sees, which is what this mode exists to exercise.
- `throttle_reads`: the same for DynamoDB's reads (`GetItem`, `BatchGetItem`, `Query`, `Scan`).
- `unavailable`: a share of every DynamoDB call (reads too) cannot reach the service. botocore
  sees that as `EndpointConnectionError` ("Could not connect to the endpoint URL") — what clients
  got when DynamoDB's regional endpoint stopped resolving (us-east-1, October 2025), and what a
  refused or unroutable connection gives. A 5xx answer would be the other shape, but that is a
  reachable service failing, which retry-and-spill treats like a throttle already. It is raised
  in `before-send`, inside botocore's retry loop, so the client's retry policy (attempts, backoff,
  retry quota) runs as it would against an unreachable endpoint, and its delays are paid.
- `crash`: a share of the `BatchWriteItem`/`PutItem` calls of one named function crash the
  invocation mid-write: DynamoDB receives the first half of the call's items (rounded up), then
  the call raises `InjectedCrash`, an error no handler expects, so the invocation fails and API
  Gateway answers 500. That is a function dying between two write calls (timeout, out of memory,
  a bug). Decided per write call; the ingest function makes one call per request of up to 25
  blocks, so for it this is the share of invocations.
- `fail_invocations`: a share of the invocations of one named function die before the handler
  runs, whatever it does: Lambda's `Runtime.ExitError`, what an out-of-memory kill or a crashed
  runtime gives. The invocation counts as an error (API Gateway answers 500/502, a stream or
  queue mapping retries); this is how a test makes any function fail, even one that makes no
  AWS call or catches every error.

Two more act in the gateway, on HTTP API (ingest) requests, for clients' retry logic: a share of
requests answered `429` before the route runs (`http_throttle`, API Gateway's throttle) and a
share answered `503` after the route ran (`http_unavailable`: the write happened, its answer is
lost, as when an integration times out), so a client that retries without its Idempotency-Key
duplicates ticks.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Annotated, Any, Final

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError
from botocore.session import Session
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "CRASH",
    "FAIL_INVOCATIONS",
    "HTTP_THROTTLE",
    "HTTP_UNAVAILABLE",
    "MODES",
    "READ_OPERATIONS",
    "THROTTLE_READS",
    "THROTTLE_WRITES",
    "UNAVAILABLE",
    "WRITE_OPERATIONS",
    "CrashSettings",
    "FaultInjector",
    "FaultSettings",
    "FaultSettingsError",
    "InjectedCrash",
    "parse_settings",
]

WRITE_OPERATIONS: Final = ("BatchWriteItem", "PutItem")
READ_OPERATIONS: Final = ("GetItem", "BatchGetItem", "Query", "Scan")
THROTTLE_WRITES: Final = "throttle_writes"
THROTTLE_READS: Final = "throttle_reads"
UNAVAILABLE: Final = "unavailable"
CRASH: Final = "crash"
FAIL_INVOCATIONS: Final = "fail_invocations"
HTTP_THROTTLE: Final = "http_throttle"
HTTP_UNAVAILABLE: Final = "http_unavailable"
MODES: Final = (
    THROTTLE_WRITES,
    THROTTLE_READS,
    UNAVAILABLE,
    CRASH,
    FAIL_INVOCATIONS,
    HTTP_THROTTLE,
    HTTP_UNAVAILABLE,
)
_TARGETED: Final = (CRASH, FAIL_INVOCATIONS)
"""Modes that target one function (set as `{"function", "share"}`)."""
LEGACY_THROTTLE: Final = "fail_writes"
"""The first name of `throttle_writes` (CLI `--fail-writes`), still accepted and reported."""
FUNCTION_ENV: Final = "AWS_LAMBDA_FUNCTION_NAME"
"""Set per invocation thread by `localcloud.runtime.environ`, as Lambda sets it per sandbox."""
MAX_FOR_S: Final = 86_400.0
_THROTTLE_CODE: Final = "ProvisionedThroughputExceededException"
_CRASH_MARK: Final = "localcloud_crash"
"""Key in botocore's per-call request context: items written before the crash, of how many."""

Share = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]


class InjectedCrash(RuntimeError):
    """The invocation dies mid-write (raised out of a DynamoDB call of the targeted function)."""


class CrashSettings(BaseModel):
    """`{"function": <physical name>, "share": P}` (the modes that target one function)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str = Field(strict=True, min_length=1, max_length=140)
    share: Share


class FaultSettings(BaseModel):
    """One POST /_localcloud/faults document: modes given are set, absent ones stay as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    throttle_writes: Share = 0.0
    fail_writes: Share = 0.0
    throttle_reads: Share = 0.0
    unavailable: Share = 0.0
    crash: CrashSettings | None = None
    """null switches the crash mode off."""
    fail_invocations: CrashSettings | None = None
    """null switches it off."""
    http_throttle: Share = 0.0
    http_unavailable: Share = 0.0
    for_s: Annotated[float, Field(strict=True, gt=0.0, le=MAX_FOR_S)] | None = None
    """The modes set by this document switch themselves off after this many seconds."""

    def given(self) -> dict[str, Any]:
        """Mode name -> setting, for the modes this document sets (the legacy name mapped)."""
        fields = self.model_fields_set
        out: dict[str, Any] = {}
        if THROTTLE_WRITES in fields:
            out[THROTTLE_WRITES] = self.throttle_writes
        elif LEGACY_THROTTLE in fields:
            out[THROTTLE_WRITES] = self.fail_writes
        for name in (
            THROTTLE_READS,
            UNAVAILABLE,
            CRASH,
            FAIL_INVOCATIONS,
            HTTP_THROTTLE,
            HTTP_UNAVAILABLE,
        ):
            if name in fields:
                out[name] = getattr(self, name)
        return out


class FaultSettingsError(ValueError):
    """A settings document was refused; `details` names each (field, reason)."""

    def __init__(self, message: str, details: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.details = details


def parse_settings(document: Any, *, functions: Collection[str] | None = None) -> FaultSettings:
    """Validate a settings document (all of it, before anything changes); FaultSettingsError."""
    if not isinstance(document, dict):
        raise FaultSettingsError("the body must be a JSON object", [("body", "not an object")])
    try:
        settings = FaultSettings.model_validate(document)
    except ValidationError as exc:
        details = [
            (".".join(str(part) for part in error["loc"]) or "body", error["msg"])
            for error in exc.errors()
        ]
        raise FaultSettingsError(f"bad fault settings: {details[0][0]}", details) from None
    fields = settings.model_fields_set
    if THROTTLE_WRITES in fields and LEGACY_THROTTLE in fields:
        raise FaultSettingsError(
            "give throttle_writes or its old name fail_writes, not both",
            [(LEGACY_THROTTLE, "same mode as throttle_writes")],
        )
    if not settings.given():
        raise FaultSettingsError(
            f"no fault mode given: set one of {', '.join(MODES)}",
            [("body", f"needs one of {', '.join(MODES)}")],
        )
    for name in _TARGETED:
        target: CrashSettings | None = getattr(settings, name)
        if target is not None and functions is not None and target.function not in functions:
            known = ", ".join(sorted(functions)) or "none"
            raise FaultSettingsError(
                f"no function named {target.function!r}",
                [(f"{name}.function", f"unknown function; known: {known}")],
            )
    return settings


@dataclass
class _Mode:
    share: float = 0.0
    until: float | None = None
    """Clock time at which the mode switches itself off; None: until changed."""
    function: str | None = None
    """The targeted function (crash only)."""
    injected: int = 0
    """Faults injected so far."""
    passed: int = 0
    """Calls the mode looked at and let through."""


class FaultInjector:
    """The fault modes and their counters; changeable at run time from any thread."""

    def __init__(
        self,
        fail_writes: float = 0.0,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._clock = clock
        self._modes = {name: _Mode() for name in MODES}
        self._writes: Counter[str] = Counter()
        """DynamoDB write calls per function (every one passes the write-throttle hook)."""
        self.fail_writes = fail_writes

    @property
    def fail_writes(self) -> float:
        """Share of write calls throttled (the `throttle_writes` mode, by its first name)."""
        with self._lock:
            return self._live(THROTTLE_WRITES).share

    @fail_writes.setter
    def fail_writes(self, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError("fail_writes must be between 0 and 1")
        self.apply(FaultSettings(throttle_writes=share))

    def apply(self, settings: FaultSettings) -> None:
        """Set the modes `settings` gives, all at once, each for `for_s` if given."""
        given = settings.given()
        with self._lock:
            until = None if settings.for_s is None else self._clock() + settings.for_s
            for name, value in given.items():
                mode = self._modes[name]
                if name in _TARGETED:
                    mode.function = value.function if value is not None else None
                    mode.share = value.share if value is not None else 0.0
                else:
                    mode.share = float(value)
                mode.until = until if mode.share > 0.0 else None

    def install(self, session: Session) -> None:
        """Hook every client `session` creates from now on."""
        # botocore types handlers as returning None; ours return responses or raise.
        throttle: Any = self._throttle_writes
        throttle_reads: Any = self._throttle_reads
        unreachable: Any = self._unreachable
        crash_decide: Any = self._crash_decide
        crash_raise: Any = self._crash_raise
        for operation in READ_OPERATIONS:
            session.register(f"before-call.dynamodb.{operation}", throttle_reads)
        for operation in WRITE_OPERATIONS:
            session.register(f"before-call.dynamodb.{operation}", throttle)
            session.register(f"before-parameter-build.dynamodb.{operation}", crash_decide)
            session.register(f"after-call.dynamodb.{operation}", crash_raise)
        session.register("before-send.dynamodb", unreachable)

    def snapshot(self) -> dict[str, Any]:
        """Settings and counters per mode, for the admin endpoint."""
        with self._lock:
            now = self._clock()
            out: dict[str, Any] = {}
            for name in MODES:
                mode = self._live(name, now)
                entry: dict[str, Any] = {
                    "share": mode.share,
                    "remaining_s": None if mode.until is None else round(mode.until - now, 3),
                    "injected": mode.injected,
                    "passed": mode.passed,
                }
                if name in _TARGETED:
                    entry = {"function": mode.function, **entry}
                if name == THROTTLE_WRITES:
                    # Tests tell a refused request's writes (none) from the pipeline's own
                    # (the fan-out consumer keeping rollups) by function.
                    entry["by_function"] = dict(self._writes)
                out[name] = entry
            out[LEGACY_THROTTLE] = out[THROTTLE_WRITES]["share"]
            return out

    def _live(self, name: str, now: float | None = None) -> _Mode:
        """The mode, switched off first if its time is up (call with the lock held)."""
        mode = self._modes[name]
        if mode.until is not None and (self._clock() if now is None else now) >= mode.until:
            mode.share, mode.until = 0.0, None
        return mode

    def hit(self, name: str) -> bool:
        """Whether this request gets the gateway fault `name` (`HTTP_THROTTLE`, ...); counted."""
        return self._roll(name)

    def _roll(self, name: str) -> bool:
        """Whether this call gets the fault; counts it either way."""
        with self._lock:
            mode = self._live(name)
            hit = mode.share > 0.0 and self._rng.random() < mode.share
            if hit:
                mode.injected += 1
            else:
                mode.passed += 1
            return hit

    def invocation_fault(self, function: str) -> str | None:
        """Why this invocation of `function` dies (`fail_invocations`), or None: it runs."""
        with self._lock:
            mode = self._live(FAIL_INVOCATIONS)
            if mode.function != function or mode.share <= 0.0:
                return None
            hit = self._rng.random() < mode.share
            if not hit:
                mode.passed += 1
                return None
            mode.injected += 1
        return f"localcloud fault injection: {function} died before its handler ran"

    def _throttle_writes(
        self, model: Any = None, **kwargs: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        function = os.environ.get(FUNCTION_ENV, "")
        with self._lock:
            self._writes[function] += 1
        return self._throttle(THROTTLE_WRITES, model)

    def _throttle_reads(
        self, model: Any = None, **kwargs: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        return self._throttle(THROTTLE_READS, model)

    def _throttle(self, mode: str, model: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self._roll(mode):
            return None
        operation = getattr(model, "name", "call")
        body = {
            "Error": {
                "Code": _THROTTLE_CODE,
                "Message": f"localcloud fault injection: {operation} refused",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
        }
        return AWSResponse("http://localcloud/faults", 400, HTTPHeaders(), None), body

    def _unreachable(self, request: Any = None, **kwargs: Any) -> None:
        if self._roll(UNAVAILABLE):
            raise EndpointConnectionError(endpoint_url=getattr(request, "url", "dynamodb"))

    def _targeted(self) -> bool:
        function = os.environ.get(FUNCTION_ENV)
        with self._lock:
            mode = self._live(CRASH)
            return function is not None and function == mode.function and mode.share > 0.0

    def _crash_decide(
        self, params: Any = None, model: Any = None, context: Any = None, **kwargs: Any
    ) -> None:
        if not isinstance(context, dict) or not self._targeted():
            return
        with self._lock:
            hit = self._rng.random() < self._modes[CRASH].share
        if not hit:
            context[_CRASH_MARK] = None  # targeted, let through: counted after the call
            return
        if getattr(model, "name", "") == "BatchWriteItem" and isinstance(params, dict):
            requests = params.get("RequestItems") or {}
            total = sum(len(items) for items in requests.values())
            keep = math.ceil(total / 2)
            trimmed: dict[str, list[Any]] = {}
            for table, items in requests.items():
                take = min(len(items), keep - sum(len(v) for v in trimmed.values()))
                if take > 0:
                    trimmed[table] = list(items[:take])
            params["RequestItems"] = trimmed
            context[_CRASH_MARK] = (keep, total)
        else:
            context[_CRASH_MARK] = (1, 1)

    def _crash_raise(self, http_response: Any = None, context: Any = None, **kwargs: Any) -> None:
        if not isinstance(context, dict) or _CRASH_MARK not in context:
            return
        mark = context.pop(_CRASH_MARK)
        status = getattr(http_response, "status_code", 500)
        with self._lock:
            mode = self._modes[CRASH]
            if mark is None or status >= 300:
                mode.passed += 1
                return
            mode.injected += 1
        written, total = mark
        raise InjectedCrash(
            f"localcloud fault injection: {os.environ.get(FUNCTION_ENV)} crashed after writing "
            f"{written} of {total} item(s)"
        )
