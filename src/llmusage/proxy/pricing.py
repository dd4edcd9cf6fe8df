"""The model catalog (`LiteLLM_ProxyModelTable`): a route per public model name, with its price schedule
(`llmusage.pricing`, where costs are computed), and the cheap estimates admission reserves.

A row whose `model_info` prices or `price_history` are malformed (the management API refuses them; a hand
edit may not) is still routed, at the prices of its top-level keys only if those are valid, else at 0: one
bad edit never takes the catalog down. `route_from_row` says so in the log once per distinct problem."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from llmusage.pricing import Priced, Prices, PriceSchedule, Usage, price

log = logging.getLogger("llmusage.proxy")
_reported: set[str] = set()


@dataclass(frozen=True)
class ModelRoute:
    """Where and how a public model name is served, and what it costs per token."""

    model_id: str
    model_name: str
    provider: str
    upstream_model: str
    api_base: str
    api_key_ref: str | None  # a literal key or `os.environ/NAME`; resolved per call, never logged
    prices: PriceSchedule

    def price(self, usage: Usage, at: float) -> Priced:
        """`usage` priced at the prices in force at `at` (epoch seconds)."""
        return price(usage, self.prices.at(at))

    def cost(self, prompt_tokens: int, completion_tokens: int, at: float | None = None) -> float:
        """An estimate for reservations: completion at the higher of the output and reasoning prices."""
        p = self.prices.at(time.time() if at is None else at)
        return prompt_tokens * p.input + completion_tokens * max(p.output, p.reasoning) + p.request

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
        prices=_schedule(model_name, info),
    )


def _schedule(model_name: str, info: dict[str, Any]) -> PriceSchedule:
    try:
        return PriceSchedule.of(info)
    except (ValueError, TypeError) as exc:
        problem = f"model {model_name!r}: {exc}"
        if problem not in _reported:
            _reported.add(problem)
            log.error("%s; priced at its top-level prices only", problem)
    try:
        return PriceSchedule.of({k: v for k, v in info.items() if k != "price_history"})
    except (ValueError, TypeError):
        return PriceSchedule([float("-inf")], [Prices.of({}, "invalid")])


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
