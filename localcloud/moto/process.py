"""The moto server process: `python -m localcloud.moto.process` prints `PORT <n>` once it listens.

It runs until its stdin closes or it gets SIGTERM/SIGINT, so a parent that dies never leaves it
behind. Everything here trades moto's generality for speed on the local cloud's hot path:

- Python's cyclic GC pauses 130-230 ms once moto holds many items (DESIGN §8): thresholds raised.
- werkzeug logs every request line to stderr: silenced (CPU, and a full pipe would block moto).
- werkzeug's dev server closes the connection after every response, so every boto3 call paid
  for a TCP connect (and a getaddrinfo) on the client and a new thread in moto: ~40% of the
  local cloud's CPU. The handler below keeps connections alive for requests whose body length
  is known, reading that body up front so the stream always sits at the next request.
- moto works out which backend a request is for on *every* request, listing its own package
  directory on disk each time (~20% of its CPU in a profile): memoised per signing service,
  region and X-Amz-Target prefix, which is all that decides it for the services cached here.
- moto's DynamoDB Query filters and sorts *every item of the table* to find one partition, and
  its threads iterate the table's dicts while other threads write to them ("dictionary changed
  size during iteration" as a 500 under load): DynamoDB calls run one at a time behind a lock,
  and a base-table Query reads only its own partition.
- GetRecords answers went through moto's generic, model-driven serializer, a third of moto's
  CPU with two stream consumers: they are written as JSON directly (what the wire carries:
  binary values base64, times as epoch seconds).
- SQS SendMessage reads `queue.attributes` for one flag, which counts every message in the
  queue: O(queue length) per send, and subscriber queues nobody drains locally grow all run.
  During a send, that lookup is answered from the flag alone.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import gc
import heapq
import json
import logging
import signal
import socket
import sys
import threading
from typing import Any, Final

__all__ = ["PORT_PREFIX", "main"]

SWITCH_INTERVAL_S: Final = 0.0005
"""GIL hand-over interval. At the default 5 ms, a thread returning from a socket call waits up to
5 ms for the GIL while another thread computes; a request makes several such calls, so latency
convoys long before the CPU is busy. (Same setting in the gateway process.)"""
PORT_PREFIX: Final = "PORT "
"""The line the parent waits for (readiness), followed by the port number."""

# Inference for these depends only on (service, region, target prefix); others go the slow way.
_CACHEABLE: Final = frozenset(
    {"dynamodb", "sqs", "secretsmanager", "ssm", "sns", "sts", "logs", "events", "kinesis"}
)


def _speed_up_dispatch() -> None:
    """Memoise moto's per-request backend lookup for signed requests of the common services."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

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


def _serialise_dynamodb() -> None:
    """One DynamoDB (and Streams) call at a time; base-table queries read only their partition."""
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


def _wire_json(value: object) -> object:
    """JSON for the types moto's stream records hold besides plain JSON ones."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return calendar.timegm(value.utctimetuple()) + value.microsecond / 1e6  # naive UTC
    raise TypeError(f"cannot encode {type(value).__name__}")


def _fast_get_records() -> None:
    """Answer DynamoDB Streams GetRecords with plain json.dumps."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def get_records(self: DynamoDBStreamsHandler) -> str:
        limit = self._get_param("Limit") or 1000
        result = self.backend.get_records(self._get_param("ShardIterator"), limit)
        return json.dumps(result, default=_wire_json)

    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[assignment,method-assign]


def _cheap_sqs_send() -> None:
    """Let SendMessage read ContentBasedDeduplication without counting the queue's messages."""
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


def _keep_alive() -> None:
    """Serve HTTP/1.1 keep-alive for requests with a Content-Length (or no body)."""
    import io

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


def main() -> int:
    """Start moto on 127.0.0.1 (ephemeral port), print the port, serve until told to stop."""
    # Young-generation collections every 100k allocations instead of 700: far fewer full passes.
    gc.set_threshold(100_000, 50, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _speed_up_dispatch()
    _serialise_dynamodb()
    _fast_get_records()
    _cheap_sqs_send()
    _keep_alive()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # After start-up, every object that exists now lives forever: keep the GC from scanning them.
    gc.collect()
    gc.freeze()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        stop.set()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    print(f"{PORT_PREFIX}{server.get_host_and_port()[1]}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
