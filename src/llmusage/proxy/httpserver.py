"""A small HTTP/1.1 server on asyncio protocols and `httptools` (C parser), just what the proxy needs.

It supports keep-alive and pipelining (requests on a connection are answered in order), `Expect:
100-continue`, Content-Length and chunked request bodies (httptools decodes them), fixed-length and chunked
(streaming) responses with write backpressure, a body size limit, and graceful shutdown (stop accepting, let
handlers finish, run the cleanup hooks). It replaced aiohttp's server, the largest cost of the proxy
(docs/benchmarks.md, "Proxy").
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httptools

log = logging.getLogger("llmusage.proxy.http")

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip


class Headers(dict[str, str]):
    """Request headers, names lowercased; `get` is case-insensitive."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


class Request:
    __slots__ = ("_body", "app", "headers", "method", "path", "query_string", "transport")

    def __init__(
        self, app: App, method: str, url: bytes, headers: Headers, body: bytes, transport: Any
    ) -> None:
        self.app = app
        self.method = method
        path, _, query = url.partition(b"?")
        self.path = path.decode("latin-1")
        self.query_string = query.decode("latin-1")
        self.headers = headers
        self._body = body
        self.transport = transport

    async def read(self) -> bytes:
        return self._body

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string))


class Response:
    """A complete response (JSON mostly)."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = body
        self.status = status
        self.content_type = content_type
        self.headers = headers or {}

    def encode(self, keep_alive: bool) -> bytes:
        head = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Status')}\r\n"
                f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.body)}\r\n"]  # fmt: skip
        for name, value in self.headers.items():
            head.append(f"{name}: {value}\r\n")
        if not keep_alive:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        return "".join(head).encode("latin-1") + self.body


class StreamResponse:
    """A chunked response written piece by piece (Server-Sent Events)."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.content_type = "application/octet-stream"
        self._proto: _Protocol | None = None
        self.prepared = False
        self.finished = False

    async def prepare(self, request: Request) -> None:
        proto: _Protocol = request.transport
        self._proto = proto
        head = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Status')}\r\n"
                f"Content-Type: {self.content_type}\r\nTransfer-Encoding: chunked\r\n"]  # fmt: skip
        for name, value in self.headers.items():
            head.append(f"{name}: {value}\r\n")
        head.append("\r\n")
        self.prepared = True
        await proto.send("".join(head).encode("latin-1"))

    async def write(self, data: bytes) -> None:
        assert self._proto is not None
        if data:
            await self._proto.send(b"%x\r\n%b\r\n" % (len(data), data))

    async def write_eof(self) -> None:
        assert self._proto is not None
        if not self.finished:
            self.finished = True
            await self._proto.send(b"0\r\n\r\n")


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


class App(dict[Any, Any]):
    """Routes by (method, path), a fallback, startup and cleanup hooks; also a dict for shared state."""

    def __init__(self, max_body: int = 32 * 1024 * 1024) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Handler] = {}
        self.fallback: Handler | None = None
        self.on_startup: list[Callable[[App], Awaitable[None]]] = []
        self.on_cleanup: list[Callable[[App], Awaitable[None]]] = []
        self.max_body = max_body

    def add_post(self, path: str, handler: Handler) -> None:
        self.routes[("POST", path)] = handler

    def add_get(self, path: str, handler: Handler) -> None:
        self.routes[("GET", path)] = handler


class _Protocol(asyncio.Protocol):
    def __init__(self, app: App, server: Server) -> None:
        self.app = app
        self.server = server
        self.loop = asyncio.get_running_loop()  # cached: get_running_loop() costs a getpid() syscall
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers = Headers()
        self.body: list[bytes] = []
        self.size = 0
        self.pending: deque[tuple[Request, bool]] = deque()
        self.busy = False
        self.closed = False
        self.can_write: asyncio.Event = asyncio.Event()
        self.can_write.set()
        self.last_active = time.monotonic()

    # -- transport callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.can_write.set()
        self.server.connections.discard(self)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, b"upgrades are not supported")
        except httptools.HttpParserError:
            self._reject(400, b"malformed HTTP request")

    def _reject(self, status: int, message: bytes) -> None:
        if self.transport is not None and not self.closed:
            body = b'{"error":{"message":"%b","type":"invalid_request_error","code":"bad_http"}}' % message
            self.transport.write(Response(body, status).encode(keep_alive=False))
            self.transport.close()
        self.closed = True

    # -- parser callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = Headers()
        self.body = []
        self.size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self.headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.app.max_body:
            self._reject(413, b"request body too large")
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:
            return
        method = self.parser.get_method().decode("latin-1")
        request = Request(self.app, method, self.url, self.headers, b"".join(self.body), self)
        self.pending.append((request, self.parser.should_keep_alive()))
        if not self.busy:
            self.busy = True
            self.loop.create_task(self._serve())

    # -- handling
    async def send(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise ConnectionResetError("client disconnected")
        self.transport.write(data)
        if not self.can_write.is_set():
            await self.can_write.wait()
            if self.closed:
                raise ConnectionResetError("client disconnected")

    async def _serve(self) -> None:
        try:
            while self.pending:
                request, keep_alive = self.pending.popleft()
                keep_alive = keep_alive and not self.server.stopping
                handler = self.app.routes.get((request.method, request.path)) or self.app.fallback
                assert handler is not None
                self.server.active += 1
                try:
                    response = await handler(request)
                except Exception:
                    log.exception("unhandled error in %s %s", request.method, request.path)
                    response = Response(
                        b'{"error":{"message":"internal error","type":"internal_error","code":"internal"}}',
                        500,
                    )
                finally:
                    self.server.active -= 1
                if self.closed or self.transport is None:
                    return
                if isinstance(response, StreamResponse):
                    if not response.finished:
                        try:
                            await response.write_eof()
                        except ConnectionResetError:
                            return
                    if not keep_alive:
                        self.transport.close()
                        return
                    continue
                self.transport.write(response.encode(keep_alive))
                if not keep_alive:
                    self.transport.close()
                    return
        finally:
            self.busy = False
            self.last_active = time.monotonic()


class Server:
    IDLE_TIMEOUT = 75.0  # seconds a connection may sit idle (or send a request slowly) before it is closed

    async def _sweep_idle(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            limit = time.monotonic() - self.IDLE_TIMEOUT
            for conn in list(self.connections):
                if not conn.busy and conn.last_active < limit and conn.transport is not None:
                    conn.transport.close()

    def __init__(self, app: App) -> None:
        self.app = app
        self.connections: set[_Protocol] = set()
        self.active = 0
        self.stopping = False

    async def run(
        self, host: str, port: int, reuse_port: bool = False, shutdown_timeout: float = 10.0
    ) -> None:
        """Serve until SIGINT or SIGTERM."""
        loop = asyncio.get_running_loop()
        for hook in self.app.on_startup:
            await hook(self.app)
        server = await loop.create_server(
            lambda: _Protocol(self.app, self), host, port, reuse_port=reuse_port or None, backlog=1024
        )
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sweeper = loop.create_task(self._sweep_idle())
        try:
            await stop.wait()
        finally:
            sweeper.cancel()
            self.stopping = True
            server.close()
            deadline = loop.time() + shutdown_timeout
            while self.active and loop.time() < deadline:
                await asyncio.sleep(0.05)
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.close()
            for hook in self.app.on_cleanup:
                await hook(self.app)
