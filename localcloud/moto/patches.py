"""Every change the local cloud makes to moto's behaviour, fenced in one module.

moto is pinned exactly (`EXPECTED_MOTO`, pyproject.toml). Each patch below trades moto's
generality for speed (or safety) on the local cloud's hot path, and each is fenced three ways:

- its docstring says what moto does, what the local cloud needs instead, and how to drop it;
- the `Needs` in its `@_patch(...)` line are what it touches in moto, checked by the guard
  (`localcloud.moto.guard`) before any patch is applied: another moto in which a symbol is
  missing or has another shape is refused with one line at start-up, instead of an ImportError
  or a patch that silently does nothing;
- `tests/unit/localcloud/moto/test_contracts.py` has a `test_contract_<patch>` that checks the
  behaviour of *unpatched* moto the patch relies on, so an upgrade fails a named test.

Adding a patch means all three. Upgrading moto: bump pyproject.toml and `EXPECTED_MOTO`, run
`pytest tests/unit/localcloud/moto`, then drop or adapt the patches whose contract broke.
`python -m localcloud.moto.process` calls `apply()` (see there for the process's own settings).
"""

from __future__ import annotations

import base64
import calendar
import datetime
import heapq
import io
import json
import socket
import threading
from collections.abc import Callable, Collection, Container
from typing import Any, Final, cast

from localcloud.moto.guard import MotoMismatch, Needs, Patch, installed_version, verify

__all__ = ["EXPECTED_MOTO", "PATCHES", "MotoMismatch", "apply", "check", "installed_version"]

EXPECTED_MOTO: Final = "5.2.6"
"""The moto every patch here is written and tested for (pyproject.toml pins the same)."""

PATCHES: Final[list[Patch]] = []
"""Every patch, in the order `apply` applies them (the order they are defined in)."""


def _patch(name: str, *needs: Needs) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated function as the patch `name`, which touches `needs` in moto."""

    def register(function: Callable[[], None]) -> Callable[[], None]:
        PATCHES.append(Patch(name, function, needs))
        return function

    return register


def check() -> str | None:
    """Run the guard without applying anything (see `guard.verify`): None, or a warning line."""
    return verify(PATCHES, EXPECTED_MOTO)


def apply(without: Collection[str] = ()) -> str | None:
    """Check every patch, then apply them all but those named in `without` (benchmarks measure
    what a patch gives that way); the guard's warning line, if any.

    Raises MotoMismatch (one line) before applying any patch if one no longer applies, and
    ValueError if `without` names no patch.
    """
    unknown = set(without) - {patch.name for patch in PATCHES}
    if unknown:
        raise ValueError(f"no such moto patch: {', '.join(sorted(unknown))}")
    warning = check()
    for patch in PATCHES:
        if patch.name not in without:
            patch.apply()
    return warning


# -- speed_up_dispatch ---------------------------------------------------------------------------

# Inference for these depends only on (service, region, target prefix); others go the slow way.
_CACHEABLE: Final = frozenset(
    {"dynamodb", "sqs", "secretsmanager", "ssm", "sns", "sts", "logs", "events", "kinesis"}
)


@_patch(
    "speed_up_dispatch",
    Needs(
        "moto.moto_server.werkzeug_app",
        "DomainDispatcherApplication.get_application",
        params=("self", "environ"),
    ),
    Needs("moto.core.responses", "method_names_from_class", params=("clazz",)),
    Needs("moto.core.responses", "BaseResponse.call_action", uses=("method_names_from_class",)),
)
def _speed_up_dispatch() -> None:
    """Memoise moto's per-request backend lookup for signed requests of the common services,
    and the list of a response class's methods.

    moto: `DomainDispatcherApplication.get_application` works out which backend a request is for
    on *every* request, listing its own package directory on disk each time (~20% of its CPU in
    a profile); `BaseResponse.call_action` lists the handler class's methods with
    `inspect.getmembers` on every request, to see whether the action is one (~5%).
    Needed: the same answers without the work. For the services in `_CACHEABLE` the backend
    depends only on the signing service, region and X-Amz-Target prefix, so it is memoised on
    those; a class's methods are fixed once it is defined, so they are memoised per class.
    Drop it when moto memoises these itself: delete this function and `_CACHEABLE` (only speed
    depends on it) and its contract test.
    """
    import functools

    from moto.core import responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    # Imported by name into `responses`, which is where dispatch looks it up.
    listed = "method_names_from_class"
    setattr(responses, listed, functools.cache(getattr(responses, listed)))

    original = DomainDispatcherApplication.get_application
    cache: dict[tuple[str, str, str], Any] = {}

    def get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        key: tuple[str, str, str] | None = None
        try:
            scope = auth.split(",")[0].split()[1].split("/")
            if len(scope) == 5 and scope[3].lower() in _CACHEABLE:
                target = environ.get("HTTP_X_AMZ_TARGET", "").split(".")[0]
                key = (scope[3].lower(), scope[2], target)
        except IndexError:
            key = None
        path = environ.get("PATH_INFO", "")
        if key is None or path.startswith("/moto-api"):
            return original(self, environ)
        app = cache.get(key)
        if app is None:
            app = cache[key] = original(self, environ)
        return app

    DomainDispatcherApplication.get_application = get_application  # type: ignore[method-assign]


# -- serialise_dynamodb --------------------------------------------------------------------------


@_patch(
    "serialise_dynamodb",
    Needs("moto.dynamodb.responses", "DynamoHandler.call_action", params=("self",)),
    Needs("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler.call_action", params=("self",)),
    # `query` below reads these by position (args[0..6] after hash_key), as moto's backend
    # passes them; `_page_candidates` documents the same order.
    Needs(
        "moto.dynamodb.models.table",
        "Table.query",
        params=(
            "self",
            "hash_key",
            "range_comparison",
            "range_objs",
            "limit",
            "exclusive_start_key",
            "scan_index_forward",
            "projection_expressions",
            "index_name",
        ),
        uses=("all_items",),
    ),
    # The items layout `query` reads directly: self.items[hash_key][range_key] -> item.
    Needs("moto.dynamodb.models.table", "Table.all_items", params=("self",), uses=("items",)),
    Needs("moto.dynamodb.models.table", "Table.__init__", uses=("items", "range_key_attr")),
    Needs("moto.dynamodb.models.dynamo_type", "DynamoType.__init__", uses=("type", "value")),
)
def _serialise_dynamodb() -> None:
    """One DynamoDB (and Streams) call at a time; base-table queries read only their partition.

    moto: its request threads iterate a table's dicts while other threads write to them
    ("dictionary changed size during iteration", a 500 under load); and `Table.query` filters
    and sorts *every item of the table* (`self.all_items()`) to find one partition, then walks
    the whole partition past the previous pages on every page.
    Needed: correct answers under concurrent calls, and a Query page that costs its partition.
    So `call_action` of both handlers runs behind one lock, and during a base-table Query
    `all_items` answers just the items the page can return (`_page_candidates`).
    Drop the narrowing when moto's Query reads only the partition (delete the `Table.query` part,
    `_page_candidates` and its tests); drop the lock when moto's models are thread-safe, and
    never before the narrowing (it swaps `all_items` on a table other threads share).
    """
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    lock = threading.RLock()
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original_call = handler.call_action

        def call_action(self: Any, _original: Any = original_call) -> Any:
            with lock:
                return _original(self)

        handler.call_action = call_action  # type: ignore[method-assign]

    original_query = Table.query

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name") if len(args) < 7 else args[6]
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        # moto's query calls self.all_items() and keeps the items with this hash key; hand it
        # just those it can return (it sorts them itself). Safe: calls are serialised above.
        partition = _page_candidates(self.items.get(hash_key, {}), self.range_key_attr, args)
        self.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]


def _page_candidates(
    partition: dict[Any, Any], range_attr: str, args: tuple[Any, ...]
) -> list[Any]:
    """The items of one partition that a Query page can return: in its key range, past its
    ExclusiveStartKey, at most Limit + 1 (the extra one makes moto report LastEvaluatedKey).

    moto sorts the whole partition and walks it item by item past the previous pages on every
    page: a read of n items in pages of p cost O(n^2 / p) slow comparisons, and a soak whose
    partitions grew slowed down until requests timed out. Selecting on the plain key strings
    first makes a page cost O(partition) fast comparisons and no full sort.
    Only string sort keys with BETWEEN or no range condition are narrowed (what the handlers
    send); any other query gets the whole partition, as before.
    """
    # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
    # scan_index_forward, ...), as moto's backend calls it: positionally.
    if len(args) < 5:
        return list(partition.values())
    range_comparison, range_objs, limit, start_key, forward = args[:5]
    if range_comparison not in (None, "BETWEEN") or any(o.type != "S" for o in range_objs or ()):
        return list(partition.values())
    low, high = (range_objs[0].value, range_objs[1].value) if range_comparison else (None, None)
    start = ((start_key or {}).get(range_attr) or {}).get("S")
    keys = []
    for key in partition:  # one pass: this runs for every page
        if key.type != "S":
            return list(partition.values())
        value = key.value
        if (low is None or low <= value <= high) and (
            start is None or (value > start if forward is not False else value < start)
        ):
            keys.append(key)
    if limit:
        pick = heapq.nlargest if forward is False else heapq.nsmallest
        keys = pick(limit + 1, keys, key=lambda key: key.value)
    return [partition[key] for key in keys]  # moto sorts them


# -- fast_get_records ----------------------------------------------------------------------------


def _wire_json(value: object) -> object:
    """JSON for the types moto's stream records hold besides plain JSON ones."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return calendar.timegm(value.utctimetuple()) + value.microsecond / 1e6  # naive UTC
    raise TypeError(f"cannot encode {type(value).__name__}")


@_patch(
    "fast_get_records",
    Needs("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler.get_records", params=("self",)),
    Needs("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler.backend", kind="property"),
    Needs(
        "moto.dynamodbstreams.responses",
        "DynamoDBStreamsHandler._get_param",
        params=("self", "param_name"),
    ),
    Needs(
        "moto.dynamodbstreams.models",
        "DynamoDBStreamsBackend.get_records",
        params=("self", "iterator_arn", "limit"),
    ),
)
def _fast_get_records() -> None:
    """Answer DynamoDB Streams GetRecords with plain json.dumps.

    moto: GetRecords answers go through its generic, model-driven serializer, a third of moto's
    CPU with two stream consumers polling.
    Needed: the same JSON, cheaper. The backend's records are written with json.dumps as the
    wire carries them: binary values base64, times as epoch seconds (to the microsecond, where
    moto's serializer truncates to the millisecond).
    Drop it when moto's serializer is cheap enough: delete this function and `_wire_json`;
    its contract test says whether the answers still match.
    """
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def get_records(self: DynamoDBStreamsHandler) -> str:
        limit = self._get_param("Limit") or 1000
        result = self.backend.get_records(self._get_param("ShardIterator"), limit)
        return json.dumps(result, default=_wire_json)

    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[assignment,method-assign]


# -- fast_item_answers ---------------------------------------------------------------------------

# The DynamoDB operations whose answers moto builds as a DynamoResult that hold items and
# nothing JSON does not carry as is (no timestamps): written directly. Any other, moto's way.
_ITEM_OPERATIONS: Final = frozenset(
    {
        "BatchGetItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "UpdateItem",
    }
)


def _item_answer(result: dict[str, Any], members: Container[str]) -> str:
    """The JSON body moto's serializer writes for `result`, the operation's output shape having
    `members`: what the shape does not name is left out, as the serializer does (moto's GetItem
    result also holds a legacy ConsumedCapacityUnits), binary values base64."""
    answer = {k: v for k, v in result.items() if k in members and v is not None}
    return json.dumps(answer, default=_item_json)


def _item_json(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot encode {type(value).__name__}")


@_patch(
    "fast_item_answers",
    Needs("moto.dynamodb.responses", "DynamoResult", kind="class"),
    # Its result is dynamo_to_dict's: attribute values as {type: value}, binary as raw bytes.
    Needs("moto.dynamodb.responses", "DynamoResult.__init__", uses=("dynamo_to_dict",)),
    Needs(
        "moto.core.responses",
        "ActionResult.execute_result",
        params=("self", "context"),
        uses=("serializer_class", "operation_model", "serialize"),
    ),
)
def _fast_item_answers() -> None:
    """Answer DynamoDB's item reads and writes (Query, GetItem, PutItem, ...) with json.dumps.

    moto: every answer goes through its generic, model-driven serializer, which walks the
    operation's output shape for every attribute of every item: ~0.6 ms of moto CPU per item
    a Query returns (61 ms for a 100-item page, 242 ms for 400).
    Needed: the same JSON at the cost of json.dumps. For the operations in `_ITEM_OPERATIONS`
    the result moto built is already the wire's JSON (attribute values as {type: value}) except
    for binary values (base64 on the wire) and keys its output shape does not name.
    Drop it when moto's serializer is cheap enough: delete this function, `_ITEM_OPERATIONS`,
    `_item_answer` and `_item_json`; its contract test says whether the answers still match.
    """
    from moto.core.responses import ActionContext, ActionResult
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: ActionResult, context: ActionContext) -> Any:
        shape = context.operation_model.output_shape
        if context.operation_model.name not in _ITEM_OPERATIONS or shape is None:
            return original(self, context)
        # The serializer's own header; moto's handler adds the rest to either answer.
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return 200, headers, _item_answer(cast(dict[str, Any], self.result), shape.members)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


# -- cheap_sqs_send ------------------------------------------------------------------------------


@_patch(
    "cheap_sqs_send",
    Needs("moto.sqs.models", "Queue.attributes", kind="property", params=("self",)),
    Needs("moto.sqs.models", "Queue.__init__", uses=("fifo_queue",)),
    # Wrapped (its arguments passed through as they come); what matters is that it reads
    # `queue.attributes`.
    Needs(
        "moto.sqs.models",
        "SQSBackend.send_message",
        params=("self", "queue_name", "message_body"),
        uses=("attributes",),
    ),
)
def _cheap_sqs_send() -> None:
    """Let SendMessage read ContentBasedDeduplication without counting the queue's messages.

    moto: SendMessage reads `queue.attributes` for that one flag, and the property computes
    every attribute, counting every message in the queue: O(queue length) per send, and the
    subscriber queues nobody drains locally grow all run.
    Needed: the flag without the count. While this thread is in `send_message`, the property
    answers the flag alone (it is all a send reads); everywhere else it is moto's.
    Drop it when moto's send reads the flag directly: delete this function.
    """
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    full_attributes = Queue.attributes

    def attributes(self: Queue) -> dict[str, Any]:
        if getattr(sending, "active", False):
            flag = getattr(self, "content_based_deduplication", False)
            return {"ContentBasedDeduplication": str(flag).lower()} if self.fifo_queue else {}
        return full_attributes.fget(self)  # type: ignore[no-any-return,attr-defined]

    original_send = SQSBackend.send_message

    def send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            sending.active = False

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]


# -- keep_alive ----------------------------------------------------------------------------------


@_patch(
    "keep_alive",
    Needs("moto.moto_server.werkzeug_app", "MotoRequestHandler", kind="class"),
    Needs("moto.moto_server.werkzeug_app", "MotoRequestHandler.setup", params=("self",)),
    # run_wsgi sends its headers through self.send_header ("Connection: close" among them).
    Needs(
        "moto.moto_server.werkzeug_app",
        "MotoRequestHandler.run_wsgi",
        params=("self",),
        uses=("send_header",),
    ),
    Needs(
        "moto.moto_server.werkzeug_app",
        "MotoRequestHandler.send_header",
        params=("self", "keyword", "value"),
    ),
    # The request body reaches the app as self.rfile (swapped for the pre-read body).
    Needs("werkzeug.serving", "WSGIRequestHandler.make_environ", uses=("rfile",)),
    # The handler is swapped in as this module global, which the server reads when it starts.
    Needs("moto.moto_server.threaded_moto_server", "MotoRequestHandler", kind="class"),
    Needs(
        "moto.moto_server.threaded_moto_server",
        "ThreadedMotoServer._server_entry",
        uses=("MotoRequestHandler",),
    ),
)
def _keep_alive() -> None:
    """Serve HTTP/1.1 keep-alive for requests with a Content-Length (or no body).

    moto: its werkzeug dev-server handler sends `Connection: close` with every response, so
    every boto3 call paid for a TCP connect (and a getaddrinfo) on the client and a new thread
    in moto: ~40% of the local cloud's CPU.
    Needed: connections kept alive for requests whose body length is known, reading that body
    up front so the stream always sits at the next request. A subclass of moto's handler drops
    that header; `ThreadedMotoServer` gets it through its module global `MotoRequestHandler`.
    Drop it when moto's server keeps connections alive itself: delete this function.
    """
    from moto.moto_server import threaded_moto_server
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveHandler(MotoRequestHandler):
        _keep = False

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: with Nagle on a kept-alive connection the
            # body waits for the client's delayed ACK (40 ms per call).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run_wsgi(self) -> None:
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                self._keep = False
                super().run_wsgi()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            stream, self.rfile = self.rfile, io.BytesIO(body)
            self._keep = True
            try:
                super().run_wsgi()
            finally:
                self.rfile = stream

        def send_header(self, keyword: str, value: str) -> None:
            if self._keep and keyword.lower() == "connection" and value.lower() == "close":
                return  # the body was consumed in full: the connection can serve the next request
            super().send_header(keyword, value)

    setattr(threaded_moto_server, "MotoRequestHandler", KeepAliveHandler)  # noqa: B010


# -- cloudwatch_metrics --------------------------------------------------------------------------

_PAIRS: Final = "_localcloud_pairs"
"""Attribute of a datum put as Values/Counts: its (value, count) pairs, ascending."""
_DIMENSIONS: Final = "_localcloud_dimensions"
_INDEX: Final = "_localcloud_index"


@_patch(
    "cloudwatch_metrics",
    Needs(
        "moto.cloudwatch.models",
        "CloudWatchBackend.put_metric_data",
        params=("self", "namespace", "metric_data"),
        uses=("metric_data", "_validate_parameters_put_metric_data"),
    ),
    Needs(
        "moto.cloudwatch.models",
        "CloudWatchBackend.get_metric_data",
        params=("self", "queries", "start_time", "end_time", "scan_by"),
    ),
    Needs(
        "moto.cloudwatch.models",
        "CloudWatchBackend._validate_parameters_put_metric_data",
        params=("self", "metric", "query_num"),
    ),
    Needs(
        "moto.cloudwatch.models",
        "MetricAggregatedDatum.__init__",
        params=(
            "self",
            "namespace",
            "name",
            "min_stat",
            "max_stat",
            "sample_count",
            "sum_stat",
            "dimensions",
            "timestamp",
            "unit",
        ),
    ),
    Needs("moto.cloudwatch.models", "MetricDatumBase.__init__", uses=("dimensions", "timestamp")),
    Needs("moto.cloudwatch.models", "MetricDatum", kind="class"),
    Needs("moto.cloudwatch.metric_data_expression_parser", "parse_expression"),
    Needs(
        "moto.cloudwatch.responses",
        "CloudWatchResponse.get_metric_statistics",
        params=("self",),
        uses=("get_metric_statistics", "ActionResult"),
    ),
)
def _cloudwatch_metrics() -> None:
    """Distributions put as Values/Counts kept as one datum; percentiles; indexed metric reads.

    moto: PutMetricData's `Values`/`Counts` become one datum object *per count* (a second of
    1,000 invocations: 1,000 objects); no read knows a percentile (GetMetricData answers a 500
    for `p95`, GetMetricStatistics ignores `ExtendedStatistics`); and GetMetricData filters
    every datum ever put, once per period of each query (a dashboard refresh cost seconds).
    Needed: what CloudWatch does with a distribution (docs/localcloud.md, metrics): the local
    cloud puts one `Values`/`Counts` datum per metric and second (`localcloud.metrics`).
    So such a member is stored as one `MetricAggregatedDatum` (exact count, sum, minimum,
    maximum) that also carries its pairs; each backend indexes its datums by namespace and
    name; a MetricStat query reads only its metric's datums, bucketed by period in one pass,
    with any basic statistic or `pNN` (nearest rank over the pairs,
    `localcloud.metrics.stats.percentile`; no percentile where a period holds a StatisticValues
    datum, as on AWS); GetMetricStatistics adds `ExtendedStatistics` to each datapoint. Metrics
    Insights (`SELECT`) queries, alarms, ListMetrics and the rest stay moto's.
    Drop it when moto keeps distributions and computes percentiles: delete this function, the
    `_PAIRS`, `_DIMENSIONS` and `_INDEX` names and its contract test.
    """
    from moto.cloudwatch import models, responses
    from moto.cloudwatch.metric_data_expression_parser import parse_expression

    from localcloud.metrics.stats import percentile, percentile_of

    backend_class = models.CloudWatchBackend
    original_put = backend_class.put_metric_data
    original_get = backend_class.get_metric_data

    def index(backend: Any) -> dict[tuple[str, str], list[Any]]:
        found: dict[tuple[str, str], list[Any]] | None = backend.__dict__.get(_INDEX)
        if found is None:
            found = {}
            for datum in backend.metric_data:
                indexed(found, datum)
            backend.__dict__[_INDEX] = found
        return found

    def indexed(where: dict[tuple[str, str], list[Any]], datum: Any) -> None:
        setattr(datum, _DIMENSIONS, sorted((d.name, d.value) for d in datum.dimensions))
        where.setdefault((datum.namespace, datum.name), []).append(datum)

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        where = index(self)
        plain = []
        for number, member in enumerate(metric_data, start=1):
            self._validate_parameters_put_metric_data(member, number)
        for member in metric_data:
            if not member.get("Values"):
                plain.append(member)
                continue
            values = [float(v) for v in member["Values"]]
            counts = [float(c) for c in member.get("Counts") or [1.0] * len(values)]
            pairs = sorted((v, c) for v, c in zip(values, counts, strict=True) if c > 0)
            if not pairs:
                continue
            datum = models.MetricAggregatedDatum(
                namespace,
                member["MetricName"],
                pairs[0][0],
                pairs[-1][0],
                sum(c for _, c in pairs),
                sum(v * c for v, c in pairs),
                member.get("Dimensions") or [],
                member.get("Timestamp"),
                member.get("Unit"),
            )
            setattr(datum, _PAIRS, pairs)
            self.metric_data.append(datum)
            indexed(where, datum)
        if plain:
            before = len(self.metric_data)
            original_put(self, namespace, plain)
            for datum in self.metric_data[before:]:
                indexed(where, datum)

    def statistic(data: list[Any], stat: str) -> float | None:
        count = total = 0.0
        low, high = float("inf"), float("-inf")
        pairs: list[tuple[float, float]] = []
        complete = True
        for datum in data:
            if isinstance(datum, models.MetricDatum):
                value = float(datum.value)
                count, total = count + 1, total + value
                low, high = min(low, value), max(high, value)
                pairs.append((value, 1.0))
                continue
            count, total = count + datum.sample_count, total + datum.sum
            low, high = min(low, datum.min), max(high, datum.max)
            own = getattr(datum, _PAIRS, None)
            if own is None:
                complete = False
            else:
                pairs.extend(own)
        if count <= 0:
            return None
        basic = {
            "Sum": total,
            "SampleCount": count,
            "Average": total / count,
            "Minimum": low,
            "Maximum": high,
        }
        if stat in basic:
            return basic[stat]
        rank = percentile_of(stat)
        if rank is None or not complete:
            return None
        return percentile(sorted(pairs), rank)

    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: datetime.datetime,
        end_time: datetime.datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        if any(str(q.get("Expression", "")).startswith("SELECT") for q in queries):
            return original_get(self, queries, start_time, end_time, scan_by)
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start >= end:
            # moto's own checks and messages
            return original_get(self, queries, start_time, end_time, scan_by)
        where = index(self)
        results, returned = [], []
        for query in queries:
            if "MetricStat" not in query:
                continue
            metric_stat = query["MetricStat"]
            metric = metric_stat["Metric"]
            period = int(metric_stat["Period"])
            stat, unit = metric_stat["Stat"], metric_stat.get("Unit")
            dimensions = sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            slots: dict[int, list[Any]] = {}
            for datum in where.get((metric["Namespace"], metric["MetricName"]), []):
                at = datum.timestamp
                if not start <= at < end or getattr(datum, _DIMENSIONS) != dimensions:
                    continue
                if unit and datum.unit != unit:
                    continue
                slots.setdefault(int((at - start).total_seconds()) // period, []).append(datum)
            values, timestamps = [], []
            for slot in sorted(slots, reverse=scan_by == "TimestampDescending"):
                value = statistic(slots[slot], stat)
                if value is not None:
                    values.append(value)
                    timestamps.append(start + datetime.timedelta(seconds=slot * period))
            result = {
                "id": query["Id"],
                "label": query.get("Label") or f"{metric['MetricName']} {stat}",
                "values": values,
                "timestamps": timestamps,
                "status_code": "Complete",
            }
            results.append(result)
            if query.get("ReturnData", True):
                returned.append(result)
        for query in queries:
            if "Expression" in query:
                series, times = parse_expression(query["Expression"], results)
                returned.append(
                    {
                        "id": query["Id"],
                        "label": query.get("Label") or query["Id"],
                        "values": series,
                        "timestamps": times,
                        "status_code": "Complete",
                    }
                )
        return returned

    original_statistics = responses.CloudWatchResponse.get_metric_statistics

    def get_metric_statistics(self: Any) -> Any:
        answer = original_statistics(self)
        extended = self._get_param("ExtendedStatistics") or []
        result = cast("dict[str, Any]", answer.result)
        for point in result.get("Datapoints") or []:
            values = {name: statistic(point.metric_data, name) for name in extended}
            point.extended_statistics = {k: v for k, v in values.items() if v is not None}
        return answer

    backend_class.put_metric_data = put_metric_data  # type: ignore[method-assign]
    backend_class.get_metric_data = get_metric_data  # type: ignore[method-assign]
    responses.CloudWatchResponse.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
