"""In-process Lambda environments: each function imports its own instance of the handler package.

A function's module is imported from the staged code directory (the program's `code` archive
path) as a private copy: the handler package's modules are swapped out of `sys.modules` during
the import and back afterwards, so two functions never share module state (settings, cached
clients), as two Lambda functions would not. Imports and invocations see the function's
environment variables plus what the Lambda runtime sets (`localcloud.runtime.environ`), with
`AWS_ENDPOINT_URL` pointing at moto and fake credentials, so handlers run unchanged.

Invocations run in a shared thread pool (handlers are blocking boto3 code). The timeout is
enforced on the caller's side: a timed-out invocation is reported as an error at once, but its
thread cannot be killed and finishes in the background (a real Lambda would be frozen).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, cast

from localcloud.errors import LocalCloudError
from localcloud.runtime import environ
from localcloud.runtime.logs import FunctionLogs

Handler = Callable[[Any, Any], Any]
"""A Lambda handler: (event, context) -> result."""

__all__ = [
    "FunctionError",
    "FunctionSpec",
    "FunctionThrottled",
    "FunctionTimeout",
    "InvocationObserver",
    "LambdaContext",
    "LambdaFunction",
    "runtime_environment",
]

_log = logging.getLogger("localcloud.runtime.functions")
_IMPORT_LOCK: Final = threading.Lock()
# Variables that would point boto3 at a real account or profile: hidden inside functions.
_HIDDEN: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


class FunctionError(LocalCloudError):
    """The handler raised (Lambda's `Unhandled` error); carries Lambda's error fields."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.error_message = message


class FunctionTimeout(FunctionError):
    """The handler ran longer than the function's timeout."""


class FunctionThrottled(LocalCloudError):
    """The function's reserved concurrency is in use (Lambda's TooManyRequestsException)."""


class InvocationObserver(Protocol):
    """What a function reports as it runs (the local cloud records them as AWS/Lambda metrics)."""

    def invoked(self, function: str, duration_ms: float, error: bool, concurrency: int) -> None:
        """An invocation ended: its duration, whether it failed, invocations in flight at start."""

    def throttled(self, function: str) -> None:
        """An invocation was refused for want of concurrency."""

    def iterator_age(self, function: str, age_ms: float) -> None:
        """A stream mapping delivered a batch whose last record is `age_ms` old."""


@dataclass(frozen=True)
class FunctionSpec:
    """What the program declared about one function."""

    name: str
    arn: str
    handler: str
    """`module.attribute`, e.g. `handlers.ingest.handler`."""
    code_dir: Path
    timeout_s: float = 3.0
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    """None: unreserved (bounded by the shared pool only)."""
    log_group: str = ""


@dataclass
class LambdaContext:
    """The `context` argument of a Python handler (the attributes handlers commonly use)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_s: float
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        return max(0, int((self.deadline_s - time.monotonic()) * 1000))


def runtime_environment(spec: FunctionSpec, *, region: str, endpoint: str) -> environ.Overlay:
    """The variables a function sees: Lambda's runtime variables, moto, then its own."""
    overlay: environ.Overlay = dict.fromkeys(_HIDDEN)
    overlay.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "localcloud",
            "AWS_SECRET_ACCESS_KEY": "localcloud",
            "AWS_ENDPOINT_URL": endpoint,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
        }
    )
    overlay.update(spec.environment)
    return overlay


def _fresh_import(module_name: str, code_dir: Path, overlay: environ.Overlay) -> Any:
    """Import `module_name` from `code_dir` as a private instance of its top-level package."""
    top = module_name.split(".", 1)[0]

    def ours(name: str) -> bool:
        return name == top or name.startswith(top + ".")

    with _IMPORT_LOCK:
        saved = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
        sys.path.insert(0, str(code_dir))
        try:
            importlib.invalidate_caches()
            with environ.applied(overlay):
                module = importlib.import_module(module_name)
        finally:
            for name in [name for name in sys.modules if ours(name)]:
                del sys.modules[name]
            sys.path.remove(str(code_dir))
            sys.modules.update(saved)
    return module


@dataclass
class _Run:
    """One invocation's timing, written by the thread that runs it."""

    concurrency: int = 0
    started: float = 0.0
    ended: float = 0.0

    def duration_ms(self) -> float:
        """How long the handler ran (Lambda's Duration; a cold start's import included)."""
        return max(0.0, self.ended - self.started) * 1000.0 if self.started else 0.0


class LambdaFunction:
    """One function: its private module instance, environment, concurrency and timeout."""

    def __init__(
        self,
        spec: FunctionSpec,
        overlay: environ.Overlay,
        executor: Executor,
        *,
        logs: FunctionLogs | None = None,
    ) -> None:
        self.spec = spec
        self._logs = logs
        self._overlay = overlay
        self._executor = executor
        # Idle containers: one private module instance each. Lambda runs one invocation per
        # container at a time, and the handlers rely on it (per-invocation metrics state), so a
        # concurrent invocation takes an idle container or cold-starts a new one.
        self._idle: list[Handler] = []
        self._idle_lock = threading.Lock()
        self.containers = 0
        self._semaphore = (
            asyncio.Semaphore(spec.reserved_concurrency)
            if spec.reserved_concurrency is not None
            else None
        )
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        """Invocations refused because the reserved concurrency was in use (Lambda's Throttles)."""
        self.running = 0
        """Invocations whose handler is running now."""
        self.observer: InvocationObserver | None = None
        self.fault: Callable[[str], str | None] | None = None
        """Asked before each invocation: why it dies before the handler runs (fault injection)."""

    def load(self) -> None:
        """Start the first container (Lambda's INIT phase); LocalCloudError if it cannot."""
        self._idle.append(self._new_container())

    def _new_container(self) -> Handler:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        if not module_name:
            raise LocalCloudError(f"{self.spec.name}: bad handler {self.spec.handler!r}")
        try:
            module = _fresh_import(module_name, self.spec.code_dir, self._overlay)
        except Exception as exc:
            raise LocalCloudError(
                f"{self.spec.name}: importing {module_name} from {self.spec.code_dir} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise LocalCloudError(f"{self.spec.name}: {self.spec.handler} is not callable")
        with self._idle_lock:
            self.containers += 1
        return cast(Handler, handler)

    async def invoke(self, event: Any) -> Any:
        """Run the handler on `event`; its result, or FunctionError/Timeout/Throttled."""
        if self._semaphore is None:
            return await self._invoke(event)
        if self._semaphore.locked():
            self.throttles += 1
            if self.observer is not None:
                self.observer.throttled(self.spec.name)
            raise FunctionThrottled(f"{self.spec.name}: reserved concurrency in use")
        async with self._semaphore:
            return await self._invoke(event)

    async def _invoke(self, event: Any) -> Any:
        self.invocations += 1
        context = LambdaContext(
            function_name=self.spec.name,
            invoked_function_arn=self.spec.arn,
            memory_limit_in_mb=self.spec.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=self.spec.log_group,
            log_stream_name=f"localcloud/{self.spec.name}",
            deadline_s=math.inf,  # set when a thread picks the invocation up
        )
        loop = asyncio.get_running_loop()
        started = asyncio.Event()
        run = _Run()
        future = loop.run_in_executor(
            self._executor,
            self._call,
            event,
            context,
            lambda: loop.call_soon_threadsafe(started.set),
            run,
        )
        # The timeout runs from the handler's start, as on Lambda: waiting for one of the shared
        # threads is the emulator's queue, not the function's time. Counted from submission, a
        # busy pool timed out the 3 s authorizer, whose failures are not cached, so every request
        # then invoked it again: the soak's slow collapse into 500s.
        waiter = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait([future, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        observer = self.observer
        try:
            async with asyncio.timeout(self.spec.timeout_s):
                result = await future
        except FunctionError:
            if observer is not None:
                observer.invoked(self.spec.name, run.duration_ms(), True, run.concurrency)
            raise
        except TimeoutError:
            self.errors += 1
            if observer is not None:
                timeout_ms = self.spec.timeout_s * 1000.0
                observer.invoked(self.spec.name, timeout_ms, True, run.concurrency)
            raise FunctionTimeout(
                "Sandbox.Timedout", f"Task timed out after {self.spec.timeout_s:.2f} seconds"
            ) from None
        if observer is not None:
            observer.invoked(self.spec.name, run.duration_ms(), False, run.concurrency)
        return result

    def observe_iterator_age(self, age_ms: float) -> None:
        """A stream mapping delivered a batch to this function (Lambda's IteratorAge)."""
        if self.observer is not None:
            self.observer.iterator_age(self.spec.name, age_ms)

    def _call(
        self, event: Any, context: LambdaContext, on_start: Callable[[], object], run: _Run
    ) -> Any:
        context.deadline_s = time.monotonic() + self.spec.timeout_s
        on_start()
        with self._idle_lock:
            handler = self._idle.pop() if self._idle else None
            self.running += 1
            run.concurrency = self.running
        run.started = time.perf_counter()
        try:
            if handler is None:
                handler = self._new_container()  # a cold start, as Lambda scales out
            return self._run(handler, event, context)
        finally:
            run.ended = time.perf_counter()
            with self._idle_lock:
                self.running -= 1
                if handler is not None:
                    self._idle.append(handler)

    def _run(self, handler: Handler, event: Any, context: LambdaContext) -> Any:
        logs = self._logs.capture(self.spec.name) if self._logs else contextlib.nullcontext()
        with environ.applied(self._overlay), logs:
            died = self.fault(self.spec.name) if self.fault is not None else None
            if died is not None:
                self.errors += 1
                _log.error("%s %s: %s", self.spec.name, context.aws_request_id, died)
                raise FunctionError("Runtime.ExitError", died)
            try:
                return handler(event, context)
            except Exception as exc:
                self.errors += 1
                # What CloudWatch would show for an unhandled error.
                _log.error(
                    "%s %s: unhandled %s\n%s",
                    self.spec.name,
                    context.aws_request_id,
                    type(exc).__name__,
                    traceback.format_exc().rstrip(),
                )
                raise FunctionError(type(exc).__name__, str(exc)) from None
