"""What one proxy process shares between requests (`State`), what one admitted request carries (`Call`).

`build_state` makes the State of a process from its options: the connection pool, the budget ledger, the key
cache (reading the database through `auth.database_fetcher`, watched by `dbhealth.Lookups` for readiness), the
failure log (`dbhealth.FailureLog`: each database failure's cause, rate-limited), the spool, the spend writer
and the metrics (`metrics.ProxyMetrics`, told of every key lookup; None with `--no-metrics`). It is stored in
the app under `STATE`. The database's flavour and the proxy's own queries were checked before (`preflight`,
once per `llmusage proxy`, before any worker listens). `startup` opens the spool and the pool, creates the
upstream clients (they need the running loop), loads the model catalog (or keeps retrying it in the
background, every cache TTL) and starts the writer; `cleanup` stops the writer (flushing what it can), then
closes clients, pool and spool (`prometheus` has hooks of its own, run after these). The model catalog
(`sql/proxy/models.sql`) is reloaded every `cache_ttl` seconds and at once after `POST /model/new`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from psycopg_pool import AsyncConnectionPool

from llmusage import sqlfiles
from llmusage.proxy import upstream
from llmusage.proxy.auth import Entity, Fetched, KeyCache, Principal, database_fetcher
from llmusage.proxy.dbhealth import FailureLog, Lookups, describe
from llmusage.proxy.fastclient import FastClient
from llmusage.proxy.httpserver import App
from llmusage.proxy.metrics import ProxyMetrics
from llmusage.proxy.options import ProxyOptions
from llmusage.proxy.policy import Ledger
from llmusage.proxy.pricing import ModelRoute, route_from_row
from llmusage.proxy.spool import Spool
from llmusage.proxy.writer import SpendWriter

log = logging.getLogger("llmusage.proxy")

STATE = "llmusage.proxy.state"
"""The App key of the process's State."""


@dataclass
class State:
    """Everything one proxy process shares between requests."""

    options: ProxyOptions
    pool: AsyncConnectionPool
    ledger: Ledger
    keys: KeyCache
    spool: Spool
    writer: SpendWriter
    failures: FailureLog
    lookups: Lookups[Fetched | None]
    metrics: ProxyMetrics | None  # None with --no-metrics
    session: aiohttp.ClientSession | None = None  # streams
    fast: FastClient | None = None  # non-streaming calls
    models: dict[str, ModelRoute] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def load_models(self) -> None:
        async with self.pool.connection(timeout=2.0) as conn:
            cur = await conn.execute(sqlfiles.load("proxy/models.sql"))
            rows = await cur.fetchall()
        self.models = {r[1]: route_from_row(r[0], r[1], r[2] or {}, r[3] or {}) for r in rows}

    async def refresh_models_forever(self) -> None:
        while True:
            try:
                await self.load_models()
            except Exception as exc:
                self.failures.report("model catalog refresh", describe(exc))
            else:
                self.failures.recovered("model catalog refresh")
            await asyncio.sleep(self.options.cache_ttl)


@dataclass(slots=True)
class Call:
    """One admitted request on its way through: what admission decided, what forwarding and the spend row use."""

    rid: str
    kind: str  # chat, completions, embeddings
    started: float  # perf_counter() at arrival
    principal: Principal
    route: ModelRoute
    body: dict[str, Any]
    raw: bytes
    estimate: float  # the cost reserved on `entities` until the call is settled
    entities: list[Entity]  # emptied once settled
    stream: bool
    upstream: bytes = b""  # the body sent to the provider, serialized once at admission
    upstream_seconds: float = 0.0  # the provider call, as forwarding timed it (metrics: added latency)


def build_state(options: ProxyOptions) -> State:
    pool = AsyncConnectionPool(
        options.database_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}, timeout=2.0
    )
    ledger = Ledger(options.cache_ttl)
    spool = Spool(options.spool_dir, options.segment_bytes, options.spool_max_bytes)
    failures = FailureLog()
    lookups: Lookups[Fetched | None] = Lookups(database_fetcher(pool), failures)
    metrics = ProxyMetrics(options.metrics_max_series) if options.metrics else None
    on_fetch = ledger.observe
    if metrics is not None:
        saw = metrics.saw

        def on_fetch(principal: Principal, started: float) -> None:
            ledger.observe(principal, started)
            saw(principal)

    keys = KeyCache(lookups.fetch, options.cache_ttl, on_fetch)
    writer = SpendWriter(
        pool,
        spool,
        ledger,
        options.batch_max,
        options.batch_wait,
        failures,
        metrics.batch.observe if metrics is not None else None,
    )
    return State(
        options=options,
        pool=pool,
        ledger=ledger,
        keys=keys,
        spool=spool,
        writer=writer,
        failures=failures,
        lookups=lookups,
        metrics=metrics,
    )


async def startup(app: App) -> None:
    state: State = app[STATE]
    options = state.options
    state.spool.open()
    await state.pool.open(wait=False)
    state.session = upstream.make_session(options.connect_timeout)
    state.fast = FastClient(options.connect_timeout)
    try:
        await state.load_models()
    except Exception as exc:
        log.warning("model catalog not loaded yet (%s); retrying in the background", describe(exc))
    state.tasks.append(asyncio.get_running_loop().create_task(state.refresh_models_forever()))
    state.writer.start()


async def cleanup(app: App) -> None:
    state: State = app[STATE]
    for task in state.tasks:
        task.cancel()
    await state.writer.stop()
    if state.session is not None:
        await state.session.close()
    if state.fast is not None:
        state.fast.close()
    await state.pool.close()
    state.spool.close()
