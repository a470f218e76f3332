"""In-process Lambda environments: each function imports its own instance of the handler package.

A function's module is imported from the staged code directory (the program's `code` archive
path) as a private copy: the handler package's modules are swapped out of `sys.modules` during
the import and back afterwards, so two functions never share module state (settings, cached
clients), as two Lambda functions would not. A handler that imports a module of its package
lazily (inside a function, at invocation time) gets it from its own copy too: the runtime's
`__import__` swaps that copy in for the import (`_container_import`). Imports and invocations
see the function's environment variables plus what the Lambda runtime sets
(`localcloud.runtime.environ`), with `AWS_ENDPOINT_URL` pointing at moto and fake credentials,
so handlers run unchanged.

Each container measures its INIT (the handler module's import) and reports it, as Lambda does,
as `Init Duration` in the `REPORT` line of its first invocation in the function's log. Only the
handler package is private to a container: third-party packages (boto3, pydantic) are imported
once per local cloud, so only the first container to import them pays for them.

Invocations run in a shared thread pool (handlers are blocking boto3 code). The timeout is
enforced on the caller's side: a timed-out invocation is reported as an error at once, but its
thread cannot be killed and finishes in the background (a real Lambda would be frozen).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import importlib
import logging
import math
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, Protocol, cast

from localcloud.errors import LocalCloudError
from localcloud.runtime import environ
from localcloud.runtime.logs import FunctionLogs, report_line

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


class _Package:
    """One container's private instance of the handler package: the modules it has imported.

    While it is *active* (under the import lock), its modules stand in `sys.modules` and its code
    directory is first on `sys.path`, so an import resolves to (or joins) this instance.
    """

    def __init__(self, top: str, code_dir: Path) -> None:
        self.top = top
        self.code_dir = code_dir
        self.modules: dict[str, ModuleType] = {}

    def ours(self, name: str) -> bool:
        """Whether `name` is the package or one of its modules."""
        return name == self.top or name.startswith(self.top + ".")

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Swap this instance into `sys.modules` for the duration (not re-entrant: see
        `_container_import`)."""
        with _IMPORT_LOCK:
            saved = {name: sys.modules.pop(name) for name in list(sys.modules) if self.ours(name)}
            sys.modules.update(self.modules)
            sys.path.insert(0, str(self.code_dir))
            _active.package = self
            try:
                importlib.invalidate_caches()
                yield
            finally:
                _active.package = None
                for name in [name for name in sys.modules if self.ours(name)]:
                    module = sys.modules.pop(name)
                    self.modules[name] = module
                    _PRIVATE[id(module.__dict__)] = self
                sys.path.remove(str(self.code_dir))
                sys.modules.update(saved)


_PRIVATE: Final[dict[int, _Package]] = {}
"""The package instance each private module belongs to, by the id of the module's globals."""
_active = threading.local()
_real_import: Final = builtins.__import__


def _container_import(
    name: str,
    globals: Mapping[str, object] | None = None,
    locals: Mapping[str, object] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> ModuleType:
    """`__import__` that resolves an import of the handler package made by a private module
    (a lazy import inside a function, at invocation time) within that module's own instance, as
    it would in its own Lambda environment; every other import is Python's own."""
    package = _PRIVATE.get(id(globals)) if globals is not None else None
    if (
        package is None
        or getattr(_active, "package", None) is package  # already inside its own import
        or (level == 0 and not package.ours(name))
    ):
        return _real_import(name, globals, locals, fromlist, level)
    if level == 0:  # already imported (the usual case after the first call): no swap, no lock
        module = package.modules.get(name if fromlist else package.top)
        if module is not None and (name in package.modules) and _has(module, fromlist):
            return module
    with package.active():
        return _real_import(name, globals, locals, fromlist, level)


def _has(module: ModuleType, fromlist: Sequence[str] | None) -> bool:
    return all(hasattr(module, attribute) for attribute in fromlist or ())


def _fresh_import(module_name: str, code_dir: Path, overlay: environ.Overlay) -> tuple[Any, float]:
    """Import `module_name` from `code_dir` as a private instance of its top-level package;
    the module, and the milliseconds its import took (not counting the wait for the lock)."""
    if builtins.__import__ is not _container_import:
        builtins.__import__ = _container_import
    package = _Package(module_name.split(".", 1)[0], code_dir)
    with package.active(), environ.applied(overlay):
        started = time.perf_counter()
        module = importlib.import_module(module_name)
        took_ms = (time.perf_counter() - started) * 1e3
    return module, took_ms


@dataclass
class _Container:
    """One execution environment: its private handler, what its INIT took, if it was invoked."""

    handler: Handler
    init_ms: float
    invoked: bool = False


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
        self._idle: list[_Container] = []
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

    def _new_container(self) -> _Container:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        if not module_name:
            raise LocalCloudError(f"{self.spec.name}: bad handler {self.spec.handler!r}")
        try:
            module, init_ms = _fresh_import(module_name, self.spec.code_dir, self._overlay)
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
        return _Container(cast(Handler, handler), init_ms)

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
            container = self._idle.pop() if self._idle else None
            self.running += 1
            run.concurrency = self.running
        run.started = time.perf_counter()
        try:
            if container is None:
                container = self._new_container()  # a cold start, as Lambda scales out
            return self._run(container, event, context)
        finally:
            run.ended = time.perf_counter()
            with self._idle_lock:
                self.running -= 1
                if container is not None:
                    self._idle.append(container)

    def _run(self, container: _Container, event: Any, context: LambdaContext) -> Any:
        logs = self._logs.capture(self.spec.name) if self._logs else contextlib.nullcontext()
        started = time.perf_counter()
        with environ.applied(self._overlay), logs:
            died = self.fault(self.spec.name) if self.fault is not None else None
            if died is not None:
                self.errors += 1
                _log.error("%s %s: %s", self.spec.name, context.aws_request_id, died)
                raise FunctionError("Runtime.ExitError", died)
            try:
                return container.handler(event, context)
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
            finally:
                self._report(container, context, (time.perf_counter() - started) * 1e3)

    def _report(self, container: _Container, context: LambdaContext, duration_ms: float) -> None:
        first = not container.invoked
        container.invoked = True
        if self._logs is not None:
            init_ms = container.init_ms if first else None
            line = report_line(context.aws_request_id, duration_ms, self.spec.memory_mb, init_ms)
            self._logs.write(self.spec.name, line)
