"""What the local cloud observes, recorded as the AWS services' own metrics would be.

- `LambdaMetrics` (AWS/Lambda by FunctionName): Invocations, Errors, Throttles, Duration,
  ConcurrentExecutions (in flight when an invocation starts), IteratorAge (stream mappings).
- `ApiMetrics` (AWS/ApiGateway by API and stage): HTTP APIs `Count`, `4xx`, `5xx`, `Latency`,
  `IntegrationLatency` by ApiId and Stage; REST APIs `Count`, `4XXError`, `5XXError`,
  `Latency`, `IntegrationLatency` by ApiName and Stage.
- `DynamoDBMetrics` (AWS/DynamoDB), botocore hooks on the functions' session: the latency of
  successful requests by TableName and Operation, consumed capacity by table (`capacity`),
  throttled requests and Read/WriteThrottleEvents (one per item of a throttled batch, as
  DynamoDB counts them; injected throttles included).
- `EmfMetrics`: the handlers' EMF lines, as CloudWatch Logs extracts them.
Every sample is one `MetricStore.add`; a count metric is a 1 (or a 0/1 flag) per event.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Final

from localcloud.metrics.capacity import item_size, read_units, write_units
from localcloud.metrics.store import MetricKey, MetricStore, Sample, metric_key

__all__ = [
    "API_METRICS",
    "ApiMetrics",
    "DynamoDBMetrics",
    "EmfMetrics",
    "LambdaMetrics",
    "QueueGauges",
    "watched_queues",
]

_log = logging.getLogger(__name__)
COUNT: Final = "Count"
MS: Final = "Milliseconds"
LAMBDA: Final = "AWS/Lambda"
API_GATEWAY: Final = "AWS/ApiGateway"
DYNAMODB: Final = "AWS/DynamoDB"
SQS: Final = "AWS/SQS"
API_METRICS: Final = {
    "http": ("Count", "4xx", "5xx", "Latency", "IntegrationLatency"),
    "rest": ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"),
}
"""Each API kind's names for: requests, client errors, server errors, latency, backend time."""


class LambdaMetrics:
    """AWS/Lambda metrics of every function (the runtime's `InvocationObserver`)."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._keys: dict[tuple[str, str], MetricKey] = {}

    def _key(self, function: str, name: str) -> MetricKey:
        key = self._keys.get((function, name))
        if key is None:
            key = self._keys[(function, name)] = metric_key(
                LAMBDA, name, {"FunctionName": function}
            )
        return key

    def invoked(self, function: str, duration_ms: float, error: bool, concurrency: int) -> None:
        """One invocation ended (or timed out)."""
        key = self._key
        self._store.add_all(
            (
                (key(function, "Invocations"), 1, COUNT),
                (key(function, "Errors"), 1 if error else 0, COUNT),
                (key(function, "Duration"), duration_ms, MS),
                (key(function, "ConcurrentExecutions"), concurrency, COUNT),
            )
        )

    def throttled(self, function: str) -> None:
        """An invocation refused for want of concurrency."""
        self._store.add(self._key(function, "Throttles"), 1, COUNT)

    def iterator_age(self, function: str, age_ms: float) -> None:
        """A stream batch was delivered; its last record was written `age_ms` ago."""
        self._store.add(self._key(function, "IteratorAge"), max(0.0, age_ms), MS)


class ApiMetrics:
    """AWS/ApiGateway metrics of one API, per stage, with its kind's names and dimensions."""

    def __init__(self, store: MetricStore, *, kind: str, dimensions: Mapping[str, str]) -> None:
        self._store = store
        self._names = API_METRICS[kind]
        self._dimensions = dict(dimensions)
        self._keys: dict[str, tuple[MetricKey, ...]] = {}

    def request(
        self, stage: str, status: int, latency_ms: float, integration_ms: float | None
    ) -> None:
        """One request the stage answered."""
        keys = self._keys.get(stage)
        if keys is None:
            dimensions = {**self._dimensions, "Stage": stage}
            keys = self._keys[stage] = tuple(
                metric_key(API_GATEWAY, name, dimensions) for name in self._names
            )
        samples: list[Sample] = [
            (keys[0], 1, COUNT),
            (keys[1], 1 if 400 <= status < 500 else 0, COUNT),
            (keys[2], 1 if status >= 500 else 0, COUNT),
            (keys[3], latency_ms, MS),
        ]
        if integration_ms is not None:
            samples.append((keys[4], integration_ms, MS))
        self._store.add_all(samples)


_WRITES: Final = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_READS: Final = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")
_THROTTLE_CODES: Final = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_STARTED: Final = "localcloud_metrics_started"


class DynamoDBMetrics:
    """AWS/DynamoDB metrics of the functions' calls, as botocore hooks on their session."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store

    def install(self, session: Any) -> None:
        """Hook every DynamoDB data call of clients `session` creates from now on."""
        emitter = session.get_component("event_emitter")
        for operation in (*_WRITES, *_READS):
            session.register(f"before-parameter-build.dynamodb.{operation}", self._started)
            # First among the operation's own hooks: the crash fault raises in its after-call.
            emitter.register_first(f"after-call.dynamodb.{operation}", self._finished)

    def _started(self, params: Any = None, context: Any = None, **kwargs: Any) -> None:
        if isinstance(context, dict):
            context[_STARTED] = (time.perf_counter(), params)

    def _finished(
        self,
        http_response: Any = None,
        parsed: Any = None,
        model: Any = None,
        context: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(context, dict) or _STARTED not in context:
            return
        started, params = context.pop(_STARTED)
        try:
            self._record(
                str(getattr(model, "name", "")),
                int(getattr(http_response, "status_code", 0) or 0),
                params if isinstance(params, dict) else {},
                parsed if isinstance(parsed, dict) else {},
                (time.perf_counter() - started) * 1000.0,
            )
        except Exception as exc:  # a metric must never fail the handler's call
            _log.warning("dynamodb metrics: %s: %s", type(exc).__name__, exc)

    def _add(self, name: str, dimensions: Mapping[str, str], value: float, unit: str) -> None:
        self._store.add(metric_key(DYNAMODB, name, dimensions), value, unit)

    def _record(
        self,
        operation: str,
        status: int,
        params: dict[str, Any],
        parsed: dict[str, Any],
        elapsed_ms: float,
    ) -> None:
        write = operation in _WRITES
        items = _request_items(operation, params)
        if status != 200:
            code = str((parsed.get("Error") or {}).get("Code", ""))
            if code in _THROTTLE_CODES:
                event = "WriteThrottleEvents" if write else "ReadThrottleEvents"
                for table, requests in items.items():
                    self._add(event, {"TableName": table}, max(1, len(requests)), COUNT)
                    self._add(
                        "ThrottledRequests",
                        {"TableName": table, "Operation": operation},
                        1,
                        COUNT,
                    )
            return
        for table in items or _tables(params):
            self._add(
                "SuccessfulRequestLatency",
                {"TableName": table, "Operation": operation},
                elapsed_ms,
                MS,
            )
        if write:
            unprocessed = parsed.get("UnprocessedItems") or {}
            for table, requests in items.items():
                refused = unprocessed.get(table) or []
                units = sum(_write_units(r) for r in requests) - sum(
                    _write_units(r) for r in refused
                )
                self._add("ConsumedWriteCapacityUnits", {"TableName": table}, units, COUNT)
                if refused:  # what DynamoDB leaves unprocessed, it throttled
                    self._add("WriteThrottleEvents", {"TableName": table}, len(refused), COUNT)
        else:
            consistent = bool(params.get("ConsistentRead"))
            for table, units in _read_units(operation, params, parsed, consistent).items():
                self._add("ConsumedReadCapacityUnits", {"TableName": table}, units, COUNT)


def _tables(params: Mapping[str, Any]) -> list[str]:
    table = params.get("TableName")
    return [str(table)] if table else []


def _request_items(operation: str, params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Table -> the items (write requests) of the call, for writes; table -> [] for reads."""
    if operation == "BatchWriteItem":
        return {str(t): list(r) for t, r in (params.get("RequestItems") or {}).items()}
    if operation == "BatchGetItem":
        return {
            str(t): list(r.get("Keys") or []) for t, r in (params.get("RequestItems") or {}).items()
        }
    if operation in ("TransactWriteItems", "TransactGetItems"):
        out: dict[str, list[Any]] = {}
        for entry in params.get("TransactItems") or []:
            for action in entry.values():
                out.setdefault(str(action.get("TableName", "")), []).append(action)
        return out
    table = params.get("TableName")
    if not table:
        return {}
    if operation == "PutItem":
        return {str(table): [{"PutRequest": {"Item": params.get("Item") or {}}}]}
    return {str(table): [params]}


def _write_units(request: Mapping[str, Any]) -> float:
    put = request.get("PutRequest") or {}
    return write_units(put.get("Item") or {}) if put else 1.0


def _read_units(
    operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any], consistent: bool
) -> dict[str, float]:
    if operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in parsed.get("Items") or [])
        return {str(params.get("TableName", "")): read_units(size, consistent=consistent)}
    if operation == "GetItem":
        size = item_size(parsed.get("Item") or {})
        return {str(params.get("TableName", "")): read_units(size, consistent=consistent)}
    out: dict[str, float] = {}
    for table, items in (parsed.get("Responses") or {}).items():
        out[str(table)] = sum(
            read_units(item_size(item), consistent=consistent) for item in items or []
        )
    return out


class EmfMetrics:
    """The metrics of EMF log lines, as CloudWatch Logs extracts them from a function's log."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self.lines = 0
        self.rejected = 0

    def line(self, text: str) -> None:
        """One log line (anything not an EMF document is ignored)."""
        if not text.startswith('{"_aws"'):
            return
        try:
            document = json.loads(text)
            meta = document["_aws"]
            at = float(meta.get("Timestamp", time.time() * 1000)) / 1000.0
            for directive in meta.get("CloudWatchMetrics") or []:
                self._directive(document, directive, at)
        except (ValueError, KeyError, TypeError, AttributeError):
            self.rejected += 1  # CloudWatch Logs keeps the line and extracts nothing
            return
        self.lines += 1

    def _directive(
        self, document: Mapping[str, Any], directive: Mapping[str, Any], at: float
    ) -> None:
        namespace = str(directive["Namespace"])
        samples: list[Sample] = []
        for names in directive.get("Dimensions") or [[]]:
            dimensions = {str(n): str(document[n]) for n in names}
            for metric in directive.get("Metrics") or []:
                name = str(metric["Name"])
                value = document.get(name)
                values = value if isinstance(value, list) else [value]
                key = metric_key(namespace, name, dimensions)
                unit = str(metric.get("Unit") or "None")
                samples += (
                    (key, v, unit)
                    for v in values
                    if isinstance(v, int | float) and not isinstance(v, bool)
                )
        self._store.add_all(samples, at)


def watched_queues(deployment: Any) -> set[str]:
    """Names of the queues whose AWS/SQS metrics the program's alarms or dashboards read.

    Only those are sampled: moto counts a queue's messages to answer its attributes, which costs
    O(queue length), and the subscriber queues nobody drains locally grow all run.
    """
    names = {
        str((r.outputs.get("dimensions") or {}).get("QueueName"))
        for r in deployment.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if r.outputs.get("namespace") == SQS
    }
    for dashboard in deployment.of_type("aws:cloudwatch/dashboard:Dashboard"):
        try:
            source = dashboard.outputs.get("dashboardBody") or dashboard.inputs.get("dashboardBody")
            body = json.loads(str(source or "{}"))
        except ValueError:
            continue
        for widget in body.get("widgets") or []:
            for row in (widget.get("properties") or {}).get("metrics") or []:
                fields = [f for f in row if isinstance(f, str)]
                if fields[:1] == [SQS] and "QueueName" in fields:
                    names.add(fields[fields.index("QueueName") + 1])
    return names - {"None"}


class QueueGauges:
    """AWS/SQS queue depths by QueueName: each queue's attributes, sampled once per call."""

    _ATTRIBUTES: Final = {
        "ApproximateNumberOfMessages": "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
    }

    def __init__(self, store: MetricStore, sqs: Any, queues: Mapping[str, str]) -> None:
        self._store = store
        self._sqs = sqs
        self._queues = dict(queues)
        """Queue name -> URL."""

    def sample(self) -> None:
        """One sample of every queue's depths (a queue that fails to answer is skipped)."""
        for name, url in self._queues.items():
            try:
                answer = self._sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=list(self._ATTRIBUTES)
                )["Attributes"]
            except Exception as exc:  # moto stopping, or the queue gone: no datapoint
                _log.debug("queue %s: %s", name, exc)
                continue
            for attribute, metric in self._ATTRIBUTES.items():
                if attribute in answer:
                    key = metric_key(SQS, metric, {"QueueName": name})
                    self._store.add(key, float(answer[attribute]), COUNT)
