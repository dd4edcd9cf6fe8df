"""Routes and the request pipeline of the proxy (`httpserver`, `fastclient`, aiohttp for streams, orjson).

Per request: authenticate (hash, cache), refuse what must not pass, reserve an estimate, forward, price the
usage, spool the spend log (fsynced) and only then complete the response. Every response carries
`x-request-id`; it is the spend log's `request_id` when the request was forwarded (refusals are not logged).
`x-llmusage-cost` is the request's cost in USD; on a stream it is `pending` in the headers and the cost is
sent as an SSE comment line `: x-llmusage-cost=<usd>` just before `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from psycopg_pool import AsyncConnectionPool

from llmusage import sqlfiles
from llmusage.proxy import errors, policy, upstream
from llmusage.proxy.auth import KeyCache, Principal, budget_windows, hash_key
from llmusage.proxy.errors import ProxyError
from llmusage.proxy.fastclient import FastClient, UpstreamConnectionError
from llmusage.proxy.httpserver import App, Request, Response, StreamResponse
from llmusage.proxy.options import ProxyOptions
from llmusage.proxy.policy import Ledger
from llmusage.proxy.pricing import (
    ModelRoute,
    estimate_prompt_tokens,
    requested_completion_tokens,
    route_from_row,
)
from llmusage.proxy.spool import Spool
from llmusage.proxy.writer import SpendWriter

log = logging.getLogger("llmusage.proxy")

JSON = "application/json"


class DatabaseUnavailable(Exception):
    """The key is not cached and the database cannot be asked."""


@dataclass
class State:
    """Everything one proxy process shares between requests."""

    options: ProxyOptions
    pool: AsyncConnectionPool
    ledger: Ledger
    keys: KeyCache
    spool: Spool
    writer: SpendWriter
    session: aiohttp.ClientSession | None = None  # streams
    fast: FastClient | None = None  # non-streaming calls
    models: dict[str, ModelRoute] = field(default_factory=dict)
    models_loaded: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def load_models(self) -> None:
        async with self.pool.connection(timeout=2.0) as conn:
            cur = await conn.execute(sqlfiles.load("proxy/models.sql"))
            rows = await cur.fetchall()
        self.models = {r[1]: route_from_row(r[0], r[1], r[2] or {}, r[3] or {}) for r in rows}
        self.models_loaded = True

    async def refresh_models_forever(self) -> None:
        while True:
            try:
                await self.load_models()
            except Exception as exc:
                log.warning("model catalog refresh failed: %s", type(exc).__name__)
            await asyncio.sleep(self.options.cache_ttl)


STATE = "llmusage.proxy.state"


def _headers(rid: str, cost: str = "0") -> dict[str, str]:
    return {"x-request-id": rid, "x-llmusage-cost": cost}


def error_response(exc: ProxyError, rid: str) -> Response:
    return Response(
        body=exc.body(), status=exc.status, content_type=JSON, headers={**_headers(rid), **exc.headers}
    )


_ID_PREFIX = f"llmu-{uuid.uuid4().hex[:16]}-"  # random per process: ids stay unique across restarts
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER)}"


async def authenticate(state: State, request: Request) -> Principal:
    auth = request.headers.get("Authorization", "")
    raw = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-api-key", "").strip()
    if not raw:
        raise errors.unauthorized("missing API key (Authorization: Bearer sk-...)")
    try:
        principal = await state.keys.get(hash_key(raw))
    except DatabaseUnavailable as exc:
        raise ProxyError(
            503, "the key database is unavailable", "service_unavailable", "db_unavailable"
        ) from exc
    if principal is None:
        raise errors.unauthorized()
    return principal


def _require(body: dict[str, Any], kind: str) -> None:
    if kind == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise errors.bad_request("'messages' must be a non-empty array")
    elif kind == "completions":
        if not isinstance(body.get("prompt"), str | list):
            raise errors.bad_request("'prompt' must be a string or an array")
    elif kind == "embeddings":
        if not isinstance(body.get("input"), str | list):
            raise errors.bad_request("'input' must be a string or an array")
        if body.get("stream"):
            raise errors.bad_request("embeddings cannot be streamed")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise errors.bad_request("'stream' must be a boolean")


@dataclass
class Call:
    """One admitted request on its way through."""

    rid: str
    kind: str
    started: float
    principal: Principal
    route: ModelRoute
    body: dict[str, Any]
    raw: bytes
    estimate: float
    entities: list[tuple[str, str]]
    stream: bool
    upstream: bytes = b""  # the body sent to the provider, serialized once at admission


async def handle_openai(request: Request, kind: str) -> StreamResponse:
    state = request.app[STATE]
    rid = new_request_id()
    started = time.perf_counter()
    try:
        principal = await authenticate(state, request)
        policy.check_principal(principal)
        raw = await request.read()
        body = errors.json_object(raw)
        model_name = body.get("model")
        if not isinstance(model_name, str) or not model_name:
            raise errors.bad_request("'model' is required")
        _require(body, kind)
        route = state.models.get(model_name)
        if route is None:
            raise errors.not_found(f"model {model_name!r} does not exist", "model_not_found")
        policy.check_model(principal, model_name)
        stream = bool(body.get("stream"))
        try:
            # Serialized before admission: orjson parses deeper nesting than it serializes (1024 vs 254
            # levels), so a body it cannot write back is the client's error (400), not a 500 later.
            upstream_bytes = orjson.dumps(_upstream_body(body, route, stream))
        except TypeError:
            raise errors.bad_request("the request body is nested too deeply") from None
        if state.spool.full():
            raise errors.spool_full()
        opts = state.options
        estimate = route.cost(
            estimate_prompt_tokens(body),
            0 if kind == "embeddings" else requested_completion_tokens(body, opts.default_completion_tokens),
        )
        entities = state.ledger.admit(principal, estimate)
    except ProxyError as exc:
        return error_response(exc, rid)
    call = Call(rid, kind, started, principal, route, body, raw, estimate, entities, stream, upstream_bytes)
    try:
        if call.stream:
            return await forward_stream(state, request, call)
        return await forward(state, call)
    except ProxyError as exc:
        return error_response(exc, rid)
    except BaseException:
        # Never leave a reservation behind (the row was already settled if we got that far).
        if call.entities:
            state.ledger.settle(call.entities, call.estimate, 0.0)
            call.entities = []
        raise


def _upstream_body(request_body: dict[str, Any], route: ModelRoute, stream: bool) -> dict[str, Any]:
    body = dict(request_body)
    body["model"] = route.upstream_model
    body.pop("metadata", None)  # llmusage's (LiteLLM's) request metadata: tags, not for the provider
    if stream:
        options = body.get("stream_options")
        body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return body


def _upstream_failure(status: int | None, detail: str) -> ProxyError:
    if status is None:
        return ProxyError(502, f"upstream unreachable: {detail}", "upstream_error", "upstream_unreachable")
    if status == 504 or status == 408:
        return ProxyError(504, f"upstream timed out (status {status})", "upstream_error", "upstream_timeout")
    return ProxyError(
        502, f"upstream failed with status {status}: {detail}", "upstream_error", "upstream_error"
    )


def _error_detail(data: bytes) -> str:
    try:
        parsed = orjson.loads(data)
        message = parsed.get("error", {}).get("message") if isinstance(parsed, dict) else None
        if isinstance(message, str):
            return message[:300]
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return data[:200].decode("utf-8", "replace")


async def forward(state: State, call: Call) -> StreamResponse:
    assert state.session is not None
    route = call.route
    assert state.fast is not None
    status: int | None = None
    try:
        async with asyncio.timeout(state.options.upstream_timeout):
            status, data = await state.fast.post(
                upstream.url_for(route, call.kind),
                call.upstream,
                upstream.headers_for(route),
            )
    except TimeoutError:
        return await _fail(
            state, call, ProxyError(504, "upstream timed out", "upstream_error", "upstream_timeout"), status
        )
    except UpstreamConnectionError as exc:
        return await _fail(state, call, _upstream_failure(None, str(exc)), status)
    if status != 200:
        return await _fail(state, call, _upstream_failure(status, _error_detail(data)), status)
    try:
        usage = orjson.loads(data).get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return await _fail(state, call, _upstream_failure(200, "invalid JSON from upstream"), status)
    cost = route.cost(prompt, completion)
    await _record(state, call, prompt, completion, cost, "success", 200, None, False)
    return Response(body=data, status=200, content_type=JSON, headers=_headers(call.rid, _fmt(cost)))


def _fmt(cost: float) -> str:
    return repr(float(cost))


async def _fail(state: State, call: Call, exc: ProxyError, upstream_status: int | None) -> Response:
    await _record(state, call, 0, 0, 0.0, "failure", exc.status, exc.message, False, upstream_status)
    return error_response(exc, call.rid)


def _row(call: Call, prompt: int, completion: int, cost: float, status: str, code: int,
         error: str | None, estimated: bool, upstream_status: int | None, opts: ProxyOptions) -> dict[str, Any]:  # fmt: skip
    meta = call.body.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    end_user = call.body.get("user")
    metadata: dict[str, Any] = {
        # PostgreSQL's jsonb refuses NUL characters: strip them from what the client controls.
        "tags": [_clean(t) for t in tags] if isinstance(tags, list) else [],
        "end_user": _clean(end_user) if isinstance(end_user, str) else None,
        "latency_ms": round((time.perf_counter() - call.started) * 1000, 3),
        "status": status,
        "status_code": code,
        "stream": call.stream,
        "call_type": call.kind,
        "key_alias": call.principal.key_alias,
        "organization_id": call.principal.org_id,
        "model_id": call.route.model_id,
        "upstream_model": call.route.upstream_model,
    }
    if error is not None:
        metadata["error"] = error
    if upstream_status is not None and upstream_status != 200:
        metadata["upstream_status"] = upstream_status
    if estimated:
        metadata["usage_estimated"] = True
    payload: Any = None
    if opts.store_payload:
        small = len(call.raw) <= opts.payload_max_bytes and b"\\u0000" not in call.raw
        payload = (
            call.body if small and _serializable(call.body) else {"truncated": True, "bytes": len(call.raw)}
        )
    return {
        "request_id": call.rid,
        "api_key": call.principal.token,
        "model": call.route.model_name,
        "api_provider": call.route.provider,
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "spend": cost,
        "user": call.principal.user_id,
        "team_id": call.principal.team_id,
        "metadata": metadata,
        "payload": payload,
        "created_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
    }


def _serializable(value: Any) -> bool:
    """False for what orjson cannot write (nesting past its depth limit, e.g. inside `metadata`)."""
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "") if "\x00" in text else text


async def _record(state: State, call: Call, prompt: int, completion: int, cost: float, status: str,
                  code: int, error: str | None, estimated: bool, upstream_status: int | None = None) -> None:  # fmt: skip
    """Settle the reservation and spool the row; returns once the row is fsynced."""
    row = _row(call, prompt, completion, cost, status, code, error, estimated, upstream_status, state.options)
    entities, call.entities = call.entities, []
    state.ledger.settle(entities, call.estimate, cost)
    try:
        await state.writer.submit(row, entities)
    except OSError as exc:
        for entity in entities:  # never written: its cost must not count against the budgets
            state.ledger.forget_uncommitted(entity, cost)
        log.error("cannot spool a spend log (%s: %s)", type(exc).__name__, exc.strerror or exc)
        raise ProxyError(
            503, "the proxy cannot record spend (local spool)", "service_unavailable", "spool_error"
        ) from None


async def forward_stream(state: State, request: Request, call: Call) -> StreamResponse:
    assert state.session is not None
    route = call.route
    opts = state.options
    client_usage = (
        isinstance(call.body.get("stream_options"), dict)
        and call.body["stream_options"].get("include_usage") is True
    )
    status: int | None = None
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
        return await _fail(
            state, call, ProxyError(504, "upstream timed out", "upstream_error", "upstream_timeout"), status
        )
    except aiohttp.ClientError as exc:
        return await _fail(state, call, _upstream_failure(None, type(exc).__name__), status)
    try:
        status = upstream_resp.status
        if status != 200:
            data = await upstream_resp.read()
            return await _fail(state, call, _upstream_failure(status, _error_detail(data)), status)
        resp = StreamResponse(
            status=200, headers={**_headers(call.rid, "pending"), "Cache-Control": "no-cache"}
        )
        resp.content_type = "text/event-stream"
        usage: dict[str, Any] | None = None
        chunks = 0
        abandoned = False
        failed: str | None = None
        buf = b""
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
                    buf += data
                    out: list[bytes] = []
                    while True:
                        cut = buf.find(b"\n\n")
                        if cut < 0:
                            break
                        event, buf = buf[: cut + 2], buf[cut + 2 :]
                        if event.startswith(b"data: [DONE]"):
                            continue  # sent by us after the log is spooled
                        if (
                            b'"usage"' in event
                            and b'"usage":null' not in event
                            and b'"usage": null' not in event
                        ):
                            try:
                                parsed = orjson.loads(event[event.index(b"{") :])
                                if isinstance(parsed.get("usage"), dict):
                                    usage = parsed["usage"]
                                if not parsed.get("choices") and not client_usage:
                                    continue  # the usage chunk we asked for, not the client
                            except (ValueError, AttributeError):
                                pass
                        chunks += 1
                        out.append(event)
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
        estimated = usage is None
        if usage is None:
            prompt, completion = estimate_prompt_tokens(call.body), chunks
        else:
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
        cost = route.cost(prompt, completion)
        status_text = "client_disconnected" if abandoned else ("failure" if failed else "success")
        try:
            await _record(state, call, prompt, completion, cost, status_text, 200, failed, estimated)
        except ProxyError:
            abandoned = True  # not durably logged: end the stream without [DONE]
        if abandoned:
            return resp
        with contextlib.suppress(ConnectionError, aiohttp.ClientConnectionResetError):
            await resp.write(f": x-llmusage-cost={_fmt(cost)}\n\ndata: [DONE]\n\n".encode())
            await resp.write_eof()
        return resp
    finally:
        await ctx.__aexit__(None, None, None)


async def list_models(request: Request) -> Response:
    state = request.app[STATE]
    rid = new_request_id()
    try:
        principal = await authenticate(state, request)
        policy.check_principal(principal)
    except ProxyError as exc:
        return error_response(exc, rid)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": route.provider}
        for name, route in sorted(state.models.items())
        if policy.model_allowed(principal, name)
    ]
    return Response(
        body=orjson.dumps({"object": "list", "data": data}), content_type=JSON, headers=_headers(rid)
    )


async def health(request: Request) -> Response:
    return Response(body=b'{"status":"ok"}', content_type=JSON, headers=_headers(new_request_id()))


async def ready(request: Request) -> Response:
    state = request.app[STATE]
    db_ok = True
    db_error = None
    try:
        async with asyncio.timeout(2.0), state.pool.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        db_ok, db_error = False, type(exc).__name__
    spool = state.spool
    body = {
        "status": "ready" if db_ok and not spool.full() else "not_ready",
        "database": "ok" if db_ok else f"unreachable ({db_error})",
        "spool": {
            "depth": spool.pending_rows,
            "bytes": spool.pending_bytes,
            "max_bytes": spool.max_bytes,
            "full": spool.full(),
        },
        "models": len(state.models),
        "written": state.writer.written,
    }
    return Response(
        body=orjson.dumps(body), status=200 if body["status"] == "ready" else 503, content_type=JSON,
        headers=_headers(new_request_id()),
    )  # fmt: skip


async def not_found(request: Request) -> Response:
    exc = errors.not_found(f"no route {request.method} {request.path}", "route_not_found")
    return error_response(exc, new_request_id())


def build_state(options: ProxyOptions) -> State:
    pool = AsyncConnectionPool(
        options.database_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}, timeout=2.0
    )
    ledger = Ledger(options.cache_ttl)
    spool = Spool(options.spool_dir, options.segment_bytes, options.spool_max_bytes)

    async def fetch(token: str) -> tuple[Any, ...] | None:
        try:
            async with pool.connection(timeout=1.0) as conn:
                cur = await conn.execute(sqlfiles.load("proxy/principal.sql"), {"token": token})
                row = await cur.fetchone()
                if row is None:
                    return None
                windows = budget_windows(row, datetime.now(UTC))
                spends: dict[tuple[str, str], float] = {}
                for (kind, entity), since in windows.items():
                    query = sqlfiles.load(f"proxy/window_spend_{kind}.sql")
                    cur = await conn.execute(query, {"id": entity, "since": since})  # type: ignore[arg-type]
                    found = await cur.fetchone()
                    spends[(kind, entity)] = float(found[0]) if found else 0.0
                return (row, spends)
        except Exception as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc

    keys = KeyCache(fetch, options.cache_ttl, ledger.observe)
    writer = SpendWriter(pool, spool, ledger, options.batch_max, options.batch_wait)
    return State(options=options, pool=pool, ledger=ledger, keys=keys, spool=spool, writer=writer)


def build_app(options: ProxyOptions) -> App:
    from llmusage.proxy import management

    app = App(max_body=32 * 1024 * 1024)
    state = build_state(options)
    app[STATE] = state

    async def chat(request: Request) -> StreamResponse:
        return await handle_openai(request, "chat")

    async def completions(request: Request) -> StreamResponse:
        return await handle_openai(request, "completions")

    async def embeddings(request: Request) -> StreamResponse:
        return await handle_openai(request, "embeddings")

    for prefix in ("/v1", ""):
        app.add_post(f"{prefix}/chat/completions", chat)
        app.add_post(f"{prefix}/completions", completions)
        app.add_post(f"{prefix}/embeddings", embeddings)
        app.add_get(f"{prefix}/models", list_models)
    app.add_get("/health", health)
    app.add_get("/health/ready", ready)
    management.add_routes(app)
    app.fallback = not_found

    async def startup(app: App) -> None:
        state.spool.open()
        await state.pool.open(wait=False)
        state.session = upstream.make_session(options.connect_timeout)
        state.fast = FastClient(options.connect_timeout)
        try:
            await state.load_models()
        except Exception as exc:
            log.warning("model catalog not loaded yet (%s); retrying in the background", type(exc).__name__)
        state.tasks.append(asyncio.get_running_loop().create_task(state.refresh_models_forever()))
        state.writer.start()

    async def cleanup(app: App) -> None:
        for task in state.tasks:
            task.cancel()
        await state.writer.stop()
        if state.session is not None:
            await state.session.close()
        if state.fast is not None:
            state.fast.close()
        await state.pool.close()
        state.spool.close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return app
