"""The proxy's own metrics as plain numbers in the process, cheap enough for the request path.

The request path only adds to dicts and bucket lists here (no locks: everything runs on the process's event
loop); `prometheus` turns a `snapshot` of them into Prometheus metric families when `GET /metrics` is
scraped, merged over the workers. prometheus-client's own metric objects take a lock per increment and
cost about 1 µs per counter and 1.3 µs per histogram observation here (4-5x these; 3-4x more again in its
multiprocess mode), which at ~100 µs of CPU per proxied request would be 4-10% of throughput.

What is counted, per process:
- requests by (model, HTTP status): `model` is a name from the model catalog, `""` when the request was
  refused before its model was known (no key, a body without `model`), `"unknown"` for a name not in the
  catalog, so clients cannot mint label values;
- added latency (proxy overhead: the whole request minus the upstream call) and upstream latency by model,
  for forwarded requests;
- spend in USD by (team, model), counted once the spend log is in the spool (it will reach PostgreSQL);
  at most `max_series` (team, model) pairs, later ones are folded into team `_other` (one per model);
- the entities with a budget that this process has looked up (key, user, team, organization): at most
  `max_series`, the first seen; the remaining budget is read from the ledger at scrape time;
- batch-write latency (one observation per spend-log transaction).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

import orjson

from llmusage.entities import Kind
from llmusage.proxy.auth import Entity, Principal

ADDED_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UPSTREAM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UPSTREAM_BUCKETS += (120.0, 300.0, 600.0)
BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER_TEAM = "_other"
NO_TEAM = ""
UNKNOWN_MODEL = "unknown"


class Histogram:
    """Counts per bucket (`v <= bound`, the last one +Inf) and the sum: one bisect and two adds per value."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def snapshot(self) -> dict[str, Any]:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.total}


class ProxyMetrics:
    """One process's counters (see the module docstring)."""

    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self.requests: dict[tuple[str, int], int] = {}
        self.added = Histogram(ADDED_BUCKETS)
        self.upstream: dict[str, Histogram] = {}
        self.batch = Histogram(BATCH_BUCKETS)
        self.spend: dict[tuple[str, str], float] = {}
        self.budgets: dict[Entity, tuple[str | None, float]] = {}  # entity -> (key alias, max_budget)
        self.not_exported: set[Entity] = set()  # entities with a budget beyond max_series

    def forwarded(self, model: str, status: int, total: float, upstream: float) -> None:
        """A request that reached the provider ended: `total` and `upstream` seconds."""
        key = (model, status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        self.added.observe(total - upstream)
        hist = self.upstream.get(model)
        if hist is None:
            hist = self.upstream[model] = Histogram(UPSTREAM_BUCKETS)
        hist.observe(upstream)

    def refused(self, model: str, status: int) -> None:
        """A request answered without reaching the provider."""
        key = (model, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    def spent(self, team: str | None, model: str, usd: float) -> None:
        key = (team or NO_TEAM, model)
        spend = self.spend
        current = spend.get(key)
        if current is None:
            if len(spend) >= self.max_series:
                key = (OTHER_TEAM, model)
            current = spend.get(key, 0.0)
        spend[key] = current + usd

    def saw(self, principal: Principal) -> None:
        """A key was looked up (every cache lifetime, not per request): track its entities with a budget."""
        budgets = self.budgets
        for entity in principal.entities():
            limit = principal.budgets.get(entity)
            if limit is None:
                budgets.pop(entity, None)
                continue
            alias = principal.key_alias if entity[0] is Kind.KEY else None
            if entity in budgets or len(budgets) < self.max_series:
                budgets[entity] = (alias, limit)
            elif len(self.not_exported) < 100 * self.max_series + 1000:
                self.not_exported.add(entity)


def model_label(models: Mapping[str, object], raw: bytes) -> str:
    """The model label of a refused request: its catalog name, `unknown`, or `""` (no model in the body).

    Parses the body again: only refusals pay for it, and only those that got as far as reading it."""
    if not raw:
        return ""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    name = body.get("model") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        return ""
    return name if name in models else UNKNOWN_MODEL
