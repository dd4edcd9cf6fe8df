"""`GET /metrics`: the proxy's metrics (`metrics.ProxyMetrics`) in Prometheus text format, over all workers.

A scrape takes a snapshot of this process (its counters, the remaining budgets read from its ledger, the
spool's depth, the rows written) and renders it with prometheus-client's metric families and
`generate_latest`. Nothing here runs on the request path.

Several workers (`--workers W`): a scrape lands on one worker (SO_REUSEPORT), so each worker writes its
snapshot every `FLUSH_SECONDS` to `<metrics_dir>/<pid>.json` (write aside, then rename) and the worker that
is scraped merges its own live snapshot with the others' files: one aggregated view of the whole proxy,
whichever worker answers, as prometheus-client's multiprocess mode would give, without its per-increment
cost. Counters and histograms are summed over every worker that ever wrote (a dead worker's counts stay, so
totals never go back); gauges (spool depth, remaining budgets) come from live workers only; a remaining
budget is the lowest any worker sees (the freshest view of spend). Another worker's numbers are at most
`FLUSH_SECONDS` old. `server.serve` gives each run of `llmusage proxy` its own `metrics_dir` (`run_dir`)
and removes it on exit; with one worker there is no file at all. `startup` and `cleanup` are the app's hooks
that start the snapshots and write the last one.

Cardinality: requests by (model, status), upstream latency by model (models from the catalog only), spend by
(team, model) with at most `max_series` pairs per worker (then team `_other`), remaining and maximum budget
for at most `max_series` entities (those with the least remaining when more are known), keys named by
alias, else by the first 12 characters of their digest (with `~<prefix>` appended when two keys share an
alias).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from llmusage.entities import Kind
from llmusage.proxy import errors
from llmusage.proxy.context import STATE, State
from llmusage.proxy.httpserver import App, Request, Response
from llmusage.proxy.metrics import ProxyMetrics
from llmusage.proxy.responses import error_response, new_request_id

FLUSH_SECONDS = 1.0
Snapshot = dict[str, Any]


def snapshot(state: State, metrics: ProxyMetrics, live: bool = True) -> Snapshot:
    """This process's numbers, as plain JSON-able data."""
    ledger = state.ledger
    budgets = [
        [str(kind), ident, alias, limit, limit - ledger.settled((kind, ident))]
        for (kind, ident), (alias, limit) in metrics.budgets.items()
    ]
    return {
        "pid": os.getpid(),
        "live": live,
        "requests": [[m, s, n] for (m, s), n in metrics.requests.items()],
        "added": metrics.added.snapshot(),
        "upstream": {m: h.snapshot() for m, h in metrics.upstream.items()},
        "batch": metrics.batch.snapshot(),
        "spend": [[t, m, usd] for (t, m), usd in metrics.spend.items()],
        "budgets": budgets,
        "not_exported": len(metrics.not_exported),
        "spool_rows": state.spool.pending_rows,
        "spool_bytes": state.spool.pending_bytes,
        "written": state.writer.written,
    }


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_dir(parent: Path) -> Path:
    """A fresh folder for one run's worker snapshots, `parent/run-<pid>`; folders of runs that are gone go."""
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob("run-*"):
        pid = old.name.removeprefix("run-")
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = parent / f"run-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def read_snapshots(directory: Path, own_pid: int) -> list[Snapshot]:
    """The other workers' latest snapshots (a torn or vanishing file is skipped: the next scrape has it)."""
    out = []
    for path in directory.glob("*.json"):
        if path.stem == str(own_pid):
            continue
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            snap = orjson.loads(path.read_bytes())
            snap["live"] = bool(snap.get("live")) and alive(int(snap["pid"]))
            out.append(snap)
    return out


def write_snapshot(directory: Path, snap: Snapshot) -> None:
    path = directory / f"{snap['pid']}.json"
    tmp = directory / f".{snap['pid']}.json.tmp"
    tmp.write_bytes(orjson.dumps(snap))
    os.replace(tmp, path)


async def startup(app: App) -> None:
    """After `context.startup`: with several workers, start writing this worker's snapshots."""
    state: State = app[STATE]
    directory = state.options.metrics_dir
    if state.metrics is not None and directory is not None:
        task = asyncio.get_running_loop().create_task(flush_forever(state, state.metrics, directory))
        state.tasks.append(task)  # cancelled by context.cleanup


async def cleanup(app: App) -> None:
    """After `context.cleanup` (the writer's last flush): the last snapshot, marked not live."""
    state: State = app[STATE]
    if state.metrics is not None and state.options.metrics_dir is not None:
        final_snapshot(state, state.metrics, state.options.metrics_dir)


async def flush_forever(state: State, metrics: ProxyMetrics, directory: Path) -> None:
    """Write this worker's snapshot every FLUSH_SECONDS."""
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        with contextlib.suppress(OSError):
            write_snapshot(directory, snapshot(state, metrics))
        await asyncio.sleep(FLUSH_SECONDS)


def final_snapshot(state: State, metrics: ProxyMetrics, directory: Path) -> None:
    """At shutdown, after the writer's last flush: the counters stay in the totals, the gauges leave."""
    with contextlib.suppress(OSError):
        write_snapshot(directory, snapshot(state, metrics, live=False))


def _add_hist(into: dict[str, Any] | None, hist: dict[str, Any]) -> dict[str, Any]:
    if into is None:
        return {"bounds": hist["bounds"], "counts": list(hist["counts"]), "sum": hist["sum"]}
    into["counts"] = [a + b for a, b in zip(into["counts"], hist["counts"], strict=True)]
    into["sum"] += hist["sum"]
    return into


def merge(snaps: Iterable[Snapshot], max_series: int) -> Snapshot:
    """One view of several workers (see the module docstring for the rules)."""
    requests: dict[tuple[str, int], int] = {}
    spend: dict[tuple[str, str], float] = {}
    upstream: dict[str, dict[str, Any]] = {}
    budgets: dict[tuple[str, str], list[Any]] = {}
    added = batch = None
    totals = {"not_exported": 0, "spool_rows": 0, "spool_bytes": 0, "written": 0, "workers": 0}
    for snap in snaps:
        for model, status, n in snap["requests"]:
            requests[(model, status)] = requests.get((model, status), 0) + n
        for team, model, usd in snap["spend"]:
            spend[(team, model)] = spend.get((team, model), 0.0) + usd
        for model, hist in snap["upstream"].items():
            upstream[model] = _add_hist(upstream.get(model), hist)
        added = _add_hist(added, snap["added"])
        batch = _add_hist(batch, snap["batch"])
        totals["written"] += snap["written"]
        if not snap["live"]:
            continue
        totals["workers"] += 1
        for key in ("not_exported", "spool_rows", "spool_bytes"):
            totals[key] += snap[key]
        for kind, ident, alias, limit, remaining in snap["budgets"]:
            seen = budgets.get((kind, ident))
            if seen is None or remaining < seen[4]:
                budgets[(kind, ident)] = [kind, ident, alias, limit, remaining]
    kept = sorted(budgets.values(), key=lambda b: b[4])
    totals["not_exported"] += max(0, len(kept) - max_series)
    return {
        "requests": [[m, s, n] for (m, s), n in requests.items()],
        "spend": [[t, m, usd] for (t, m), usd in spend.items()],
        "upstream": upstream,
        "added": added,
        "batch": batch,
        "budgets": kept[:max_series],
        **totals,
    }


def entity_labels(budgets: list[list[Any]]) -> list[tuple[str, str, float, float]]:
    """(kind, entity label, max_budget, remaining) per entity; keys by alias, else a digest prefix."""
    named: dict[tuple[str, str], list[list[Any]]] = {}
    for b in budgets:
        kind, ident, alias = b[0], b[1], b[2]
        label = (alias or ident[:12]) if kind == Kind.KEY else ident
        named.setdefault((kind, label), []).append(b)
    out = []
    for (kind, label), group in named.items():
        for _kind, ident, _alias, limit, remaining in group:
            name = label if len(group) == 1 else f"{label}~{ident[:12]}"
            out.append((kind, name, float(limit), float(remaining)))
    return out


def _hist_family(name: str, doc: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, labels=labels)


def _add_hist_metric(family: HistogramMetricFamily, labels: list[str], hist: dict[str, Any]) -> None:
    cumulative, buckets = 0, []
    for bound, count in zip([*hist["bounds"], float("inf")], hist["counts"], strict=True):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
    family.add_metric(labels, buckets, hist["sum"])


def families(view: Snapshot) -> Iterator[Metric]:
    """The metric families of a merged view (names and help texts are the documented ones)."""
    requests = CounterMetricFamily(
        "llmusage_proxy_requests", "Requests answered, by model and HTTP status.", labels=["model", "status"]
    )
    for model, status, n in sorted(view["requests"]):
        requests.add_metric([model, str(status)], n)
    yield requests
    added = _hist_family(
        "llmusage_proxy_added_latency_seconds",
        "Time the proxy added to forwarded requests: the whole request minus the upstream call.",
        [],
    )
    _add_hist_metric(added, [], view["added"])
    yield added
    upstream = _hist_family(
        "llmusage_proxy_upstream_latency_seconds",
        "Time of the upstream (provider) call, by model.",
        ["model"],
    )
    for model, hist in sorted(view["upstream"].items()):
        _add_hist_metric(upstream, [model], hist)
    yield upstream
    spend = CounterMetricFamily(
        "llmusage_proxy_spend_usd",
        "Spend of the requests logged (USD), by team and model; team '' is none, '_other' past the cap.",
        labels=["team", "model"],
    )
    for team, model, usd in sorted(view["spend"]):
        spend.add_metric([team, model], usd)
    yield spend
    remaining = GaugeMetricFamily(
        "llmusage_proxy_budget_remaining_usd",
        "max_budget minus spend (logged, not in-flight estimates) of an entity with a budget.",
        labels=["kind", "entity"],
    )
    maximum = GaugeMetricFamily(
        "llmusage_proxy_budget_max_usd", "max_budget of an entity with a budget.", labels=["kind", "entity"]
    )
    for kind, name, limit, left in entity_labels(view["budgets"]):
        remaining.add_metric([kind, name], left)
        maximum.add_metric([kind, name], limit)
    yield remaining
    yield maximum
    yield GaugeMetricFamily(
        "llmusage_proxy_budget_entities_not_exported",
        "Entities with a budget left out of the budget gauges by the cap.",
        value=view["not_exported"],
    )
    yield GaugeMetricFamily(
        "llmusage_proxy_spool_depth_rows",
        "Spend logs in the spool, not yet in PostgreSQL.",
        value=view["spool_rows"],
    )
    yield GaugeMetricFamily(
        "llmusage_proxy_spool_pending_bytes",
        "Bytes of spend logs not yet in PostgreSQL.",
        value=view["spool_bytes"],
    )
    batch = _hist_family(
        "llmusage_proxy_batch_write_seconds", "Time of one spend-log write transaction (up to 500 rows).", []
    )
    _add_hist_metric(batch, [], view["batch"])
    yield batch
    yield CounterMetricFamily(
        "llmusage_proxy_spend_logs_written", "Spend logs committed to PostgreSQL.", value=view["written"]
    )
    yield GaugeMetricFamily(
        "llmusage_proxy_workers", "Live worker processes in this view.", value=view["workers"]
    )


class _View:
    """What `generate_latest` collects from: one merged view."""

    def __init__(self, view: Snapshot) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        return families(self._view)


def render(state: State, metrics: ProxyMetrics) -> bytes:
    snaps = [snapshot(state, metrics)]
    directory = state.options.metrics_dir
    if directory is not None:
        snaps += read_snapshots(directory, os.getpid())
    return generate_latest(_View(merge(snaps, metrics.max_series)))  # type: ignore[arg-type]


async def metrics_route(request: Request) -> Response:
    state: State = request.app[STATE]
    if state.metrics is None:
        exc = errors.not_found("metrics are off (--no-metrics)", "route_not_found")
        return error_response(exc, new_request_id())
    # The classic text format (0.0.4): what every Prometheus server reads.
    return Response(body=render(state, state.metrics), content_type=CONTENT_TYPE_PLAIN_0_0_4)
