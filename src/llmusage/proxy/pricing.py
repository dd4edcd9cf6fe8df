"""The model catalog (`LiteLLM_ProxyModelTable`) and pricing: cost = prompt * input + completion * output."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelRoute:
    """Where and how a public model name is served, and what it costs per token."""

    model_id: str
    model_name: str
    provider: str
    upstream_model: str
    api_base: str
    api_key_ref: str | None  # a literal key or `os.environ/NAME`; resolved per call, never logged
    input_cost: float
    output_cost: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens * self.input_cost + completion_tokens * self.output_cost

    def api_key(self) -> str | None:
        """The provider key, resolved now (so a rotated environment variable applies at once)."""
        ref = self.api_key_ref
        if not ref:
            return None
        if ref.startswith("os.environ/"):
            return os.environ.get(ref.removeprefix("os.environ/")) or None
        return ref


def route_from_row(
    model_id: str, model_name: str, params: dict[str, Any], info: dict[str, Any]
) -> ModelRoute:
    """A route from one `LiteLLM_ProxyModelTable` row."""
    full = str(params.get("model") or model_name)
    provider, _, upstream = full.partition("/")
    if not upstream:
        provider, upstream = "openai", full
    api_base = str(params.get("api_base") or "https://api.openai.com/v1").rstrip("/")
    return ModelRoute(
        model_id=model_id,
        model_name=model_name,
        provider=provider,
        upstream_model=upstream,
        api_base=api_base,
        api_key_ref=params.get("api_key"),
        input_cost=float(info.get("input_cost_per_token") or 0.0),
        output_cost=float(info.get("output_cost_per_token") or 0.0),
    )


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """A cheap upper-ish estimate of prompt tokens (about 4 characters a token) for reservations."""
    chars = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict):
                content = m.get("content")
                chars += len(content) if isinstance(content, str) else len(str(content))
                chars += 16
    for name in ("prompt", "input"):
        value = body.get(name)
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, list):
            chars += sum(
                len(v) if isinstance(v, str) else 8 * len(v) if isinstance(v, list) else 8 for v in value
            )
    return chars // 4 + 1


def requested_completion_tokens(body: dict[str, Any], default: int) -> int:
    """The completion budget a request asks for (`max_completion_tokens` or `max_tokens`), else `default`."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return default
