"""The proxy's routes, and the wiring of an OpenAI request through its stages.

Per request: authenticate (hash, cache), refuse what must not pass, reserve an estimate (`admission`),
forward (`forwarding`, `sse`), price the usage, spool the spend log (fsynced) and only then complete the
response (`spend`). Every response carries `x-request-id`; it is the spend log's `request_id` when the request
was forwarded (refusals are not logged). `x-llmusage-cost` is the request's cost in USD; on a stream it is
`pending` in the headers and the cost is sent as an SSE comment line `: x-llmusage-cost=<usd>` just before
`data: [DONE]`. A reservation is never left behind: whatever escapes forwarding releases it. Every answer is
counted in the metrics (`metrics`): refused ones by status, forwarded ones with their latency.

Routes: `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `GET /v1/models` (each also
without `/v1`), the health routes (`health`), `GET /metrics` (`prometheus`), the management API
(`management`); anything else is 404.
"""

from __future__ import annotations

import time

import orjson

from llmusage.proxy import context, errors, management, policy, prometheus
from llmusage.proxy.admission import admit, authenticate
from llmusage.proxy.context import STATE, State, build_state
from llmusage.proxy.errors import ProxyError
from llmusage.proxy.forwarding import forward, forward_stream
from llmusage.proxy.health import health, ready
from llmusage.proxy.httpserver import App, Request, Response, StreamResponse
from llmusage.proxy.metrics import model_label
from llmusage.proxy.options import ProxyOptions
from llmusage.proxy.responses import JSON, error_response, headers, new_request_id


async def handle_openai(request: Request, kind: str) -> Response | StreamResponse:
    state: State = request.app[STATE]
    rid = new_request_id()
    started = time.perf_counter()
    raw = b""
    try:
        principal = await authenticate(state, request)
        raw = await request.read()
        call = admit(state, principal, raw, kind, rid, started)
    except ProxyError as exc:
        if state.metrics is not None:
            state.metrics.refused(model_label(state.models, raw), exc.status)
        return error_response(exc, rid)
    try:
        if call.stream:
            resp = await forward_stream(state, request, call)
        else:
            resp = await forward(state, call)
    except ProxyError as exc:
        resp = error_response(exc, rid)
    except BaseException:
        # Never leave a reservation behind (the row was already settled if we got that far).
        if call.entities:
            state.ledger.settle(call.entities, call.estimate, 0.0)
            call.entities = []
        raise
    metrics = state.metrics
    if metrics is not None:
        metrics.forwarded(
            call.route.model_name, resp.status, time.perf_counter() - started, call.upstream_seconds
        )
    return resp


async def list_models(request: Request) -> Response:
    state: State = request.app[STATE]
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
        body=orjson.dumps({"object": "list", "data": data}), content_type=JSON, headers=headers(rid)
    )


async def not_found(request: Request) -> Response:
    exc = errors.not_found(f"no route {request.method} {request.path}", "route_not_found")
    return error_response(exc, new_request_id())


async def chat(request: Request) -> Response | StreamResponse:
    return await handle_openai(request, "chat")


async def completions(request: Request) -> Response | StreamResponse:
    return await handle_openai(request, "completions")


async def embeddings(request: Request) -> Response | StreamResponse:
    return await handle_openai(request, "embeddings")


def build_app(options: ProxyOptions) -> App:
    app = App(max_body=32 * 1024 * 1024)
    app[STATE] = build_state(options)
    for prefix in ("/v1", ""):
        app.add_post(f"{prefix}/chat/completions", chat)
        app.add_post(f"{prefix}/completions", completions)
        app.add_post(f"{prefix}/embeddings", embeddings)
        app.add_get(f"{prefix}/models", list_models)
    app.add_get("/health", health)
    app.add_get("/health/ready", ready)
    app.add_get("/metrics", prometheus.metrics_route)
    management.add_routes(app)
    app.fallback = not_found
    app.on_startup += [context.startup, prometheus.startup]  # in this order: the state first
    app.on_cleanup += [context.cleanup, prometheus.cleanup]  # the last metrics after the writer's flush
    return app
