"""Fault injection: a share of DynamoDB write calls fail with a throttling error.

Implemented as a botocore `before-call` hook on the boto3 session the Lambda environments use:
returning a response from that event makes botocore skip the HTTP request and raise the
ClientError a throttled table would give (`ProvisionedThroughputExceededException`). No proxy,
no change in moto, and the handlers see exactly what they would see from AWS. botocore's own
retries do not apply to a short-circuited call (each call fails or passes once), so the
handler's retry and spill logic is what is exercised. Chosen over a proxy in front of moto:
one more process and one more HTTP hop on the hot path for nothing.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Final

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.session import Session

__all__ = ["WRITE_OPERATIONS", "FaultInjector"]

WRITE_OPERATIONS: Final = ("BatchWriteItem", "PutItem")
_CODE: Final = "ProvisionedThroughputExceededException"


class FaultInjector:
    """Fails a share `fail_writes` (0..1) of DynamoDB write calls; changeable at run time."""

    def __init__(self, fail_writes: float = 0.0, *, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._share = 0.0
        self.fail_writes = fail_writes
        self.injected = 0
        """Calls failed so far."""
        self.passed = 0
        """Write calls let through so far."""

    @property
    def fail_writes(self) -> float:
        """Share of write calls that fail."""
        return self._share

    @fail_writes.setter
    def fail_writes(self, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError("fail_writes must be between 0 and 1")
        self._share = float(share)

    def install(self, session: Session) -> None:
        """Hook the write operations of every client `session` creates from now on."""
        for operation in WRITE_OPERATIONS:
            hook: Any = self._before_call  # botocore types handlers as returning None
            session.register(f"before-call.dynamodb.{operation}", hook)

    def _before_call(
        self, model: Any = None, **kwargs: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        with self._lock:
            fail = self._share > 0.0 and self._rng.random() < self._share
            if fail:
                self.injected += 1
            else:
                self.passed += 1
        if not fail:
            return None
        operation = getattr(model, "name", "write")
        body = {
            "Error": {
                "Code": _CODE,
                "Message": f"localcloud fault injection: {operation} refused",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
        }
        return AWSResponse("http://localcloud/faults", 400, HTTPHeaders(), None), body

    def snapshot(self) -> dict[str, float | int]:
        """Settings and counters, for the admin endpoint."""
        return {"fail_writes": self._share, "injected": self.injected, "passed": self.passed}
