"""What a request costs: a provider's usage priced at a model's prices, component by component, with the
prices in force at the time of the request. The one home of pricing: the proxy prices with it, and anything
that re-prices (reports, a re-pricing command) must use it too.

**Prices** are LiteLLM's `model_info` keys (`model_prices_and_context_window.json`), all in USD:
`input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
`cache_creation_input_token_cost`, `output_cost_per_reasoning_token`, `input_cost_per_audio_token`,
`output_cost_per_audio_token`, `input_cost_per_image_token`, `output_cost_per_image_token` (per token) and
`input_cost_per_request` (per successful request). A key that is absent (or null) falls back to the text
price of its side (input or output); only `input_cost_per_request` defaults to 0.

**Usage** is OpenAI's: `prompt_tokens` is *all* input tokens and `completion_tokens` *all* output tokens; the
details are parts of them, never additions: `prompt_tokens_details.cached_tokens` (or LiteLLM's
`cache_read_input_tokens`), `prompt_tokens_details.cache_creation_tokens` (or LiteLLM's
`cache_creation_input_tokens`), `prompt_tokens_details.audio_tokens|image_tokens`,
`completion_tokens_details.reasoning_tokens|audio_tokens|image_tokens`. Each token is priced exactly once:
the plain text part is what is left (`input = prompt - cached - cache creation - audio - image`, likewise
for output). If the parts exceed their whole, the whole is taken as excluding them (the parts are priced as
reported, the text part is 0) and the breakdown says `"parts_exceed_total": true`. An embedding is priced
on its prompt only.

**The breakdown** (`Priced.breakdown`, stored in a spend log's `metadata.cost_breakdown`) names the price
`version` and, for each component with tokens, `{"tokens", "price", "cost"}` with `cost = tokens x price`
(a float product, as the total is the float sum of the component costs in the order of `COMPONENTS`), so a
log can always be checked, and re-priced, from what it stores.

**Effective dates**: `model_info.price_history` is a list of `{"valid_from": ISO 8601, <price keys>...}`
(a naive time is UTC; an optional `"version"` names the entry, else its `valid_from` does). The top-level
keys are the prices before the first entry (version `base`); each entry applies from its `valid_from`
(inclusive) on, and changes only the keys it names (a key set to null is removed). A request is priced with
the entry in force at its time, so a change announced for midnight applies to requests from 00:00:00.000000
on, and logs written before keep the prices (and breakdown) they were written with.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PRICE_KEYS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
    "input_cost_per_audio_token",
    "output_cost_per_audio_token",
    "input_cost_per_image_token",
    "output_cost_per_image_token",
    "input_cost_per_request",
)
"""The `model_info` keys that price a request (LiteLLM's names)."""

COMPONENTS = (
    "input",
    "cached_input",
    "cache_creation",
    "input_audio",
    "input_image",
    "output",
    "reasoning",
    "output_audio",
    "output_image",
    "request",
)
"""The breakdown's components, in the order their costs are added up."""

BASE_VERSION = "base"


@dataclass(frozen=True, slots=True)
class Prices:
    """One set of prices (USD per token, `request` per request), defaults already resolved."""

    version: str
    input: float
    output: float
    cached_input: float
    cache_creation: float
    reasoning: float
    input_audio: float
    output_audio: float
    input_image: float
    output_image: float
    request: float

    @classmethod
    def of(cls, keys: dict[str, Any], version: str = BASE_VERSION) -> Prices:
        """Prices from `model_info`-style keys (absent or null: the fallbacks in the module docstring)."""
        for name in PRICE_KEYS:
            check_price(name, keys.get(name))

        def get(name: str, default: float) -> float:
            value = keys.get(name)
            return default if value is None else float(value)

        inp = get("input_cost_per_token", 0.0)
        out = get("output_cost_per_token", 0.0)
        return cls(
            version,
            inp,
            out,
            get("cache_read_input_token_cost", inp),
            get("cache_creation_input_token_cost", inp),
            get("output_cost_per_reasoning_token", out),
            get("input_cost_per_audio_token", inp),
            get("output_cost_per_audio_token", out),
            get("input_cost_per_image_token", inp),
            get("output_cost_per_image_token", out),
            get("input_cost_per_request", 0.0),
        )


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them (see the module docstring: details are parts)."""

    prompt: int
    completion: int = 0
    cached: int = 0
    cache_creation: int = 0
    reasoning: int = 0
    input_audio: int = 0
    output_audio: int = 0
    input_image: int = 0
    output_image: int = 0

    @classmethod
    def of(cls, usage: dict[str, Any], embedding: bool = False) -> Usage:
        """From an OpenAI (or LiteLLM) `usage` object; ValueError/TypeError for one that is not numbers."""
        prompt = int(usage.get("prompt_tokens") or 0)
        if embedding:
            return cls(prompt)
        pd = usage.get("prompt_tokens_details")
        cd = usage.get("completion_tokens_details")
        if (
            not pd
            and not cd
            and "cache_read_input_tokens" not in usage
            and "cache_creation_input_tokens" not in usage
        ):
            return cls(prompt, int(usage.get("completion_tokens") or 0))  # the common case, kept cheap
        pd = pd or {}
        cd = cd or {}
        return cls(
            prompt,
            int(usage.get("completion_tokens") or 0),
            int(pd.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0),
            int(pd.get("cache_creation_tokens") or usage.get("cache_creation_input_tokens") or 0),
            int(cd.get("reasoning_tokens") or 0),
            int(pd.get("audio_tokens") or 0),
            int(cd.get("audio_tokens") or 0),
            int(pd.get("image_tokens") or 0),
            int(cd.get("image_tokens") or 0),
        )


@dataclass(slots=True)
class Priced:
    """A usage's total cost and its breakdown (the JSON stored with the log)."""

    total: float
    breakdown: dict[str, Any]


def price(usage: Usage, prices: Prices, requests: int = 1) -> Priced:
    """The cost of `usage` at `prices`: each token once, at its component's price (module docstring).

    Written out component by component (no loop over tuples): it runs once per request on the proxy."""
    b: dict[str, Any] = {"version": prices.version}
    total = 0.0
    u = usage
    input_parts = u.cached + u.cache_creation + u.input_audio + u.input_image
    output_parts = u.reasoning + u.output_audio + u.output_image
    if u.prompt > input_parts:
        total += _part(b, "input", u.prompt - input_parts, prices.input)
    if input_parts:
        if u.cached:
            total += _part(b, "cached_input", u.cached, prices.cached_input)
        if u.cache_creation:
            total += _part(b, "cache_creation", u.cache_creation, prices.cache_creation)
        if u.input_audio:
            total += _part(b, "input_audio", u.input_audio, prices.input_audio)
        if u.input_image:
            total += _part(b, "input_image", u.input_image, prices.input_image)
    if u.completion > output_parts:
        total += _part(b, "output", u.completion - output_parts, prices.output)
    if output_parts:
        if u.reasoning:
            total += _part(b, "reasoning", u.reasoning, prices.reasoning)
        if u.output_audio:
            total += _part(b, "output_audio", u.output_audio, prices.output_audio)
        if u.output_image:
            total += _part(b, "output_image", u.output_image, prices.output_image)
    if requests and prices.request:
        total += _part(b, "request", requests, prices.request)
    if input_parts > u.prompt or output_parts > u.completion:
        b["parts_exceed_total"] = True
    b["total"] = total
    return Priced(total, b)


def _part(breakdown: dict[str, Any], name: str, n: int, rate: float) -> float:
    cost = n * rate
    breakdown[name] = {"tokens": n, "price": rate, "cost": cost}
    return cost


def check_price(name: str, value: Any) -> None:
    """ValueError unless `value` is a non-negative number or None."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
        raise ValueError(f"'{name}' must be a non-negative number")


def parse_instant(value: Any) -> float:
    """Epoch seconds of an ISO 8601 time (naive = UTC); ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError("'valid_from' must be an ISO 8601 time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class PriceSchedule:
    """A model's prices over time: `at(epoch_seconds)` is the set in force then (module docstring)."""

    __slots__ = ("_prices", "_starts")

    def __init__(self, starts: list[float], prices: list[Prices]) -> None:
        self._starts = starts  # ascending; the first is -inf (the base prices)
        self._prices = prices

    @classmethod
    def of(cls, info: dict[str, Any]) -> PriceSchedule:
        """From a `model_info`; ValueError for a malformed price or `price_history`."""
        keys = {k: info.get(k) for k in PRICE_KEYS}
        starts, prices = [float("-inf")], [Prices.of(keys)]
        history = info.get("price_history")
        if history is None:
            return cls(starts, prices)
        if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
            raise ValueError("'price_history' must be a list of objects")
        entries = sorted(((parse_instant(e.get("valid_from")), e) for e in history), key=lambda p: p[0])
        for at, entry in entries:
            if at == starts[-1]:
                raise ValueError(f"two price_history entries are valid from {entry['valid_from']}")
            keys = {**keys, **{k: entry[k] for k in PRICE_KEYS if k in entry}}
            version = entry.get("version") or entry["valid_from"]
            starts.append(at)
            prices.append(Prices.of(keys, str(version)))
        return cls(starts, prices)

    def at(self, when: float) -> Prices:
        """The prices in force at `when` (epoch seconds): the last entry with `valid_from <= when`."""
        if len(self._starts) == 1:
            return self._prices[0]
        return self._prices[bisect_right(self._starts, when) - 1]
