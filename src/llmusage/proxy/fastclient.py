"""A minimal HTTP/1.1 keep-alive client for the non-streaming upstream calls (the proxy's hot path).

aiohttp's client costs more CPU per request than the rest of the proxy together; this one writes the
request in one `transport.write` and parses the response with `httptools` (C). Only what the proxy needs:
POST with a JSON body, Content-Length or chunked responses, keep-alive pooling per (scheme, host, port),
TLS through the event loop. A pooled connection that turns out to be closed before any byte of the response
arrived is retried once on a fresh connection (the usual keep-alive race). Streams use aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

import httptools


class UpstreamConnectionError(ConnectionError):
    """The upstream could not be reached, or closed the connection mid-response."""


class _Conn(asyncio.Protocol):
    __slots__ = (
        "body",
        "closed",
        "keep_alive",
        "loop",
        "parser",
        "received",
        "status",
        "transport",
        "waiter",
    )

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.status = 0
        self.body: list[bytes] = []
        self.closed = False
        self.keep_alive = True
        self.received = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamConnectionError(f"invalid HTTP from upstream: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.status, b"".join(self.body)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(UpstreamConnectionError("upstream closed the connection"))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def start(self) -> asyncio.Future[tuple[int, bytes]]:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.body = []
        self.received = False
        self.waiter = self.loop.create_future()
        return self.waiter


class FastClient:
    """Keep-alive connection pools keyed by (scheme, host, port)."""

    def __init__(self, connect_timeout: float, max_idle: int = 256) -> None:
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._targets: dict[str, tuple[tuple[str, str, int], bytes, str]] = {}

    def _target(self, url: str) -> tuple[tuple[str, str, int], bytes, str]:
        hit = self._targets.get(url)
        if hit is None:
            parts = urlsplit(url)
            scheme = parts.scheme or "http"
            host = parts.hostname or "localhost"
            port = parts.port or (443 if scheme == "https" else 80)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host_header = host if parts.port is None else f"{host}:{port}"
            hit = self._targets[url] = ((scheme, host, port), path.encode(), host_header)
            if len(self._targets) > 10_000:
                self._targets.clear()
        return hit

    async def _connect(self, key: tuple[str, str, int]) -> _Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        ssl_ctx = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            ssl_ctx = self._ssl
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    _Conn, host, port, ssl=ssl_ctx, server_hostname=host if ssl_ctx else None
                )
        except (OSError, TimeoutError) as exc:
            raise UpstreamConnectionError(f"cannot connect to upstream ({type(exc).__name__})") from exc
        return conn

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST `body`; (status, response body). Raises UpstreamConnectionError; the caller bounds the time."""
        key, path, host_header = self._target(url)
        head = [b"POST ", path, b" HTTP/1.1\r\nHost: ", host_header.encode(), b"\r\nContent-Length: ",
                str(len(body)).encode(), b"\r\nConnection: keep-alive\r\n"]  # fmt: skip
        for name, value in headers.items():
            head += (name.encode(), b": ", value.encode("latin-1"), b"\r\n")
        head.append(b"\r\n")
        request = b"".join(head) + body
        idle = self._idle.get(key)
        for attempt in (0, 1):
            conn: _Conn | None = None
            reused = False
            while idle:
                candidate = idle.pop()
                if not candidate.closed:
                    conn, reused = candidate, True
                    break
            if conn is None:
                conn = await self._connect(key)
            waiter = conn.start()
            assert conn.transport is not None
            conn.transport.write(request)
            try:
                status, data = await waiter
            except UpstreamConnectionError:
                if reused and not conn.received and attempt == 0:
                    continue  # a stale keep-alive connection: retry once on a fresh one
                raise
            except BaseException:
                conn.transport.close()  # cancelled or timed out: the connection is in an unknown state
                raise
            if conn.keep_alive and not conn.closed:
                pool = self._idle.setdefault(key, deque())
                if len(pool) < self._max_idle:
                    pool.append(conn)
                else:
                    conn.transport.close()
            else:
                conn.transport.close()
            return status, data
        raise UpstreamConnectionError("upstream closed the connection")

    def close(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
