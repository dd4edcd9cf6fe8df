"""Keys, looked up by SHA-256 through a short cache (2 s by default) so the database stays off the hot path.

One query (`sql/proxy/principal.sql`) fetches the key with its user, team and organization; for each of
them whose budget applies to a window (`llmusage.budgets.window`), one more query reads its spend in that
window (`sql/proxy/window_spend.sql` composed with the kind's log column from `llmusage.entities`, or
`sql/proxy/window_spend_organization.sql`). An entry older than the TTL is fetched again (one fetch per key
at a time), so a key that becomes blocked, expired or over budget is refused within the cache lifetime.
Unknown keys are cached too (as None), so a flood of bad keys costs no queries. A fetch that fails (the
database unreachable, or a query it refuses) raises `DatabaseUnavailable` carrying the cause
(`dbhealth.describe`: PostgreSQL's message and SQLSTATE); the cache keeps serving a key it already knows.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from llmusage import sqlfiles
from llmusage.budgets.window import entity_window
from llmusage.entities import BLOCK_MARKER, EntityKind, Kind, entity_kind
from llmusage.errors import LlmusageError
from llmusage.proxy.dbhealth import describe

Entity = tuple[Kind, str]
"""(kind, id) of an entity spend counts against: the key, its user, team and organization."""


class DatabaseUnavailable(Exception):
    """The key is not cached and the database cannot be asked; `str()` is the cause (dbhealth.describe)."""


def hash_key(raw: str) -> str:
    """The SHA-256 hex digest stored in `LiteLLM_VerificationToken.token` for an `sk-...` key."""
    return hashlib.sha256(raw.encode()).hexdigest()


class PrincipalRow(NamedTuple):
    """One row of `sql/proxy/principal.sql`, column by column."""

    token: str
    key_alias: str | None
    user_id: str | None
    team_id: str | None
    key_models: list[str] | None
    key_max_budget: float | None
    key_spend: float
    expires: datetime | None
    key_blocked: bool
    user_exists: bool
    user_max_budget: float | None
    user_spend: float
    user_metadata: dict[str, Any]
    team_exists: bool
    team_max_budget: float | None
    team_spend: float
    team_models: list[str] | None
    team_blocked: bool
    org_id: str | None
    org_max_budget: float | None
    org_spend: float
    org_metadata: dict[str, Any]
    key_metadata: dict[str, Any]
    key_created_at: datetime | None
    user_created_at: datetime | None
    team_metadata: dict[str, Any]
    team_created_at: datetime | None
    org_created_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """A key and what it belongs to, as read at `fetched_at` (monotonic seconds)."""

    token: str
    key_alias: str | None
    user_id: str | None
    team_id: str | None
    org_id: str | None
    key_models: tuple[str, ...]
    team_models: tuple[str, ...]
    expires: datetime | None
    key_blocked: bool
    team_blocked: bool
    user_blocked: bool
    org_blocked: bool
    budgets: dict[Entity, float]  # max_budget, only the limited ones
    spends: dict[Entity, float]  # spend as read from the database
    fetched_at: float

    def entities(self) -> list[Entity]:
        """The key, user, team and organization this request's spend counts against."""
        out = [(Kind.KEY, self.token)]
        if self.user_id:
            out.append((Kind.USER, self.user_id))
        if self.team_id:
            out.append((Kind.TEAM, self.team_id))
        if self.org_id:
            out.append((Kind.ORGANIZATION, self.org_id))
        return out


def budget_windows(row: tuple[Any, ...], now: datetime) -> dict[Entity, datetime]:
    """(kind, id) -> start of the current budget window, for the entities whose metadata sets one."""
    r = PrincipalRow._make(row)
    candidates = [
        (Kind.KEY, r.token, r.key_metadata, r.key_created_at),
        (Kind.USER, r.user_id, r.user_metadata, r.user_created_at),
    ]
    if r.team_exists:
        candidates.append((Kind.TEAM, r.team_id, r.team_metadata, r.team_created_at))
    candidates.append((Kind.ORGANIZATION, r.org_id, r.org_metadata, r.org_created_at))
    found: dict[Entity, datetime] = {}
    for kind, entity, metadata, created in candidates:
        if entity is None:
            continue
        try:
            window = entity_window(metadata, created, now)
        except LlmusageError:  # a malformed budget_duration: the budget is lifetime (reconcile reports it)
            window = None
        if window:
            found[(kind, entity)] = window[1]
    return found


def principal_from_row(
    row: tuple[Any, ...], fetched_at: float, window_spends: dict[Entity, float] | None = None
) -> Principal:
    """A Principal from a `PrincipalRow`; `window_spends` replaces the spend column of entities
    whose budget applies to a window (llmusage.budgets.window) by their spend in that window."""
    r = PrincipalRow._make(row)
    token, user_id, team_id, org_id = r.token, r.user_id, r.team_id, r.org_id
    budgets: dict[Entity, float] = {}
    spends: dict[Entity, float] = {(Kind.KEY, token): float(r.key_spend)}
    if r.key_max_budget is not None:
        budgets[(Kind.KEY, token)] = float(r.key_max_budget)
    if r.user_exists and user_id is not None:
        spends[(Kind.USER, user_id)] = float(r.user_spend)
        if r.user_max_budget is not None:
            budgets[(Kind.USER, user_id)] = float(r.user_max_budget)
    if r.team_exists and team_id is not None:
        spends[(Kind.TEAM, team_id)] = float(r.team_spend)
        if r.team_max_budget is not None:
            budgets[(Kind.TEAM, team_id)] = float(r.team_max_budget)
    if org_id is not None:
        spends[(Kind.ORGANIZATION, org_id)] = float(r.org_spend)
        if r.org_max_budget is not None:
            budgets[(Kind.ORGANIZATION, org_id)] = float(r.org_max_budget)
    for entity, amount in (window_spends or {}).items():
        if entity in spends:
            spends[entity] = float(amount)
    return Principal(
        token=token,
        key_alias=r.key_alias,
        user_id=user_id,
        team_id=team_id,
        org_id=org_id,
        key_models=tuple(r.key_models or ()),
        team_models=tuple(r.team_models or ()) if r.team_exists else (),
        expires=r.expires,
        key_blocked=bool(r.key_blocked),
        team_blocked=bool(r.team_blocked) if r.team_exists else False,
        user_blocked=bool(r.user_exists) and _marked(r.user_metadata),
        org_blocked=org_id is not None and _marked(r.org_metadata),
        budgets=budgets,
        spends=spends,
        fetched_at=fetched_at,
    )


def _marked(metadata: object) -> bool:
    """Reconciliation blocked the entity (users and organizations have no `blocked` column to honour)."""
    return isinstance(metadata, dict) and BLOCK_MARKER in metadata


@cache
def window_spend_query(kind: EntityKind) -> sql.SQL | sql.Composed:
    """An entity's spend since `%(since)s`, for `%(id)s`: by the kind's spend-log column, or for an
    organization through its logs' teams and users (the organization rule in llmusage.entities)."""
    if kind.log_column is None:
        return sql.SQL(sqlfiles.load("proxy/window_spend_organization.sql"))
    return sql.SQL(sqlfiles.load("proxy/window_spend.sql")).format(column=sql.Identifier(kind.log_column))


Fetched = tuple[tuple[Any, ...], dict[Entity, float]]
"""A key's `PrincipalRow` and the spend of its windowed entities in their current windows."""

Fetcher = Callable[[str], Awaitable[Fetched | None]]
"""token -> what the database knows of it (None for an unknown key)."""


def database_fetcher(pool: AsyncConnectionPool) -> Fetcher:
    """The Fetcher over the operational database; any failure to ask it is DatabaseUnavailable(cause)."""

    async def fetch(token: str) -> Fetched | None:
        try:
            async with pool.connection(timeout=1.0) as conn:
                cur = await conn.execute(sqlfiles.load("proxy/principal.sql"), {"token": token})
                row = await cur.fetchone()
                if row is None:
                    return None
                spends: dict[Entity, float] = {}
                for (kind, entity), since in budget_windows(row, datetime.now(UTC)).items():
                    query = window_spend_query(entity_kind(kind))
                    cur = await conn.execute(query, {"id": entity, "since": since})
                    found = await cur.fetchone()
                    spends[(kind, entity)] = float(found[0]) if found else 0.0
                return (row, spends)
        except Exception as exc:
            raise DatabaseUnavailable(describe(exc)) from exc

    return fetch


class KeyCache:
    """token hash -> Principal (or None for unknown keys), refreshed after `ttl` seconds."""

    def __init__(self, fetch: Fetcher, ttl: float, on_fetch: Callable[[Principal, float], None]) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._on_fetch = on_fetch  # lets the budget ledger learn fresh spends
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._inflight: dict[str, asyncio.Future[Principal | None]] = {}

    async def get(self, token: str) -> Principal | None:
        now = time.monotonic()
        hit = self._entries.get(token)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        pending = self._inflight.get(token)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._inflight[token] = fut
        try:
            started = time.monotonic()
            fetched = await self._fetch(token)
            principal = principal_from_row(fetched[0], started, fetched[1]) if fetched is not None else None
            if principal is not None:
                self._on_fetch(principal, started)
            self._entries[token] = (started, principal)
            if len(self._entries) > 100_000:  # bound memory under a flood of random keys
                self._entries.clear()
            fut.set_result(principal)
            return principal
        except Exception as exc:
            if hit is not None:  # database unreachable: keep serving the last known rows a while longer
                self._entries[token] = (time.monotonic(), hit[1])
                fut.set_result(hit[1])
                return hit[1]
            fut.set_exception(exc)
            fut.exception()  # mark retrieved
            raise
        except BaseException:
            fut.cancel()
            raise
        finally:
            del self._inflight[token]

    def invalidate(self, token: str | None = None) -> None:
        if token is None:
            self._entries.clear()
        else:
            self._entries.pop(token, None)
