"""A minimal, fast HTTP/1.1 server for load-generator benchmarks: `python -m bench.tiny_server`.

By default it speaks just enough HTTP (keep-alive, Content-Length bodies, pipelining) to answer
every request with `200 {"accepted": N}`, N being the number of `"id":` fields in the body (what
the load generator's ingest check expects). It is a bare asyncio Protocol, so that the server,
not a framework, is as cheap as possible and the benchmark measures the client. `--aiohttp` serves
the same answer from a minimal aiohttp application instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from aiohttp import web

from cliargs import UsageParser

__all__ = ["HttpProtocol", "main", "serve"]

_HEAD_END = b"\r\n\r\n"


def _response(body: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % len(body) + body


class HttpProtocol(asyncio.Protocol):
    """One connection: parse requests out of the byte stream, answer each at once."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write answers to."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        """Answer every complete request in the buffer."""
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        while True:
            end = buffer.find(_HEAD_END)
            if end < 0:
                break
            head = bytes(buffer[:end]).lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(buffer) < total:
                break
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
            out.append(_response(b'{"accepted": %d}' % body.count(b'"id":')))
        if out and self._transport is not None:
            self._transport.write(b"".join(out))


def _aiohttp_app() -> web.Application:
    async def ingest(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"accepted": body.count(b'"id":')})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ingest)
    return app


async def serve(host: str, port: int, port_file: Path | None, *, use_aiohttp: bool) -> None:
    """Serve until SIGINT/SIGTERM; write the bound port to `port_file` once listening."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if use_aiohttp:
        runner = web.AppRunner(_aiohttp_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        bound = int(runner.addresses[0][1])
    else:
        server = await loop.create_server(HttpProtocol, host, port, backlog=1024)
        bound = server.sockets[0].getsockname()[1]
    if port_file is not None:
        port_file.write_text(f"{bound}\n", encoding="utf-8")
    kind = "aiohttp" if use_aiohttp else "asyncio protocol"
    print(f"tiny_server ({kind}) listening on http://{host}:{bound}", flush=True)
    try:
        await stop.wait()
    finally:
        if use_aiohttp:
            await runner.cleanup()
        else:
            server.close()
            await server.wait_closed()


def main() -> None:
    """CLI entry point."""
    parser = UsageParser(prog="python -m bench.tiny_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--aiohttp", action="store_true", help="a minimal aiohttp app instead")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.port_file, use_aiohttp=args.aiohttp))


if __name__ == "__main__":
    main()
