"""`LocalCloud`: start moto, run the program against it, load the functions, serve the gateway.

Start-up order: bind the gateway's socket first (its URL goes into the API outputs), start moto
(a child process), run the program under the mock runtime while moto boots (resources are
created in moto as the program registers them), import the functions, then open the gateway.
`stop()` undoes all of it, in reverse, and waits for moto to exit.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlencode

import boto3
from aiohttp import web

from infra.outputs import (
    CLOUDWATCH_DASHBOARD_URL,
    DASHBOARD_URL,
    QUERY_API_KEY,
    QUERY_BASE_URL,
    READ_TOKEN,
    WS_URL,
)
from localcloud.alarms.evaluator import build_alarms
from localcloud.deploy.program import Deployment, run_program
from localcloud.deploy.provision import ACCEPTED, EMULATED, LocalProvider, moto_session
from localcloud.deploy.stackconfig import StackConfig, load_stack_config, project_name
from localcloud.errors import LocalCloudError
from localcloud.faults import FaultInjector
from localcloud.gateway.app import DASHBOARD_PREFIX, build_app
from localcloud.gateway.cloudwatch import CONSOLE_PREFIX, DashboardConsole
from localcloud.gateway.headersize import PARSER_LIMIT_BYTES
from localcloud.gateway.httpapi import HttpApi, build_http_apis
from localcloud.gateway.restapi import RestApi, build_rest_apis
from localcloud.gateway.websocket import build_websocket_apis, management_endpoints
from localcloud.insights.command import QUERY_DEFINITION, definitions
from localcloud.metrics.observers import (
    ApiMetrics,
    DynamoDBMetrics,
    EmfMetrics,
    LambdaMetrics,
    QueueGauges,
    watched_queues,
)
from localcloud.metrics.publish import MetricPublisher
from localcloud.metrics.store import MetricStore
from localcloud.moto.server import MotoServer
from localcloud.runtime import environ
from localcloud.runtime.functions import FunctionSpec, LambdaFunction, runtime_environment
from localcloud.runtime.logs import FunctionLogs
from localcloud.sources.mappings import build_pollers
from localcloud.sources.streams import StreamPoller
from localcloud.sources.wakeup import Wakeup

__all__ = ["PROJECT_ROOT", "CloudOptions", "LocalCloud"]

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
_log = logging.getLogger("localcloud")


@dataclass(frozen=True, kw_only=True)
class CloudOptions:
    """How to start the local cloud."""

    stack: str = "dev"
    stack_file: Path | None = None
    """A stack file to use instead of `Pulumi.<stack>.yaml` (tests pass their own)."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Config values set on top of the stack file (`key` or `namespace:key`)."""
    port: int = 0
    """Gateway port on 127.0.0.1; 0 picks a free one."""
    fail_writes: float = 0.0
    workers: int = 8
    """Threads running handler invocations (boto3's default pool has 10 connections)."""
    project_root: Path = PROJECT_ROOT
    log_dir: Path | None = None
    """Where each function's stdout goes (default `<project>/.localcloud/logs`)."""
    metrics: bool = True
    """Record CloudWatch metrics (False: nothing is observed, to measure what it costs)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_writes <= 1.0:
            raise ValueError("fail_writes must be between 0 and 1")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")


class LocalCloud:
    """The Pulumi program deployed onto 127.0.0.1."""

    def __init__(self, options: CloudOptions) -> None:
        self.options = options
        self.faults = FaultInjector(options.fail_writes)
        self._wakeup = Wakeup()
        self.deployment: Deployment | None = None
        self.config: StackConfig | None = None
        self.gateway_url = ""
        self.startup_s = 0.0
        self.notes: list[str] = []
        """Start-up remarks: types not emulated, generated secrets, where code came from."""
        self.functions: dict[str, LambdaFunction] = {}
        self._moto = MotoServer()
        self.metrics = MetricStore(enabled=options.metrics)
        self.emf = EmfMetrics(self.metrics)
        self.logs = FunctionLogs(
            options.log_dir or options.project_root / ".localcloud" / "logs",
            lines=self.emf.line if options.metrics else None,
        )
        self._runner: web.AppRunner | None = None
        self._publisher: MetricPublisher | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._started = False

    @property
    def outputs(self) -> dict[str, Any]:
        """The program's exports, resolved to local values (secrets in clear).

        `dashboard_url` is the gateway's own page (`/dashboard/`) with the WebSocket URL and the
        read token in its query, and the query API's URL and key (the candles' history), whatever
        the program exports for it (on AWS: CloudFront);
        `cloudwatch_dashboard_url` is the gateway's page of that CloudWatch dashboard.
        """
        if self.deployment is None:
            return {}
        exports = dict(self.deployment.exports)
        ws_url, token = exports.get(WS_URL), exports.get(READ_TOKEN)
        if self.gateway_url and ws_url and token and self._dashboard_dir() is not None:
            page = {"ws": ws_url, "token": token}
            # The candles' history: /bars on the same gateway (same origin, no CORS).
            if exports.get(QUERY_BASE_URL) and exports.get(QUERY_API_KEY):
                page |= {"query": exports[QUERY_BASE_URL], "key": exports[QUERY_API_KEY]}
            query = urlencode(page)
            exports[DASHBOARD_URL] = f"{self.gateway_url}{DASHBOARD_PREFIX}/?{query}"
        console = str(exports.get(CLOUDWATCH_DASHBOARD_URL) or "")
        name = console.rsplit("/", 1)[-1]
        if self.gateway_url and name in self._dashboards():
            # On AWS the console's URL; here the gateway's page of the same dashboard.
            exports[CLOUDWATCH_DASHBOARD_URL] = (
                f"{self.gateway_url}{CONSOLE_PREFIX}/dashboards/{name}"
            )
        return exports

    @property
    def secret_outputs(self) -> set[str]:
        """Output keys not to print: the program's secrets, and the local `dashboard_url`."""
        secret = set(self.deployment.secret_exports) if self.deployment else set()
        return secret | {DASHBOARD_URL} if DASHBOARD_URL in self.outputs else secret

    def _dashboards(self) -> list[str]:
        """Names of the CloudWatch dashboards the program declares."""
        deployment = self.deployment or Deployment("")
        return [
            str(r.outputs.get("dashboardName") or r.id)
            for r in deployment.of_type("aws:cloudwatch/dashboard:Dashboard")
        ]

    def cloudwatch(self) -> Any:
        """A boto3 CloudWatch client of moto (the local CloudWatch)."""
        assert self.config is not None, "the cloud is not started"
        session = moto_session(self.config.region)
        return session.client("cloudwatch", endpoint_url=self._moto.endpoint)

    async def flush_metrics(self) -> None:
        """Put every metric recorded so far into the local CloudWatch now."""
        if self._publisher is not None:
            await self._publisher.flush_now(everything=True)

    def _dashboard_dir(self) -> Path | None:
        """The project's `dashboard/`, if it holds the page."""
        directory = self.options.project_root / "dashboard"
        return directory if (directory / "index.html").is_file() else None

    @property
    def moto_endpoint(self) -> str:
        """The moto server's URL."""
        return self._moto.endpoint

    @property
    def moto_pid(self) -> int:
        """The moto server's process id."""
        return self._moto.pid

    async def __aenter__(self) -> LocalCloud:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bring everything up; on failure, stop what was started and raise."""
        started = time.monotonic()
        self._started = True
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        self.startup_s = time.monotonic() - started

    async def _start(self) -> None:
        options = self.options
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", options.port))
        except OSError as exc:
            sock.close()
            raise LocalCloudError(f"cannot listen on 127.0.0.1:{options.port}: {exc}") from None
        self.gateway_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            self._moto.start()
            config = load_stack_config(
                options.project_root,
                options.stack,
                stack_file=options.stack_file,
                overrides=options.overrides,
            )
            self.config = config
            self.notes.extend(
                f"{key}: secure value replaced by a local one" for key in config.generated_secrets
            )
            provider = LocalProvider(
                stack=config.stack,
                region=config.region,
                gateway_url=self.gateway_url,
                moto_endpoint=self._moto.wait_ready,
            )
            deployment = await asyncio.to_thread(
                run_program,
                options.project_root / "__main__.py",
                config,
                provider,
                project=project_name(options.project_root),
            )
            self.deployment = deployment
            endpoint = await asyncio.to_thread(self._moto.wait_ready)
            self._note_types(deployment, provider)
            environ.install()
            self.logs.install()
            self._setup_default_session()
            self._executor = ThreadPoolExecutor(options.workers, thread_name_prefix="lambda")
            await self._load_functions(deployment, config.region, endpoint)
            session = moto_session(config.region)
            clients = functools.cache(
                lambda service: session.client(service, endpoint_url=endpoint)
            )
            # Clients are made here, not in the pollers' threads (sessions are not thread-safe).
            for service in ("sqs", "sns", "dynamodbstreams", "cloudwatch"):
                clients(service)
            pollers, notes = await asyncio.to_thread(
                build_pollers, deployment, self.functions, clients, config.region
            )
            self.notes.extend(notes)
            alarms, notes = build_alarms(deployment, self.metrics, clients, config.region)
            self.notes.extend(notes)
            http_apis = build_http_apis(deployment, self.functions, config.region)
            rest_apis = build_rest_apis(deployment, self.functions)
            publisher = self._publisher = self._observe(deployment, http_apis, rest_apis, clients)
            for poller in pollers:
                if isinstance(poller, StreamPoller):
                    # LATEST is taken now, so that a write after "ready" is never missed.
                    await asyncio.to_thread(poller.prepare)
                    poller.wakeup = self._wakeup
            app = build_app(
                http_apis=http_apis,
                rest_apis=rest_apis,
                ws_apis=build_websocket_apis(deployment, self.functions, config.region),
                functions={f.spec.name: f for f in set(self.functions.values())},
                faults=self.faults,
                pollers=pollers,
                alarms=alarms,
                metrics=publisher,
                console=DashboardConsole(clients("cloudwatch"), self._dashboards()),
                dashboard_dir=self._dashboard_dir(),
            )
            self._runner = web.AppRunner(
                app,
                access_log=None,
                handle_signals=False,
                max_line_size=PARSER_LIMIT_BYTES,
                max_field_size=PARSER_LIMIT_BYTES,
            )
            await self._runner.setup()
            site = web.SockSite(self._runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            raise

    def _setup_default_session(self) -> None:
        """The boto3 session the handlers' clients come from, with the fault hook on it (and
        the metrics and stream-wakeup hooks)."""
        # Handlers call `boto3.client(...)`, which uses boto3's default session. A fresh one
        # keeps any session this process made earlier (with real settings) away from them.
        boto3.DEFAULT_SESSION = boto3.session.Session()
        if self.options.metrics:
            DynamoDBMetrics(self.metrics).install(boto3.DEFAULT_SESSION._session)
        self.faults.install(boto3.DEFAULT_SESSION._session)
        self._wakeup.install(boto3.DEFAULT_SESSION._session)

    def _observe(
        self,
        deployment: Deployment,
        http_apis: Mapping[str, HttpApi],
        rest_apis: Mapping[str, RestApi],
        clients: Callable[[str], Any],
    ) -> MetricPublisher | None:
        """Attach the metric observers to functions and APIs; the publisher (None: no metrics)."""
        if not self.options.metrics:
            return None
        store = self.metrics
        lambdas = LambdaMetrics(store)
        for function in set(self.functions.values()):
            function.observer = lambdas
        for api_id, http_api in http_apis.items():
            http_api.metrics = ApiMetrics(store, kind="http", dimensions={"ApiId": api_id})
        for rest_api in rest_apis.values():
            rest_api.metrics = ApiMetrics(store, kind="rest", dimensions={"ApiName": rest_api.name})
        watched = watched_queues(deployment)
        queues = {
            str(q.outputs.get("name")): str(q.outputs.get("url"))
            for q in deployment.of_type("aws:sqs/queue:Queue")
            if str(q.outputs.get("name")) in watched
        }
        gauges = QueueGauges(store, clients("sqs"), queues)
        return MetricPublisher(store, clients("cloudwatch"), gauges=gauges)

    async def _load_functions(self, deployment: Deployment, region: str, endpoint: str) -> None:
        assert self._executor is not None
        endpoints = management_endpoints(deployment, self.gateway_url)
        for r in deployment.of_type("aws:lambda/function:Function"):
            spec = self._spec(r.id, r.inputs, r.outputs, endpoints)
            function = LambdaFunction(
                spec,
                runtime_environment(spec, region=region, endpoint=endpoint),
                self._executor,
                logs=self.logs,
            )
            function.fault = self.faults.invocation_fault
            await asyncio.to_thread(function.load)
            for alias in (spec.name, spec.arn, f"{spec.arn}:$LATEST"):
                self.functions[alias] = function

    def _spec(
        self,
        name: str,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        endpoints: Mapping[str, str],
    ) -> FunctionSpec:
        code = inputs.get("code")
        code_path = code.get("path") if isinstance(code, dict) else None
        code_dir = Path(code_path) if code_path else None
        if code_dir is not None and not code_dir.is_absolute():
            code_dir = Path.cwd() / code_dir  # the program made it relative to its cwd
        if code_dir is None or not code_dir.is_dir():
            self.notes.append(
                f"function {name}: code {code_path!r} is not a staged directory; "
                f"importing from {self.options.project_root}"
            )
            code_dir = self.options.project_root
        variables = (inputs.get("environment") or {}).get("variables") or {}
        reserved = inputs.get("reservedConcurrentExecutions")
        logging_config = inputs.get("loggingConfig") or {}
        return FunctionSpec(
            name=name,
            arn=str(outputs["arn"]),
            handler=str(inputs.get("handler", "")),
            code_dir=code_dir.resolve(),
            timeout_s=float(inputs.get("timeout") or 3),
            memory_mb=int(inputs.get("memorySize") or 128),
            # A WebSocket stage's management URL (wss -> https on AWS) becomes the local one.
            environment={str(k): endpoints.get(str(v), str(v)) for k, v in variables.items()},
            reserved_concurrency=int(reserved) if reserved is not None and reserved >= 0 else None,
            log_group=str(logging_config.get("logGroup") or f"/aws/lambda/{name}"),
        )

    def _note_types(self, deployment: Deployment, provider: LocalProvider) -> None:
        declared = {r.typ for r in deployment.resources if r.custom}
        accepted = sorted(declared & set(ACCEPTED))
        if accepted:
            self.notes.append("accepted, no local effect: " + ", ".join(accepted))
        if provider.unknown_types:
            self.notes.append(
                "NOT emulated (unknown type, outputs echo the inputs): "
                + ", ".join(sorted(provider.unknown_types))
            )
        if provider.unknown_calls:
            self.notes.append(
                "unknown provider functions: " + ", ".join(sorted(provider.unknown_calls))
            )
        for r in deployment.of_type("aws:apigatewayv2/api:Api"):
            if r.inputs.get("protocolType", "HTTP") not in ("HTTP", "WEBSOCKET"):
                self.notes.append(f"{r.name}: {r.inputs.get('protocolType')} APIs are not emulated")
        assert set(EMULATED).isdisjoint(ACCEPTED)

    async def stop(self) -> None:
        """Stop the gateway, the pollers, the functions' threads and moto (and wait for it)."""
        if not self._started:
            return
        self._started = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._executor is not None:
            # A handler stuck past its timeout cannot be killed; do not wait for it.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        await asyncio.to_thread(self._moto.stop)
        environ.uninstall()
        self.logs.uninstall()

    def state(self) -> dict[str, Any]:
        """What is running where, for `.localcloud/state.json` (tests and tools read it)."""
        deployment = self.deployment or Deployment("")
        return {
            "pid": os.getpid(),
            "moto_pid": self._moto.pid,
            "moto_endpoint": self._moto.endpoint,
            "gateway_url": self.gateway_url,
            "stack": deployment.stack,
            "startup_s": round(self.startup_s, 3),
            "functions": sorted({f.spec.name for f in self.functions.values()}),
            "api_keys": {
                str(r.outputs.get("name") or r.name): r.outputs.get("value")
                for r in deployment.of_type("aws:apigateway/apiKey:ApiKey")
            },
            "resources": [
                {"type": r.typ, "name": r.name, "id": r.id}
                for r in deployment.resources
                if r.custom
            ],
            "notes": list(self.notes),
            "insights": {
                "queries": definitions([r.inputs for r in deployment.of_type(QUERY_DEFINITION)]),
                "logs": {
                    f.spec.log_group: str(self.logs.path(f.spec.name))
                    for f in set(self.functions.values())
                },
            },
        }

    def write_files(self, outputs_path: Path, state_path: Path) -> None:
        """Write the outputs file (what the load generator reads) and the state file."""
        for path, document in ((outputs_path, self.outputs), (state_path, self.state())):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, path)  # readers never see a half-written file
