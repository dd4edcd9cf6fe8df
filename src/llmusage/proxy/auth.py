"""Keys, looked up by SHA-256 through a short cache (2 s by default) so the database stays off the hot path.

One query fetches the key with its user, team and organization. An entry older than the TTL is fetched
again (one fetch per key at a time), so a key that becomes blocked, expired or over budget is refused
within the cache lifetime. Unknown keys are cached too (as None), so a flood of bad keys costs no queries.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmusage.errors import LlmusageError

# The marker reconciliation sets in the metadata of an entity over budget (user_metadata for users); keys
# and teams are also `blocked`, users and organizations are refused on the marker alone.
FLAG = "llmusage_block"


def hash_key(raw: str) -> str:
    """The SHA-256 hex digest stored in `LiteLLM_VerificationToken.token` for an `sk-...` key."""
    return hashlib.sha256(raw.encode()).hexdigest()


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
    budgets: dict[tuple[str, str], float]  # (kind, id) -> max_budget, only the limited ones
    spends: dict[tuple[str, str], float]  # (kind, id) -> spend as read from the database
    fetched_at: float

    def entities(self) -> list[tuple[str, str]]:
        """(kind, id) for the key, user, team and organization this request's spend counts against."""
        out = [("key", self.token)]
        if self.user_id:
            out.append(("user", self.user_id))
        if self.team_id:
            out.append(("team", self.team_id))
        if self.org_id:
            out.append(("org", self.org_id))
        return out


def budget_windows(row: tuple[Any, ...], now: datetime) -> dict[tuple[str, str], datetime]:
    """(kind, id) -> start of the current budget window, for the entities whose metadata sets one."""
    from llmusage.budgets.window import entity_window

    (token, _, user_id, team_id, *_, user_meta, team_exists, _tm, _ts, _tmod, _tb,
     org_id, _om, _os, org_meta, key_meta, key_created, user_created, team_meta, team_created, org_created) = row  # fmt: skip
    candidates = [("key", token, key_meta, key_created), ("user", user_id, user_meta, user_created)]
    if team_exists:
        candidates.append(("team", team_id, team_meta, team_created))
    candidates.append(("org", org_id, org_meta, org_created))
    found: dict[tuple[str, str], datetime] = {}
    for kind, entity, metadata, created in candidates:
        try:
            window = entity_window(metadata, created, now) if entity is not None else None
        except LlmusageError:  # a malformed budget_duration: the budget is lifetime (reconcile reports it)
            window = None
        if window:
            found[(kind, entity)] = window[1]
    return found


def principal_from_row(
    row: tuple[Any, ...], fetched_at: float, window_spends: dict[tuple[str, str], float] | None = None
) -> Principal:
    """A Principal from a proxy_principal.sql row; `window_spends` replaces the spend column of entities
    whose budget applies to a window (llmusage.budgets.window) by their spend in that window."""
    (token, alias, user_id, team_id, key_models, key_max, key_spend, expires, key_blocked,
     user_exists, user_max, user_spend, user_meta,
     team_exists, team_max, team_spend, team_models, team_blocked,
     org_id, org_max, org_spend, org_meta, *_windows_columns) = row  # fmt: skip
    budgets: dict[tuple[str, str], float] = {}
    spends: dict[tuple[str, str], float] = {("key", token): float(key_spend)}
    if key_max is not None:
        budgets[("key", token)] = float(key_max)
    if user_exists:
        spends[("user", user_id)] = float(user_spend)
        if user_max is not None:
            budgets[("user", user_id)] = float(user_max)
    if team_exists:
        spends[("team", team_id)] = float(team_spend)
        if team_max is not None:
            budgets[("team", team_id)] = float(team_max)
    if org_id is not None:
        spends[("org", org_id)] = float(org_spend)
        if org_max is not None:
            budgets[("org", org_id)] = float(org_max)
    for entity, amount in (window_spends or {}).items():
        if entity in spends:
            spends[entity] = float(amount)
    return Principal(
        token=token,
        key_alias=alias,
        user_id=user_id,
        team_id=team_id,
        org_id=org_id,
        key_models=tuple(key_models or ()),
        team_models=tuple(team_models or ()) if team_exists else (),
        expires=expires,
        key_blocked=bool(key_blocked),
        team_blocked=bool(team_blocked) if team_exists else False,
        user_blocked=bool(user_exists) and isinstance(user_meta, dict) and FLAG in user_meta,
        org_blocked=org_id is not None and isinstance(org_meta, dict) and FLAG in org_meta,
        budgets=budgets,
        spends=spends,
        fetched_at=fetched_at,
    )


# A fetch returns (row,) or (row, window spends), or None for an unknown key.
Fetcher = Callable[[str], Awaitable[tuple[Any, ...] | None]]


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
            principal = (
                principal_from_row(*fetched[:1], started, *fetched[1:]) if fetched is not None else None
            )
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
