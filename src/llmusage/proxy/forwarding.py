"""Forwarding: send an admitted Call to its provider, relay the answer, record its spend, then complete.

Plain calls go through `fastclient` (one keep-alive POST); the response is relayed once its spend row is
spooled, with `x-llmusage-cost`. Streams go through aiohttp: the headers go out at once (cost `pending`),
events are relayed as they arrive (`sse.EventRelay`), and after the upstream ends the row is spooled and
the stream closes with `: x-llmusage-cost=<usd>` and `data: [DONE]`. A stream whose row could not be spooled
ends without `[DONE]`. A client that goes away mid-stream is not followed: the upstream is read on for up
to `drain_abandoned` seconds for its usage, and the row says `client_disconnected`.

Failures are recorded too (cost 0, status `failure`) and answered as OpenAI-shaped errors: 504 when the
upstream times out (`upstream_timeout` bounds the whole call), 502 when it is unreachable or answers
anything but 200 (with its status and message), 502 for a 200 that is not JSON.

Each call's time at the provider goes into `call.upstream_seconds` (a stream's until the provider's last
event, relaying to the client included) for the added-latency metric.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import orjson

from llmusage.pricing import Usage
from llmusage.proxy import upstream
from llmusage.proxy.context import Call, State
from llmusage.proxy.errors import ProxyError
from llmusage.proxy.fastclient import UpstreamConnectionError
from llmusage.proxy.httpserver import Request, Response, StreamResponse
from llmusage.proxy.pricing import estimate_prompt_tokens
from llmusage.proxy.responses import JSON, cost_header, error_response, headers
from llmusage.proxy.spend import Outcome, record
from llmusage.proxy.sse import EventRelay, client_wants_usage


def upstream_failure(status: int | None, detail: str) -> ProxyError:
    if status is None:
        return ProxyError(502, f"upstream unreachable: {detail}", "upstream_error", "upstream_unreachable")
    if status == 504 or status == 408:
        return ProxyError(504, f"upstream timed out (status {status})", "upstream_error", "upstream_timeout")
    return ProxyError(
        502, f"upstream failed with status {status}: {detail}", "upstream_error", "upstream_error"
    )


def _timed_out() -> ProxyError:
    return ProxyError(504, "upstream timed out", "upstream_error", "upstream_timeout")


def error_detail(data: bytes) -> str:
    """The upstream's error message (OpenAI-shaped), else the start of its body."""
    try:
        parsed = orjson.loads(data)
        message = parsed.get("error", {}).get("message") if isinstance(parsed, dict) else None
        if isinstance(message, str):
            return message[:300]
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return data[:200].decode("utf-8", "replace")


async def _fail(state: State, call: Call, exc: ProxyError, upstream_status: int | None) -> Response:
    outcome = Outcome(0, 0, 0.0, "failure", exc.status, exc.message, upstream_status=upstream_status)
    await record(state, call, outcome)
    return error_response(exc, call.rid)


async def forward(state: State, call: Call) -> Response | StreamResponse:
    route = call.route
    assert state.fast is not None
    status: int | None = None
    failure: ProxyError | None = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(state.options.upstream_timeout):
            status, data = await state.fast.post(
                upstream.url_for(route, call.kind),
                call.upstream,
                upstream.headers_for(route),
            )
    except TimeoutError:
        failure = _timed_out()
    except UpstreamConnectionError as exc:
        failure = upstream_failure(None, str(exc))
    call.upstream_seconds = time.perf_counter() - started
    if failure is not None:
        return await _fail(state, call, failure, status)
    if status != 200:
        return await _fail(state, call, upstream_failure(status, error_detail(data)), status)
    try:
        usage = Usage.of(orjson.loads(data).get("usage") or {}, call.kind == "embeddings")
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return await _fail(state, call, upstream_failure(200, "invalid JSON from upstream"), status)
    at = time.time()
    priced = route.price(usage, at)
    cost = priced.total
    outcome = Outcome(usage.prompt, usage.completion, cost, "success", 200, breakdown=priced.breakdown, at=at)
    await record(state, call, outcome)
    return Response(body=data, status=200, content_type=JSON, headers=headers(call.rid, cost_header(cost)))


def _stream_usage(usage: dict[str, object] | None) -> Usage | None:
    """The stream's final usage, or None if it sent none (or one that is not numbers: then estimated)."""
    if usage is None:
        return None
    try:
        return Usage.of(usage)
    except (AttributeError, TypeError, ValueError):
        return None


async def forward_stream(state: State, request: Request, call: Call) -> Response | StreamResponse:
    assert state.session is not None
    route = call.route
    opts = state.options
    status: int | None = None
    started = time.perf_counter()
    ctx = state.session.post(
        upstream.url_for(route, call.kind),
        data=call.upstream,
        headers=upstream.headers_for(route),
    )
    deadline = time.monotonic() + opts.upstream_timeout
    try:
        async with asyncio.timeout(opts.upstream_timeout):
            upstream_resp = await ctx.__aenter__()
    except TimeoutError:
        call.upstream_seconds = time.perf_counter() - started
        return await _fail(state, call, _timed_out(), status)
    except aiohttp.ClientError as exc:
        call.upstream_seconds = time.perf_counter() - started
        return await _fail(state, call, upstream_failure(None, type(exc).__name__), status)
    try:
        status = upstream_resp.status
        if status != 200:
            data = await upstream_resp.read()
            call.upstream_seconds = time.perf_counter() - started
            return await _fail(state, call, upstream_failure(status, error_detail(data)), status)
        resp = StreamResponse(
            status=200, headers={**headers(call.rid, "pending"), "Cache-Control": "no-cache"}
        )
        resp.content_type = "text/event-stream"
        relay = EventRelay(client_wants_usage(call.body))
        abandoned = False
        failed: str | None = None
        try:
            await resp.prepare(request)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            abandoned = True
            deadline = min(deadline, time.monotonic() + opts.drain_abandoned)
        try:
            async with asyncio.timeout_at(
                asyncio.get_running_loop().time() + max(0.0, deadline - time.monotonic())
            ) as tm:
                async for data in upstream_resp.content.iter_any():
                    out = relay.feed(data)
                    if out and not abandoned:
                        try:
                            await resp.write(b"".join(out))
                        except (ConnectionError, aiohttp.ClientConnectionResetError):
                            abandoned = True
                            tm.reschedule(asyncio.get_running_loop().time() + opts.drain_abandoned)
        except TimeoutError:
            failed = "upstream timed out mid-stream" if not abandoned else None
        except aiohttp.ClientError as exc:
            failed = f"upstream stream broke: {type(exc).__name__}"
        call.upstream_seconds = (
            time.perf_counter() - started
        )  # to the provider's last event, relaying included
        usage = _stream_usage(relay.usage)
        estimated = usage is None
        if usage is None:
            usage = Usage(estimate_prompt_tokens(call.body), relay.events)
        at = time.time()
        priced = route.price(usage, at)
        cost = priced.total
        status_text = "client_disconnected" if abandoned else ("failure" if failed else "success")
        outcome = Outcome(
            usage.prompt,
            usage.completion,
            cost,
            status_text,
            200,
            failed,
            estimated,
            None,
            priced.breakdown,
            at,
        )
        try:
            await record(state, call, outcome)
        except ProxyError:
            abandoned = True  # not durably logged: end the stream without [DONE]
        if abandoned:
            return resp
        with contextlib.suppress(ConnectionError, aiohttp.ClientConnectionResetError):
            await resp.write(f": x-llmusage-cost={cost_header(cost)}\n\ndata: [DONE]\n\n".encode())
            await resp.write_eof()
        return resp
    finally:
        await ctx.__aexit__(None, None, None)
