"""`llmusage mock-upstream`: a fast, deterministic OpenAI-compatible provider for tests, demos and benchmarks.

Chat completions, completions and embeddings, streaming or not. Token counts are a pure function of the
request: prompt tokens = whitespace-separated words of the input (at least 1); completion tokens =
`max_tokens` (or `max_completion_tokens`) if given, else `--completion-tokens` (default 16). Every response
carries `usage`, streams included (a final chunk with empty `choices`, as OpenAI sends it with
`stream_options.include_usage`).

Injection, by flag for every request or per request by header or by a body field:
- latency: `--latency-ms`, header `x-mock-latency-ms`, body `mock_latency_ms` (before the first byte);
- per-chunk delay of streams: `--chunk-delay-ms`, header `x-mock-chunk-delay-ms`, body `mock_chunk_delay_ms`;
- errors: `--error-rate R` (deterministic: every round(1/R)-th request fails with 500), header
  `x-mock-status`, body `mock_status` (that HTTP status, with an OpenAI-shaped error).

Usage details, per request by header or body field (`x-mock-cached-tokens` / `mock_cached_tokens`, and
likewise `cache_creation_tokens`, `reasoning_tokens`, `audio_input_tokens`, `audio_output_tokens`): the
usage then carries OpenAI's `prompt_tokens_details` (`cached_tokens`, `cache_creation_tokens`,
`audio_tokens`) and `completion_tokens_details` (`reasoning_tokens`, `audio_tokens`), each part capped at
what is left of its whole (prompt or completion tokens), since details are parts, not additions. A model
whose name contains `reasoning` reports half its completion tokens (rounded down) as reasoning unless told
otherwise; `--cached-ratio` reports that share of every prompt (rounded down) as cached.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


@dataclass
class MockOptions:
    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    error_rate: float = 0.0
    completion_tokens: int = 16
    embedding_dim: int = 8
    cached_ratio: float = 0.0


DETAILS = {
    "cached_tokens": ("prompt_tokens_details", "cached_tokens"),
    "cache_creation_tokens": ("prompt_tokens_details", "cache_creation_tokens"),
    "audio_input_tokens": ("prompt_tokens_details", "audio_tokens"),
    "reasoning_tokens": ("completion_tokens_details", "reasoning_tokens"),
    "audio_output_tokens": ("completion_tokens_details", "audio_tokens"),
}
"""The usage details a request may ask for: control name -> (details object, field)."""


def usage_of(
    request: web.Request, body: dict[str, Any], options: MockOptions, prompt: int, completion: int | None
) -> dict[str, Any]:
    """The usage object: totals, plus the details asked for (see the module docstring); `completion`
    None for embeddings."""
    if completion is None:
        return {"prompt_tokens": prompt, "total_tokens": prompt}
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
    usage["total_tokens"] = prompt + completion
    left = {"prompt_tokens_details": prompt, "completion_tokens_details": completion}
    defaults = {
        "cached_tokens": int(prompt * options.cached_ratio),
        "reasoning_tokens": completion // 2 if "reasoning" in str(body.get("model")) else 0,
    }
    for name, (group, field) in DETAILS.items():
        n = min(int(_control(request, body, name, defaults.get(name, 0))), left[group])
        if n > 0:
            usage.setdefault(group, {})[field] = n
            left[group] -= n
    return usage


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v) if isinstance(v, str | list | dict) else 1 for v in value)
    if isinstance(value, dict):
        return _words(value.get("content")) if "content" in value else _words(value.get("text"))
    return 0


def prompt_tokens(body: dict[str, Any], kind: str) -> int:
    source = body.get({"chat": "messages", "completions": "prompt", "embeddings": "input"}[kind])
    return max(1, _words(source))


def completion_tokens(body: dict[str, Any], default: int) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return default


def _control(request: web.Request, body: dict[str, Any], name: str, default: float) -> float:
    header = request.headers.get(f"x-mock-{name.replace('_', '-')}")
    if header is not None:
        return float(header)
    value = body.get(f"mock_{name}")
    return float(value) if isinstance(value, int | float) else default


def _error(status: int, message: str) -> web.Response:
    body = orjson.dumps({"error": {"message": message, "type": "mock_error", "code": str(status)}})
    return web.Response(status=status, body=body, content_type="application/json")


def build_app(options: MockOptions) -> web.Application:
    counter = {"n": 0}
    every = round(1 / options.error_rate) if options.error_rate > 0 else 0

    async def handle(request: web.Request, kind: str) -> web.StreamResponse:
        counter["n"] += 1
        try:
            body = orjson.loads(await request.read())
            assert isinstance(body, dict)
        except (orjson.JSONDecodeError, AssertionError):
            return _error(400, "invalid JSON body")
        latency = _control(request, body, "latency_ms", options.latency_ms)
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        status = int(_control(request, body, "status", 0))
        if not status and every and counter["n"] % every == 0:
            status = 500
        if status and status != 200:
            return _error(status, f"mock upstream failure (status {status})")
        model = str(body.get("model") or "mock")
        seed = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()
        rid = "mock-" + seed[:8].hex()
        prompt = prompt_tokens(body, kind)
        if kind == "embeddings":
            inputs = body.get("input")
            items = (
                inputs if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else [inputs]
            )
            dim = options.embedding_dim
            vectors = [[(seed[(i + j) % 32] - 128) / 128 for j in range(dim)] for i in range(len(items))]
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
            usage = usage_of(request, body, options, prompt, None)
            out = {"object": "list", "data": data, "model": model, "usage": usage}
            return web.Response(body=orjson.dumps(out), content_type="application/json")
        n = completion_tokens(body, options.completion_tokens)
        words = [WORDS[(seed[i % 32] + i) % len(WORDS)] for i in range(n)]
        usage = usage_of(request, body, options, prompt, n)
        if not body.get("stream"):
            text = " ".join(words)
            if kind == "chat":
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
                obj = "text_completion"
            out = {
                "id": rid,
                "object": obj,
                "created": 0,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            return web.Response(body=orjson.dumps(out), content_type="application/json")
        delay = _control(request, body, "chunk_delay_ms", options.chunk_delay_ms) / 1000
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        obj = "chat.completion.chunk" if kind == "chat" else "text_completion"
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            if kind == "chat":
                delta: dict[str, Any] = {"content": piece}
                if i == 0:
                    delta["role"] = "assistant"
                choice = {"index": 0, "delta": delta, "finish_reason": "stop" if i == n - 1 else None}
            else:
                choice = {"index": 0, "text": piece, "finish_reason": "stop" if i == n - 1 else None}
            chunk = {
                "id": rid,
                "object": obj,
                "created": 0,
                "model": model,
                "choices": [choice],
                "usage": None,
            }
            await resp.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
            if delay:
                await asyncio.sleep(delay)
        final = {"id": rid, "object": obj, "created": 0, "model": model, "choices": [], "usage": usage}
        await resp.write(b"data: " + orjson.dumps(final) + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def chat(request: web.Request) -> web.StreamResponse:
        return await handle(request, "chat")

    async def completions(request: web.Request) -> web.StreamResponse:
        return await handle(request, "completions")

    async def embeddings(request: web.Request) -> web.StreamResponse:
        return await handle(request, "embeddings")

    async def models(request: web.Request) -> web.Response:
        return web.Response(body=b'{"object":"list","data":[]}', content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_get("/health", health)
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", chat)
        app.router.add_post(f"{prefix}/completions", completions)
        app.router.add_post(f"{prefix}/embeddings", embeddings)
        app.router.add_get(f"{prefix}/models", models)
    return app


def run(host: str, port: int, options: MockOptions) -> None:
    import uvloop

    web.run_app(
        build_app(options), host=host, port=port, access_log=None, print=None, loop=uvloop.new_event_loop()
    )
